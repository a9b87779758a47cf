//! `GET /metrics` on the owner page's port (issue 17): Prometheus text for a fleet owner's
//! monitoring. Who may read it: a scraper with `option metrics_token`, a script on the router
//! with the API token, or a signed-in owner; on top of the owner page's own rules (admin_allow,
//! never the guests' network). It adds the router's health and the WAN and Daraja checks to the
//! application's figures (`app::metrics`), and never writes to flash.

use rouille::{Request, Response};

use crate::core::metrics::{render, Family, Kind, Value};
use crate::core::token;
use crate::web::admin::Ctx;

/// Whether the request carries the metrics token (any other credential is checked by
/// `api_allowed`).
fn has_metrics_token(ctx: &Ctx, request: &Request) -> bool {
    let config = ctx.app.config();
    let (Some(want), Some(header)) = (
        config.gateway.metrics_token.as_deref(),
        request.header("Authorization"),
    ) else {
        return false;
    };
    header
        .strip_prefix("Bearer ")
        .is_some_and(|sent| token::same(sent.trim().as_bytes(), want.as_bytes()))
}

/// Gauges from bytes, kB or a yes/no, left out when unknown.
fn gauge(name: &'static str, help: &'static str, value: Option<i64>) -> Family {
    let family = Family::new(name, help, Kind::Gauge);
    match value {
        Some(v) => family.with(&[], Value::Int(v)),
        None => family,
    }
}

pub(crate) fn handle(ctx: &Ctx, request: &Request, ip: std::net::IpAddr) -> Response {
    if request.method() != "GET" {
        return Response::text("use GET\n").with_status_code(405);
    }
    if !has_metrics_token(ctx, request) && !crate::web::admin::api_allowed(ctx, request) {
        log::warn!("owner page: /metrics from {ip} without credentials");
        return Response::text("send the metrics token or the API token as a Bearer token\n")
            .with_status_code(401)
            .with_additional_header("WWW-Authenticate", "Bearer");
    }
    let mut families = match ctx.app.metric_families() {
        Ok(f) => f,
        Err(e) => {
            log::error!("/metrics: {e}");
            return Response::text("the store could not be read; try again\n")
                .with_status_code(503);
        }
    };
    let config = ctx.app.config();
    let h = crate::adapters::health::read(&config.gateway.store);
    let kb = |v: Option<u64>| v.map(|kb| (kb * 1024) as i64);
    let store_bytes = std::fs::metadata(&config.gateway.store)
        .ok()
        .map(|m| m.len() as i64);
    families.extend([
        Family::new(
            "lango_build_info",
            "lango's version, as a label (the value is always 1).",
            Kind::Gauge,
        )
        .with(&[("version", env!("CARGO_PKG_VERSION"))], Value::Int(1)),
        gauge(
            "lango_memory_rss_bytes",
            "lango's resident memory.",
            kb(h.rss_kb),
        ),
        gauge(
            "lango_memory_available_bytes",
            "The router's available memory (MemAvailable).",
            kb(h.mem_available_kb),
        ),
        gauge(
            "lango_flash_free_bytes",
            "Free bytes on the filesystem that holds the store.",
            h.flash_free_bytes.map(|b| b as i64),
        ),
        gauge(
            "lango_flash_total_bytes",
            "Size of the filesystem that holds the store.",
            h.flash_total_bytes.map(|b| b as i64),
        ),
        gauge(
            "lango_store_bytes",
            "Size of lango's database file.",
            store_bytes,
        ),
        gauge(
            "lango_uptime_seconds",
            "Seconds since the router booted.",
            h.uptime_secs.map(|s| s as i64),
        ),
    ]);
    let now = ctx.app.time().now;
    if let Some(results) = ctx.probes.as_ref().and_then(|p| p.results(now)) {
        let mut reach = Family::new(
            "lango_reachable",
            "1 when the last check reached the target (WAN: a public DNS server; Daraja: its \
             API host), 0 when it did not.",
            Kind::Gauge,
        );
        for r in results {
            let target = if r.name == "WAN" { "wan" } else { "daraja" };
            reach = reach.with(
                &[("target", target)],
                Value::Int(i64::from(r.result.is_ok())),
            );
        }
        families.push(reach);
    }
    #[cfg(feature = "radius")]
    if let Some(status) = ctx.app.radius_status() {
        use crate::core::radius::health::Reach;
        let mut up = Family::new(
            "lango_radius_up",
            "1 when the RADIUS server answered its last Status-Server probe, 0 when it did not \
             (no sample before its first probe).",
            Kind::Gauge,
        );
        for server in &status.servers {
            let answered = match server.reach {
                Reach::Up => 1,
                Reach::Down => 0,
                Reach::Unknown => continue,
            };
            up = up.with(&[("server", server.server.as_str())], Value::Int(answered));
        }
        families.push(up);
        families.push(gauge(
            "lango_radius_accounting_queued",
            "RADIUS accounting records waiting on flash for the server.",
            Some(status.queued as i64),
        ));
    }
    Response::from_data(
        "text/plain; version=0.0.4; charset=utf-8",
        render(&families),
    )
    .with_additional_header("Cache-Control", "no-store")
}
