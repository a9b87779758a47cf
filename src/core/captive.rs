//! Captive-portal detection: the probes phones and laptops send when they join a network, and
//! the answers that make each OS show (or not show) its "sign in to network" prompt; plus the
//! RFC 8908 captive-portal API document. Pure: takes the request's host, path and the device's
//! state, returns what to answer.
//!
//! Sources for the probe URLs and expected bodies: Android's `NetworkMonitor` (generate_204),
//! Apple's `captive.apple.com/hotspot-detect.html`, Windows NCSI (`connecttest.txt`,
//! `ncsi.txt`), Firefox's `detectportal.firefox.com`, ChromeOS (generate_204), NetworkManager
//! (`nmcheck.gnome.org`, Ubuntu's `connectivity-check.ubuntu.com`, Fedora's `hotspot.txt`).

/// Which detector sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Android and ChromeOS: expects an empty 204.
    Google,
    /// iOS and macOS: expects the "Success" page.
    Apple,
    /// Windows 10/11: expects "Microsoft Connect Test".
    WindowsConnectTest,
    /// Older Windows: expects "Microsoft NCSI".
    WindowsNcsi,
    /// Firefox: `success.txt` expects "success\n".
    FirefoxText,
    /// Firefox: `canonical.html` expects its meta-refresh page.
    FirefoxCanonical,
    /// GNOME NetworkManager: expects "NetworkManager is online\n".
    NetworkManager,
    /// Ubuntu's NetworkManager check: expects an empty 204.
    Ubuntu,
    /// Fedora's NetworkManager check: expects "OK".
    Fedora,
}

/// Recognises a probe from the Host header (port stripped) and the path.
pub(crate) fn probe(host: &str, path: &str) -> Option<Probe> {
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let path = path.split('?').next().unwrap_or("");
    match (host.as_str(), path) {
        (_, "/generate_204" | "/gen_204") => Some(Probe::Google),
        ("captive.apple.com" | "www.apple.com" | "apple.com", _)
            if path == "/hotspot-detect.html"
                || path == "/library/test/success.html"
                || path == "/" =>
        {
            Some(Probe::Apple)
        }
        (_, "/hotspot-detect.html") => Some(Probe::Apple),
        ("www.msftconnecttest.com" | "msftconnecttest.com", "/connecttest.txt") => {
            Some(Probe::WindowsConnectTest)
        }
        ("www.msftncsi.com" | "msftncsi.com", "/ncsi.txt") => Some(Probe::WindowsNcsi),
        ("detectportal.firefox.com", "/success.txt") => Some(Probe::FirefoxText),
        ("detectportal.firefox.com", "/canonical.html") => Some(Probe::FirefoxCanonical),
        ("nmcheck.gnome.org", "/check_network_status.txt") => Some(Probe::NetworkManager),
        ("connectivity-check.ubuntu.com", _) => Some(Probe::Ubuntu),
        ("fedoraproject.org", "/static/hotspot.txt") => Some(Probe::Fedora),
        _ => None,
    }
}

/// What to send back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProbeAnswer {
    /// The answer the OS expects on an open network: no prompt.
    Open {
        status: u16,
        content_type: &'static str,
        body: &'static str,
    },
    /// A redirect to the portal: the OS shows its sign-in prompt and opens this URL.
    Portal { location: String },
}

/// Pure: the answer to a probe for a device that has (`paid`) or has not paid.
pub(crate) fn answer(probe: Probe, paid: bool, portal_url: &str) -> ProbeAnswer {
    if !paid {
        return ProbeAnswer::Portal {
            location: portal_url.to_string(),
        };
    }
    let (status, content_type, body) = match probe {
        Probe::Google | Probe::Ubuntu => (204, "text/plain", ""),
        Probe::Apple => (
            200,
            "text/html",
            "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        ),
        Probe::WindowsConnectTest => (200, "text/plain", "Microsoft Connect Test"),
        Probe::WindowsNcsi => (200, "text/plain", "Microsoft NCSI"),
        Probe::FirefoxText => (200, "text/plain", "success\n"),
        Probe::FirefoxCanonical => (
            200,
            "text/html",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://support.mozilla.org/kb/captive-portal\"/>",
        ),
        Probe::NetworkManager => (200, "text/plain", "NetworkManager is online\n"),
        Probe::Fedora => (200, "text/plain", "OK"),
    };
    ProbeAnswer::Open {
        status,
        content_type,
        body,
    }
}

/// What the RFC 8908 API reports for a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiState {
    pub captive: bool,
    pub seconds_remaining: Option<u64>,
    pub bytes_remaining: Option<u64>,
}

/// Pure: the `application/captive+json` document (RFC 8908 §5).
pub(crate) fn api_document(state: &ApiState, portal_url: &str) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "captive": state.captive,
        "user-portal-url": portal_url,
        "can-extend-session": true,
    });
    if let Some(secs) = state.seconds_remaining {
        doc["seconds-remaining"] = secs.into();
    }
    if let Some(bytes) = state.bytes_remaining {
        doc["bytes-remaining"] = bytes.into();
    }
    doc
}

/// The portal's own URL as a device at `ip` reaches it (IPv6 devices get the IPv6 address
/// when the portal has one).
pub(crate) fn portal_url(gw: &crate::core::config::Gateway, ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match (ip, gw.portal_addr6) {
        (IpAddr::V6(v6), Some(addr6)) if v6.to_ipv4_mapped().is_none() => {
            format!("http://[{addr6}]:{}/", gw.portal_port)
        }
        _ => match gw.portal_addr {
            IpAddr::V6(v6) => format!("http://[{v6}]:{}/", gw.portal_port),
            v4 => format!("http://{v4}:{}/", gw.portal_port),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_recognised() {
        assert_eq!(
            probe("connectivitycheck.gstatic.com", "/generate_204"),
            Some(Probe::Google)
        );
        assert_eq!(
            probe("clients3.google.com:80", "/generate_204"),
            Some(Probe::Google)
        );
        assert_eq!(
            probe("captive.apple.com", "/hotspot-detect.html"),
            Some(Probe::Apple)
        );
        assert_eq!(
            probe("www.msftconnecttest.com", "/connecttest.txt"),
            Some(Probe::WindowsConnectTest)
        );
        assert_eq!(
            probe("www.msftncsi.com", "/ncsi.txt"),
            Some(Probe::WindowsNcsi)
        );
        assert_eq!(
            probe("detectportal.firefox.com", "/success.txt?ipv4"),
            Some(Probe::FirefoxText)
        );
        assert_eq!(
            probe("nmcheck.gnome.org", "/check_network_status.txt"),
            Some(Probe::NetworkManager)
        );
        assert_eq!(probe("example.org", "/"), None);
    }

    #[test]
    fn unpaid_devices_are_sent_to_the_portal_paid_ones_see_the_internet() {
        let url = "http://10.0.0.1:8080/";
        assert_eq!(
            answer(Probe::Apple, false, url),
            ProbeAnswer::Portal {
                location: url.into()
            }
        );
        let ProbeAnswer::Open { status, body, .. } = answer(Probe::Google, true, url) else {
            panic!("open")
        };
        assert_eq!((status, body), (204, ""));
    }

    #[test]
    fn api_document_fields() {
        let doc = api_document(
            &ApiState {
                captive: false,
                seconds_remaining: Some(60),
                bytes_remaining: None,
            },
            "http://p/",
        );
        assert_eq!(doc["captive"], false);
        assert_eq!(doc["seconds-remaining"], 60);
        assert!(doc.get("bytes-remaining").is_none());
        assert_eq!(doc["user-portal-url"], "http://p/");
    }
}
