//! Settings on the owner page: M-Pesa credentials (secrets are never shown back: a blank field
//! keeps the stored value) and the connection test, branding, language and network, and the
//! owner password. Also `edit_config`, the one way the owner page changes `/etc/config/lango`
//! (through `app::reconfigure::edit_file`: parse the file, edit it (`uci_write`), validate the
//! result with `config::parse`, write it atomically, then apply it live), refusing an edit that
//! would shut the owner's own address out of this page.

use rouille::Response;

use crate::core::auth;
use crate::core::config::{Cidr, MpesaEnvironment, MpesaKind};
use crate::core::uci::UciFile;
use crate::core::uci_write::{set_section_list, set_section_option};
use crate::web::admin::ui::{
    self as ui, alert, form_actions, input, post_form, section, select, value_row, Tab,
};
use crate::web::admin::{refuse, Call};
use crate::web::http::esc;

/// Edits the config file with `edit`, then validates, writes and applies it. `Err` is a
/// message for the owner (every problem, escaped), and nothing was written.
pub(crate) fn edit_config(
    call: &Call,
    what: &str,
    edit: &mut dyn FnMut(&mut UciFile) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    edit_config_from(call.ctx, call.ip, what, edit)
}

/// `edit_config` for a caller without a page (the JSON API): the owner page's context and the
/// caller's address, which must stay inside `admin_allow`.
pub(crate) fn edit_config_from(
    ctx: &crate::web::admin::Ctx,
    ip: std::net::IpAddr,
    what: &str,
    edit: &mut dyn FnMut(&mut UciFile) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    let Some(path) = &ctx.config_path else {
        return Err(
            "This lango was started without a config file, so it cannot be changed \
                    here."
                .into(),
        );
    };
    let keeps_caller = |config: &crate::core::config::Config| {
        if config
            .gateway
            .admin_allow
            .iter()
            .any(|net| net.contains(ip))
        {
            Ok(())
        } else {
            Err(format!(
                "Refused: {ip} would no longer be allowed to open this page."
            ))
        }
    };
    crate::app::reconfigure::edit_file(
        &ctx.app,
        ctx.gateway.as_deref(),
        path,
        &format!("{what} (owner page)"),
        edit,
        &keeps_caller,
    )
}

/// Goes back to `path` with the outcome of an edit: a warning when part of it waits for a
/// restart. A refused edit shows `page` again with the form as typed, when there is one.
pub(crate) fn after_edit(
    call: &Call,
    path: &str,
    done: &str,
    result: Result<Vec<String>, String>,
    page: Option<fn(&Call) -> Response>,
) -> Response {
    match (result, page) {
        (Ok(notes), _) if notes.is_empty() => call.back(path, done),
        (Ok(notes), _) => call.warn(path, format!("{done} {}", notes.join(" "))),
        (Err(problem), Some(page)) => call.fail_here(format!("Not saved: {problem}"), page),
        (Err(problem), None) => call.fail(path, format!("Not saved: {problem}")),
    }
}

/// What the settings page says about a stored credential: whether it is set and, for the
/// consumer key only (an account name rather than a secret), its first four characters. The
/// consumer secret and the passkey are never shown, not even in part.
fn masked(value: &str, hint: bool) -> String {
    if value.is_empty() || value == "CHANGE_ME" {
        return "not set".into();
    }
    if hint {
        let shown: String = value.chars().take(4).collect();
        return format!("{shown}… (set)");
    }
    "set".into()
}

pub(crate) fn settings(call: &Call) -> Response {
    let ctx = call.ctx;
    let config = ctx.app.config();
    let mut body = String::new();
    if ctx.config_path.is_none() {
        body.push_str(&alert(
            "warning",
            "This lango runs without a config file: settings can be read here but not saved.",
        ));
    }
    body.push_str(&mpesa_section(call));
    #[cfg(feature = "airtel")]
    body.push_str(&crate::web::admin::wallets::sections(call));
    let brand = &config.brand;
    let languages = vec![
        ("en".to_string(), "English".to_string()),
        ("sw".to_string(), "Kiswahili".to_string()),
    ];
    let mut fields = value_row(
        "Name",
        &input(
            "name",
            &call.kept("name", &brand.name),
            "required maxlength=\"60\"",
        ),
        "Shown at the top of the portal and on vouchers.",
    );
    fields.push_str(&value_row(
        "Colour",
        &input(
            "colour",
            &call.kept("colour", &brand.colour),
            "type=\"color\" style=\"width:60px;padding:2px\"",
        ),
        "",
    ));
    fields.push_str(&value_row(
        "Phone",
        &input(
            "phone",
            &call.kept("phone", brand.phone.as_deref().unwrap_or("")),
            "maxlength=\"40\"",
        ),
        "How guests reach you (optional).",
    ));
    fields.push_str(&value_row(
        "Email",
        &input(
            "email",
            &call.kept("email", brand.email.as_deref().unwrap_or("")),
            "maxlength=\"80\"",
        ),
        "",
    ));
    fields.push_str(&value_row(
        "Terms and privacy",
        &input(
            "terms_url",
            &call.kept("terms_url", brand.terms_url.as_deref().unwrap_or("")),
            "type=\"url\" maxlength=\"200\" placeholder=\"https://\"",
        ),
        "The address of your terms, linked from the portal (optional).",
    ));
    fields.push_str(&value_row(
        "Portal language",
        &select("language", &languages, config.gateway.language.code()),
        "What guests see first; they can switch on the portal.",
    ));
    fields.push_str(&value_row(
        "Time zone",
        &input(
            "utc_offset",
            &call.kept("utc_offset", &offset_text(config.gateway.utc_offset_secs)),
            "maxlength=\"6\" style=\"width:90px\"",
        ),
        "Your offset from UTC, for days on the dashboard and payments (Kenya: +03:00).",
    ));
    fields.push_str(&form_actions("save", "Save", None));
    body.push_str(&section(
        "Branding and language",
        "",
        &post_form(call, "/settings/brand", &[], &fields),
    ));
    let gw = &config.gateway;
    let allow: Vec<String> = gw.admin_allow.iter().map(cidr_text).collect();
    let mut fields = value_row(
        "Owner page allowed from",
        &format!(
            "<textarea name=\"admin_allow\" rows=\"3\">{}</textarea>",
            esc(&call.kept("admin_allow", &allow.join("\n")))
        ),
        &format!(
            "One address or network per line (your LAN, never the guest network). You are {}.",
            esc(&call.ip.to_string())
        ),
    );
    fields.push_str(&value_row(
        "Guest network",
        &input(
            "interface",
            &call.kept("interface", &gw.interface),
            "maxlength=\"32\"",
        ),
        "The OpenWrt interface guests are on (takes effect after a restart).",
    ));
    fields.push_str(&value_row(
        "Guest device",
        &input(
            "device",
            &call.kept("device", &gw.device),
            "maxlength=\"15\"",
        ),
        "Its Linux device, like br-lan (after a restart).",
    ));
    fields.push_str(&value_row(
        "Portal address",
        &input(
            "portal_addr",
            &call.kept("portal_addr", &gw.portal_addr.to_string()),
            "maxlength=\"45\"",
        ),
        "The router's address on the guest network (after a restart).",
    ));
    fields.push_str(&form_actions("save", "Save", None));
    body.push_str(&section(
        "Interfaces",
        "",
        &post_form(call, "/settings/network", &[], &fields),
    ));
    if ctx.config_path.is_some() {
        body.push_str(&guest_network_section(
            call,
            &gw.interface,
            &config.brand.name,
        ));
    }
    let mut fields = value_row(
        "Current password",
        "<input type=\"password\" name=\"current\" autocomplete=\"current-password\" required>",
        "",
    );
    fields.push_str(&value_row("New password", "<input type=\"password\" name=\"password\" autocomplete=\"new-password\" required minlength=\"8\">", "At least 8 characters; a few words are best."));
    fields.push_str(&value_row("Again", "<input type=\"password\" name=\"again\" autocomplete=\"new-password\" required minlength=\"8\">", ""));
    fields.push_str(&form_actions("apply", "Change password", None));
    body.push_str(&section(
        "Owner password",
        "Other signed-in browsers are signed out.",
        &post_form(call, "/settings/password", &[], &fields),
    ));
    ui::page(call, Tab::Settings, "Settings", "Changes are written to /etc/config/lango (the same file uci and LuCI edit) and apply at once.", &body)
}

/// The guest network button: set one up while guests share `lan`, or remove lango's.
fn guest_network_section(call: &Call, interface: &str, brand: &str) -> String {
    if interface == "guest" {
        let fields = form_actions("danger", "Remove the guest network", None);
        return section(
            "Guest network",
            "Guests have their own network. Removing it puts lango back where it was.",
            &post_form(call, "/settings/guest-network", &[("undo", "1")], &fields),
        );
    }
    let mut fields = value_row(
        "Wi-Fi name",
        &input("ssid", brand, "maxlength=\"32\" required"),
        "On every radio, beside your own.",
    );
    fields.push_str(&value_row(
        "Wi-Fi password",
        &input("key", "", "maxlength=\"63\" minlength=\"8\""),
        "Empty: an open network (guests pay on the portal).",
    ));
    fields.push_str(&form_actions("apply", "Set up the guest network", None));
    section(
        "Guest network",
        &format!(
            "Guests are on '{}', beside your devices. Give them their own Wi-Fi, addresses \
             and firewall zone (lango setup-guest-network); yours stays as it is.",
            esc(interface)
        ),
        &post_form(call, "/settings/guest-network", &[], &fields),
    )
}

/// Runs `lango setup-guest-network` (or `--undo`) for the owner page; lango's own restart
/// waits until this answer is sent.
pub(crate) fn guest_network(call: &Call) -> Response {
    use crate::adapters::guest_network::{run, SCRIPT};
    use crate::adapters::sys::SystemRunner;
    use crate::core::guest_network::{parse, Request};
    let request = if call.field("undo") == "1" {
        Ok(Request::Undo)
    } else {
        let mut args = vec!["--ssid".to_string(), call.field("ssid").to_string()];
        if !call.field("key").is_empty() {
            args.extend(["--key".to_string(), call.field("key").to_string()]);
        }
        parse(&args, "")
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => return call.back("/settings", format!("Not done: {}.", e.message())),
    };
    if !std::path::Path::new(SCRIPT).exists() {
        return call.back("/settings", format!("Not done: {SCRIPT} is missing."));
    }
    let out = run(&SystemRunner, SCRIPT, &request, true);
    let text = format!("{}{}", out.stdout, out.stderr);
    match out.status {
        0 => call.back(
            "/settings",
            format!("{} lango restarts in a moment.", text.trim()),
        ),
        _ => call.back("/settings", format!("Not done: {}", text.trim())),
    }
}

fn offset_text(secs: i64) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
}

fn cidr_text(c: &Cidr) -> String {
    let full = if c.addr.is_ipv4() { 32 } else { 128 };
    if c.prefix == full {
        c.addr.to_string()
    } else {
        format!("{}/{}", c.addr, c.prefix)
    }
}

fn mpesa_section(call: &Call) -> String {
    use crate::app::mpesa::CheckStatus;
    let ctx = call.ctx;
    let config = ctx.app.config();
    // A disabled account (`option enabled '0'`) is shown as stored, to be turned on again.
    let m = config.mpesa.as_ref().or(config.mpesa_off.as_ref());
    let env = m
        .map(|m| m.environment)
        .unwrap_or(MpesaEnvironment::Sandbox);
    let kind = m.map(|m| m.kind).unwrap_or(MpesaKind::PayBill);
    let opt = |v: &str, l: &str| (v.to_string(), l.to_string());
    let envs = vec![
        opt("sandbox", "Sandbox (testing)"),
        opt("production", "Production (real money)"),
        opt("simulator", "Simulator (demo)"),
    ];
    let kinds = vec![opt("paybill", "PayBill"), opt("till", "Buy Goods till")];
    let env_text = env.name();
    let kind_text = if kind == MpesaKind::Till {
        "till"
    } else {
        "paybill"
    };
    let text = |f: fn(&crate::core::config::Mpesa) -> String| m.map(f).unwrap_or_default();
    // One string, not a `select`: this page is built for the MIPS routers too.
    let off = if config.mpesa_off.is_some() {
        " selected"
    } else {
        ""
    };
    let mut fields = value_row(
        "Offered",
        &format!(
            "<select name=\"enabled\"><option value=\"1\">On: offered to guests</option>\
             <option value=\"0\"{off}>Off</option></select>"
        ),
        "",
    );
    fields.push_str(&value_row(
        "Environment",
        &select("environment", &envs, env_text),
        "",
    ));
    fields.push_str(&value_row(
        "Account type",
        &select("type", &kinds, kind_text),
        "",
    ));
    fields.push_str(&value_row(
        "Shortcode",
        &input(
            "shortcode",
            &call.kept("shortcode", &text(|m| m.shortcode.clone())),
            "inputmode=\"numeric\" maxlength=\"10\"",
        ),
        "PayBill number, or the store (head office) number of a till.",
    ));
    fields.push_str(&value_row(
        "Till number",
        &input(
            "till",
            &call.kept("till", &text(|m| m.till.clone().unwrap_or_default())),
            "inputmode=\"numeric\" maxlength=\"10\"",
        ),
        "Buy Goods only.",
    ));
    fields.push_str(&value_row(
        "Account reference",
        &input(
            "account_reference",
            &call.kept("account_reference", &text(|m| m.account_reference.clone())),
            "maxlength=\"12\"",
        ),
        "What the customer's M-Pesa message shows.",
    ));
    for (name, title, value) in [
        (
            "consumer_key",
            "Consumer key",
            text(|m| m.consumer_key.clone()),
        ),
        (
            "consumer_secret",
            "Consumer secret",
            text(|m| m.consumer_secret.clone()),
        ),
        ("passkey", "Passkey", text(|m| m.passkey.clone())),
    ] {
        fields.push_str(&value_row(
            title,
            &format!(
                "<input type=\"password\" name=\"{name}\" autocomplete=\"off\" placeholder=\"{}\">",
                esc(&masked(&value, name == "consumer_key"))
            ),
            "Leave blank to keep what is stored; it is never shown here.",
        ));
    }
    fields.push_str(&value_row(
        "Callback URL",
        &input(
            "callback_url",
            &call.kept(
                "callback_url",
                &text(|m| m.callback_url.clone().unwrap_or_default()),
            ),
            "maxlength=\"200\"",
        ),
        "Optional: your public address, if Safaricom can reach this router.",
    ));
    fields.push_str(&form_actions("save", "Save", None));
    let mut out = post_form(call, "/settings/mpesa", &[], &fields);
    out.push_str(&post_form(call, "/mpesa/check", &[], "<p><button class=\"cbi-button cbi-button-action\">Test M-Pesa connection</button> <span class=\"muted\">Asks Daraja to check the keys, shortcode and passkey; nobody is prompted.</span></p>"));
    match ctx.app.mpesa_check_status() {
        CheckStatus::Never => {}
        CheckStatus::Running { since } => out.push_str(&format!(
            "<p class=\"muted\">Testing since {}... reload in a few seconds.</p>",
            ui::local_time(ctx, since)
        )),
        CheckStatus::Done { at, steps } => {
            let rows: Vec<Vec<String>> = steps
                .iter()
                .map(|s| {
                    vec![
                        if s.ok {
                            ui::label("success", "ok")
                        } else {
                            ui::label("important", "problem")
                        },
                        esc(&s.what),
                        esc(&s.detail),
                    ]
                })
                .collect();
            out.push_str(&format!("<p>Test of {}:</p>", ui::local_time(ctx, at)));
            out.push_str(&ui::table(&["", "Step", "Detail"], &rows, "", &[]));
        }
    }
    section("M-Pesa", "The Daraja account guests pay into.", &out)
}

pub(crate) fn mpesa_check(call: &Call) -> Response {
    if call.ctx.app.start_mpesa_check() {
        call.back(
            "/settings",
            "Testing the M-Pesa connection; the result appears below in a few seconds.",
        )
    } else {
        call.warn("/settings", "A test is already running.")
    }
}

pub(crate) fn save_mpesa(call: &Call) -> Response {
    let fields: Vec<(&str, String)> = [
        "enabled",
        "environment",
        "type",
        "shortcode",
        "till",
        "account_reference",
        "callback_url",
    ]
    .iter()
    .map(|name| (*name, call.field(name).to_string()))
    .collect();
    let secrets: Vec<(&str, String)> = ["consumer_key", "consumer_secret", "passkey"]
        .iter()
        .map(|name| (*name, call.field(name).to_string()))
        .collect();
    let result = edit_config(call, "M-Pesa settings changed", &mut |file| {
        for (name, value) in &fields {
            set_section_option(file, "mpesa", name, Some(value.as_str()));
        }
        for (name, value) in secrets.iter().filter(|(_, v)| !v.is_empty()) {
            set_section_option(file, "mpesa", name, Some(value.as_str()));
        }
        Ok(())
    });
    after_edit(
        call,
        "/settings",
        "M-Pesa settings saved.",
        result,
        Some(settings),
    )
}

pub(crate) fn save_brand(call: &Call) -> Response {
    let offset = match crate::core::config::parse_utc_offset(call.field("utc_offset")) {
        Ok(secs) => offset_text(secs),
        Err(e) => return call.fail_here(format!("Not saved: {e}"), settings),
    };
    let values: Vec<(&str, String)> = ["name", "colour", "phone", "email", "terms_url"]
        .iter()
        .map(|name| (*name, call.field(name).to_string()))
        .collect();
    let language = call.field("language").to_string();
    let result = edit_config(call, "branding changed", &mut |file| {
        for (name, value) in &values {
            set_section_option(file, "brand", name, Some(value.as_str()));
        }
        set_section_option(file, "gateway", "language", Some(&language));
        set_section_option(file, "gateway", "utc_offset", Some(&offset));
        Ok(())
    });
    after_edit(call, "/settings", "Branding saved.", result, Some(settings))
}

pub(crate) fn save_network(call: &Call) -> Response {
    let allow: Vec<String> = call
        .field("admin_allow")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if allow.is_empty() {
        return call.fail_here(
            "Not saved: list at least one address for the owner page.".into(),
            settings,
        );
    }
    let values: Vec<(&str, String)> = ["interface", "device", "portal_addr"]
        .iter()
        .map(|name| (*name, call.field(name).to_string()))
        .collect();
    let result = edit_config(call, "interfaces changed", &mut |file| {
        for (name, value) in &values {
            set_section_option(file, "gateway", name, Some(value.as_str()));
        }
        set_section_list(file, "gateway", "admin_allow", &allow);
        Ok(())
    });
    after_edit(
        call,
        "/settings",
        "Interfaces saved.",
        result,
        Some(settings),
    )
}

pub(crate) fn change_password(call: &Call) -> Response {
    let app = &call.ctx.app;
    let now = app.time().now;
    if let Err(secs) = call.ctx.app.owner_lockout.check(call.ip, now) {
        return call.fail(
            "/settings",
            format!("Too many wrong passwords; wait {secs} s."),
        );
    }
    let stored = match app.owner_password_hash() {
        Ok(Some(h)) => h,
        Ok(None) => return refuse(409, "no owner password is set"),
        Err(e) => {
            log::error!("owner page: {e}");
            return refuse(500, "store error");
        }
    };
    if !auth::verify_password(&stored, call.raw_field("current")) {
        call.ctx.app.owner_lockout.failure(call.ip, now);
        return call.fail("/settings", "Not changed: the current password is wrong.");
    }
    let new = call.raw_field("password");
    if let Some(problem) = auth::password_problem(new, auth::OWNER_MIN_LEN) {
        return call.fail("/settings", format!("Not changed: {problem}"));
    }
    if new != call.raw_field("again") {
        return call.fail("/settings", "Not changed: the two new passwords differ.");
    }
    let saved = auth::hash_password(new)
        .map_err(|e| e.to_string())
        .and_then(|hash| {
            app.set_owner_password_hash(&hash, &format!("owner password changed from {}", call.ip))
                .map_err(|e| e.to_string())
        });
    match saved {
        Ok(()) => {
            call.ctx.owner.sessions.remove_others(&call.sid);
            call.back(
                "/settings",
                "Password changed. Other browsers are signed out.",
            )
        }
        Err(e) => {
            log::error!("owner page: {e}");
            refuse(500, "could not save the password")
        }
    }
}
