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
fn dot_and_svg_pictures() {
    let dir = temp_dir("pictures");
    std::fs::create_dir_all(&dir).unwrap();
    let (dot, svg) = (dir.join("f.dot"), dir.join("f.svg"));
    let out = grad(&[
        "(x + y) * z",
        "x=-2",
        "y=5",
        "z=-4",
        "--dot",
        dot.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = std::fs::read_to_string(dot).unwrap();
    assert!(dot.contains("{ (x + y) * z | data -12 | grad 1 }"), "{dot}");
    assert!(dot.contains("{ x | data -2 | grad -4 }"), "{dot}");
    let svg =
        std::fs::read_to_string(svg).expect("Graphviz rendered an SVG (.ci/run installs graphviz)");
    assert!(
        svg.contains("<svg") && svg.contains("data &#45;12"),
        "{svg}"
    );
}

#[test]
fn missing_graphviz_is_explained_and_writes_nothing() {
    let dir = temp_dir("nodot");
    std::fs::create_dir_all(&dir).unwrap();
    let (dot, svg) = (dir.join("f.dot"), dir.join("f.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args([
            "grad",
            "x * 2",
            "x=1",
            "--dot",
            dot.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ])
        .env("PATH", dir.as_os_str())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("apt-get install graphviz"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dot.exists() && !svg.exists(),
        "a failed run leaves no file behind"
    );
}
