//! A guest network of its own (bridge, interface, an SSID per radio, a firewall zone to wan
//! only, DHCP with option 114) and lango moved onto it: `/usr/share/lango/guest-network.sh`
//! makes the edits with OpenWrt's own `uci` (its locking, its staged changes, the files exactly
//! as LuCI writes them) and reloads the services; this runs it through the process runner for
//! `lango setup-guest-network` and the owner page. A script rather than a second UCI writer in
//! Rust: it costs the router binary a few hundred bytes (docs/size.md).

use crate::adapters::sys::{Output, Runner};
use crate::core::guest_network::{script_args, Request};

/// Where the package installs the script; `LANGO_GUEST_NETWORK_SCRIPT` names another (tests).
pub const SCRIPT: &str = "/usr/share/lango/guest-network.sh";

/// Runs the script for `request`; `detach` (the owner page) lets lango's own restart wait until
/// the page has its answer. Returns the script's exit status and what it printed.
pub fn run(runner: &dyn Runner, script: &str, request: &Request, detach: bool) -> Output {
    // The runner passes no environment of its own: `env` sets the one switch.
    let detach = match detach {
        true => "LANGO_GUEST_DETACH=1",
        false => "LANGO_GUEST_DETACH=0",
    };
    let mut full = vec![detach, "/bin/sh", script];
    full.extend(script_args(request));
    runner
        .run("/usr/bin/env", &full, None)
        .unwrap_or_else(|e| Output {
            status: 1,
            stdout: String::new(),
            stderr: format!("lango: {script}: {e}\n"),
        })
}
