//! `scratchgrad grad` end to end: output, errors and pictures.

mod common;

use std::process::{Command, Output};

use common::temp_dir;

fn grad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .arg("grad")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The texts' worked example: f = (x + y) * z = -12, df/dx = -4, df/dy = -4, df/dz = 3.
#[test]
fn texts_example_text_and_json() {
    let out = grad(&["(x + y) * z", "x=-2", "y=5", "z=-4"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "f = -12\ndf/dx = -4\ndf/dy = -4\ndf/dz = 3\n");
    let out = grad(&["(x + y) * z", "x=-2", "y=5", "z=-4", "--json"]);
    assert_eq!(
        stdout(&out),
        "{\"value\": -12.0, \"gradients\": {\"x\": -4.0, \"y\": -4.0, \"z\": 3.0}}\n"
    );
}

#[test]
fn python_precedence() {
    // -x**2 is -(x**2); 2**3**2 is 2**9.
    let out = grad(&["-x**2 + 2**3**2", "x=3", "--json"]);
    assert_eq!(
        stdout(&out),
        "{\"value\": 503.0, \"gradients\": {\"x\": -6.0}}\n"
    );
    let out = grad(&["x ** -1", "x=4", "--json"]);
    assert_eq!(
        stdout(&out),
        "{\"value\": 0.25, \"gradients\": {\"x\": -0.0625}}\n"
    );
}

#[test]
fn errors_are_one_line_with_a_caret_and_exit_nonzero() {
    let cases: [(&[&str], &str); 7] = [
        (&["x + * y", "x=1", "y=2"], "error: at column 5: expected a number, name or `(`, found `*`\n  x + * y\n      ^\n"),
        (&["foo(x)", "x=1"], "error: at column 1: unknown function `foo` (known: exp, log, sqrt, tanh, sigmoid, relu, sin, cos, abs)\n  foo(x)\n  ^\n"),
        (&["x + y", "x=1"], "error: at column 5: `y` has no value: add y=NUMBER\n  x + y\n      ^\n"),
        (&["x", "x=1", "q=2"], "error: `q` is given a value but the expression does not use it: remove q=...\n"),
        (&["x", "x=abc"], "error: `abc` in `x=abc` is not a finite number: write each value as NAME=NUMBER, e.g. x=-2\n"),
        (&["x", "x"], "error: `x` is not NAME=VALUE: write each value as NAME=NUMBER, e.g. x=-2\n"),
        (&["(x", "x=1"], "error: at column 3: expected `)` to close the `(` at column 1, found the end of the expression\n  (x\n    ^\n"),
    ];
    for (args, want) in cases {
        let out = grad(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), want, "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn non_finite_results_name_the_sub_expression() {
    let out = grad(&["x * log(y)", "x=2", "y=-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: at column 5: `log(y)` is NaN"),
        "{}",
        stderr(&out)
    );
    let out = grad(&["x / (y - y)", "x=1", "y=3"]);
    assert!(
        stderr(&out).starts_with("error: at column 1: `x / (y - y)` is +inf"),
        "{}",
        stderr(&out)
    );
    let out = grad(&["sqrt(x) + x", "x=0"]);
    assert!(
        stderr(&out)
            .starts_with("error: at column 1: the gradient through `sqrt(x)` is not finite"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dot_and_svg_pictures_need_no_other_program() {
    // PATH is emptied: the SVG is laid out and drawn in-process, no Graphviz.
    let dir = temp_dir("pictures");
    std::fs::create_dir_all(&dir).unwrap();
    let (dot, svg) = (dir.join("f.dot"), dir.join("f.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["grad", "(x + y) * z", "x=-2", "y=5", "z=-4", "--dot"])
        .arg(&dot)
        .arg("--svg")
        .arg(&svg)
        .env("PATH", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = std::fs::read_to_string(dot).unwrap();
    assert!(dot.contains("{ (x + y) * z | data -12 | grad 1 }"), "{dot}");
    assert!(dot.contains("{ x | data -2 | grad -4 }"), "{dot}");
    let svg = std::fs::read_to_string(svg).unwrap();
    for text in ["<svg", "(x + y) * z", "data -12", "grad -4", "grad 3"] {
        assert!(svg.contains(text), "{text} missing from {svg}");
    }
}

#[test]
fn pictures_go_to_standard_output_with_a_dash_and_the_numbers_to_standard_error() {
    let out = grad(&["x * y", "x=2", "y=3", "--dot", "-"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("digraph"), "{}", stdout(&out));
    assert_eq!(stderr(&out), "f = 6\ndf/dx = 3\ndf/dy = 2\n");
    let both = grad(&["x", "x=1", "--dot", "-", "--svg", "-"]);
    assert_eq!(both.status.code(), Some(1));
}

#[test]
fn a_picture_that_cannot_be_written_does_not_hide_the_numbers() {
    // A FIFO, a device and a symlink were once replaced by a regular file (exit 0).
    let dir = temp_dir("special-outputs");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let link = dir.join("link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    for target in [fifo.to_str().unwrap(), link.to_str().unwrap(), "/dev/null"] {
        let out = grad(&["x * 2", "x=1", "--dot", target]);
        assert_eq!(out.status.code(), Some(1), "{target}");
        assert_eq!(stdout(&out), "f = 2\ndf/dx = 2\n", "{target}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: cannot write the DOT graph to ")
                && err.contains("not a regular file")
                && err.lines().count() == 1,
            "{target}: {err}"
        );
    }
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "the FIFO is still a FIFO"
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn long_flat_expressions_evaluate_in_linear_memory() {
    // 28,900 terms once overflowed the stack (exit 134); a 10,000-term sum wrote a 202 MB DOT
    // file (each label was its whole sub-expression).
    let long = vec!["x"; 28_900].join("+");
    let out = grad(&[&long, "x=1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"value\": 28900.0, \"gradients\": {\"x\": 28900.0}}\n"
    );
    let sum = vec!["x"; 10_000].join(" + ");
    let out = grad(&[&sum, "x=1", "--dot", "-"]);
    assert!(out.status.success());
    assert!(
        out.stdout.len() < 5_000_000,
        "DOT of {} bytes",
        out.stdout.len()
    );
    let out = grad(&[&sum, "x=1", "--svg", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--dot FILE"), "{}", stderr(&out));
}

#[test]
fn errors_on_long_expressions_show_only_the_part_around_the_column() {
    let long = format!("{} + $", vec!["x"; 50_000].join("+"));
    let out = grad(&[&long, "x=1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.len() < 300, "{} bytes on stderr", err.len());
    assert!(
        err.starts_with("error: at column 100003: unexpected character `$`"),
        "{err}"
    );
}

#[test]
fn misplaced_or_impossible_input_gets_a_specific_message() {
    let cases: [(&[&str], &str); 3] = [
        (&["--json", "x=1"], "error: missing expression: `x=1` is a value; give the expression first, e.g. scratchgrad grad \"x * y\" x=2 y=3\n"),
        (&["1e309 + x", "x=1"], "error: at column 1: the number `1e309` is too large for a 64-bit float (the largest is about 1.8e308)\n  1e309 + x\n  ^\n"),
        (&["x ^ 2", "x=1"], "error: at column 3: unexpected character `^` (powers are written `**`, as in Python)\n  x ^ 2\n    ^\n"),
    ];
    for (args, want) in cases {
        let out = grad(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), want, "{args:?}");
    }
}

#[test]
fn a_picture_that_cannot_reach_standard_output_is_an_error() {
    // `--svg -` and `--dot -` into a full disk reported success while writing nothing.
    for (flag, what) in [("--svg", "SVG picture"), ("--dot", "DOT graph")] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
            .args(["grad", "x * y", "x=1", "y=2", flag, "-"])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1), "{flag}");
        assert!(
            stderr(&run).ends_with(&format!(
                "error: cannot write the {what} to standard output: No space left on device (os error 28)\n"
            )),
            "{flag}: {}",
            stderr(&run)
        );
    }
}
