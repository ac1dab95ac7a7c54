//! Short names for the values of a graph, as micrograd's notebook labels them by hand
//! (`x1w1`, `x1w1x2w2`, `n`, `o`): what a page writes in each box, with the whole
//! sub-expression shown on hover. The output is `f` (or `o` after an activation), products
//! of named values join their names, sums of such products join theirs, short expressions
//! keep their text, and the rest get letters no input uses.

use std::collections::HashSet;

/// One value to name: its full label (the sub-expression, or an input's name), its
/// operation's symbol (`None` for an input or constant) and its inputs' positions.
pub(crate) struct Unnamed<'a> {
    pub label: &'a str,
    pub op: Option<&'a str>,
    pub inputs: &'a [usize],
}

/// The most characters a joined name or a kept expression may have.
const MAX_SHORT: usize = 8;
/// Letters for the values that get no other name, in the order they are given.
const LETTERS: &[&str] = &[
    "n", "m", "p", "q", "r", "s", "t", "u", "v", "w", "g", "h", "k", "j", "d", "e",
];

fn is_identifier(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A short name for each value, inputs first (positions refer to earlier values), the last
/// being the output.
pub(crate) fn short_names(values: &[Unnamed<'_>]) -> Vec<String> {
    let mut used: HashSet<String> = values
        .iter()
        .filter(|v| v.op.is_none())
        .map(|v| v.label.to_string())
        .collect();
    // Which names were made by joining (only those join again, under a sum).
    let mut joined = vec![false; values.len()];
    let mut names: Vec<String> = Vec::with_capacity(values.len());
    let mut letters = LETTERS.iter();
    let mut next_number = 1;
    for (i, v) in values.iter().enumerate() {
        let Some(op) = v.op else {
            names.push(v.label.to_string());
            continue;
        };
        let parts: Vec<&String> = v.inputs.iter().map(|&k| &names[k]).collect();
        let join = |ok: &dyn Fn(usize) -> bool| -> Option<String> {
            let all = v.inputs.len() == 2 && v.inputs.iter().all(|&k| ok(k));
            let name: String = parts.iter().map(|p| p.as_str()).collect();
            (all && name.len() <= MAX_SHORT).then_some(name)
        };
        let candidate = match op {
            "*" => join(&|k| is_identifier(&names[k])),
            "+" => join(&|k| joined[k]),
            _ => None,
        };
        let is_output = i + 1 == values.len();
        let name = match candidate.filter(|c| !used.contains(c) && !is_output) {
            Some(name) => {
                joined[i] = true;
                name
            }
            None if is_output => {
                let activation = matches!(op, "tanh" | "sigmoid" | "relu");
                let preferred = if activation { "o" } else { "f" };
                [preferred, "out", "output"]
                    .into_iter()
                    .find(|n| !used.contains(*n))
                    .unwrap_or("output")
                    .to_string()
            }
            None if v.label.chars().count() < MAX_SHORT && !used.contains(v.label) => {
                v.label.to_string()
            }
            None => loop {
                let name = match letters.next() {
                    Some(letter) => letter.to_string(),
                    None => {
                        next_number += 1;
                        format!("v{}", next_number - 1)
                    }
                };
                if !used.contains(&name) {
                    break name;
                }
            },
        };
        used.insert(name.clone());
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(values: &[(&str, Option<&str>, Vec<usize>)]) -> Vec<String> {
        let unnamed: Vec<Unnamed> = values
            .iter()
            .map(|(label, op, inputs)| Unnamed {
                label,
                op: *op,
                inputs,
            })
            .collect();
        short_names(&unnamed)
    }

    #[test]
    fn micrograds_neuron_gets_micrograds_names() {
        // o = tanh(x1*w1 + x2*w2 + b), as micrograd's notebook labels it by hand.
        let got = names(&[
            ("x1", None, vec![]),
            ("w1", None, vec![]),
            ("x1*w1", Some("*"), vec![0, 1]),
            ("x2", None, vec![]),
            ("w2", None, vec![]),
            ("x2*w2", Some("*"), vec![3, 4]),
            ("x1*w1 + x2*w2", Some("+"), vec![2, 5]),
            ("b", None, vec![]),
            ("x1*w1 + x2*w2 + b", Some("+"), vec![6, 7]),
            ("tanh(x1*w1 + x2*w2 + b)", Some("tanh"), vec![8]),
        ]);
        assert_eq!(
            got,
            ["x1", "w1", "x1w1", "x2", "w2", "x2w2", "x1w1x2w2", "b", "n", "o"]
        );
    }

    #[test]
    fn the_texts_example_keeps_its_short_expressions() {
        let got = names(&[
            ("x", None, vec![]),
            ("y", None, vec![]),
            ("x + y", Some("+"), vec![0, 1]),
            ("z", None, vec![]),
            ("(x + y) * z", Some("*"), vec![2, 3]),
        ]);
        assert_eq!(got, ["x", "y", "x + y", "z", "f"]);
        // Names the inputs already use are never given again.
        let got = names(&[
            ("n", None, vec![]),
            ("f", None, vec![]),
            ("exp(n * f + n)", Some("exp"), vec![0]),
            ("exp(n * f + n) * f", Some("*"), vec![2, 1]),
        ]);
        assert_eq!(got, ["n", "f", "m", "out"]);
    }
}
