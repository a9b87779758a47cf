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

/// The key/value type pairs the store's tables may use (`&str → &[u8]`, `u64 → &[u8]`): each
/// further pair is another copy of redb's B-tree code, about 33 KB of a router binary that has a
/// few KB to spare (docs/size.md).
const LIVE_PAIRS: [&str; 2] = ["&str,&[u8]", "u64,&[u8]"];
/// The pairs of tables older schemas had, which an upgrade step reads once and deletes
/// (`OLD_…`, `old_rows`): allowed only on such lines.
const LEGACY_PAIRS: [&str; 3] = ["&str,&str", "&str,u64", "u64,&str"];

/// Every key/value type pair a `TableDefinition` in `text` names (a definition of any
/// visibility, a turbofish, a parameter), each with whether its line is about an old table.
fn table_pairs(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let old = line.contains("OLD_") || line.contains("old");
        let mut rest = line;
        while let Some(i) = rest.find("TableDefinition") {
            rest = &rest[i + "TableDefinition".len()..];
            let Some(args) = rest.strip_prefix("::<").or_else(|| rest.strip_prefix('<')) else {
                continue;
            };
            let mut depth = 1;
            let Some(end) = args.char_indices().find_map(|(j, c)| {
                match c {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(j)
            }) else {
                continue;
            };
            let types: Vec<String> = args[..end]
                .split(',')
                .map(|t| t.replace("'static", "").replace(' ', ""))
                .filter(|t| !t.is_empty() && !t.starts_with('\''))
                .collect();
            out.push((types.join(","), old));
        }
    }
    out
}

/// The pairs the live tables of `texts` use, how many table types were seen, and every pair
/// outside `LIVE_PAIRS` (or, on an old table's line, `LEGACY_PAIRS`).
fn pair_check(texts: &[String]) -> (std::collections::BTreeSet<String>, usize, Vec<String>) {
    let mut live = std::collections::BTreeSet::new();
    let mut seen = 0;
    let mut wrong = Vec::new();
    for (pair, old) in texts.iter().flat_map(|t| table_pairs(t)) {
        // The compaction's copy is generic in the key (`store/compact.rs`); what it is
        // instantiated with is checked by the test below.
        if pair == "K,&[u8]" {
            continue;
        }
        seen += 1;
        if LIVE_PAIRS.contains(&pair.as_str()) {
            if !old {
                live.insert(pair);
            }
        } else if !(old && LEGACY_PAIRS.contains(&pair.as_str())) {
            wrong.push(pair);
        }
    }
    (live, seen, wrong)
}

/// The store's tables use two key/value type pairs (`LIVE_PAIRS`). Tables kept only for a
/// schema upgrade (`OLD_…`, read once and deleted) may be of the pairs older schemas had.
#[test]
fn the_store_uses_two_key_value_type_pairs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("store.rs")];
    rust_files(&src.join("store"), &mut files);
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let (live, seen, wrong) = pair_check(&texts);
    assert!(seen >= 15, "only {seen} table types found");
    assert_eq!(
        wrong,
        Vec::<String>::new(),
        "a table of a new key/value type pair: use one of {LIVE_PAIRS:?}"
    );
    assert_eq!(live.into_iter().collect::<Vec<_>>(), LIVE_PAIRS);
    // The compaction copies with the live pairs' keys, and nothing else.
    let compact = std::fs::read_to_string(src.join("store/compact.rs")).unwrap();
    let keys: Vec<&str> = compact
        .split("copy::<")
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(k, _)| k))
        .collect();
    assert_eq!(keys, ["u64", "&str"], "the compaction's copies");
}

/// The check above catches a third pair however it is spelled, and an old table of a pair no
/// older schema had.
#[test]
fn a_third_key_value_type_pair_is_caught() {
    let text = "const A: TableDefinition<&str, &[u8]> = TableDefinition::new(\"a\");\n\
                pub(crate) const B: TableDefinition<'static, u64, &'static [u8]> = x;\n\
                const C: TableDefinition<&str, u64> = TableDefinition::new(\"c\");\n\
                let t = txn.open_table(TableDefinition::<u64, u64>::new(\"d\"));\n\
                static E: MultimapTableDefinition<u64, &str> = x;\n\
                const OLD_F: TableDefinition<&str, u64> = TableDefinition::new(\"f\");\n\
                const OLD_G: TableDefinition<u64, u32> = TableDefinition::new(\"g\");\n"
        .to_string();
    let (live, seen, wrong) = pair_check(&[text]);
    assert_eq!(seen, 7);
    assert_eq!(wrong, ["&str,u64", "u64,u64", "u64,&str", "u64,u32"]);
    assert_eq!(live.into_iter().collect::<Vec<_>>(), LIVE_PAIRS);
}
