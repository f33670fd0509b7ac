//! The architecture check: reads every `use crate::`, `crate::…`, `super::…` and child-module
//! path under `src/` and fails on an import cycle between modules, on an import that goes
//! against the layers `src/lib.rs` documents, and on a file or function grown past the size a
//! reader can hold in mind. Test code (`#[cfg(test)]` modules, inline or in their own file) is
//! left out: tests may reach anywhere.
//!
//! The reading is textual, not a compiler's: macro-built paths and fully qualified paths through
//! a `use` alias are not seen. It is exact for the way this crate writes imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a top-level module may import only from modules before it.
const LAYERS: &[&str] = &[
    "core",
    "source",
    "matcher",
    "config",
    "telemetry",
    "rules",
    "probes",
    "actions",
    "daemon",
    "cli",
];

/// Longest file, test code aside.
const MAX_FILE_LINES: usize = 600;
/// Longest function body, in lines.
const MAX_FN_LINES: usize = 150;

/// One source file as a module: its path (`actions::channels::slack`) and its code, test
/// modules and comments removed.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    code: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).expect("under src/");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Removes `//` comments (doc comments included) and the contents of string literals, so that
/// neither is read as a path.
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            // A raw string r"…" or r#"…"# ends at the matching quote and hashes.
            let hashes = count_raw_hashes(b, i);
            out.push('"');
            i += 1;
            loop {
                if i >= b.len() {
                    break;
                }
                if hashes.is_none() && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == b'"' {
                    let n = hashes.unwrap_or(0);
                    if b[i + 1..].iter().take(n).filter(|&&c| c == b'#').count() == n {
                        i += 1 + n;
                        break;
                    }
                }
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            out.push('"');
        } else {
            let len = utf8_len(b[i]);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// `Some(n)` when the quote at `i` opens a raw string with `n` hashes.
fn count_raw_hashes(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut n = 0;
    while j > 0 && b[j - 1] == b'#' {
        j -= 1;
        n += 1;
    }
    let is_raw = j > 0 && b[j - 1] == b'r' && (j < 2 || !b[j - 2].is_ascii_alphanumeric());
    is_raw.then_some(n)
}

/// Cuts `#[cfg(test)] mod name { … }` blocks out of the code; returns the code and the names of
/// test modules kept in their own files (`#[cfg(test)] mod name;`).
fn strip_test_modules(code: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut test_files = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let after = after.strip_prefix("pub(crate) ").unwrap_or(after);
        let Some(decl) = after.strip_prefix("mod ") else {
            // A test-only item that is not a module: skip the attribute only.
            rest = &rest[at + "#[cfg(test)]".len()..];
            continue;
        };
        let name: String = decl
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let tail = decl[name.len()..].trim_start();
        if let Some(t) = tail.strip_prefix(';') {
            test_files.push(name);
            rest = t;
        } else if tail.starts_with('{') {
            let mut depth = 0usize;
            let mut end = tail.len();
            for (k, c) in tail.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            // Keep the line count: tests are left out of sizes, but line numbers stay right.
            out.extend(tail[..end].chars().filter(|&c| c == '\n'));
            rest = &tail[end..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    (out, test_files)
}

fn load_modules() -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut test_files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut modules = Vec::new();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file.parent() == Some(src_dir().as_path()) && (name == "main.rs" || name == "lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file is UTF-8");
        let (code, tests) = strip_test_modules(&strip_comments_and_strings(&text));
        let dir = if name == "mod.rs" {
            file.parent().expect("a parent").to_path_buf()
        } else {
            file.with_extension("")
        };
        for t in tests {
            test_files.insert(dir.join(format!("{t}.rs")));
            test_files.insert(dir.join(&t).join("mod.rs"));
        }
        modules.push(Module {
            path: module_path(file),
            file: file.clone(),
            code,
        });
    }
    modules.retain(|m| !test_files.contains(&m.file));
    modules
}

/// Splits `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = &tree[..open];
    let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (k, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use_tree(p)
                .into_iter()
                .map(move |e| format!("{prefix}{e}"))
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path this module names, as absolute segments from the crate root.
fn named_paths(m: &Module, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let me = &m.path;
    let resolve = |p: &str| -> Option<Vec<String>> {
        let segs: Vec<String> = p.split("::").map(|s| s.trim().to_string()).collect();
        let first = segs.first()?.as_str();
        let mut base: Vec<String> = match first {
            "crate" => Vec::new(),
            "self" => me.clone(),
            "super" => me[..me.len().saturating_sub(1)].to_vec(),
            c if children.contains(c) => {
                let mut b = me.clone();
                b.push(c.to_string());
                b
            }
            _ => return None,
        };
        let mut rest = &segs[1..];
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().filter(|s| *s != "self").cloned());
        Some(base)
    };
    let mut out = Vec::new();
    let code = &m.code;
    // `use` statements, trees expanded.
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before_ok = at == 0 || !is_ident(rest[..at].chars().last().unwrap_or(' '));
        let tail = &rest[at + 4..];
        let end = tail.find(';').unwrap_or(tail.len());
        if before_ok {
            for p in expand_use_tree(&tail[..end]) {
                if let Some(abs) = resolve(&p) {
                    out.push(abs);
                }
            }
        }
        rest = &tail[end.min(tail.len())..];
    }
    // Paths in code: `crate::a::b`, `super::a`.
    for key in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(k) = code[from..].find(key) {
            let at = from + k;
            from = at + key.len();
            if at > 0
                && (is_ident(code[..at].chars().last().unwrap_or(' '))
                    || code[..at].ends_with("::"))
            {
                continue;
            }
            let len = code[at..]
                .find(|c: char| !(is_ident(c) || c == ':'))
                .unwrap_or(code.len() - at);
            // `crate::a::{b, c}` is a `use` tree, read above with its leaves.
            if code[at + len..].starts_with('{') {
                continue;
            }
            let p = code[at..at + len].trim_end_matches(':');
            if let Some(abs) = resolve(p) {
                out.push(abs);
            }
        }
    }
    out
}

/// The module graph: module -> modules it imports from (each by its longest known prefix).
fn graph(modules: &[Module]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut g: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for m in modules {
        let children: BTreeSet<String> = known
            .iter()
            .filter(|k| k.len() == m.path.len() + 1 && k.starts_with(&m.path))
            .map(|k| k[k.len() - 1].clone())
            .collect();
        let edges = g.entry(m.path.clone()).or_default();
        for p in named_paths(m, &children) {
            let target = (1..=p.len())
                .rev()
                .map(|n| p[..n].to_vec())
                .find(|prefix| known.contains(prefix));
            if let Some(t) = target {
                if t != m.path {
                    edges.insert(t);
                }
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        g: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let g = s.g;
        for w in g.get(v).into_iter().flatten() {
            if !g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(p: &[String]) -> String {
    p.join("::")
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph(&load_modules());
    let found = cycles(&g);
    let text: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", text.join("\n"));
}

#[test]
fn imports_follow_the_layers() {
    let modules = load_modules();
    let rank = |m: &[String]| LAYERS.iter().position(|l| *l == m[0]);
    let mut wrong = Vec::new();
    for m in &modules {
        if rank(&m.path).is_none() {
            wrong.push(format!(
                "{} is in no layer: add its top-level module to LAYERS and to src/lib.rs",
                name(&m.path)
            ));
        }
    }
    for (from, tos) in graph(&modules) {
        for to in tos {
            if let (Some(a), Some(b)) = (rank(&from), rank(&to)) {
                if b > a {
                    wrong.push(format!(
                        "{} imports {}: {} is a layer above {}",
                        name(&from),
                        name(&to),
                        to[0],
                        from[0]
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Prints the graph between the layers and the files per folder (for reviews: `cargo test
/// --test layering -- --nocapture`).
#[test]
fn the_layer_graph_as_text() {
    let modules = load_modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph(&modules) {
        let e = edges.entry(from[0].clone()).or_default();
        for to in tos.iter().filter(|t| t[0] != from[0]) {
            e.insert(to[0].clone());
        }
    }
    for layer in LAYERS {
        let files = modules.iter().filter(|m| m.path[0] == *layer).count();
        let uses: Vec<&str> = edges
            .get(*layer)
            .map(|e| e.iter().map(String::as_str).collect())
            .unwrap_or_default();
        eprintln!("{layer:<10} {files:>3} files  imports: {}", uses.join(", "));
    }
    assert!(!edges.is_empty());
}

#[test]
fn the_layers_here_are_the_ones_lib_rs_declares() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs");
    let mut declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
        })
        .map(|l| l.trim_end_matches(';'))
        .collect();
    declared.sort_unstable();
    let mut layers = LAYERS.to_vec();
    layers.sort_unstable();
    assert_eq!(declared, layers, "src/lib.rs declares one module per layer");
    // The doc comment draws the layers in order: [`core`] -> [`source`] -> ...
    let drawn: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .filter(|l| l.contains("] ->") || l.trim_start().starts_with("[`"))
        .flat_map(|l| {
            l.split("->")
                .map(|p| p.trim().trim_matches(|c| "[]`".contains(c)).to_string())
        })
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(
        drawn, LAYERS,
        "the layer drawing in src/lib.rs's doc comment"
    );
}

#[test]
fn no_file_or_function_too_long_to_read() {
    let mut long = Vec::new();
    let mut modules = load_modules();
    let main = src_dir().join("main.rs");
    let text = std::fs::read_to_string(&main).expect("src/main.rs");
    modules.push(Module {
        path: vec!["main".into()],
        file: main,
        code: strip_test_modules(&strip_comments_and_strings(&text)).0,
    });
    for m in modules {
        let rel = m
            .file
            .strip_prefix(src_dir())
            .unwrap_or(&m.file)
            .display()
            .to_string();
        let lines = m.code.trim_end().lines().count();
        let most = MAX_FILE_LINES;
        if lines > most {
            long.push(format!(
                "src/{rel}: {lines} lines (at most {most}, tests aside)"
            ));
        }
        for (fn_name, line, len) in functions(&m.code) {
            let most = MAX_FN_LINES;
            if len > most {
                long.push(format!(
                    "src/{rel}:{line}: fn {fn_name} is {len} lines (at most {most})"
                ));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

/// Each `fn` with a body: its name, first line and length in lines.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = code.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.find("fn ") else { continue };
        if at > 0 && is_ident(line[..at].chars().last().unwrap_or(' ')) {
            continue;
        }
        let fn_name: String = line[at + 3..]
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        if fn_name.is_empty() {
            continue;
        }
        // The body opens at the first `{` after the signature, unless a `;` comes first.
        let mut depth = 0usize;
        let mut opened = false;
        let mut end = None;
        'scan: for (j, l) in lines.iter().enumerate().skip(i) {
            let start = if j == i { at } else { 0 };
            for c in l[start..].chars() {
                match c {
                    ';' if !opened => break 'scan,
                    '{' => {
                        opened = true;
                        depth += 1;
                    }
                    '}' if opened => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(j);
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(e) = end {
            out.push((fn_name, i + 1, e - i + 1));
        }
    }
    out
}
