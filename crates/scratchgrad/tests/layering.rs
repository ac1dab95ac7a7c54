//! The module picture in docs/ARCHITECTURE.md is the truth, and this test keeps it so: every
//! library module's code may reach (through `crate::...` paths) only the modules its row of
//! the table lists, and uses each one it lists; the binary's two front ends (`cli`, `web`)
//! never reach each other. A new dependency between modules fails here until the table says
//! it, so the documented layering cannot drift again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `path` (or `path` itself).
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules a module's code reaches through `crate::name` (comments aside).
fn reached(path: &Path, own: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for file in sources(path) {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && name != own {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// The rows of the table whose header is `| module | what it is | uses |`: each module's name
/// and the backticked names of its "uses" column.
fn documented(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| module | what it is | uses |") {
            in_table = true;
            continue;
        }
        in_table &= line.starts_with('|');
        if !in_table || !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let name = cells[1].split('`').nth(1).unwrap_or("").to_string();
        let uses: BTreeSet<String> = cells[3]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        rows.insert(name, uses);
    }
    rows
}

#[test]
fn every_module_uses_only_what_the_architecture_table_lists() {
    let root = workspace();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let table = documented(&doc);
    let src = root.join("crates/scratchgrad/src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || name != "lib").then_some(name)
        })
        .collect();
    let mut problems = Vec::new();
    for module in &modules {
        let path = if src.join(module).is_dir() {
            src.join(module)
        } else {
            src.join(format!("{module}.rs"))
        };
        let uses = reached(&path, module);
        let Some(listed) = table.get(module) else {
            problems.push(format!(
                "`{module}` has no row in docs/ARCHITECTURE.md's table"
            ));
            continue;
        };
        // Only the listed names that are modules count (a row may name crates too).
        let listed: BTreeSet<String> = listed.intersection(&modules).cloned().collect();
        for extra in uses.difference(&listed) {
            problems.push(format!(
                "`{module}` uses `crate::{extra}`, which its row does not list"
            ));
        }
        for stale in listed.difference(&uses) {
            problems.push(format!(
                "`{module}`'s row lists `{stale}`, which it no longer uses"
            ));
        }
    }
    for (name, _) in table.iter().filter(|(n, _)| !modules.contains(*n)) {
        if !["cli", "web"].contains(&name.as_str()) {
            problems.push(format!(
                "the table has a row for `{name}`, which is not a module"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_front_ends_never_reach_each_other() {
    let src = workspace().join("crates/scratchgrad-cli/src");
    for (module, other) in [("cli", "web"), ("web", "cli")] {
        let uses = reached(&src.join(module), module);
        assert!(
            !uses.contains(other),
            "`{module}` uses `crate::{other}`: the front ends call the library, never each other"
        );
        let allowed: BTreeSet<String> = ["output".to_string()].into();
        assert!(
            uses.is_subset(&allowed),
            "`{module}` reaches {uses:?} in the binary; only `output` (and `Failure`) are shared"
        );
    }
}
