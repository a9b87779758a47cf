//! The layering rule, read from the source: dependencies point one way, down the layers.
//!
//! core ← store, adapters ← app ← web, ubus ← daemon
//!
//! A file may name (`crate::…`) its own layer or a lower one, never a higher one, and never a
//! sibling layer of the same rank (store and adapters know nothing of each other; neither do
//! the web and the ubus object). The HTTP transport (`web/http.rs`, `server.rs`, `wire.rs`,
//! `gate.rs`, `tls.rs`) names no page
//! module. There is no allow-list: a new upward import fails here with its file and line.

use std::path::{Path, PathBuf};

/// The layers, with their rank (higher may import lower).
const LAYERS: [(&str, u8); 7] = [
    ("core", 0),
    ("store", 1),
    ("adapters", 1),
    ("app", 2),
    ("web", 3),
    ("ubus", 3),
    ("daemon", 4),
];

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, r)| *r)
}

/// The layer a source file belongs to: its first folder under `src/` (`src/store.rs` is the
/// store); None for the crate root and the binary.
fn layer_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    rank(name).map(|_| name.to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::NAME` a line of code names (comments left out), with the rest of the path.
fn crate_paths(line: &str) -> Vec<String> {
    let code = match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(path);
    }
    out
}

/// Every import in `src/` that breaks the rule, as `file:line: what`.
fn violations(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let Some(layer) = layer_of(&src, &file) else {
            continue;
        };
        let own = rank(&layer).unwrap();
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        let transport = [
            "src/web/http.rs",
            "src/web/tls.rs",
            "src/web/server.rs",
            "src/web/wire.rs",
            "src/web/gate.rs",
        ]
        .contains(&rel.as_str());
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for path in crate_paths(line) {
                let target = path.split("::").next().unwrap_or("");
                let Some(theirs) = rank(target) else {
                    continue;
                };
                let upward = theirs > own || (theirs == own && target != layer);
                let page = transport
                    && (path.starts_with("web::portal") || path.starts_with("web::admin"));
                if upward || page {
                    found.push(format!("{rel}:{}: {layer} names crate::{path}", n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn dependencies_point_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = violations(root);
    assert!(
        found.is_empty(),
        "imports that point up (or sideways) the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_catches_an_upward_import() {
    // A copy of a core file with one upward import added must be reported.
    let dir = std::env::temp_dir().join(format!("lango-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src/core")).unwrap();
    std::fs::create_dir_all(dir.join("src/web")).unwrap();
    std::fs::write(
        dir.join("src/core/model.rs"),
        "//! x\nuse crate::core::time::Timestamp;\n// crate::app::App in a comment is fine\n\
         use crate::app::App;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/web/http.rs"),
        "//! x\nuse crate::app::App;\nfn f() { crate::web::portal::handle(); }\n",
    )
    .unwrap();
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        [
            "src/core/model.rs:4: core names crate::app::App",
            "src/web/http.rs:3: web names crate::web::portal::handle",
        ]
    );
}

/// The store's tables use three key/value type pairs (`&str → u64`, `u64 → &[u8]`,
/// `&str → &[u8]`): each further pair is another copy of redb's B-tree code, about 20 KB of a
/// router binary that has a few KB to spare (docs/size.md). Tables kept only for a schema
/// upgrade (`OLD_…`, read once and deleted) do not count.
#[test]
fn the_store_uses_three_key_value_type_pairs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("store.rs")];
    rust_files(&src.join("store"), &mut files);
    let mut pairs = std::collections::BTreeSet::new();
    let mut tables = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines().map(str::trim) {
            if !line.starts_with("const ") || line.starts_with("const OLD_") {
                continue;
            }
            let Some(types) = line
                .split_once("TableDefinition<")
                .and_then(|(_, rest)| rest.split_once("> ="))
                .map(|(types, _)| types.replace(' ', ""))
            else {
                continue;
            };
            tables += 1;
            pairs.insert(types);
        }
    }
    assert!(tables >= 15, "only {tables} table definitions found");
    assert_eq!(
        pairs.into_iter().collect::<Vec<_>>(),
        ["&str,&[u8]", "&str,u64", "u64,&[u8]"],
        "a table of a new key/value type pair: use one of the three"
    );
}
