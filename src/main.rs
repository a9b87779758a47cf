//! The `lango` command: argument parsing, logging and exit codes. Everything else lives in the
//! library (`lango::daemon` starts the service).

use std::path::PathBuf;

use lango::daemon::{self, DemoOptions, EXIT_USAGE};

const HELP: &str = "lango: captive portal and Wi-Fi billing for OpenWrt routers

Usage:
  lango serve [--config FILE] [--store FILE]   run on the router (default /etc/config/lango)
  lango demo [--port N] [--approve-after SECS] [--country tz]
                                               try it on any machine: simulated wallets,
                                               recording firewall, everything on 127.0.0.1
  lango check-config [FILE]                    validate a config file, list every problem
  lango sim [--listen ADDR] [--config FILE] [--approve-after SECS] [--state FILE]
                                               the Daraja simulator alone (host builds)
  lango selftest-tls --connect H:P --ca F      one HTTPS request to a TLS server trusting only
                                               F (proves rustls and ring on this CPU)
  lango check-mpesa [--config FILE]            test the M-Pesa account (no one is prompted)
  lango selftest-crash                         panic on purpose: shows what a crash leaves in
                                               the log on this CPU (scripts/qemu-smoke)
  lango passwd [--config FILE] [--store FILE] [--code]
                                               set the owner page's password from one line on
                                               stdin (with lango stopped); --code prints the
                                               first-run setup code instead
  lango setup-guest-network [--ssid NAME] [--key PASS] | --undo
                                               guests on a network of their own
  lango --version | --help

Exit codes: 0 ok, 1 runtime error, 2 bad usage, 3 invalid config, 4 store error.
Logs go to stderr (procd forwards them to syslog); LANGO_LOG=debug for more.
";

fn main() {
    lango::daemon::logger::init();
    lango::daemon::crash::install();
    lango::adapters::https::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(run(&args));
}

fn run(args: &[String]) -> i32 {
    let Some(command) = args.first() else {
        eprint!("{HELP}");
        return EXIT_USAGE;
    };
    let rest = &args[1..];
    match command.as_str() {
        "--version" | "-V" | "version" => {
            println!("lango {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "--help" | "-h" | "help" => {
            print!("{HELP}");
            0
        }
        "serve" => {
            let (Ok(config), Ok(store)) = (flag(rest, "--config"), flag(rest, "--store")) else {
                return usage("serve takes --config FILE and --store FILE");
            };
            if let Some(bad) = unknown(rest, &["--config", "--store"]) {
                return usage(&format!("serve: unknown argument '{bad}'"));
            }
            let config = config.unwrap_or_else(|| "/etc/config/lango".into());
            daemon::serve(&PathBuf::from(config), store.map(PathBuf::from))
        }
        "demo" => {
            // `--country tz` needs ClickPesa (not in the MIPS builds, which have no demo).
            let known: &[&str] = match cfg!(feature = "clickpesa") {
                true => &["--port", "--approve-after", "--country"],
                false => &["--port", "--approve-after"],
            };
            if let Some(bad) = unknown(rest, known) {
                return usage(&format!("demo: unknown argument '{bad}'"));
            }
            let port = match flag(rest, "--port").map(|p| p.map(|p| p.parse::<u16>())) {
                Ok(None) => 8080,
                Ok(Some(Ok(p))) if p < u16::MAX => p,
                _ => return usage("demo: --port takes a port number"),
            };
            let approve_after_secs =
                match flag(rest, "--approve-after").map(|s| s.map(|s| s.parse::<i64>())) {
                    Ok(None) => 5,
                    Ok(Some(Ok(s))) if (0..=600).contains(&s) => s,
                    _ => return usage("demo: --approve-after takes seconds (0 to 600)"),
                };
            #[cfg(feature = "clickpesa")]
            let tanzania = match flag(rest, "--country").as_ref().map(|c| c.as_deref()) {
                Ok(None | Some("ke")) => false,
                Ok(Some("tz")) => true,
                _ => return usage("demo: --country takes ke (M-Pesa) or tz (Mixx by Yas)"),
            };
            #[cfg(not(feature = "clickpesa"))]
            let tanzania = false;
            daemon::demo(DemoOptions {
                port,
                approve_after_secs,
                tanzania,
            })
        }
        "sim" => match daemon::sim::parse_args(rest) {
            Ok(options) => daemon::sim::run(&options),
            Err(e) => usage(&e),
        },
        "check-config" => {
            if rest.len() > 1 {
                return usage("check-config takes at most one file");
            }
            let path = rest
                .first()
                .cloned()
                .unwrap_or_else(|| "/etc/config/lango".into());
            daemon::check_config(&PathBuf::from(path))
        }
        "check-mpesa" => {
            let Ok(config) = flag(rest, "--config") else {
                return usage("check-mpesa takes --config FILE");
            };
            if let Some(bad) = unknown(rest, &["--config"]) {
                return usage(&format!("check-mpesa: unknown argument '{bad}'"));
            }
            let config = config.unwrap_or_else(|| "/etc/config/lango".into());
            daemon::check_mpesa(&PathBuf::from(config))
        }
        "selftest-tls" => {
            let (Ok(Some(connect)), Ok(Some(ca))) = (flag(rest, "--connect"), flag(rest, "--ca"))
            else {
                return usage("selftest-tls takes --connect HOST:PORT --ca FILE");
            };
            daemon::selftest_tls(&connect, &PathBuf::from(ca))
        }
        "selftest-crash" => {
            let value = lango::daemon::crash::selftest(args.len());
            println!("{value}");
            1
        }
        "passwd" => {
            let (Ok(config), Ok(store)) = (flag(rest, "--config"), flag(rest, "--store")) else {
                return usage("passwd takes --config FILE and --store FILE");
            };
            let show_code = rest.iter().any(|a| a == "--code");
            let rest: Vec<String> = rest.iter().filter(|a| *a != "--code").cloned().collect();
            if let Some(bad) = unknown(&rest, &["--config", "--store"]) {
                return usage(&format!("passwd: unknown argument '{bad}'"));
            }
            let config = config.unwrap_or_else(|| "/etc/config/lango".into());
            daemon::passwd(&PathBuf::from(config), store.map(PathBuf::from), show_code)
        }
        "setup-guest-network" => daemon::setup_guest_network(rest),
        other => usage(&format!("unknown command '{other}'")),
    }
}

/// The value after `name`, if present. `Err` if `name` is last (no value).
fn flag(args: &[String], name: &str) -> Result<Option<String>, ()> {
    match args.iter().position(|a| a == name) {
        Some(idx) => args.get(idx + 1).cloned().map(Some).ok_or(()),
        None => Ok(None),
    }
}

/// The first argument that is neither a known flag nor a flag's value.
fn unknown<'a>(args: &'a [String], known: &[&str]) -> Option<&'a str> {
    let mut idx = 0;
    while idx < args.len() {
        if known.contains(&args[idx].as_str()) {
            idx += 2;
        } else {
            return Some(&args[idx]);
        }
    }
    None
}

fn usage(message: &str) -> i32 {
    eprintln!("lango: {message}\n\n{HELP}");
    EXIT_USAGE
}
