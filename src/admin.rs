//! The owner's page (minimal until the full admin arrives): guests online, payments, vouchers
//! and the event log, with voucher generation and kicking a session. Reachable only from the
//! addresses in `admin_allow`; state changes must come from a same-origin form.

use rouille::{Request, Response};
use serde_json::json;

use crate::http::{esc, fill, json, read_form, see_other, Ctx};
use crate::model::{format_bytes, human_duration};
use crate::time::iso8601;

const TEMPLATE: &str = include_str!("../www/admin.html");

pub fn handle(ctx: &Ctx, request: &Request) -> Response {
    let ip = request.remote_addr().ip();
    let config = ctx.app.config();
    if !config
        .gateway
        .admin_allow
        .iter()
        .any(|net| net.contains(ip))
    {
        log::warn!("owner page: refused {ip} (not in admin_allow)");
        return Response::text("forbidden").with_status_code(403);
    }
    if request.method() == "POST" && !same_origin(request) {
        return Response::text("cross-site form refused").with_status_code(403);
    }
    let url = request.url();
    match (request.method(), url.as_str()) {
        ("GET", "/") => dashboard(ctx, None),
        ("GET", "/api/overview") => overview(ctx),
        ("POST", "/vouchers") => vouchers(ctx, request),
        ("POST", "/api/vouchers") => api_vouchers(ctx, request),
        ("POST", "/simulator") => simulator(ctx, request),
        ("POST", "/mpesa/check") => {
            let started = ctx.app.start_mpesa_check();
            let notice = if started {
                "Testing the M-Pesa connection; the result appears below in a few seconds."
            } else {
                "A test is already running."
            };
            dashboard(ctx, Some(notice.into()))
        }
        ("POST", path) if path.starts_with("/sms/") => sms_decision(ctx, &path["/sms/".len()..]),
        ("POST", path) if path.starts_with("/sessions/") && path.ends_with("/revoke") => {
            let id = path["/sessions/".len()..path.len() - "/revoke".len()].parse::<u64>();
            match id.map(|id| ctx.app.revoke_session(id)) {
                Ok(Ok(_)) => see_other("/"),
                Ok(Err(e)) => {
                    log::error!("revoke: {e}");
                    Response::text("could not revoke").with_status_code(500)
                }
                Err(_) => Response::text("bad session id").with_status_code(400),
            }
        }
        _ => Response::text("not found").with_status_code(404),
    }
}

/// A state change must come from a page of this origin: the Origin (or Referer) host must be
/// the Host the request was sent to. Full CSRF tokens arrive with owner sign-in.
fn same_origin(request: &Request) -> bool {
    let Some(host) = request.header("Host") else {
        return false;
    };
    let origin = request
        .header("Origin")
        .or_else(|| request.header("Referer"));
    match origin {
        Some(origin) => {
            let rest = origin.split("://").nth(1).unwrap_or("");
            rest.split('/').next() == Some(host)
        }
        None => false,
    }
}

fn page(ctx: &Ctx, title: &str, body: &str, refresh: bool) -> Response {
    let config = ctx.app.config();
    let refresh = if refresh {
        "<meta http-equiv=\"refresh\" content=\"5\">\n"
    } else {
        ""
    };
    Response::html(fill(
        TEMPLATE,
        &[
            ("title", title),
            ("brand", &esc(&config.brand.name)),
            ("refresh", refresh),
            ("body", body),
        ],
    ))
}

fn dashboard(ctx: &Ctx, notice: Option<String>) -> Response {
    let app = &ctx.app;
    let config = app.config();
    let now = app.time().now;
    let data = app.store.read(|r| {
        Ok((
            r.active_sessions()?,
            r.recent_payments(30)?,
            r.vouchers()?,
            r.recent_events(30)?,
        ))
    });
    let (active, payments, vouchers, events) = match data {
        Ok(d) => d,
        Err(e) => {
            log::error!("owner page: {e}");
            return Response::text("store error").with_status_code(500);
        }
    };
    let currency = esc(&config.gateway.currency);
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&format!("<div class=\"notice\">{notice}</div>"));
    }
    if ctx.simulator.is_some() {
        body.push_str(
            "<div class=\"notice\">Demo: M-Pesa is simulated (no money moves) and the firewall \
             only records what it would allow. <form method=\"post\" action=\"/simulator\" \
             style=\"display:inline\"> Make the next payment: <select name=\"code\">\
             <option value=\"1032\">cancelled by the customer</option>\
             <option value=\"2001\">wrong PIN</option><option value=\"1\">insufficient funds\
             </option><option value=\"1037\">time out</option></select> \
             <button class=\"btn\">Set</button></form></div>",
        );
    }
    let paid_today: i64 = payments
        .iter()
        .filter(|p| {
            p.state == crate::payments::PaymentState::Paid
                && crate::time::day_of(p.updated_at) == crate::time::day_of(now)
        })
        .map(|p| p.amount.0)
        .sum();
    body.push_str(&format!(
        "<div class=\"stats cbi-section\"><div class=\"stat\"><b>{}</b>guests online</div>\
         <div class=\"stat\"><b>{currency} {}</b>paid today</div>\
         <div class=\"stat\"><b>{}</b>vouchers unused</div></div>",
        active.len(),
        crate::model::Money(paid_today),
        vouchers
            .iter()
            .filter(|v| v.state == crate::vouchers::VoucherState::Unused)
            .count()
    ));
    body.push_str("<div class=\"cbi-section\"><h2>Guests online</h2><table><tr><th>Device</th><th>IP</th><th>Package</th><th>Time left</th><th>Data</th><th></th></tr>");
    for s in &active {
        let s = app.with_usage(s.clone());
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><form method=\"post\" action=\"/sessions/{}/revoke\"><button class=\"btn neg\">Kick</button></form></td></tr>",
            s.mac,
            s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            esc(&s.terms.package_name),
            human_duration(s.seconds_left(now)),
            format_bytes(s.bytes_used()),
            s.id
        ));
    }
    body.push_str("</table></div>");
    body.push_str("<div class=\"cbi-section\"><h2>Payments</h2><table><tr><th>When</th><th>Phone</th><th>Package</th><th>Amount</th><th>State</th><th>Receipt</th></tr>");
    for p in &payments {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{currency} {}</td><td>{:?}</td><td>{}</td></tr>",
            iso8601(p.created_at),
            esc(&p.phone.masked()),
            esc(&p.terms.package_name),
            p.amount,
            p.state,
            esc(&match (&p.receipt, &p.callback) {
                (Some(receipt), _) => receipt.clone(),
                // A callback the query did not confirm: evidence for the owner.
                (None, Some(hint)) => crate::mpesa::describe_hint(hint),
                (None, None) => String::new(),
            }),
        ));
    }
    body.push_str("</table></div>");
    body.push_str(&mpesa_section(ctx));
    let options: String = config
        .packages
        .iter()
        .map(|p| format!("<option value=\"{}\">{}</option>", esc(&p.id), esc(&p.name)))
        .collect();
    body.push_str(&format!(
        "<div class=\"cbi-section\"><h2>Vouchers</h2><form method=\"post\" action=\"/vouchers\">\
         <select name=\"package\">{options}</select> count <input name=\"count\" value=\"5\" size=\"3\"> \
         valid for <input name=\"days\" value=\"30\" size=\"3\"> days \
         <button class=\"btn\">Generate</button></form><table><tr><th>Code</th><th>Package</th><th>State</th></tr>"
    ));
    for v in vouchers.iter().rev().take(50) {
        let state = match &v.state {
            crate::vouchers::VoucherState::Unused => "unused".to_string(),
            crate::vouchers::VoucherState::Used { mac, at, .. } => {
                format!("used by {mac} at {}", iso8601(*at))
            }
            crate::vouchers::VoucherState::Revoked { .. } => "revoked".to_string(),
        };
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&v.code),
            esc(&v.terms.package_name),
            esc(&state)
        ));
    }
    body.push_str("</table></div><div class=\"cbi-section\"><h2>Events</h2><table><tr><th>When</th><th>What</th><th>Detail</th></tr>");
    for e in &events {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            iso8601(e.at),
            esc(&e.kind),
            esc(&e.detail)
        ));
    }
    body.push_str("</table></div>");
    page(ctx, "Overview", &body, true)
}

fn vouchers(ctx: &Ctx, request: &Request) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let package = form.get("package").cloned().unwrap_or_default();
    let count = form
        .get("count")
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| (1..=500).contains(c));
    let days = form
        .get("days")
        .and_then(|d| d.trim().parse::<u64>().ok())
        .filter(|d| *d <= 3650);
    let Some(count) = count else {
        return dashboard(ctx, Some("Count must be a number from 1 to 500.".into()));
    };
    match ctx
        .app
        .generate_vouchers(&package, count, days.filter(|d| *d > 0))
    {
        Ok(Some(list)) => {
            let codes: Vec<String> = list
                .iter()
                .map(|v| format!("<code>{}</code>", esc(&v.code)))
                .collect();
            dashboard(
                ctx,
                Some(format!(
                    "Generated {} vouchers: {}",
                    list.len(),
                    codes.join(" ")
                )),
            )
        }
        Ok(None) => dashboard(ctx, Some("No such package.".into())),
        Err(e) => {
            log::error!("vouchers: {e}");
            Response::text("could not generate vouchers").with_status_code(500)
        }
    }
}

/// `POST /api/vouchers` (package, count, days): the codes as JSON, for scripts and tests.
fn api_vouchers(ctx: &Ctx, request: &Request) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let package = form.get("package").cloned().unwrap_or_default();
    let count = form
        .get("count")
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| (1..=500).contains(c));
    let days = form
        .get("days")
        .and_then(|d| d.trim().parse::<u64>().ok())
        .filter(|d| (1..=3650).contains(d));
    let Some(count) = count else {
        return json(
            400,
            &json!({"error": "count must be a number from 1 to 500"}),
        );
    };
    match ctx.app.generate_vouchers(&package, count, days) {
        Ok(Some(list)) => {
            let codes: Vec<&str> = list.iter().map(|v| v.code.as_str()).collect();
            json(200, &json!({"package": package, "codes": codes}))
        }
        Ok(None) => json(404, &json!({"error": "no such package"})),
        Err(e) => {
            log::error!("vouchers: {e}");
            json(500, &json!({"error": "store error"}))
        }
    }
}

fn simulator(ctx: &Ctx, request: &Request) -> Response {
    let Some(sim) = &ctx.simulator else {
        return Response::text("not found").with_status_code(404);
    };
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match form.get("code").and_then(|c| c.parse::<i64>().ok()) {
        Some(code) => {
            sim.decline_next(code);
            dashboard(
                ctx,
                Some(format!(
                    "The next simulated payment will end with ResultCode {code}."
                )),
            )
        }
        None => Response::text("bad code").with_status_code(400),
    }
}

fn overview(ctx: &Ctx) -> Response {
    let app = &ctx.app;
    let now = app.time().now;
    match app.store.read(|r| {
        Ok((
            r.active_sessions()?,
            r.recent_payments(100)?,
            r.counters()?,
            r.recent_events(100)?,
        ))
    }) {
        Ok((active, payments, counters, events)) => {
            let events: Vec<_> = events
                .iter()
                .map(|e| json!({"at": e.at, "kind": e.kind, "mac": e.mac.map(|m| m.to_string()), "detail": e.detail}))
                .collect();
            let sessions: Vec<_> = active
                .iter()
                .map(|s| {
                    let s = app.with_usage(s.clone());
                    json!({"id": s.id, "mac": s.mac.to_string(), "package": s.terms.package_name,
                           "seconds_left": s.seconds_left(now), "bytes_used": s.bytes_used()})
                })
                .collect();
            let payments: Vec<_> = payments
                .iter()
                .map(|p| json!({"id": p.id, "phone": p.phone.masked(), "amount": p.amount.to_string(),
                               "state": format!("{:?}", p.state).to_lowercase(), "receipt": p.receipt}))
                .collect();
            let counters: serde_json::Map<String, serde_json::Value> =
                counters.into_iter().map(|(k, v)| (k, json!(v))).collect();
            json(
                200,
                &json!({"sessions": sessions, "payments": payments, "counters": counters, "events": events}),
            )
        }
        Err(e) => {
            log::error!("overview: {e}");
            json(500, &json!({"error": "store error"}))
        }
    }
}

/// M-Pesa: the connection test and its last report, and pasted SMS waiting for a decision.
fn mpesa_section(ctx: &Ctx) -> String {
    use crate::mpesa::CheckStatus;
    use crate::sms::ClaimState;
    let app = &ctx.app;
    let mut out = String::from(
        "<div class=\"cbi-section\"><h2>M-Pesa</h2><form method=\"post\" action=\"/mpesa/check\">\
         <button class=\"btn\">Test M-Pesa connection</button></form>",
    );
    match app.mpesa_check_status() {
        CheckStatus::Never => {}
        CheckStatus::Running { since } => {
            out.push_str(&format!("<p>Testing since {}...</p>", iso8601(since)))
        }
        CheckStatus::Done { at, steps } => {
            out.push_str(&format!(
                "<table><tr><th colspan=\"3\">Test of {}</th></tr>",
                iso8601(at)
            ));
            for step in steps {
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if step.ok { "OK" } else { "PROBLEM" },
                    esc(&step.what),
                    esc(&step.detail)
                ));
            }
            out.push_str("</table>");
        }
    }
    let claims = match app.store.read(|r| r.sms_claims(50)) {
        Ok(c) => c,
        Err(e) => {
            log::error!("owner page: {e}");
            Vec::new()
        }
    };
    out.push_str(
        "<h3>Pasted M-Pesa messages</h3><p>Guests paste these when lango could not confirm a \
         payment itself. Check each receipt on your M-Pesa statement before approving: anyone \
         can type a message.</p><table><tr><th>When</th><th>Receipt</th><th>Amount</th>\
         <th>Paid to</th><th>Device</th><th>Package</th><th>State</th><th></th></tr>",
    );
    for c in &claims {
        let actions = if c.state == ClaimState::Pending {
            format!(
                "<form method=\"post\" action=\"/sms/{id}/approve\" style=\"display:inline\">\
                 <button class=\"btn\">Approve</button></form> <form method=\"post\" \
                 action=\"/sms/{id}/reject\" style=\"display:inline\"><button class=\"btn neg\">\
                 Reject</button></form>",
                id = c.id
            )
        } else {
            String::new()
        };
        let date_note = match c.code_date_ok {
            Some(false) => " (the code's date differs from the message's)",
            _ => "",
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code>{date_note}</td><td>{} {}</td><td>{} on {}</td>\
             <td><code>{}</code></td><td>{}</td><td>{:?}</td><td>{actions}</td></tr>",
            iso8601(c.created_at),
            esc(&c.receipt),
            esc(&app.config().gateway.currency),
            c.amount,
            esc(&c.paid_to),
            esc(&c.paid_at),
            c.mac,
            esc(&c.terms.package_name),
            c.state,
        ));
    }
    out.push_str("</table></div>");
    out
}

fn sms_decision(ctx: &Ctx, rest: &str) -> Response {
    use crate::mpesa::ClaimDecision;
    let (id, approve) = match rest.split_once('/') {
        Some((id, "approve")) => (id.parse::<u64>(), true),
        Some((id, "reject")) => (id.parse::<u64>(), false),
        _ => return Response::text("not found").with_status_code(404),
    };
    let Ok(id) = id else {
        return Response::text("bad claim id").with_status_code(400);
    };
    match ctx.app.decide_sms_claim(id, approve) {
        Ok(ClaimDecision::Approved(session)) => dashboard(
            ctx,
            Some(format!(
                "Approved: {} for {} until {}.",
                esc(&session.terms.package_name),
                session.mac,
                iso8601(session.deadline)
            )),
        ),
        Ok(ClaimDecision::Rejected) => dashboard(ctx, Some("Rejected.".into())),
        Ok(ClaimDecision::NotPending) => {
            dashboard(ctx, Some("That message was already decided.".into()))
        }
        Ok(ClaimDecision::ReceiptAlreadyCredited(owner)) => dashboard(
            ctx,
            Some(format!(
                "Not approved: this receipt is already credited (record {owner})."
            )),
        ),
        Err(e) => {
            log::error!("sms decision: {e}");
            Response::text("could not record the decision").with_status_code(500)
        }
    }
}
