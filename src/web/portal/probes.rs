//! The portal's answers to operating systems rather than people: its own URLs (HTTP and, when
//! configured, HTTPS), whether a Host header names it, the OS connectivity probes (an unpaid
//! device is sent to the portal, a paid one gets what its OS expects) and RFC 8908's
//! captive-portal API.

use std::net::IpAddr;

use rouille::Response;

use super::Ctx;
use crate::app::DeviceView;
use crate::core::captive;
use crate::core::sessions::Lifecycle;

/// The portal's own URL as the device at `ip` reaches it.
pub(crate) fn portal_url(ctx: &Ctx, ip: IpAddr) -> String {
    crate::core::captive::portal_url(&ctx.app.config().gateway, ip)
}

/// The portal's HTTPS URL, when the owner configured a certificate and the name it is for
/// (RFC 8908 wants the user-portal-url to be HTTPS).
pub(crate) fn secure_portal_url(ctx: &Ctx) -> Option<String> {
    let config = ctx.app.config();
    let gw = &config.gateway;
    gw.tls_cert.as_ref()?;
    Some(format!(
        "https://{}:{}/",
        gw.portal_host.as_ref()?,
        gw.tls_port
    ))
}

/// Whether a Host header names the portal itself (rather than a site the guest tried to open).
pub(super) fn is_portal_host(ctx: &Ctx, host: &str) -> bool {
    let config = ctx.app.config();
    let gw = &config.gateway;
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    host.is_empty()
        || gw
            .portal_host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(name))
        || name
            .parse::<IpAddr>()
            .is_ok_and(|a| a == gw.portal_addr || Some(a) == gw.portal_addr6.map(IpAddr::V6))
        || name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

pub(super) fn probe_answer(ctx: &Ctx, ip: IpAddr, probe: captive::Probe, portal: &str) -> Response {
    let paid = matches!(
        ctx.app.device(ip),
        Ok(Some(DeviceView {
            lifecycle: Lifecycle::Active(_),
            ..
        }))
    );
    match captive::answer(probe, paid, portal) {
        captive::ProbeAnswer::Open {
            status,
            content_type,
            body,
        } => Response::from_data(content_type, body).with_status_code(status),
        captive::ProbeAnswer::Portal { location } => Response::redirect_302(location),
    }
}

/// RFC 8908: the captive-portal API, as announced by DHCP option 114.
pub(super) fn captive_api(ctx: &Ctx, ip: IpAddr, portal: &str) -> Response {
    let state = match ctx.app.device(ip) {
        Ok(Some(DeviceView {
            lifecycle: Lifecycle::Active(s),
            now,
            ..
        })) => captive::ApiState {
            captive: false,
            seconds_remaining: Some(s.seconds_left(now)),
            // A fair-use device past its data is still online: no "0 bytes left" to the OS.
            bytes_remaining: s.bytes_left().filter(|b| *b > 0 || !s.fair_use()),
        },
        Ok(_) => captive::ApiState {
            captive: true,
            seconds_remaining: None,
            bytes_remaining: None,
        },
        Err(e) => {
            log::error!("captive api: {e}");
            return Response::text("internal error").with_status_code(500);
        }
    };
    Response::from_data(
        "application/captive+json",
        captive::api_document(&state, portal).to_string(),
    )
}
