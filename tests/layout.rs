//! The code's layout keeps its promise: no import circle between files. A file that names
//! another (`crate::a::b`, `super::x`, a child module's path) depends on it; a parent's
//! `mod child;` alone does not. A circle means two files cannot be read (or changed) one
//! without the other, which is what a helper bag in a `mod.rs` that its children import
//! back leads to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `src/`, by module path (`notify/mod.rs` is `["notify"]`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                if parts == ["lib"] || parts == ["main"] {
                    parts.clear();
                }
                out.insert(parts, path);
            }
        }
    }
    out
}

/// The file's code without its unit tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `a::b::c` path in the code, with `use a::{b, c::d}` groups spelled out.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && is_ident(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let mut segments = Vec::new();
        loop {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            segments.push(bytes[start..i].iter().collect::<String>());
            if bytes.get(i) == Some(&':') && bytes.get(i + 1) == Some(&':') {
                i += 2;
                if bytes.get(i) == Some(&'{') {
                    let end = (i..bytes.len()).find(|&j| bytes[j] == '}').unwrap_or(i);
                    let group: String = bytes[i + 1..end].iter().collect();
                    for item in group.split(',') {
                        let item = item.split_whitespace().next().unwrap_or("");
                        let mut path = segments.clone();
                        path.extend(item.split("::").map(str::to_owned));
                        out.push(path);
                    }
                    i = end;
                    break;
                }
                if !bytes.get(i).is_some_and(|&c| is_ident(c)) {
                    break;
                }
            } else {
                break;
            }
        }
        if segments.len() > 1 {
            out.push(segments);
        }
    }
    out
}

/// The files each file depends on.
fn dependencies(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut out = BTreeMap::new();
    for (module, file) in modules {
        let code = code(&std::fs::read_to_string(file).unwrap());
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix("pub ").unwrap_or(l);
                let rest = rest.strip_prefix("pub(crate) ").unwrap_or(rest);
                rest.strip_prefix("mod ")?
                    .strip_suffix(';')
                    .map(str::to_owned)
            })
            .collect();
        let mut deps = BTreeSet::new();
        for path in paths(&code) {
            let (mut base, rest): (Module, &[String]) = match path[0].as_str() {
                "crate" => (Vec::new(), &path[1..]),
                "self" => (module.clone(), &path[1..]),
                "super" => {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let keep = module.len().saturating_sub(ups);
                    (module[..keep].to_vec(), &path[ups..])
                }
                first if children.contains(first) => (module.clone(), &path[..]),
                _ => continue,
            };
            // The longest prefix of the path that is a file.
            let mut found = modules.contains_key(&base).then(|| base.clone());
            for segment in rest {
                base.push(segment.clone());
                if modules.contains_key(&base) {
                    found = Some(base.clone());
                }
            }
            if let Some(target) = found.filter(|t| t != module) {
                deps.insert(target);
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// Files that reach each other through their dependencies, in groups of two or more.
fn circles(deps: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in deps.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> =
        deps.keys().map(|m| (m, reach(m))).collect();
    let mut groups: Vec<BTreeSet<Module>> = Vec::new();
    for (m, reached) in &reachable {
        if !reached.contains(*m) || groups.iter().any(|g| g.contains(*m)) {
            continue;
        }
        let group = reached
            .iter()
            .filter(|other| reachable[other].contains(*m))
            .cloned()
            .collect();
        groups.push(group);
    }
    groups
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.len() > 50, "read {} files", modules.len());
    let deps = dependencies(&modules);
    // The reader sees what it should: a child naming its parent's item is an edge.
    assert!(
        deps[&vec!["commands".to_owned(), "build".to_owned()]]
            .contains(&vec!["commands".to_owned(), "common".to_owned()])
    );
    let found: Vec<String> = circles(&deps)
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "lib".into()
                    } else {
                        m.join("/")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}
