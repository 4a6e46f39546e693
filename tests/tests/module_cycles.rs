//! No import cycles between the modules of any workspace crate (issue #30): within each crate, a
//! module that uses a sibling (or anything inside it) is an edge between the two siblings, and
//! no sibling may reach itself again. Uses of a module's own ancestors (`super::Item` of the
//! parent that declares it) are the tree itself, not edges. Read from the `use` paths in the
//! sources (`crate::a::b`, `crate::{a, b}`, `super::x`), unit tests left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable source directory").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a/b.rs`, `a/b/mod.rs` → `[a, b]`; `lib.rs` → `[]`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: ModPath = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without line comments and without its `#[cfg(test)] mod tests` block (always
/// last in our files).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn ident_path(s: &str) -> Vec<String> {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    s[..end].split("::").filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// Every module path a file refers to.
fn references(module: &ModPath, text: &str) -> Vec<ModPath> {
    let mut refs = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(0)];
            refs.extend(inner.split(',').map(|item| ident_path(item.trim())));
        } else {
            refs.push(ident_path(rest));
        }
    }
    for (i, _) in text.match_indices("super::") {
        // Only the first `super::` of a run.
        if text[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &text[i..];
        let mut base = module.clone();
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        base.extend(ident_path(rest));
        refs.push(base);
    }
    refs
}

/// The sibling-to-sibling edges of one crate.
fn edges(src: &Path) -> BTreeSet<(ModPath, ModPath)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mods: BTreeMap<ModPath, String> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs") || f.parent() != Some(src))
        .map(|f| {
            (module_of(f.strip_prefix(src).expect("under src")), code(&std::fs::read_to_string(f).unwrap()))
        })
        .collect();
    let mut out = BTreeSet::new();
    for (m, text) in &mods {
        for r in references(m, text) {
            let Some(t) = (1..=r.len()).rev().map(|k| r[..k].to_vec()).find(|p| mods.contains_key(p)) else {
                continue;
            };
            let p = m.iter().zip(&t).take_while(|(a, b)| a == b).count();
            if p < m.len() && p < t.len() {
                out.insert((m[..=p].to_vec(), t[..=p].to_vec()));
            }
        }
    }
    out
}

fn cycles(edges: &BTreeSet<(ModPath, ModPath)>) -> Vec<String> {
    let reach = |from: &ModPath, to: &ModPath| {
        let mut seen = BTreeSet::from([from.clone()]);
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            if &n == to {
                return true;
            }
            for (_, b) in edges.iter().filter(|(a, _)| *a == n) {
                if seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        false
    };
    edges
        .iter()
        .filter(|(a, b)| reach(b, a))
        .map(|(a, b)| format!("{} -> {}", a.join("::"), b.join("::")))
        .collect()
}

#[test]
fn no_module_of_any_crate_imports_its_way_back_to_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = manifest.split("members = [").nth(1).and_then(|m| m.split(']').next()).expect("members");
    let mut crates = 0;
    let mut found = Vec::new();
    for name in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        let src = root.join(name).join("src");
        crates += 1;
        found.extend(cycles(&edges(&src)).into_iter().map(|c| format!("{name}: {c}")));
    }
    assert!(crates >= 10, "read {crates} crates from the workspace members");
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn a_cycle_between_siblings_is_found() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path();
    std::fs::create_dir_all(src.join("sync")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod sync;\npub mod protocol;\n").unwrap();
    std::fs::write(src.join("protocol.rs"), "pub const V: usize = 15;\n").unwrap();
    std::fs::write(src.join("sync/mod.rs"), "pub mod batch;\npub mod clean;\nuse crate::protocol::V;\n")
        .unwrap();
    std::fs::write(src.join("sync/batch.rs"), "use super::clean::rule;\nuse super::Result;\n").unwrap();
    std::fs::write(src.join("sync/clean.rs"), "use crate::{protocol, sync::batch::Row};\n").unwrap();
    let e = edges(src);
    assert_eq!(cycles(&e), vec!["sync::batch -> sync::clean", "sync::clean -> sync::batch"]);
    // Uses of an ancestor (`super::Result`) and of another top-level module are no cycle.
    std::fs::write(src.join("sync/clean.rs"), "use crate::protocol;\n").unwrap();
    assert!(cycles(&edges(src)).is_empty());
}

/// The workspace crates a crate's manifest names in `section` (`dependencies`, …).
fn workspace_deps(krate: &str, section: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).unwrap();
    let Some(body) = text.split(&format!("[{section}]\n")).nth(1) else { return Vec::new() };
    let body = body.split("\n[").next().unwrap_or("");
    body.lines()
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .map(str::to_string)
        .filter(|n| root.join(n.strip_prefix("lipsync-").unwrap_or(n)).join("Cargo.toml").is_file())
        .collect()
}

#[test]
fn the_forbidden_arrows_are_absent() {
    for section in ["dependencies", "dev-dependencies"] {
        let eval = workspace_deps("evaluator", section);
        assert!(!eval.iter().any(|d| d == "trainer" || d == "preprocess"), "evaluator {section}: {eval:?}");
    }
    // The helpers every crate tests with pull in no pipeline crate.
    let helpers = workspace_deps("tests", "dependencies");
    assert!(
        !helpers.iter().any(|d| ["trainer", "preprocess", "nets", "media"].contains(&d.as_str())),
        "{helpers:?}"
    );
    assert!(!workspace_deps("media", "dependencies").contains(&"nets".to_string()));
    assert!(!workspace_deps("nets", "dependencies").contains(&"media".to_string()));
    assert!(
        workspace_deps("evaluator", "dependencies").contains(&"nets".to_string()),
        "the parser reads the manifest"
    );
}
