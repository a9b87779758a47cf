//! lango's UCI parser against the real libuci: the `uci` program of the OpenWrt kit reads the
//! same bytes (`uci -c DIR export lango`, strict as on the router) as `core::uci`. Both accept
//! with the same values, byte for byte as `uci export` prints them, or both refuse; except
//! where lango refuses on purpose what libuci would silently lose (`DELIBERATE`).
//!
//! The kit is built from `../shared/openwrt-kit` into `target/openwrt-kit` by
//! `scripts/openwrt-kit` (CI runs it; `LANGO_OPENWRT_KIT` names another build). Without it the
//! test skips with a message, unless LANGO_REQUIRE_ALL_TESTS is set.

use std::path::PathBuf;
use std::process::Command;

use crate::support::TempDir;

/// Accepted by both, with the same values.
const SAME: &[(&str, &[u8])] = &[
    (
        "every form",
        b"package lango\n# comment\nconfig gateway 'main'\n\toption interface lan # trailing\n\
          \to currency \"KES\"\n\tlist admin_allow '192.168.1.0/24'\n\
          \tl admin_allow 127.0.0.1#glued comment\nc brand\n\toption name 'x'\n",
    ),
    (
        "quotes",
        b"config a 'b'\n\toption one 'it'\\''s'\n\toption two \"say \\\"hi\\\"\"\n\
          \toption three \"it's\"\n\toption four 'say \"hi\"'\n\toption five 'a'\"b\"c\n",
    ),
    (
        "escapes",
        b"config a 'b'\n\toption one \"a\\\\b\\n\"\n\toption two a\\ b\n\toption three '\\n'\n",
    ),
    (
        "hash inside quotes",
        b"config a 'b'\n\toption c '#0b6e4f'\n\toption d \"x#y\"\n",
    ),
    (
        "lists",
        b"config a 'b'\n\toption l 1\n\tlist l 2\n\tlist m ''\n\tlist m 'q'\n",
    ),
    (
        "empty values",
        b"config a 'b'\n\toption x ''\n\toption y\n\toption z \"\"\n\toption w v\n",
    ),
    (
        "a value over two lines",
        b"config a 'b'\n\toption x 'one\ntwo'\n\toption y \"three\nfour\"\n",
    ),
    (
        "semicolons after quotes and spaces",
        b"config a 'b'; option x 'y'; option z w\nconfig c d; # note\n",
    ),
    (
        "backslash-newline then an unindented line",
        b"config a 'b'\n\toption logo /etc/\\\nlango/logo.png\n\toption q \"x\\\ny\"\n",
    ),
    (
        "vertical tab and form feed between words",
        b"config a 'b'\n\toption x\x0by\x0c\n\tlist l\x0cz\n",
    ),
    (
        "control characters inside quotes",
        b"config a 'b'\n\toption x 'p\x0bq\x1br\tz'\n",
    ),
    ("CRLF", b"config a 'b'\r\n\toption c 'd'\r\n\toption e f\r\n"),
    (
        "anonymous and reopened sections",
        b"config a\n\toption x 1\nconfig a ''\nconfig t n\n\toption y 2\nconfig t n\n\toption z 3\n",
    ),
    (
        "a type with punctuation",
        b"config my-type.x:1 'n'\nconfig \"a#b\"\n",
    ),
    (
        "not UTF-8 in a value",
        b"config brand 'brand'\n\toption name 'Caf\xe9'\n\toption x \xff\xfe\n",
    ),
    ("empty file", b""),
    ("no newline at the end", b"config a 'b'\n\toption x y"),
    ("a backslash at the very end", b"config a 'b'\n\toption x y\\"),
];

/// Refused by both.
const REFUSED: &[(&str, &[u8])] = &[
    (
        "backslash-newline then an indented line",
        b"config a 'b'\n\toption logo /etc/\\\n\tlango/logo.png\n",
    ),
    ("\\v after the keyword", b"config a 'b'\n\toption\x0bx y\n"),
    ("\\f after the keyword", b"config\x0ca 'b'\n"),
    ("\\r after the keyword", b"config a 'b'\n\toption\rx y\n"),
    ("keyword alone on its line", b"config\n"),
    ("quoted keyword", b"config a 'b'\n\t'option' x y\n"),
    ("unknown statement", b"config a 'b'\n\tfrobnicate x\n"),
    ("option before config", b"option x y\n"),
    ("too many words", b"config a 'b'\n\toption x y z\n"),
    ("config with three words", b"config a b c\n"),
    ("bad option name", b"config a 'b'\n\toption 'bad name' x\n"),
    (
        "dash in an option name",
        b"config a 'b'\n\toption bad-name x\n",
    ),
    ("bad section name", b"config a 'b.c'\n"),
    ("not UTF-8 in a section name", b"config a 'b\xe9'\n"),
    (
        "unterminated single quote",
        b"config a 'b'\n\toption x 'y\n",
    ),
    (
        "unterminated double quote",
        b"config a 'b'\n\toption x \"y\n",
    ),
    (
        "a space and ';' at the end",
        b"config a 'b'\n\toption x y ;\n",
    ),
    (
        "a quote and ';' at the end",
        b"config a 'b'\n\toption x 'y';\n",
    ),
    (
        "reopened with another type",
        b"config a 'n'\nconfig b 'n'\n",
    ),
    ("option without a name", b"config a 'b'\n\toption\n"),
];

/// Refused by lango, accepted by libuci, on purpose: libuci would keep something the owner
/// did not mean (the first of two values, a line cut short, a value run into the next line).
const DELIBERATE: &[(&str, &[u8])] = &[
    (
        "an option set twice",
        b"config a 'b'\n\toption x 1\n\toption x 2\n",
    ),
    (
        "a list then an option",
        b"config a 'b'\n\tlist x 1\n\toption x 2\n",
    ),
    (
        "';' glued to a word, more after it",
        b"config package; option name 'x'\n",
    ),
    ("package after config", b"config a 'b'\npackage other\n"),
];

fn uci_program() -> Option<PathBuf> {
    crate::support::openwrt_kit("the libuci comparison", &["bin/uci"])
        .map(|kit| kit.join("bin/uci"))
}

/// What the real `uci export` prints for `bytes`, or its error.
fn real_uci(uci: &PathBuf, bytes: &[u8]) -> Result<String, String> {
    let dir = TempDir::new("uci");
    std::fs::create_dir_all(dir.path("config")).unwrap();
    std::fs::create_dir_all(dir.path("delta")).unwrap();
    std::fs::write(dir.path("config/lango"), bytes).unwrap();
    let out = Command::new(uci)
        .arg("-c")
        .arg(dir.path("config"))
        .arg("-t")
        .arg(dir.path("delta"))
        .args(["export", "lango"])
        .output()
        .expect("run uci");
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn lango_reads_uci_files_as_libuci_does() {
    let Some(uci) = uci_program() else { return };
    let mut wrong = Vec::new();
    for (what, bytes) in SAME {
        match (real_uci(&uci, bytes), lango::fuzzing::uci_export(bytes)) {
            (Ok(theirs), Ok(ours)) if theirs == ours => {}
            (theirs, ours) => wrong.push(format!("{what}: uci {theirs:?}\n  lango {ours:?}")),
        }
    }
    for (what, bytes) in REFUSED {
        match (real_uci(&uci, bytes), lango::fuzzing::uci_export(bytes)) {
            (Err(_), Err(_)) => {}
            (theirs, ours) => wrong.push(format!("{what}: uci {theirs:?}\n  lango {ours:?}")),
        }
    }
    for (what, bytes) in DELIBERATE {
        match (real_uci(&uci, bytes), lango::fuzzing::uci_export(bytes)) {
            (Ok(_), Err(_)) => {}
            (theirs, ours) => wrong.push(format!("{what}: uci {theirs:?}\n  lango {ours:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
