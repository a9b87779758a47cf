//! The owner page's look, in the manner of LuCI's default theme (luci-theme-bootstrap's
//! `cascade.css`: dark header, 940 px content, Helvetica 13/18 px, primary blue #1976d2):
//! the page frame with its dark header and tabs, sections, value rows, tables, buttons,
//! alerts, labels, and an inline SVG bar chart. Pure string building: every owner- or
//! guest-supplied text passes through `esc` here or at the caller. No external assets.

use rouille::Response;

use super::Ctx;
use crate::core::auth::Notice;
use crate::core::model::Money;
use crate::core::time::Timestamp;
use crate::web::admin::Call;
use crate::web::http::{esc, fill};

const TEMPLATE: &str = include_str!("../../../www/admin.html");

/// The owner page's tabs, in the header's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tab {
    Dashboard,
    Guests,
    Payments,
    Vouchers,
    Packages,
    Accounts,
    Events,
    Settings,
}

const TABS: [(Tab, &str, &str); 8] = [
    (Tab::Dashboard, "/", "Dashboard"),
    (Tab::Guests, "/guests", "Guests"),
    (Tab::Payments, "/payments", "Payments"),
    (Tab::Vouchers, "/vouchers", "Vouchers"),
    (Tab::Packages, "/packages", "Packages"),
    (Tab::Accounts, "/accounts", "Accounts"),
    (Tab::Events, "/events", "Events"),
    (Tab::Settings, "/settings", "Settings"),
];

fn frame(ctx: &Ctx, title: &str, nav: &str, body: &str, refresh: Option<u32>) -> String {
    let config = ctx.app.config();
    let now = ctx.app.time().now;
    let refresh = refresh
        .map(|secs| format!("<meta http-equiv=\"refresh\" content=\"{secs}\">\n"))
        .unwrap_or_default();
    fill(
        TEMPLATE,
        &[
            ("refresh", &refresh),
            ("title", &esc(title)),
            ("brand", &esc(&config.brand.name)),
            ("nav", nav),
            ("version", env!("CARGO_PKG_VERSION")),
            ("now", &local_time(ctx, now)),
            ("body", body),
        ],
    )
}

/// Owner-page HTML: never cached, and forms carry their Origin (Referrer-Policy same-origin).
pub(crate) fn html(text: String) -> Response {
    Response::html(text).with_unique_header("Referrer-Policy", "same-origin")
}

/// A signed-in page: header with the tabs and sign-out, the page title and description, a
/// one-time notice, then `body`.
pub(crate) fn page(call: &Call, tab: Tab, title: &str, descr: &str, body: &str) -> Response {
    page_refresh(call, tab, title, descr, body, None)
}

pub(crate) fn page_refresh(
    call: &Call,
    tab: Tab,
    title: &str,
    descr: &str,
    body: &str,
    refresh: Option<u32>,
) -> Response {
    let mut nav = String::from("<ul id=\"topmenu\">");
    for (t, href, label) in TABS {
        let class = if t == tab { " class=\"active\"" } else { "" };
        nav.push_str(&format!("<li><a href=\"{href}\"{class}>{label}</a></li>"));
    }
    nav.push_str("</ul><div id=\"indicators\">");
    nav.push_str(&post_form(
        call,
        "/signout",
        &[],
        "<button title=\"Sign out\">Sign out</button>",
    ));
    nav.push_str("</div>");
    let mut out = format!("<h2>{}</h2>", esc(title));
    if !descr.is_empty() {
        out.push_str(&format!("<div class=\"cbi-map-descr\">{descr}</div>"));
    }
    if let Some((kind, notice)) = call.take_flash() {
        let class = match kind {
            Notice::Success => "success",
            Notice::Warning => "warning",
            Notice::Error => "error",
        };
        out.push_str(&alert(class, &esc(&notice)));
    }
    out.push_str(body);
    html(frame(call.ctx, title, &nav, &out, refresh))
}

/// The sign-in page (or, on first run, the page that sets the owner password).
pub(crate) fn signin(ctx: &Ctx, first_run: bool, notice: Option<&str>) -> Response {
    let mut body = String::new();
    if let Some(text) = notice {
        body.push_str(&alert("error", &esc(text)));
    }
    if first_run {
        body.push_str(
            "<h2>Welcome</h2><div class=\"cbi-map-descr\">Choose the owner password for this \
             router's Wi-Fi business. It protects your payments, vouchers and guests: use at \
             least 8 characters, better a few words. You can change it later in Settings, or \
             on the router with <code>lango passwd</code>.</div>\
             <form method=\"post\" action=\"/setup\" class=\"cbi-section\"><h3>Owner password</h3>",
        );
        body.push_str(&value_row(
            "Setup code",
            "<input name=\"code\" autocomplete=\"off\" autofocus required>",
            "Proves you own this router. Shown on the router by <code>logread -e lango</code>, \
             <code>ubus call lango setup_code</code> or <code>lango passwd --code</code>.",
        ));
        body.push_str(&value_row(
            "Password",
            "<input type=\"password\" name=\"password\" autocomplete=\"new-password\" required minlength=\"8\">",
            "",
        ));
        body.push_str(&value_row(
            "Again",
            "<input type=\"password\" name=\"again\" autocomplete=\"new-password\" required minlength=\"8\">",
            "",
        ));
        body.push_str(&form_actions("apply", "Set password and sign in", None));
        body.push_str("</form>");
    } else {
        body.push_str(
            "<h2>Authorization Required</h2><div class=\"cbi-map-descr\">Please enter the owner \
             password.</div><form method=\"post\" action=\"/signin\" class=\"cbi-section\"><h3>Sign in</h3>",
        );
        body.push_str(&value_row(
            "Password",
            "<input type=\"password\" name=\"password\" autocomplete=\"current-password\" autofocus required>",
            "",
        ));
        body.push_str(&form_actions("apply", "Sign in", None));
        body.push_str("</form>");
    }
    html(frame(ctx, "Sign in", "", &body, None))
}

/// A form that posts to `action` with the session's CSRF token and `hidden` fields.
pub(crate) fn post_form(call: &Call, action: &str, hidden: &[(&str, &str)], inner: &str) -> String {
    let mut out = format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(action),
        esc(&call.csrf)
    );
    for (name, value) in hidden {
        out.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(name),
            esc(value)
        ));
    }
    out.push_str(inner);
    out.push_str("</form>");
    out
}

/// A one-button form (kick, revoke, approve...). `class` is a LuCI button class.
pub(crate) fn button(
    call: &Call,
    action: &str,
    hidden: &[(&str, &str)],
    label: &str,
    class: &str,
) -> String {
    post_form(
        call,
        action,
        hidden,
        &format!(
            "<button class=\"cbi-button {class}\">{}</button>",
            esc(label)
        ),
    )
}

/// A submit button for a table inside one `post_form`: it sends `name=value`, to the form's
/// action or to `formaction` (one CSRF field per table instead of one per row).
pub(crate) fn row_button(
    formaction: Option<&str>,
    name: &str,
    value: &str,
    label: &str,
    class: &str,
) -> String {
    let action = formaction
        .map(|a| format!(" formaction=\"{}\"", esc(a)))
        .unwrap_or_default();
    format!(
        "<button class=\"cbi-button {class}\"{action} name=\"{}\" value=\"{}\">{}</button>",
        esc(name),
        esc(value),
        esc(label)
    )
}

/// Rows per page in long lists (a page stays well under 60 KB).
pub(crate) const PER_PAGE: usize = 50;

/// Which slice of `total` rows page `page` (from `?page=`, 1-based) shows, and the links to
/// the neighbouring pages. `base` is the page's URL ending in `?` or `&`.
pub(crate) fn pager(
    base: &str,
    page: Option<String>,
    total: usize,
) -> (std::ops::Range<usize>, String) {
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = page
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let start = (page - 1) * PER_PAGE;
    let range = start..(start + PER_PAGE).min(total);
    if pages == 1 {
        return (range, String::new());
    }
    let mut nav = format!(
        "<p class=\"muted\">{}-{} of {total} ",
        range.start + 1,
        range.end
    );
    if page > 1 {
        nav.push_str(&format!(
            "<a class=\"cbi-button\" href=\"{}page={}\">Previous</a> ",
            esc(base),
            page - 1
        ));
    }
    if page < pages {
        nav.push_str(&format!(
            "<a class=\"cbi-button\" href=\"{}page={}\">Next</a>",
            esc(base),
            page + 1
        ));
    }
    nav.push_str("</p>");
    (range, nav)
}

/// A LuCI value row: label on the left, field on the right, help below.
pub(crate) fn value_row(title: &str, field: &str, help: &str) -> String {
    let help = if help.is_empty() {
        String::new()
    } else {
        format!("<div class=\"cbi-value-description\">{help}</div>")
    };
    format!(
        "<div class=\"cbi-value\"><label class=\"cbi-value-title\">{}</label>\
         <div class=\"cbi-value-field\">{field}{help}</div></div>",
        esc(title)
    )
}

/// A text input with an escaped value.
pub(crate) fn input(name: &str, value: &str, extra: &str) -> String {
    format!(
        "<input name=\"{}\" value=\"{}\" {extra}>",
        esc(name),
        esc(value)
    )
}

/// A select with escaped options; `options` are (value, label).
pub(crate) fn select(name: &str, options: &[(String, String)], selected: &str) -> String {
    let mut out = format!("<select name=\"{}\">", esc(name));
    for (value, label) in options {
        let sel = if value == selected { " selected" } else { "" };
        out.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(label)
        ));
    }
    out.push_str("</select>");
    out
}

/// A section with a title, a description and content.
pub(crate) fn section(title: &str, descr: &str, content: &str) -> String {
    let descr = if descr.is_empty() {
        String::new()
    } else {
        format!("<div class=\"cbi-section-descr\">{descr}</div>")
    };
    format!(
        "<div class=\"cbi-section\"><h3>{}</h3>{descr}{content}</div>",
        esc(title)
    )
}

/// A table: `titles` are plain words; cells are HTML the caller escaped. `num` marks columns
/// aligned right (by index).
/// On a phone each row becomes a block whose cells are labelled with their titles (LuCI's
/// mobile tables).
pub(crate) fn table(titles: &[&str], rows: &[Vec<String>], empty: &str, num: &[usize]) -> String {
    let mut out =
        String::from("<div class=\"table-wrap\"><table class=\"table cbi-section-table\"><tr>");
    for (idx, t) in titles.iter().enumerate() {
        let class = if num.contains(&idx) {
            " class=\"num\""
        } else {
            ""
        };
        out.push_str(&format!("<th{class}>{}</th>", esc(t)));
    }
    out.push_str("</tr>");
    if rows.is_empty() {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\" class=\"muted\">{}</td></tr>",
            titles.len().max(1),
            esc(empty)
        ));
    }
    for row in rows {
        out.push_str("<tr>");
        for (idx, cell) in row.iter().enumerate() {
            let class = if num.contains(&idx) {
                " class=\"num\""
            } else {
                ""
            };
            let title = match titles.get(idx) {
                Some(t) if !t.is_empty() && !cell.is_empty() => {
                    format!(" data-title=\"{}\"", esc(t))
                }
                _ => String::new(),
            };
            out.push_str(&format!("<td{class}{title}>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
    out
}

/// A two-column key/value table like LuCI's status overview.
pub(crate) fn kv(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<div class=\"table-wrap\"><table class=\"table\">");
    for (k, v) in rows {
        out.push_str(&format!(
            "<tr><td class=\"left\">{}</td><td>{v}</td></tr>",
            esc(k)
        ));
    }
    out.push_str("</table></div>");
    out
}

pub(crate) fn alert(class: &str, html: &str) -> String {
    format!("<div class=\"alert-message {class}\">{html}</div>")
}

/// A form's action bar: an optional Cancel link back to `cancel`, then the submit button of
/// LuCI class `kind` (save, apply, add) with `text`.
pub(crate) fn form_actions(kind: &str, text: &str, cancel: Option<&str>) -> String {
    let cancel = cancel
        .map(|href| {
            format!(
                "<a class=\"cbi-button cbi-button-reset\" href=\"{}\">Cancel</a> ",
                esc(href)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"cbi-page-actions\">{cancel}<button class=\"cbi-button cbi-button-{kind} \
         important\">{}</button></div>",
        esc(text)
    )
}

/// A LuCI label badge.
pub(crate) fn label(class: &str, text: &str) -> String {
    format!("<span class=\"label {class}\">{}</span>", esc(text))
}

/// A progress bar with a title (percent 0-100).
pub(crate) fn progress(percent: u64, title: &str) -> String {
    format!(
        "<div class=\"cbi-progressbar\" title=\"{}\"><div style=\"width:{}%\"></div></div>",
        esc(title),
        percent.min(100)
    )
}

/// Money with the shop's currency, escaped.
pub(crate) fn money(ctx: &Ctx, amount: Money) -> String {
    esc(&ctx.app.owner_money(amount))
}

/// A timestamp in the owner's local time (`utc_offset`).
pub(crate) fn local_time(ctx: &Ctx, ts: Timestamp) -> String {
    ctx.app.owner_time(ts)
}

/// Bytes per second as bits per second, for "current speed".
pub(crate) fn speed(bytes_per_sec: u64) -> String {
    let bits = bytes_per_sec.saturating_mul(8);
    match bits {
        0..=999 => format!("{bits} bit/s"),
        1000..=999_999 => format!("{} kbit/s", (bits + 500) / 1000),
        _ => {
            let tenths = (bits + 50_000) / 100_000;
            format!("{}.{} Mbit/s", tenths / 10, tenths % 10)
        }
    }
}

/// A store failure on an owner page: logged, and a plain 500.
pub(crate) fn store_error(e: impl std::fmt::Display) -> Response {
    log::error!("owner page: {e}");
    Response::text("store error").with_status_code(500)
}

/// The DHCP name of `mac`, if it sent one.
pub(crate) fn device_name(
    names: &[(crate::core::model::Mac, String)],
    mac: crate::core::model::Mac,
) -> Option<&str> {
    names
        .iter()
        .find(|(m, _)| *m == mac)
        .map(|(_, n)| n.as_str())
}

/// A device's name from its DHCP request (guest-chosen: escaped here) and its MAC.
pub fn device(names: &[(crate::core::model::Mac, String)], mac: crate::core::model::Mac) -> String {
    match device_name(names, mac) {
        Some(name) => format!("{}<br><code class=\"muted\">{mac}</code>", esc(name)),
        None => format!("<code>{mac}</code>"),
    }
}

/// An inline SVG bar chart of `bars` (label, value in minor units), with the highest value
/// written at the top and every seventh label under its bar. Scales to the page's width.
pub(crate) fn bar_chart(bars: &[(String, i64)], unit: &str) -> String {
    let (w, h, left, bottom, top) = (600i64, 180i64, 44i64, 20i64, 12i64);
    let n = bars.len().max(1) as i64;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let slot = (w - left) / n;
    let bar_w = (slot - 2).max(1);
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Helvetica,Arial,sans-serif\" \
         font-size=\"10\" fill=\"#808080\">",
        esc(&format!("Revenue per day ({unit})"))
    );
    let plot = h - bottom - top;
    out.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#ddd\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{w}\" y2=\"{top}\" stroke=\"#eee\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        h - bottom,
        h - bottom,
        left - 4,
        top + 4,
        esc(&Money(max).major_ceil().to_string()),
        left - 4,
        h - bottom
    ));
    for (idx, (label, value)) in bars.iter().enumerate() {
        let idx = idx as i64;
        let bar_h = (value.max(&0) * plot / max).max(i64::from(*value > 0));
        let x = left + idx * slot + 1;
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar_w}\" height=\"{bar_h}\" fill=\"#1976d2\">\
             <title>{}: {} {}</title></rect>",
            h - bottom - bar_h,
            esc(label),
            esc(unit),
            Money(*value)
        ));
        if (n - 1 - idx) % 7 == 0 {
            out.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar_w / 2,
                h - 6,
                esc(label)
            ));
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_scales_and_escapes() {
        let bars: Vec<(String, i64)> = (0..30).map(|d| (format!("01-{d:02}"), d * 1000)).collect();
        let svg = bar_chart(&bars, "<KES>");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(!svg.contains("<KES>") && svg.contains("&lt;KES&gt;"));
        assert!(svg.contains(">290<"), "the top of the scale in major units");
        assert!(svg.len() < 8000, "{}", svg.len());
        let empty = bar_chart(&[], "KES");
        assert!(empty.contains("</svg>"));
    }

    #[test]
    fn pages_of_fifty() {
        let (range, nav) = pager("/vouchers?", None, 20);
        assert_eq!((range, nav), (0..20, String::new()));
        let (range, nav) = pager("/vouchers?batch=b&", Some("3".into()), 120);
        assert_eq!(range, 100..120);
        assert!(nav.contains("101-120 of 120") && nav.contains("batch=b&amp;page=2"));
        assert!(!nav.contains("Next"));
        assert_eq!(pager("/x?", Some("junk".into()), 120).0, 0..50);
        assert_eq!(pager("/x?", Some("99".into()), 120).0, 100..120);
    }

    #[test]
    fn tables_escape_titles_and_mark_empty() {
        let t = table(&["<a>"], &[], "nothing <yet>", &[]);
        assert!(t.contains("&lt;a&gt;") && t.contains("nothing &lt;yet&gt;"));
        assert_eq!(speed(125_000), "1.0 Mbit/s");
        assert_eq!(speed(100), "800 bit/s");
    }
}
