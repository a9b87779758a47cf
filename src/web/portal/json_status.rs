//! The portal's small JSON API for pages and apps: the packages on sale, a device's status and
//! a payment's state (by its token, which only the paying device holds).

use std::net::IpAddr;

use rouille::Response;
use serde_json::json;

use super::Ctx;
use crate::core::model::format_duration;
use crate::core::sessions::Lifecycle;
use crate::web::http::json;

pub(super) fn api_packages(ctx: &Ctx) -> Response {
    let (config, now) = (ctx.app.config(), ctx.app.time().now);
    let packages: Vec<_> = config
        .on_sale(now)
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "price": p.price.to_string(),
                "price_minor": p.price.0,
                "currency": config.gateway.currency,
                "duration_secs": p.duration_secs,
                "duration": format_duration(p.duration_secs),
                "data_bytes": p.quota_bytes,
                "rate_down_kbit": p.rate_down_kbit,
                "rate_up_kbit": p.rate_up_kbit,
                "fair_rate_kbit": p.fair_kbit,
                "window": p.window.map(|w| w.words()),
            })
        })
        .collect();
    json(200, &json!({ "packages": packages }))
}

pub(super) fn api_status(ctx: &Ctx, ip: IpAddr) -> Response {
    match ctx.app.device(ip) {
        Ok(Some(view)) => {
            let body = match &view.lifecycle {
                Lifecycle::Active(s) => json!({
                    "state": "active",
                    "package": s.terms.package_name,
                    "seconds_remaining": s.seconds_left(view.now),
                    "bytes_used": s.bytes_used(),
                    "bytes_remaining": s.bytes_left(),
                }),
                Lifecycle::Pending { .. } => json!({ "state": "pending" }),
                Lifecycle::Ended(s) => json!({ "state": "ended", "package": s.terms.package_name }),
                Lifecycle::Idle => json!({ "state": "none" }),
            };
            json(200, &body)
        }
        Ok(None) => json(403, &json!({ "error": "unknown device" })),
        Err(e) => {
            log::error!("status: {e}");
            json(500, &json!({ "error": "internal error" }))
        }
    }
}

pub(super) fn api_payment(ctx: &Ctx, token: &str) -> Response {
    match ctx.app.payment_by_token(token) {
        Ok(Some(p)) => json(
            200,
            &json!({
                "state": p.state.name(),
                "package": p.terms.package_name,
                "amount": p.amount.to_string(),
                "receipt": p.receipt,
                "decline": p.decline.map(|d| d.name()),
            }),
        ),
        Ok(None) => json(404, &json!({ "error": "unknown payment" })),
        Err(e) => {
            log::error!("payment api: {e}");
            json(500, &json!({ "error": "internal error" }))
        }
    }
}

// ---- M-Pesa callbacks and pasted SMS (see app/mpesa.rs) ----
