//! `scratchgrad grad`: the value and gradients of an expression, and a picture of its graph.

use std::path::PathBuf;

use clap::Args;
use scratchgrad::scalar::evaluate::{evaluate, EvalError};
use scratchgrad::text::elide;

use super::files::{is_stdout, save};
use crate::output::{errln, outln};
use crate::Failure;

/// Differentiate an expression with the scalar engine: prints f and df/dNAME for every name.
///
/// Example: scratchgrad grad "(x + y) * z" x=-2 y=5 z=-4 --svg graph.svg
#[derive(Args)]
#[command(
    after_help = "EXPR uses Python's syntax: + - * / ** (right-associative, binds tighter than unary minus), \
parentheses, numbers (3, 0.5, 1e-3), names, and the functions exp log sqrt tanh sigmoid relu sin cos abs.\n\n\
A FILE of - means standard output; the values and gradients then go to standard error."
)]
pub struct GradArgs {
    /// The expression, e.g. "(x + y) * z" (quote it for the shell)
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// A value for each name in EXPR, as NAME=VALUE (e.g. x=-2)
    #[arg(value_name = "NAME=VALUE", allow_negative_numbers = true)]
    values: Vec<String>,
    /// Print one JSON object: {"value": ..., "gradients": {NAME: ...}}
    #[arg(long)]
    json: bool,
    /// Write the graph (values and gradients) as Graphviz DOT to FILE
    #[arg(long, value_name = "FILE")]
    dot: Option<PathBuf>,
    /// Draw the graph (values and gradients) as an SVG picture in FILE (no Graphviz needed;
    /// up to 150 values)
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

const HINT: &str = "write each value as NAME=NUMBER, e.g. x=-2";

fn is_binding(text: &str) -> bool {
    text.split_once('=').is_some_and(|(name, _)| is_name(name))
}

fn is_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_binding(text: &str) -> Result<(String, f64), Failure> {
    let shown = elide(text, 40);
    let Some((name, number)) = text.split_once('=') else {
        return Err(Failure::new(format!("`{shown}` is not NAME=VALUE: {HINT}")));
    };
    if !is_name(name) {
        return Err(Failure::new(format!(
            "`{}` in `{shown}` is not a name: {HINT}",
            elide(name, 40)
        )));
    }
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((name.to_string(), v)),
        _ => Err(Failure::new(format!(
            "`{}` in `{shown}` is not a finite number: {HINT}",
            elide(number, 40)
        ))),
    }
}

/// Characters of the expression shown on each side of the one an error points at.
const CONTEXT: usize = 30;

/// The expression (or, for a long one, the part around the error) with a caret under the
/// byte `offset`. Control characters are shown as spaces so the caret stays aligned.
fn caret(expr: &str, offset: usize) -> String {
    let chars: Vec<char> = expr
        .chars()
        .map(|c| {
            if scratchgrad::text::is_visible(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let column = expr[..offset.min(expr.len())].chars().count();
    let start = column.saturating_sub(CONTEXT);
    let end = (column + CONTEXT + 1).min(chars.len());
    let (before, after) = (start > 0, end < chars.len());
    let shown: String = chars[start..end].iter().collect();
    format!(
        "  {}{shown}{}\n  {}^",
        if before { "…" } else { "" },
        if after { "…" } else { "" },
        " ".repeat(column - start + usize::from(before))
    )
}

fn eval_error(expr: &str, e: EvalError) -> Failure {
    match e.offset {
        Some(offset) => {
            let column = expr[..offset.min(expr.len())].chars().count() + 1;
            Failure::new(format!("at column {column}: {}", e.message))
                .with_detail(caret(expr, offset))
        }
        None => Failure::new(e.message),
    }
}

fn json_number(x: f64) -> String {
    serde_json::to_string(&x).expect("a finite f64 always serialises")
}

/// Runs `scratchgrad grad`.
pub fn run(args: GradArgs) -> Result<(), Failure> {
    if is_binding(&args.expr) {
        return Err(Failure::new(format!(
            "missing expression: `{}` is a value; give the expression first, e.g. scratchgrad grad \"x * y\" x=2 y=3",
            elide(&args.expr, 40)
        )));
    }
    let to_stdout = [&args.dot, &args.svg]
        .iter()
        .filter(|p| p.as_deref().is_some_and(is_stdout))
        .count();
    if to_stdout > 1 {
        return Err(Failure::new(
            "--dot and --svg cannot both be - (standard output): write one of them to a file",
        ));
    }
    let bindings = args
        .values
        .iter()
        .map(|v| parse_binding(v))
        .collect::<Result<Vec<_>, _>>()?;
    let result = evaluate(&args.expr, &bindings).map_err(|e| eval_error(&args.expr, e))?;

    // The results first (to standard error when a picture takes standard output), then the
    // pictures: a picture that cannot be written does not hide the numbers.
    let value = result.output.data();
    let say = |line: String| {
        if to_stdout > 0 {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    if args.json {
        let gradients: Vec<String> = result
            .gradients
            .iter()
            .map(|(name, g)| {
                format!(
                    "{}: {}",
                    serde_json::to_string(name).expect("a name serialises"),
                    json_number(*g)
                )
            })
            .collect();
        say(format!(
            "{{\"value\": {}, \"gradients\": {{{}}}}}",
            json_number(value),
            gradients.join(", ")
        ));
    } else {
        say(format!("f = {}", plain_number(value)));
        for (name, g) in &result.gradients {
            say(format!("df/d{name} = {}", plain_number(*g)));
        }
    }
    if let Some(path) = &args.dot {
        save(path, result.output.to_dot().as_bytes(), "DOT graph")?;
    }
    if let Some(path) = &args.svg {
        let svg = result.output.to_svg().map_err(|e| {
            Failure::new(format!(
                "no SVG picture: {e}; write the graph with --dot FILE and draw it with Graphviz (dot -Tsvg FILE)"
            ))
        })?;
        save(path, svg.as_bytes(), "SVG picture")?;
    }
    crate::output::results_delivered()
}

/// A number as people read it: every digit Rust's shortest round-trip form has (`-4`,
/// `0.1`), but in scientific notation when that form would run to many zeros (`2e300`).
fn plain_number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() >= 1e16 || x.abs() < 1e-6) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_expression_shows_a_window_around_the_error() {
        let expr = format!("{} + $ + {}", "x".repeat(100_000), "y".repeat(100_000));
        let shown = caret(&expr, 100_003);
        assert!(shown.len() < 200, "{} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        let at = lines[1].chars().count() - 1;
        assert_eq!(lines[0].chars().nth(at), Some('$'));
        assert_eq!(caret("x + $", 4), "  x + $\n      ^");
    }

    #[test]
    fn numbers_far_from_one_are_written_with_an_exponent() {
        // 1e300 * 2 was printed as 302 digits.
        assert_eq!(plain_number(2e300), "2e300");
        assert_eq!(plain_number(2e-300), "2e-300");
        assert_eq!(plain_number(-4.0), "-4");
        assert_eq!(plain_number(0.1), "0.1");
        assert_eq!(plain_number(0.0), "0");
    }
}
