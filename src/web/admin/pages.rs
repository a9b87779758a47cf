//! The owner page's views of the running business: the dashboard (guests, money, funnel,
//! router health), guests (kick, extend, block, current speed) and the event log. Reads are
//! snapshots; changes go through `App` methods.

use rouille::Response;

use crate::core::model::{format_bytes, human_duration, Mac, Money};
use crate::core::report::{self, percent};
use crate::core::sms::ClaimState;
use crate::core::time::{date_of_day, day_start, local_day};
use crate::web::admin::payments::MAX_PAYMENTS;
use crate::web::admin::ui::{
    self as ui, alert, bar_chart, device, kv, label, local_time, money, post_form, progress,
    section, store_error, table, Tab,
};
use crate::web::admin::{refuse, Call};
use crate::web::http::esc;

pub(crate) fn dashboard(call: &Call) -> Response {
    let ctx = call.ctx;
    let app = &ctx.app;
    let config = app.config();
    let offset = config.gateway.utc_offset_secs;
    let now = app.time().now;
    let today = local_day(now, offset);
    let since = day_start(today - 29, offset) - 86_400;
    let data = app.store.read(|r| {
        Ok((
            r.active_sessions()?,
            r.payments_since(since, MAX_PAYMENTS)?,
            r.sms_claims(500)?,
            r.counters()?,
        ))
    });
    let (active, payments, claims, counters) = match data {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let days = report::daily_totals(&payments, &claims, offset, today - 29, today);
    let sum = |n: usize| Money(days.iter().rev().take(n).map(|d| d.total().0).sum());
    let (paid7, ended7) = report::success(&payments, now - 7 * 86_400);
    let mut body = String::new();
    if let Some(space) = app.store.space().filter(|s| !s.enough()) {
        body.push_str(&alert(
            "error",
            &format!(
                "The router's storage is nearly full ({} KiB free, {} KiB kept in reserve): new \
                 purchases and vouchers are refused until space is freed. Guests already paid stay \
                 online.",
                space.free / 1024,
                space.reserve() / 1024
            ),
        ));
    }
    #[cfg(feature = "simulator")]
    if let Some(sim) = ctx.simulator.as_ref().map(|_| simulator_notice(call)) {
        body.push_str(&sim);
    }
    let pending = claims
        .iter()
        .filter(|c| c.state == ClaimState::Pending)
        .count();
    if pending > 0 {
        body.push_str(&alert(
            "warning",
            &format!(
                "{pending} pasted M-Pesa message(s) wait for your decision. \
                 <a href=\"/payments\">Payments</a>"
            ),
        ));
    }
    let tile = |value: String, what: &str| {
        format!("<div class=\"tile\"><b>{value}</b><span>{what}</span></div>")
    };
    body.push_str("<div class=\"tiles\">");
    body.push_str(&tile(active.len().to_string(), "guests online now"));
    body.push_str(&tile(money(ctx, sum(1)), "revenue today"));
    body.push_str(&tile(money(ctx, sum(7)), "last 7 days"));
    body.push_str(&tile(money(ctx, sum(30)), "last 30 days"));
    let rate = match ended7 {
        0 => "-".to_string(),
        n => format!("{}%", percent(u64::from(paid7), u64::from(n))),
    };
    body.push_str(&tile(
        rate,
        &format!("payments succeeded (7 days: {paid7} of {ended7})"),
    ));
    body.push_str("</div>");
    let bars: Vec<(String, i64)> = days
        .iter()
        .map(|d| {
            (
                date_of_day(d.day).get(5..).unwrap_or("").to_string(),
                d.total().0,
            )
        })
        .collect();
    body.push_str(&section(
        "Revenue, last 30 days",
        "M-Pesa payments and approved SMS per day, in your time zone.",
        &bar_chart(&bars, &config.gateway.currency),
    ));
    let split: Vec<Vec<String>> = report::DayTotal::sum(&days)
        .split()
        .iter()
        .map(|(_, words, n, amount)| vec![words.to_string(), n.to_string(), money(ctx, *amount)])
        .collect();
    body.push_str(&section(
        "Revenue by method, last 30 days",
        "How each payment was confirmed: by its prompt, by M-Pesa Pull (a till payment or a QR \
         code), or by you (a pasted SMS).",
        &table(&["Method", "Payments", "Amount"], &split, "", &[1, 2]),
    ));
    body.push_str(&funnel(call, &counters, today, active.len() as u64));
    body.push_str(&router_health(call, now));
    ui::page_refresh(
        call,
        Tab::Dashboard,
        "Dashboard",
        "How the business is doing right now. This page refreshes every 30 seconds.",
        &body,
        Some(30),
    )
}

#[cfg(feature = "simulator")]
fn simulator_notice(call: &Call) -> String {
    let switch = post_form(
        call,
        "/simulator",
        &[],
        "Make the next payment: <select name=\"code\" style=\"width:auto\">\
         <option value=\"1032\">cancelled by the customer</option>\
         <option value=\"2001\">wrong PIN</option><option value=\"1\">insufficient funds</option>\
         <option value=\"1037\">time out</option></select> \
         <button class=\"cbi-button cbi-button-action\">Set</button>",
    );
    alert(
        "notice",
        &format!(
            "Demo: M-Pesa is simulated (no money moves) and the firewall only records what it \
             would allow. {switch}"
        ),
    )
}

/// Portal views, purchases started, paid, online: today and since lango started counting.
fn funnel(call: &Call, counters: &[(String, u64)], today: i64, online: u64) -> String {
    let stored = |name: &str| {
        counters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    };
    let unsaved = call.ctx.app.unsaved_funnel();
    let count = |name: &str, day: bool| {
        let key = if day {
            crate::app::day_counter(name, today)
        } else {
            name.to_string()
        };
        let pending = unsaved
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v);
        stored(&key) + pending
    };
    let steps = [
        ("Portal views", "portal_views"),
        ("Purchases started", "purchases_started"),
        ("Paid", "paid"),
    ];
    let mut rows = Vec::new();
    let (views_today, views_all) = (count("portal_views", true), count("portal_views", false));
    for (title, name) in steps {
        let (t, a) = (count(name, true), count(name, false));
        rows.push(vec![
            esc(title),
            t.to_string(),
            a.to_string(),
            progress(
                percent(a, views_all),
                &format!("{}% of views", percent(a, views_all)),
            ),
            format!("{}%", percent(t, views_today)),
        ]);
    }
    rows.push(vec![
        "Online now".into(),
        online.to_string(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    section(
        "Conversion funnel",
        "From seeing the portal to paying. Counts reach flash every few minutes.",
        &table(
            &[
                "Step",
                "Today",
                "All time",
                "Of all views",
                "Of today's views",
            ],
            &rows,
            "",
            &[1, 2, 4],
        ),
    )
}

/// A "used" row: the bar fills with the used share, and the words say both shares.
fn usage(free: u64, total: u64) -> String {
    let used = 100 - percent(free.min(total), total);
    format!(
        "{used}% used · {} free of {}{}",
        format_bytes(free),
        format_bytes(total),
        progress(used, &format!("{used}% used"))
    )
}

fn router_health(call: &Call, now: i64) -> String {
    let ctx = call.ctx;
    let config = ctx.app.config();
    let h = crate::adapters::health::read(&config.gateway.store);
    let unknown = || "<span class=\"muted\">unknown</span>".to_string();
    let mut rows = vec![
        (
            "Uptime",
            h.uptime_secs.map(human_duration).unwrap_or_else(unknown),
        ),
        (
            "Load (1 minute)",
            h.load1
                .map(|l| {
                    // Hundredths in integers: no float formatting code in the binary for this.
                    let hundredths = (l.max(0.0) * 100.0).round() as u64;
                    format!("{}.{:02}", hundredths / 100, hundredths % 100)
                })
                .unwrap_or_else(unknown),
        ),
        (
            "Memory used",
            match (h.mem_available_kb, h.mem_total_kb) {
                (Some(free), Some(total)) => usage(free * 1024, total * 1024),
                _ => unknown(),
            },
        ),
        (
            "Flash used",
            match (h.flash_free_bytes, h.flash_total_bytes) {
                (Some(free), Some(total)) => usage(free, total),
                _ => unknown(),
            },
        ),
    ];
    match &ctx.probes {
        Some(probes) => match probes.results(now) {
            Some(results) => {
                for reach in results {
                    let text = match reach.result {
                        Ok(ms) => format!("{} ({ms} ms)", label("success", "reachable")),
                        Err(why) => format!("{} {}", label("important", "unreachable"), esc(&why)),
                    };
                    let name = if reach.name == "WAN" {
                        "WAN (internet)"
                    } else {
                        "Daraja (M-Pesa)"
                    };
                    rows.push((name, text));
                }
            }
            None => rows.push(("WAN, Daraja", "checking...".into())),
        },
        None => rows.push((
            "WAN, Daraja",
            "<span class=\"muted\">not checked here (demo or test)</span>".into(),
        )),
    }
    #[cfg(feature = "radius")]
    if let Some(radius) = ctx.app.radius_status() {
        rows.push(("RADIUS", radius_row(&radius)));
    }
    section("Router", "", &kv(&rows))
}

/// Each RADIUS server's state, then the accounting records waiting on flash.
#[cfg(feature = "radius")]
fn radius_row(radius: &crate::app::RadiusStatus) -> String {
    use crate::core::radius::health::Reach;
    let servers: Vec<String> = radius
        .servers
        .iter()
        .map(|h| {
            let state = match h.reach {
                Reach::Up => label("success", "answering"),
                Reach::Down => label("important", "not answering"),
                Reach::Unknown => label("notice", "not checked yet"),
            };
            format!("{} {state}", esc(&h.server))
        })
        .collect();
    let mut text = servers.join(", ");
    if radius.accounting {
        text.push_str(&format!("; accounting: {} records waiting", radius.queued));
    }
    text
}

pub(crate) fn guests(call: &Call) -> Response {
    let ctx = call.ctx;
    let app = &ctx.app;
    let now = app.time().now;
    let data = app
        .store
        .read(|r| Ok((r.active_sessions()?, r.recent_sessions(50)?)));
    let (active, recent) = match data {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let blocked = match app.blocked_devices() {
        Ok(b) => b,
        Err(e) => return store_error(e),
    };
    let names = app.env.neighbours.hostnames();
    let (range, pages) = ui::pager("/guests?", call.param("page"), active.len());
    let mut rows = Vec::new();
    for s in active.get(range).unwrap_or_default() {
        let s = app.with_usage(s.clone());
        let id = s.id.to_string();
        let speed = match app.speed(s.id) {
            Some((up, down)) => format!("↓ {} ↑ {}", ui::speed(down), ui::speed(up)),
            None => "<span class=\"muted\">-</span>".into(),
        };
        let data = match s.quota_bytes {
            Some(q) => format!(
                "↓ {} ↑ {}<br><span class=\"muted\">of {}{}</span>",
                format_bytes(s.bytes_down),
                format_bytes(s.bytes_up),
                format_bytes(q),
                s.terms
                    .fair_kbit
                    .map(|r| format!(", then {}", crate::core::model::format_rate(r)))
                    .unwrap_or_default()
            ),
            None => format!(
                "↓ {} ↑ {}",
                format_bytes(s.bytes_down),
                format_bytes(s.bytes_up)
            ),
        };
        let actions = [
            ui::row_button(None, "id", &id, "Kick", "cbi-button-negative"),
            ui::row_button(
                Some("/sessions/extend"),
                "id",
                &id,
                "Extend",
                "cbi-button-action",
            ),
            ui::row_button(
                Some("/devices/block"),
                "mac",
                &s.mac.to_string(),
                "Block",
                "cbi-button-remove",
            ),
        ];
        rows.push(vec![
            device(&names, s.mac),
            s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            match s.joined.is_some() || !s.members.is_empty() {
                true => format!(
                    "{}<br><span class=\"muted\">shared, purchase {}</span>",
                    esc(&s.terms.package_name),
                    s.group()
                ),
                false => esc(&s.terms.package_name),
            },
            human_duration(s.seconds_left(now)),
            data,
            speed,
            format!("<div class=\"actions\">{}</div>", actions.join(" ")),
        ]);
    }
    let extend_by = if rows.is_empty() {
        ""
    } else {
        "<p>Extend by <select name=\"minutes\" style=\"width:auto\">\
        <option value=\"30\">30 minutes</option><option value=\"60\">1 hour</option>\
        <option value=\"1440\">1 day</option></select></p>"
    };
    let online = table(
        &["Device", "IP", "Package", "Time left", "Data", "Speed", ""],
        &rows,
        "Nobody is online.",
        &[],
    );
    let mut body = section(
        "Online now",
        "Every device with time running. Kick ends its time now, and Extend lengthens it, on \
         every device of a shared purchase; Block ends this device's time only and stops it \
         from buying again.",
        &format!(
            "{}{pages}",
            post_form(
                call,
                "/sessions/revoke",
                &[],
                &format!("{extend_by}{online}")
            )
        ),
    );
    let ended: Vec<Vec<String>> = recent
        .iter()
        .filter(|s| !s.is_active())
        .map(|s| {
            vec![
                device(&names, s.mac),
                esc(&s.terms.package_name),
                local_time(ctx, s.started_at),
                s.ended_at.map(|t| local_time(ctx, t)).unwrap_or_default(),
                s.end_reason
                    .unwrap_or(crate::core::sessions::EndReason::Time)
                    .words()
                    .to_string(),
                format_bytes(s.bytes_used()),
            ]
        })
        .collect();
    body.push_str(&section(
        "Recent sessions",
        "",
        &table(
            &["Device", "Package", "Started", "Ended", "Why", "Data"],
            &ended,
            "No session has ended yet.",
            &[5],
        ),
    ));
    let blocked_rows: Vec<Vec<String>> = blocked
        .iter()
        .take(500)
        .map(|d| {
            vec![
                device(&names, d.mac),
                d.last_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                ui::row_button(
                    None,
                    "mac",
                    &d.mac.to_string(),
                    "Unblock",
                    "cbi-button-positive",
                ),
            ]
        })
        .collect();
    let blocked = table(
        &["Device", "Last IP", ""],
        &blocked_rows,
        "No device is blocked.",
        &[],
    );
    body.push_str(&section(
        "Blocked devices",
        "",
        &post_form(call, "/devices/unblock", &[], &blocked),
    ));
    body.push_str(&always_allowed(call, &names));
    ui::page(
        call,
        Tab::Guests,
        "Guests",
        "Devices on the guest Wi-Fi with time. Names come from the devices themselves (DHCP).",
        &body,
    )
}

/// The "Always allowed" section: the allow-list (`list allow_mac`) with a remove button per
/// device, and a form to add one.
fn always_allowed(call: &Call, names: &[(Mac, String)]) -> String {
    let config = call.ctx.app.config();
    let rows: Vec<Vec<String>> = config
        .gateway
        .allow_macs
        .iter()
        .map(|mac| {
            let remove =
                ui::row_button(None, "mac", &mac.to_string(), "Remove", "cbi-button-remove");
            vec![device(names, *mac), remove]
        })
        .collect();
    let list = table(&["Device", ""], &rows, "No device is always allowed.", &[]);
    let add = format!(
        "<p>{} <button class=\"cbi-button cbi-button-add\">Allow</button></p>",
        ui::input(
            "mac",
            "",
            "placeholder=\"aa:bb:cc:dd:ee:ff\" style=\"width:auto\""
        )
    );
    section(
        "Always allowed",
        "Devices that never pay: a till, a TV, your phone. A MAC address can be copied, so \
         list only devices you trust on a network where that matters little.",
        &format!(
            "{}{}",
            post_form(call, "/devices/disallow", &[], &list),
            post_form(call, "/devices/allow", &[], &add)
        ),
    )
}

/// Adds a device to the allow-list or takes it off (the config file, through `edit_config`).
pub(crate) fn allow(call: &Call, allowed: bool) -> Response {
    let Ok(mac) = call.field("mac").parse::<Mac>() else {
        return call.fail(
            "/guests",
            "Not saved: that is not a MAC address (aa:bb:cc:dd:ee:ff).",
        );
    };
    let verb = if allowed {
        "allowed"
    } else {
        "no longer allowed"
    };
    let what = format!("{mac} {verb} without paying");
    let result = crate::web::admin::settings::edit_config(call, &what, &mut |file| {
        crate::core::uci_write::set_allowed(file, mac, allowed);
        Ok(())
    });
    let done = format!("{mac} is {verb} without paying.");
    crate::web::admin::settings::after_edit(call, "/guests", &done, result, None)
}

fn session_id(call: &Call) -> Option<u64> {
    call.field("id").parse().ok()
}

pub(crate) fn kick(call: &Call) -> Response {
    let Some(id) = session_id(call) else {
        return refuse(400, "bad session id");
    };
    match call.ctx.app.revoke_session(id) {
        Ok(true) => call.back("/guests", format!("Session {id} ended.")),
        Ok(false) => call.warn("/guests", "That session had already ended."),
        Err(e) => store_error(e),
    }
}

pub(crate) fn extend(call: &Call) -> Response {
    let (Some(id), Ok(minutes)) = (session_id(call), call.field("minutes").parse::<u64>()) else {
        return refuse(400, "bad request");
    };
    match call.ctx.app.extend_session(id, minutes) {
        Ok(Some(s)) => call.back(
            "/guests",
            format!(
                "Session {id} now ends at {}.",
                local_time(call.ctx, s.deadline)
            ),
        ),
        Ok(None) => call.warn("/guests", "That session had already ended."),
        Err(crate::app::OwnerError::OutOfRange(text)) => refuse(400, &text),
        Err(e) => store_error(e),
    }
}

pub(crate) fn block(call: &Call, blocked: bool) -> Response {
    let Ok(mac) = call.field("mac").parse::<Mac>() else {
        return refuse(400, "bad MAC address");
    };
    match call.ctx.app.set_blocked(mac, blocked) {
        Ok(()) if blocked => call.back("/guests", format!("{mac} is blocked.")),
        Ok(()) => call.back("/guests", format!("{mac} may buy again.")),
        Err(e) => store_error(e),
    }
}

#[cfg(feature = "simulator")]
pub fn simulator(call: &Call) -> Response {
    let Some(sim) = &call.ctx.simulator else {
        return refuse(404, "not found");
    };
    match call.field("code").parse::<i64>() {
        Ok(code) => {
            sim.decline_next(code);
            call.back(
                "/",
                format!(
                    "The next simulated payment will end: {}.",
                    crate::app::mpesa::decline_words(Some(
                        crate::core::payments::Decline::from_result_code(code)
                    ))
                ),
            )
        }
        Err(_) => refuse(400, "bad code"),
    }
}

/// Event kinds by what the owner looks for.
fn event_group(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("payment") || k.starts_with("sms_claim") => "payments",
        "pull_paid" | "qr_paid" => "payments",
        k if k.starts_with("session") || k.starts_with("voucher_redeemed") => "sessions",
        "account_login" | "trial_granted" => "sessions",
        "spoofing" | "owner_lockout" | "device_blocked" | "device_unblocked" => "security",
        k if k.starts_with("owner") => "security",
        _ => "owner",
    }
}

/// An event's badge: its colour by what it means to the owner (green: money in or a sale;
/// orange: a sale that did not happen; red: something to act on; blue: guests coming and
/// going; grey: routine) and its words.
fn event_label(kind: &str) -> (&'static str, String) {
    let class = match kind {
        "payment_paid" | "sms_claim_approved" | "voucher_redeemed" => "success",
        "pull_paid" | "qr_paid" => "success",
        "payment_failed" | "sms_claim_rejected" | "device_blocked" => "warning",
        "payment_rejected" | "payment_interrupted" | "spoofing" | "owner_lockout" => "important",
        k if k.starts_with("session") || k.starts_with("account_login") => "notice",
        "trial_granted" => "notice",
        _ => "",
    };
    let words = match kind {
        "owner_signin" => "signed in".into(),
        "owner_password" => "owner password".into(),
        "owner_lockout" => "locked out".into(),
        "sms_claim" => "SMS pasted".into(),
        k => k.replace('_', " "),
    };
    (class, words)
}

pub(crate) fn events(call: &Call) -> Response {
    let ctx = call.ctx;
    let filter = call.param("show").unwrap_or_default();
    let events = match ctx.app.store.read(|r| r.recent_events(1000)) {
        Ok(e) => e,
        Err(e) => return store_error(e),
    };
    let names = ctx.app.env.neighbours.hostnames();
    let tabs = [
        ("", "All"),
        ("sessions", "Grants and expiries"),
        ("payments", "Payments"),
        ("security", "Spoofing and security"),
        ("owner", "Owner changes"),
    ];
    let mut body = String::from("<ul class=\"cbi-tabmenu\">");
    for (key, title) in tabs {
        let class = if key == filter {
            " class=\"cbi-tab\""
        } else {
            ""
        };
        body.push_str(&format!(
            "<li{class}><a href=\"/events?show={key}\">{title}</a></li>"
        ));
    }
    body.push_str("</ul>");
    let shown: Vec<&crate::store::Event> = events
        .iter()
        .filter(|e| filter.is_empty() || event_group(&e.kind) == filter)
        .collect();
    let (range, pages) = ui::pager(
        &format!("/events?show={}&", esc(&filter)),
        call.param("page"),
        shown.len(),
    );
    let rows: Vec<Vec<String>> = shown
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let (class, words) = event_label(&e.kind);
            vec![
                local_time(ctx, e.at),
                label(class, &words),
                e.mac.map(|m| device(&names, m)).unwrap_or_default(),
                esc(&e.detail),
            ]
        })
        .collect();
    let events = table(
        &["When", "What", "Device", "Detail"],
        &rows,
        "Nothing yet.",
        &[],
    );
    body.push_str(&section("Recent events", "", &format!("{events}{pages}")));
    ui::page(
        call,
        Tab::Events,
        "Events",
        "What lango did and saw: grants, expiries, payments, spoofing and abuse, owner changes.",
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_by_kind() {
        assert_eq!(event_group("payment_paid"), "payments");
        assert_eq!(event_group("spoofing"), "security");
        assert_eq!(event_group("session_ended"), "sessions");
        assert_eq!(event_group("vouchers_generated"), "owner");
        assert_eq!(event_label("payment_failed").0, "warning");
        assert_eq!(event_label("owner_signin"), ("", "signed in".into()));
        assert_eq!(event_label("spoofing").0, "important");
        // Money confirmed through Pull (a till payment, a QR) is money in.
        for kind in ["pull_paid", "qr_paid"] {
            assert_eq!(
                (event_group(kind), event_label(kind).0),
                ("payments", "success")
            );
        }
    }

    #[test]
    fn bars_fill_with_what_they_say() {
        let row = usage(750_000_000, 1_000_000_000);
        assert!(row.starts_with("25% used · 750"), "{row}");
        assert!(
            row.contains("title=\"25% used\"><div style=\"width:25%\">"),
            "{row}"
        );
    }
}
