//! luci-app-lango (`luci/luci-app-lango/`) against the real rpcd of the OpenWrt kit. The ubus
//! methods and uci configs the views use are read from the package's JavaScript, so a view that
//! calls something its rpcd ACL lacks (or an ACL that grants more than the views use) fails
//! here. Then, in `owrt-sandbox` (a netns, ubusd and rpcd on the router's socket path, the
//! lango package's files and luci-app-lango as the kit's opkg installed it, as overlays),
//! `lango serve` registers with one guest online in its store, a LuCI user signs in with
//! `session login`, and each call goes the way uhttpd's `/ubus` handler sends a browser's:
//! `session access` first, then the call with `ubus_rpc_session` among its arguments; every one
//! succeeds (extend and kick act on that guest). uci goes through rpcd's `uci` object, which
//! checks the session itself.
//!
//! Not covered (no LuCI in the kit): luci-base's JavaScript runtime (`rpc.declare`, `form.Map`,
//! `E()`), uhttpd itself, and how the views render in a browser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{openwrt_kit, skip, TempDir};

/// The package's source tree.
fn app_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("luci/luci-app-lango")
}

/// The LuCI ACL group the menu depends on and the rpcd user is given.
const GROUP: &str = "luci-app-lango";

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The text between `key: '` and the next `'` on the line.
fn quoted_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key}: '"))? + key.len() + 3;
    let len = line[start..].find('\'')?;
    Some(&line[start..start + len])
}

/// What the package's JavaScript uses: ubus `object.method`s, and uci configs read and written.
#[derive(Debug, Default)]
struct Uses {
    ubus: BTreeSet<String>,
    uci_read: BTreeSet<String>,
    uci_write: BTreeSet<String>,
}

/// Reads every `.js` under htdocs: each `rpc.declare` (object and method on its line), the
/// export of the declared function from `lango/api.js`, and its use `api.NAME(` in a view; each
/// `uci.load('X')` (read) and `form.Map('X'` (read and write).
fn uses_of_the_views() -> Uses {
    let mut files = Vec::new();
    all_files(&app_dir().join("htdocs"), &mut files);
    files.retain(|f| f.extension().is_some_and(|e| e == "js"));
    files.sort();
    assert!(files.len() >= 7, "the views and lango/api.js: {files:?}");
    let mut uses = Uses::default();
    let mut declared = BTreeMap::new(); // variable -> object.method
    let mut exported = BTreeMap::new(); // api key -> variable
    let mut called = BTreeSet::new(); // api keys the views call
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.display();
        assert!(
            !text.contains("'require fs'") && !text.contains("L.resolveDefault(fs"),
            "{name}: file access needs a file scope in the ACL; there is none"
        );
        for line in text.lines() {
            if line.contains("rpc.declare(") {
                let object = quoted_after(line, "object");
                let method = quoted_after(line, "method");
                let var = line
                    .trim()
                    .strip_prefix("var ")
                    .and_then(|l| l.split_once(" = rpc.declare("))
                    .map(|(v, _)| v);
                match (var, object, method) {
                    (Some(v), Some(o), Some(m)) => {
                        declared.insert(v.to_string(), format!("{o}.{m}"));
                    }
                    _ => panic!(
                        "{name}: write each rpc.declare on one line as \
                         `var callX = rpc.declare({{ object: 'o', method: 'm' ... }});`: {line}"
                    ),
                }
            }
            if let Some((key, var)) = line.trim().trim_end_matches(',').split_once(": call") {
                exported.insert(key.to_string(), format!("call{var}"));
            }
            let mut rest = line;
            while let Some(at) = rest.find("api.") {
                let tail = &rest[at + 4..];
                let key: String = tail
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if tail[key.len()..].starts_with('(') {
                    called.insert(key.clone());
                }
                rest = &tail[key.len()..];
            }
            if let Some(at) = line.find("uci.load('") {
                let config = line[at + 10..].split('\'').next().unwrap();
                uses.uci_read.insert(config.to_string());
            }
            if let Some(at) = line.find("new form.Map('") {
                let config = line[at + 14..].split('\'').next().unwrap();
                uses.uci_read.insert(config.to_string());
                uses.uci_write.insert(config.to_string());
            }
        }
    }
    for (key, var) in &exported {
        let Some(call) = declared.get(var) else {
            panic!("lango/api.js exports {key}: {var}, which is no rpc.declare");
        };
        assert!(
            called.contains(key),
            "{call} is declared (api.{key}) but no view calls it: drop it and its ACL entry"
        );
        uses.ubus.insert(call.clone());
    }
    for var in declared.keys() {
        assert!(
            exported.values().any(|v| v == var),
            "{var} is declared but not exported"
        );
    }
    for key in &called {
        assert!(
            exported.contains_key(key) || ["time", "duration", "table", "act"].contains(&&**key),
            "a view calls api.{key}, which lango/api.js does not declare"
        );
    }
    uses
}

/// Every grant of `GROUP` in the acl.d files a router with lango and luci-app-lango has (rpcd
/// merges groups of one name across files): ubus `object.method`s and uci configs, per level.
fn acl_grants() -> BTreeMap<&'static str, (BTreeSet<String>, BTreeSet<String>)> {
    let files = [
        app_dir().join("root/usr/share/rpcd/acl.d/luci-app-lango.json"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("files/usr/share/rpcd/acl.d/lango.json"),
    ];
    let mut grants = BTreeMap::new();
    for file in &files {
        let acl: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let groups = acl.as_object().unwrap();
        assert!(
            groups.keys().all(|g| g == GROUP),
            "{}: only {GROUP}",
            file.display()
        );
        let Some(group) = acl.get(GROUP) else {
            continue;
        };
        for level in ["read", "write"] {
            let (ubus, uci): &mut (BTreeSet<String>, BTreeSet<String>) =
                grants.entry(level).or_default();
            let grant = &group[level];
            for (scope, _) in grant.as_object().into_iter().flatten() {
                assert!(
                    scope == "ubus" || scope == "uci",
                    "{}: {level} grants the {scope} scope, which no view uses",
                    file.display()
                );
            }
            for (object, methods) in grant["ubus"].as_object().into_iter().flatten() {
                for method in methods.as_array().unwrap() {
                    ubus.insert(format!("{object}.{}", method.as_str().unwrap()));
                }
            }
            for config in grant["uci"].as_array().into_iter().flatten() {
                uci.insert(config.as_str().unwrap().to_string());
            }
        }
    }
    grants
}

#[test]
fn the_acl_grants_exactly_what_the_views_use() {
    let uses = uses_of_the_views();
    let grants = acl_grants();
    let (read_ubus, read_uci) = &grants["read"];
    let (write_ubus, write_uci) = &grants["write"];
    let granted: BTreeSet<String> = read_ubus.union(write_ubus).cloned().collect();
    assert_eq!(granted, uses.ubus, "ACL (left) against the views (right)");
    assert!(
        read_ubus.is_disjoint(write_ubus),
        "a method is read or write, not both"
    );
    assert_eq!(read_uci, &uses.uci_read);
    assert_eq!(write_uci, &uses.uci_write);
    // What the menu shows: each view has its file, behind this ACL group.
    let menu: Value = serde_json::from_str(
        &std::fs::read_to_string(app_dir().join("root/usr/share/luci/menu.d/luci-app-lango.json"))
            .unwrap(),
    )
    .unwrap();
    let mut views = 0;
    for (path, entry) in menu.as_object().unwrap() {
        assert!(path.starts_with("admin/services/lango"), "{path}");
        if let Some(depends) = entry.get("depends") {
            assert_eq!(depends["acl"], serde_json::json!([GROUP]), "{path}");
        }
        if entry["action"]["type"] == "view" {
            let view = entry["action"]["path"].as_str().unwrap();
            let file = app_dir().join(format!("htdocs/luci-static/resources/view/{view}.js"));
            assert!(file.exists(), "{path}: {} is missing", file.display());
            views += 1;
        }
    }
    assert_eq!(
        views, 6,
        "status, guests, payments, vouchers, packages, settings"
    );
}

/// One step of the sandboxed script: its exit status and what it printed.
#[derive(Debug)]
struct Step {
    rc: i32,
    out: String,
}

/// Runs `program` with the kit's tools first in PATH; panics with its output if it fails.
fn run_kit(kit: &Path, program: &Path, args: &[&std::ffi::OsStr]) -> String {
    let path = format!(
        "{}:{}:{}",
        kit.join("bin").display(),
        kit.join("sbin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(program)
        .args(args)
        .env("PATH", path)
        .env("LD_LIBRARY_PATH", kit.join("lib"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?}: {text}",
        program.display()
    );
    text
}

/// `scripts/mkipk-luci`'s package installed by the kit's opkg into an offline root under
/// `dir` (beside stand-ins for its dependencies luci-base and lango); returns the root.
fn install_the_ipk(kit: &Path, dir: &TempDir) -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let feed = dir.path("feed");
    let built = run_kit(kit, &repo.join("scripts/mkipk-luci"), &[feed.as_os_str()]);
    let ipk = PathBuf::from(built.lines().last().unwrap());
    assert!(ipk.ends_with(format!(
        "luci-app-lango_{}-r1_all.ipk",
        env!("CARGO_PKG_VERSION")
    )));
    for stub in ["luci-base", "lango"] {
        let pkg = dir.path(&format!("stub-{stub}"));
        std::fs::create_dir_all(pkg.join("CONTROL")).unwrap();
        std::fs::write(
            pkg.join("CONTROL/control"),
            format!("Package: {stub}\nVersion: 1-r1\nArchitecture: all\nDescription: stub\n"),
        )
        .unwrap();
        run_kit(
            kit,
            &kit.join("bin/ipkg-build"),
            &[pkg.as_os_str(), feed.as_os_str()],
        );
    }
    let root = dir.path("installed");
    std::fs::create_dir_all(root.join("var/lock")).unwrap();
    let conf = dir.path("opkg.conf");
    std::fs::write(
        &conf,
        "dest root /\nlists_dir ext /var/opkg-lists\narch all 1\narch noarch 1\n",
    )
    .unwrap();
    let opkg = |args: &[&std::ffi::OsStr]| {
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "-f".as_ref(),
            conf.as_os_str(),
            "-o".as_ref(),
            root.as_os_str(),
        ];
        all.extend_from_slice(args);
        run_kit(kit, &kit.join("bin/opkg"), &all)
    };
    for stub in ["luci-base_1-r1_all.ipk", "lango_1-r1_all.ipk"] {
        opkg(&["install".as_ref(), feed.join(stub).as_os_str()]);
    }
    opkg(&["install".as_ref(), ipk.as_os_str()]);
    assert!(opkg(&["list-installed".as_ref()]).contains("luci-app-lango - "));
    root
}

#[test]
fn the_ipk_installs_every_file_and_removes_them() {
    let Some(kit) = openwrt_kit(
        "the opkg test of luci-app-lango",
        &["bin/opkg", "bin/ipkg-build"],
    ) else {
        return;
    };
    let dir = TempDir::new("luci-ipk");
    let root = install_the_ipk(&kit, &dir);
    // Each file of the source tree, byte for byte and mode 0644, at its router path.
    let mut files = Vec::new();
    let app = app_dir();
    for (tree, under) in [("htdocs", "www"), ("root", "")] {
        let mut found = Vec::new();
        all_files(&app.join(tree), &mut found);
        for file in found {
            let rel = file.strip_prefix(app.join(tree)).unwrap();
            files.push((file.clone(), root.join(under).join(rel)));
        }
    }
    assert_eq!(
        files.len(),
        9,
        "6 views, lango/api.js, menu.d, acl.d: {files:?}"
    );
    for (source, installed) in &files {
        assert_eq!(
            std::fs::read(source).unwrap(),
            std::fs::read(installed).unwrap_or_default(),
            "{}",
            installed.display()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(installed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{}", installed.display());
    }
    let conf = dir.path("opkg.conf");
    run_kit(
        &kit,
        &kit.join("bin/opkg"),
        &[
            "-f".as_ref(),
            conf.as_os_str(),
            "-o".as_ref(),
            root.as_os_str(),
            "remove".as_ref(),
            "luci-app-lango".as_ref(),
        ],
    );
    for (_, installed) in &files {
        assert!(!installed.exists(), "{} is left", installed.display());
    }
}

/// The arguments the views send with each method (uhttpd adds `ubus_rpc_session`); kick and
/// extend act on `session`.
fn args_of(method: &str, session: u64) -> String {
    match method {
        "payments" => r#","limit":100"#.into(),
        "kick" => format!(r#","id":{session}"#),
        "extend" => format!(r#","id":{session},"minutes":30"#),
        "block" => r#","mac":"02:00:00:00:00:09","blocked":true"#.into(),
        "voucher_generate" => r#","package":"hour","count":2,"days":30"#.into(),
        _ => String::new(),
    }
}

/// Fills the store at `path` with one guest online (a voucher redeemed now, as `config` sells
/// it) for kick and extend to act on; returns the session's id. The store is closed again
/// before `lango serve` opens it.
fn store_with_a_guest(path: &Path, config: &str) -> u64 {
    let store = lango::store::Store::open(path).unwrap();
    let config = lango::core::config::parse(config, "lango").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let env = crate::support::TestEnv::with(store, config, now);
    let code = env.hour_voucher();
    env.app
        .redeem(crate::support::guest(1).0, &code)
        .unwrap()
        .id
}

/// The script run inside the sandbox: lango registers, the LuCI user signs in, then each step
/// prints `@@ NAME`, its output, and `@@ rc N`.
fn script(lango: &Path, log: &Path, uses: &Uses, session: u64) -> String {
    let (lango, log) = (lango.display(), log.display());
    let mut s = format!(
        r#"set -u
{lango} serve --config /etc/config/lango >{log} 2>&1 &
i=0
until ubus list lango >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 100 ] && {{ echo "@@ lango never registered"; exit 1; }}; sleep 0.1
done
login=$(ubus call session login '{{"username":"luci","password":"{PASSWORD}"}}')
sid=$(echo "$login" | sed -n 's/.*"ubus_rpc_session": "\([0-9a-f]*\)".*/\1/p')
step() {{ echo "@@ $1"; shift; "$@" 2>&1; echo "@@ rc $?"; }}
access() {{ ubus call session access "{{\"ubus_rpc_session\":\"$sid\",\"scope\":\"$1\",\"object\":\"$2\",\"function\":\"$3\"}}"; }}
# uhttpd's /ubus: session access, then the call with the session among the arguments.
as_luci() {{ access ubus "$1" "$2" | grep -q '"access": true' || {{ echo "uhttpd: access denied"; return 6; }}; ubus call "$1" "$2" "{{\"ubus_rpc_session\":\"$sid\"$3}}"; }}
step login echo "$login"
step wrong-password ubus call session login '{{"username":"luci","password":"guess"}}'
"#
    );
    for call in &uses.ubus {
        let (object, method) = call.split_once('.').unwrap();
        let args = args_of(method, session);
        s.push_str(&format!(
            "step 'call {call}' as_luci {object} {method} '{args}'\n"
        ));
    }
    for (object, method) in [("lango", "setup_code"), ("lango", "unlock"), ("uci", "get")] {
        s.push_str(&format!(
            "step 'access {object}.{method}' access ubus {object} {method}\n"
        ));
    }
    s.push_str(
        r#"step 'uci get lango' ubus call uci get "{\"ubus_rpc_session\":\"$sid\",\"config\":\"lango\",\"section\":\"hour\",\"option\":\"price\"}"
step 'uci set lango' ubus call uci set "{\"ubus_rpc_session\":\"$sid\",\"config\":\"lango\",\"section\":\"hour\",\"values\":{\"price\":\"25\"}}"
step 'uci commit lango' ubus call uci commit "{\"ubus_rpc_session\":\"$sid\",\"config\":\"lango\"}"
step 'reload after commit' as_luci lango reload ''
step 'packages after reload' as_luci lango packages ''
step 'uci get firewall' ubus call uci get "{\"ubus_rpc_session\":\"$sid\",\"config\":\"firewall\"}"
step 'uci set firewall' ubus call uci set "{\"ubus_rpc_session\":\"$sid\",\"config\":\"firewall\",\"section\":\"@defaults[0]\",\"values\":{\"input\":\"ACCEPT\"}}"
step 'uci set rpcd' ubus call uci set "{\"ubus_rpc_session\":\"$sid\",\"config\":\"rpcd\",\"section\":\"@login[0]\",\"values\":{\"username\":\"x\"}}"
kill %1
wait
"#,
    );
    s
}

const PASSWORD: &str = "luci sign-in 7";

fn parse_steps(out: &str) -> BTreeMap<String, Step> {
    let mut steps = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in out.lines() {
        if let Some(rc) = line.strip_prefix("@@ rc ") {
            let (name, text) = current.take().expect("a step before its rc");
            steps.insert(
                name,
                Step {
                    rc: rc.parse().unwrap(),
                    out: text,
                },
            );
        } else if let Some(name) = line.strip_prefix("@@ ") {
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    steps
}

/// The lango config the sandboxed `lango serve` reads: the shipped one, on loopback (the
/// sandbox's own netns), without a firewall, its store at `store`.
fn lango_config(store: &Path) -> String {
    let shipped = include_str!("../../files/etc/config/lango");
    let config = shipped
        .replace(
            "option portal_addr '192.168.1.1'",
            "option portal_addr '127.0.0.1'",
        )
        .replace(
            "config gateway 'main'\n",
            "config gateway 'main'\n\toption firewall 'none'\n",
        )
        .replace(
            "option store '/etc/lango/lango.redb'",
            &format!("option store '{}'", store.display()),
        );
    assert_ne!(config, shipped);
    config
}

#[test]
fn a_luci_user_reaches_what_the_views_call_and_nothing_else() {
    let uses = uses_of_the_views();
    let Some(kit) = openwrt_kit(
        "the rpcd test of luci-app-lango",
        &[
            "sbin/rpcd",
            "sbin/ubusd",
            "bin/ubus",
            "bin/owrt-sandbox",
            "bin/opkg",
            "bin/ipkg-build",
        ],
    ) else {
        return;
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !root {
        skip::<()>("the rpcd test of luci-app-lango", "owrt-sandbox needs root");
        return;
    }
    let dir = TempDir::new("luci");
    let installed = install_the_ipk(&kit, &dir);
    let root = dir.path("root");
    std::fs::create_dir_all(root.join("etc/config")).unwrap();
    let config = lango_config(&dir.path("lango.redb"));
    let session = store_with_a_guest(&dir.path("lango.redb"), &config);
    std::fs::write(root.join("etc/config/lango"), config).unwrap();
    let hash = Command::new("openssl")
        .args(["passwd", "-5", PASSWORD])
        .output()
        .expect("openssl (a Debian package the kit's build.sh installs)");
    assert!(hash.status.success());
    let hash = String::from_utf8(hash.stdout).unwrap();
    std::fs::write(
        root.join("etc/config/rpcd"),
        format!(
            "config login\n\toption username 'luci'\n\toption password '{}'\n\
             \tlist read '{GROUP}'\n\tlist write '{GROUP}'\n",
            hash.trim()
        ),
    )
    .unwrap();
    let log = dir.path("lango.log");
    let script_path = dir.path("drive.sh");
    std::fs::write(
        &script_path,
        script(Path::new(env!("CARGO_BIN_EXE_lango")), &log, &uses, session),
    )
    .unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = format!(
        "{}:{}:{}",
        kit.join("bin").display(),
        kit.join("sbin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("timeout")
        .arg("60")
        .arg(kit.join("bin/owrt-sandbox"))
        .args(["-n", "-R", "-r"])
        .arg(repo.join("files"))
        .arg("-r")
        .arg(&installed)
        .arg("-r")
        .arg(&root)
        .args(["--", "sh"])
        .arg(&script_path)
        .env("PATH", path)
        .env("LD_LIBRARY_PATH", kit.join("lib"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!(
        "sandbox exit {:?}\n{stdout}\nstderr: {}\nlango: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let steps = parse_steps(&stdout);
    let step = |name: &str| {
        steps
            .get(name)
            .unwrap_or_else(|| panic!("no step {name}: {context}"))
    };
    // Signed in with LuCI's own login; a wrong password is refused.
    assert!(
        step("login").out.contains("\"ubus_rpc_session\""),
        "{context}"
    );
    assert_ne!(step("wrong-password").rc, 0, "{context}");
    // Every method the views call: allowed, and lango answers.
    for call in &uses.ubus {
        let s = step(&format!("call {call}"));
        assert!(
            s.rc == 0 && s.out.trim_start().starts_with('{'),
            "{call}: {s:?}\n{context}"
        );
    }
    // The guest in the store: extended by 30 minutes, then kicked.
    assert!(step("call lango.extend")
        .out
        .contains(&format!("\"id\": {session}")));
    assert!(step("call lango.kick")
        .out
        .contains(&format!("\"kicked\": {session}")));
    assert!(step("call lango.voucher_generate")
        .out
        .contains("\"codes\""));
    assert!(step("call lango.status").out.contains("\"revenue_today\""));
    assert!(step("call lango.block").out.contains("\"blocked\": true"));
    // Root-only methods of lango, and rpcd's uci object itself, are not in the ACL. (LuCI's
    // uci calls pass because luci-base's own ACL grants the uci object; rpcd then checks the
    // config against this ACL, below.)
    for denied in ["lango.setup_code", "lango.unlock", "uci.get"] {
        let s = step(&format!("access {denied}"));
        assert!(s.out.contains("\"access\": false"), "{denied}: {s:?}");
    }
    // uci: lango read and written through rpcd, and lango reloads what was committed.
    assert!(step("uci get lango").out.contains("\"20\""), "{context}");
    for ok in ["uci set lango", "uci commit lango", "reload after commit"] {
        assert_eq!(step(ok).rc, 0, "{ok}: {context}");
    }
    assert!(step("reload after commit")
        .out
        .contains("\"reloaded\": true"));
    assert!(
        step("packages after reload").out.contains("\"25\""),
        "{context}"
    );
    // Other configs: neither read nor written.
    for denied in ["uci get firewall", "uci set firewall", "uci set rpcd"] {
        let s = step(denied);
        assert!(
            s.rc != 0 && s.out.contains("Permission denied"),
            "{denied}: {s:?}\n{context}"
        );
    }
}
