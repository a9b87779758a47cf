//! Money on the owner page: payments per local day (phones partly hidden), pasted M-Pesa
//! SMS to approve or reject, daily totals and a CSV to reconcile with the M-Pesa statement,
//! and the JSON API for scripts on the router (`/api/overview`, `/api/vouchers`).

use std::net::IpAddr;

use rouille::{Request, Response};
use serde_json::json;

use super::Ctx;
use crate::core::payments::{Payment, PaymentState};
use crate::core::report;
use crate::core::sms::ClaimState;
use crate::core::time::{date_of_day, day_start, local_day, parse_date};
use crate::core::vouchers;
use crate::web::admin::ui::{
    self as ui, button, device, label, local_time, money, section, store_error, table, Tab,
};
use crate::web::admin::{refuse, Call};
use crate::web::http::{esc, json, read_form};

pub(crate) use crate::app::owner::MAX_PAYMENTS;

fn state_label(state: PaymentState) -> String {
    let (class, text) = match state {
        PaymentState::Paid => ("success", "paid"),
        PaymentState::Initiating => ("notice", "sending"),
        PaymentState::Pending => ("notice", "waiting for PIN"),
        PaymentState::Failed => ("important", "failed"),
        PaymentState::Cancelled => ("warning", "cancelled"),
        PaymentState::Expired => ("", "expired"),
    };
    label(class, text)
}

/// The day a payments page shows: `?day=YYYY-MM-DD`, or today.
fn chosen_day(call: &Call, today: i64) -> i64 {
    call.param("day")
        .and_then(|d| parse_date(&d))
        .filter(|d| *d <= today)
        .unwrap_or(today)
}

fn payments_of_day(call: &Call, day: i64) -> Result<Vec<Payment>, crate::store::StoreError> {
    let offset = call.ctx.app.config().gateway.utc_offset_secs;
    let (start, end) = (day_start(day, offset), day_start(day + 1, offset));
    // Paid ones count on the day they were confirmed, which is at most minutes after they
    // started: read from a little before the day.
    let list = call
        .ctx
        .app
        .store
        .read(|r| r.payments_since(start - 3600, MAX_PAYMENTS))?;
    Ok(list
        .into_iter()
        .filter(|p| match report::paid_day(p, offset) {
            Some(d) => d == day,
            None => (start..end).contains(&p.created_at),
        })
        .collect())
}

pub(crate) fn payments(call: &Call) -> Response {
    let ctx = call.ctx;
    let app = &ctx.app;
    let config = app.config();
    let offset = config.gateway.utc_offset_secs;
    let today = local_day(app.time().now, offset);
    let day = chosen_day(call, today);
    let list = match payments_of_day(call, day) {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let data = app.store.read(|r| {
        Ok((
            r.sms_claims(500)?,
            r.payments_since(day_start(today - 30, offset) - 3600, MAX_PAYMENTS)?,
        ))
    });
    let (claims, month) = match data {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let names = app.env.neighbours.hostnames();
    let mut body = String::from("<ul class=\"cbi-tabmenu\">");
    for d in (today - 6..=today).rev() {
        let class = if d == day { " class=\"cbi-tab\"" } else { "" };
        let text = match today - d {
            0 => "Today".to_string(),
            1 => "Yesterday".to_string(),
            _ => date_of_day(d),
        };
        body.push_str(&format!(
            "<li{class}><a href=\"/payments?day={}\">{text}</a></li>",
            date_of_day(d)
        ));
    }
    body.push_str(&format!(
        "<li><form method=\"get\" action=\"/payments\" style=\"margin:3px 0 0 8px\">\
         <input type=\"date\" name=\"day\" value=\"{}\" style=\"width:auto;height:28px\"> \
         <button class=\"cbi-button\">Show</button></form></li></ul>",
        date_of_day(day)
    ));
    body.push_str(&sms_claims_section(call, &claims));
    let (range, pages) = ui::pager(
        &format!("/payments?day={}&", date_of_day(day)),
        call.param("page"),
        list.len(),
    );
    let rows: Vec<Vec<String>> = list
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            vec![
                local_time(ctx, p.created_at)
                    .get(11..)
                    .unwrap_or("")
                    .to_string(),
                esc(&p.phone.masked()),
                esc(&p.terms.package_name),
                money(ctx, report::charged(p)),
                state_label(p.state),
                esc(&match (&p.receipt, &p.callback, p.decline) {
                    (Some(receipt), ..) => receipt.clone(),
                    (None, _, Some(d)) => crate::app::mpesa::decline_words(Some(d)).into(),
                    (None, Some(hint), None) => crate::app::mpesa::describe_hint(hint),
                    (None, None, None) => String::new(),
                }),
                device(&names, p.mac),
            ]
        })
        .collect();
    let totals = report::daily_totals(&list, &claims, offset, day, day);
    let total = totals.first().cloned().unwrap_or_default();
    body.push_str(&section(
        &format!("Payments of {}", date_of_day(day)),
        &format!(
            "{} paid prompt{}, {} · approved SMS: {}, {} · Pull: {}, {} · QR: {}, {} · \
             <a href=\"/payments.csv?day={}\">CSV for the M-Pesa statement</a>",
            total.paid,
            if total.paid == 1 { "" } else { "s" },
            money(ctx, total.paid_amount),
            total.sms,
            money(ctx, total.sms_amount),
            total.pull,
            money(ctx, total.pull_amount),
            total.qr,
            money(ctx, total.qr_amount),
            date_of_day(day)
        ),
        &format!(
            "{}{pages}",
            table(
                &[
                    "Time",
                    "Phone",
                    "Package",
                    "Amount",
                    "State",
                    "Receipt or reason",
                    "Device",
                ],
                &rows,
                "No payment that day.",
                &[3],
            )
        ),
    ));
    let month = report::daily_totals(&month, &claims, offset, today - 29, today);
    let rows: Vec<Vec<String>> = month
        .iter()
        .rev()
        .filter(|d| d.total().0 > 0)
        .map(|d| {
            let mut row = vec![format!(
                "<a href=\"/payments?day={0}\">{0}</a>",
                date_of_day(d.day)
            )];
            for (_, _, n, amount) in d.split() {
                row.push(format!("{n}: {}", money(ctx, amount)));
            }
            row.push(format!("<b>{}</b>", money(ctx, d.total())));
            row
        })
        .collect();
    body.push_str(&section(
        "Daily totals, last 30 days",
        "Compare each day with your M-Pesa statement: the prompts' amounts are what M-Pesa \
         charged (whole shillings).",
        &table(
            &["Day", "Prompts", "Pull", "QR", "SMS", "Total"],
            &rows,
            "No sales in the last 30 days.",
            &[1, 2, 3, 4, 5],
        ),
    ));
    ui::page(
        call,
        Tab::Payments,
        "Payments",
        "Every M-Pesa payment, phones partly hidden. Days are in your time zone.",
        &body,
    )
}

fn sms_claims_section(call: &Call, claims: &[crate::core::sms::SmsClaim]) -> String {
    let ctx = call.ctx;
    let rows: Vec<Vec<String>> = claims
        .iter()
        .filter(|c| c.state == ClaimState::Pending)
        .map(|c| {
            let id = c.id.to_string();
            let date_note = match c.code_date_ok {
                Some(false) => " <span class=\"label warning\">date differs</span>",
                _ => "",
            };
            vec![
                local_time(ctx, c.created_at),
                format!("<code>{}</code>{date_note}", esc(&c.receipt)),
                money(ctx, c.amount),
                format!("{} on {}", esc(&c.paid_to), esc(&c.paid_at)),
                format!("<code>{}</code>", c.mac),
                esc(&c.terms.package_name),
                format!(
                    "<div class=\"actions\">{} {}</div>",
                    button(
                        call,
                        &format!("/sms/{id}/approve"),
                        &[],
                        "Approve",
                        "cbi-button-positive"
                    ),
                    button(
                        call,
                        &format!("/sms/{id}/reject"),
                        &[],
                        "Reject",
                        "cbi-button-negative"
                    )
                ),
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    section(
        "Pasted M-Pesa messages to decide",
        "Guests paste these when lango could not confirm a payment itself. Check each receipt on \
         your M-Pesa statement before approving: anyone can type a message.",
        &table(
            &[
                "When", "Receipt", "Amount", "Paid to", "Device", "Package", "",
            ],
            &rows,
            "",
            &[2],
        ),
    )
}

/// CSV of a day's payments (UTF-8, RFC 4180 quoting). Phones stay masked.
pub(crate) fn payments_csv(call: &Call) -> Response {
    let ctx = call.ctx;
    let offset = ctx.app.config().gateway.utc_offset_secs;
    let today = local_day(ctx.app.time().now, offset);
    let day = chosen_day(call, today);
    let list = match payments_of_day(call, day) {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let claims = match ctx.app.store.read(|r| r.sms_claims(500)) {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let mut out = String::from("time,receipt,phone,package,amount,state,method\r\n");
    for p in list.iter().rev() {
        out.push_str(&csv_row(&[
            &local_time(ctx, p.created_at),
            p.receipt.as_deref().unwrap_or(""),
            &p.phone.masked(),
            &p.terms.package_name,
            &report::charged(p).to_string(),
            p.state.name(),
            report::payment_method(p),
        ]));
    }
    // Money confirmed without a prompt: by Pull (a till payment, a QR) or by the owner.
    for c in claims
        .iter()
        .rev()
        .filter(|c| c.state == ClaimState::Approved)
    {
        let at = c.decided_at.unwrap_or(c.created_at);
        if local_day(at, offset) == day {
            out.push_str(&csv_row(&[
                &local_time(ctx, at),
                &c.receipt,
                "",
                &c.terms.package_name,
                &c.amount.to_string(),
                "paid",
                report::claim_method(c),
            ]));
        }
    }
    csv(out, &format!("payments-{}.csv", date_of_day(day)))
}

/// One CSV line. Cells are quoted; a leading `=`, `+`, `-` or `@` is defused for spreadsheets
/// (package names and device names are chosen by people).
pub(crate) fn csv_row(cells: &[&str]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            let c = if c.starts_with(['=', '+', '-', '@']) {
                format!("'{c}")
            } else {
                c.to_string()
            };
            format!("\"{}\"", c.replace('"', "\"\""))
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

pub(crate) fn csv(body: String, filename: &str) -> Response {
    Response::from_data("text/csv; charset=utf-8", body).with_unique_header(
        "Content-Disposition",
        format!("attachment; filename=\"{filename}\""),
    )
}

pub(crate) fn sms_decision(call: &Call, rest: &str) -> Response {
    use crate::app::mpesa::ClaimDecision;
    let (id, approve) = match rest.split_once('/') {
        Some((id, "approve")) => (id.parse::<u64>(), true),
        Some((id, "reject")) => (id.parse::<u64>(), false),
        _ => return refuse(404, "not found"),
    };
    let Ok(id) = id else {
        return refuse(400, "bad claim id");
    };
    match call.ctx.app.decide_sms_claim(id, approve) {
        Ok(ClaimDecision::Approved(session)) => call.back(
            "/payments",
            format!(
                "Approved: {} for {} until {}.",
                session.terms.package_name,
                session.mac,
                local_time(call.ctx, session.deadline)
            ),
        ),
        Ok(ClaimDecision::Rejected) => call.back("/payments", "Rejected."),
        Ok(ClaimDecision::NotPending) => {
            call.warn("/payments", "That message was already decided.")
        }
        Ok(ClaimDecision::ReceiptAlreadyCredited(owner)) => call.fail(
            "/payments",
            format!("Not approved: this receipt is already credited (record {owner})."),
        ),
        Err(e) => store_error(e),
    }
}

// ---- the JSON API ----

fn api_error(status: u16, message: &str) -> Response {
    json(status, &json!({ "error": message }))
}

/// `/api/...`: for scripts with the API token, or a signed-in browser.
pub(crate) fn api(ctx: &Ctx, request: &Request, ip: IpAddr, url: &str) -> Response {
    if !crate::web::admin::api_allowed(ctx, request) {
        log::warn!(
            "owner API: {} {url} from {ip} without credentials",
            request.method()
        );
        return api_error(401, "sign in, or send the API token");
    }
    match (request.method(), url) {
        ("GET", "/api/overview") => overview(ctx),
        ("POST", "/api/vouchers") => api_vouchers(ctx, request),
        ("POST", "/api/sessions/revoke") => api_revoke(ctx, request),
        ("POST", "/api/allow") => api_allow(ctx, request, ip),
        _ => api_error(404, "no such endpoint"),
    }
}

/// `POST /api/sessions/revoke` (id): ends a session now, as the owner page's "End" does.
fn api_revoke(ctx: &Ctx, request: &Request) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(id) = form.get("id").and_then(|v| v.trim().parse::<u64>().ok()) else {
        return api_error(400, "id must be a session number");
    };
    match ctx.app.revoke_session(id) {
        Ok(ended) => json(200, &json!({ "id": id, "ended": ended })),
        Err(e) => {
            log::error!("owner API: revoke {id}: {e}");
            api_error(503, "the store could not be read; try again")
        }
    }
}

/// `POST /api/allow` (mac, allowed: 1 or 0): puts a device on the allow-list or takes it
/// off, as the Guests page's "Always allowed" does.
fn api_allow(ctx: &Ctx, request: &Request, ip: IpAddr) -> Response {
    use crate::core::model::Mac;
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(mac) = form.get("mac").and_then(|m| m.trim().parse::<Mac>().ok()) else {
        return api_error(400, "mac must be a MAC address (aa:bb:cc:dd:ee:ff)");
    };
    let allowed = form.get("allowed").is_none_or(|v| v.trim() != "0");
    let verb = if allowed {
        "allowed"
    } else {
        "no longer allowed"
    };
    let what = format!("{mac} {verb} without paying");
    let edited = crate::web::admin::settings::edit_config_from(ctx, ip, &what, &mut |file| {
        crate::core::uci_write::set_allowed(file, mac, allowed);
        Ok(())
    });
    match edited {
        Ok(_) => json(200, &json!({ "mac": mac.to_string(), "allowed": allowed })),
        Err(e) => api_error(409, &e),
    }
}

/// `POST /api/vouchers` (package, count, days, prefix): the codes as JSON.
fn api_vouchers(ctx: &Ctx, request: &Request) -> Response {
    let form = match read_form(request) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let package = field("package");
    let Ok(count) = field("count").parse::<usize>() else {
        return api_error(400, "count must be a number");
    };
    let days = field("days").parse::<u64>().ok().filter(|d| *d > 0);
    let Some(prefix) = vouchers::normalise_prefix(&field("prefix")) else {
        return api_error(400, "the prefix takes up to 8 letters or digits");
    };
    match ctx.app.generate_vouchers(&package, count, &prefix, days) {
        Ok(Some(list)) => {
            let codes: Vec<&str> = list.iter().map(|v| v.code.as_str()).collect();
            json(200, &json!({"package": package, "codes": codes}))
        }
        Ok(None) => api_error(404, "no such package"),
        Err(crate::app::OwnerError::OutOfRange(text)) => api_error(400, &text),
        Err(e) => {
            log::error!("vouchers: {e}");
            api_error(500, "store error")
        }
    }
}

fn overview(ctx: &Ctx) -> Response {
    let app = &ctx.app;
    let now = app.time().now;
    let data = app.store.read(|r| {
        Ok((
            r.active_sessions()?,
            r.recent_payments(100)?,
            r.counters()?,
            r.recent_events(100)?,
        ))
    });
    let (active, payments, counters, events) = match data {
        Ok(d) => d,
        Err(e) => {
            log::error!("overview: {e}");
            return api_error(500, "store error");
        }
    };
    let events: Vec<_> = events
        .iter()
        .map(|e| json!({"at": e.at, "kind": e.kind, "mac": e.mac.map(|m| m.to_string()), "detail": e.detail}))
        .collect();
    let sessions: Vec<_> = active
        .iter()
        .map(|s| {
            let s = app.with_usage(s.clone());
            json!({"id": s.id, "purchase": s.group(), "mac": s.mac.to_string(), "package": s.terms.package_name,
                   "seconds_left": s.seconds_left(now), "bytes_used": s.bytes_used()})
        })
        .collect();
    let payments: Vec<_> = payments
        .iter()
        .map(|p| {
            json!({"id": p.id, "phone": p.phone.masked(), "amount": p.amount.to_string(),
                       "state": p.state.name(), "receipt": p.receipt,
                       "callback_receipt": p.callback.as_ref().and_then(|h| h.receipt.clone())})
        })
        .collect();
    let mut counters: serde_json::Map<String, serde_json::Value> =
        counters.into_iter().map(|(k, v)| (k, json!(v))).collect();
    for (name, n) in app.unsaved_funnel() {
        let stored = counters.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
        counters.insert(name.to_string(), json!(stored + n));
    }
    json(
        200,
        &json!({"sessions": sessions, "payments": payments, "counters": counters, "events": events}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(
            csv_row(&["a", "b\"c", "=cmd()", "-1"]),
            "\"a\",\"b\"\"c\",\"'=cmd()\",\"'-1\"\r\n"
        );
    }
}
