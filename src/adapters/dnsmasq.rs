//! Tells guests where the portal is through dnsmasq: DHCP option 114 (RFC 8910, the captive
//! portal API URI) and, where dnsmasq serves DHCPv6, option 103. lango writes one snippet into
//! dnsmasq's conf-dir (atomically: temp file, fsync, rename) and restarts dnsmasq only when the
//! snippet changed, which on OpenWrt is once per boot (conf-dir lives in RAM).

use std::path::{Path, PathBuf};

use crate::adapters::sys::{write_atomic, Runner};

const SNIPPET: &str = "lango.conf";

/// Pure: the snippet for a guest network tag (the OpenWrt network name, which OpenWrt's dnsmasq
/// init tags its ranges with) and the API URI. dnsmasq splits option values on commas, so a
/// URI with a comma is refused by the caller.
pub fn render(network: &str, api_uri: &str) -> String {
    format!(
        "# Written by lango: announce the captive portal API (RFC 8910).\n\
         dhcp-option-force=tag:{network},114,{api_uri}\n\
         dhcp-option-force=tag:{network},option6:103,{api_uri}\n"
    )
}

/// Where dnsmasq reads extra config: the owner's choice, else OpenWrt's conf-dir, which moved
/// from `/tmp/dnsmasq.d` (up to 23.05) to `/tmp/dnsmasq.<section>.d` (24.10).
pub(crate) fn find_confdir(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = configured {
        return Some(dir.to_path_buf());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/tmp")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("dnsmasq") && name.ends_with(".d") && p.is_dir()
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Writes the snippet if it differs, then restarts dnsmasq through its init script (when there
/// is one). Returns whether anything changed.
pub(crate) fn ensure(dir: &Path, content: &str, runner: &dyn Runner) -> std::io::Result<bool> {
    let path = dir.join(SNIPPET);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    write_atomic(&path, content.as_bytes())?;
    let init = "/etc/init.d/dnsmasq";
    // Only OpenWrt's init script knows the conf-dir; elsewhere (a lab, a PC) whoever runs
    // dnsmasq restarts it.
    if Path::new("/etc/openwrt_release").exists() && Path::new(init).exists() {
        // conf-dir changes need a restart; a reload (SIGHUP) does not re-read it.
        match runner.run(init, &["restart"], None) {
            Ok(out) if out.success() => log::info!("dnsmasq restarted to announce the portal"),
            Ok(out) => log::warn!("dnsmasq restart failed: {}", out.stderr.trim()),
            Err(e) => log::warn!("dnsmasq restart failed: {e}"),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_tags_the_guest_network() {
        let s = render("guest", "http://10.0.0.1:8080/api/captive");
        assert!(s.contains("dhcp-option-force=tag:guest,114,http://10.0.0.1:8080/api/captive\n"));
    }
}
