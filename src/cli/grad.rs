//! `scratchgrad grad`: the value and gradients of an expression, and a picture of its graph.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use scratchgrad::io::write_atomic;
use scratchgrad::scalar::evaluate::{evaluate, EvalError};

use super::CliError;

/// Differentiate an expression with the scalar engine: prints f and df/dNAME for every name.
///
/// Example: scratchgrad grad "(x + y) * z" x=-2 y=5 z=-4
#[derive(Args)]
#[command(
    after_help = "EXPR uses Python's syntax: + - * / ** (right-associative, binds tighter than unary minus), \
parentheses, numbers (3, 0.5, 1e-3), names, and the functions exp log sqrt tanh sigmoid relu sin cos abs."
)]
pub struct GradArgs {
    /// The expression, e.g. "(x + y) * z" (quote it for the shell)
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// A value for each name in EXPR, as NAME=VALUE (e.g. x=-2)
    #[arg(value_name = "NAME=VALUE")]
    values: Vec<String>,
    /// Print one JSON object: {"value": ..., "gradients": {NAME: ...}}
    #[arg(long)]
    json: bool,
    /// Write the graph (values and gradients) as Graphviz DOT to FILE
    #[arg(long, value_name = "FILE")]
    dot: Option<PathBuf>,
    /// Render the graph to an SVG FILE with Graphviz's `dot` program
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

fn parse_binding(text: &str) -> Result<(String, f64), CliError> {
    let hint = "write each value as NAME=NUMBER, e.g. x=-2";
    let Some((name, number)) = text.split_once('=') else {
        return Err(CliError::new(format!("`{text}` is not NAME=VALUE: {hint}")));
    };
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(CliError::new(format!(
            "`{name}` in `{text}` is not a name: {hint}"
        )));
    }
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((name.to_string(), v)),
        _ => Err(CliError::new(format!(
            "`{number}` in `{text}` is not a finite number: {hint}"
        ))),
    }
}

/// The expression with a caret under the byte `offset`.
fn caret(expr: &str, offset: usize) -> String {
    let column = expr[..offset.min(expr.len())].chars().count();
    format!("  {expr}\n  {}^", " ".repeat(column))
}

fn eval_error(expr: &str, e: EvalError) -> CliError {
    match e.offset {
        Some(offset) => {
            let column = expr[..offset.min(expr.len())].chars().count() + 1;
            CliError::new(format!("at column {column}: {}", e.message))
                .with_detail(caret(expr, offset))
        }
        None => CliError::new(e.message),
    }
}

fn json_number(x: f64) -> String {
    serde_json::to_string(&x).expect("a finite f64 always serialises")
}

fn write_file(path: &Path, bytes: &[u8], what: &str) -> Result<(), CliError> {
    write_atomic(path, bytes).map_err(|e| {
        CliError::new(format!(
            "cannot write the {what} to {}: {e}",
            path.display()
        ))
    })
}

fn render_svg(dot: &str) -> Result<Vec<u8>, CliError> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::new(
                "--svg needs Graphviz's `dot` program, which is not on PATH: install it (Debian/Ubuntu: apt-get install graphviz) or write DOT with --dot FILE",
            ))
        }
        Err(e) => return Err(CliError::new(format!("cannot run Graphviz's `dot`: {e}"))),
    };
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let written = stdin.write_all(dot.as_bytes());
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| CliError::new(format!("Graphviz's `dot` failed: {e}")))?;
    if written.is_err() || !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr);
        return Err(CliError::new(format!(
            "Graphviz's `dot` could not render the graph: {}",
            why.trim()
        )));
    }
    Ok(output.stdout)
}

/// Runs `scratchgrad grad`.
pub fn run(args: GradArgs) -> Result<(), CliError> {
    let bindings = args
        .values
        .iter()
        .map(|v| parse_binding(v))
        .collect::<Result<Vec<_>, _>>()?;
    let result = evaluate(&args.expr, &bindings).map_err(|e| eval_error(&args.expr, e))?;
    // Files first: if one cannot be written, nothing has been printed as if all went well.
    if args.dot.is_some() || args.svg.is_some() {
        let dot = result.output.to_dot();
        let svg = args.svg.as_ref().map(|_| render_svg(&dot)).transpose()?;
        if let Some(path) = &args.dot {
            write_file(path, dot.as_bytes(), "DOT graph")?;
        }
        if let (Some(path), Some(svg)) = (&args.svg, svg) {
            write_file(path, &svg, "SVG picture")?;
        }
    }
    let value = result.output.data();
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
        println!(
            "{{\"value\": {}, \"gradients\": {{{}}}}}",
            json_number(value),
            gradients.join(", ")
        );
    } else {
        println!("f = {value}");
        for (name, g) in &result.gradients {
            println!("df/d{name} = {g}");
        }
    }
    Ok(())
}
