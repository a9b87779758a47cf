//! Guest accounts on the owner page: for regulars and staff, a user name, a password (hashed
//! at once, never shown back), a package or an expiry, and how many devices at once. The
//! portal's "Have an account?" form and `/api/portal/login` check them (`accounts.rs`).

use rouille::Response;

use crate::core::accounts::{self, Account};
use crate::core::auth;
use crate::web::admin::ui::{
    self as ui, form_actions, input, label, local_time, post_form, section, select, store_error,
    table, value_row, Tab,
};
use crate::web::admin::Call;
use crate::web::http::esc;

// ---- accounts ----

pub(crate) fn accounts(call: &Call) -> Response {
    let ctx = call.ctx;
    let now = ctx.app.time().now;
    let data = ctx
        .app
        .store
        .read(|r| Ok((r.accounts()?, r.active_sessions()?)));
    let (list, active) = match data {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let config = ctx.app.config();
    // `?edit=`, or the account of a refused edit shown again.
    let editing = call
        .param("edit")
        .or_else(|| call.form.get("edit").cloned())
        .and_then(|name| list.iter().find(|a| a.username == name).cloned());
    let (range, pages) = ui::pager("/accounts?", call.param("page"), list.len());
    let rows: Vec<Vec<String>> = list
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let online = active.iter().filter(|s| accounts::granted_by(s, &a.username)).count();
            let state = if a.disabled {
                label("important", "disabled")
            } else if a.expires_at.is_some_and(|t| now >= t) {
                label("warning", "expired")
            } else {
                label("success", "active")
            };
            let package = match &a.package_id {
                Some(id) => config.package(id).map(|p| esc(&p.name)).unwrap_or_else(|| format!("{} (deleted)", esc(id))),
                None => "unlimited, a day per sign-in".into(),
            };
            vec![
                format!("<b>{}</b><br><span class=\"muted\">{}</span>", esc(&a.username), esc(&a.note)),
                package,
                a.expires_at.map(|t| local_time(ctx, t)).unwrap_or_else(|| "never".into()),
                format!("{online} of {}", a.max_devices),
                a.last_login.map(|t| local_time(ctx, t)).unwrap_or_else(|| "never".into()),
                state,
                format!(
                    "<div class=\"actions\"><a class=\"cbi-button cbi-button-edit\" href=\"/accounts?edit={0}\">Edit</a> {1}</div>",
                    esc(&a.username),
                    ui::row_button(None, "username", &a.username, "Delete", "cbi-button-remove")
                ),
            ]
        })
        .collect();
    let mut body = section(
        "Accounts",
        "Guests sign in on the portal (\"Have an account?\") with these names and passwords.",
        &format!(
            "{}{pages}",
            post_form(
                call,
                "/accounts/delete",
                &[],
                &table(
                    &[
                        "User",
                        "Package",
                        "Expires",
                        "Devices online",
                        "Last sign-in",
                        "",
                        "",
                    ],
                    &rows,
                    "No accounts yet.",
                    &[],
                )
            )
        ),
    );
    body.push_str(&account_form(call, editing.as_ref()));
    ui::page(
        call,
        Tab::Accounts,
        "Accounts",
        "For regulars and staff. Passwords are stored hashed and never shown.",
        &body,
    )
}

fn account_form(call: &Call, a: Option<&Account>) -> String {
    let config = call.ctx.app.config();
    let offset = config.gateway.utc_offset_secs;
    let mut options = vec![(String::new(), "Unlimited (a day per sign-in)".to_string())];
    options.extend(
        config
            .packages
            .iter()
            .map(|p| (p.id.clone(), p.name.clone())),
    );
    let mut fields = String::new();
    if a.is_none() {
        fields.push_str(&value_row(
            "User name",
            &input(
                "username",
                &call.kept("username", ""),
                "required maxlength=\"32\" autocapitalize=\"none\"",
            ),
            "Letters, digits and . _ - @",
        ));
    }
    let password_help = if a.is_some() {
        "Leave blank to keep the current one."
    } else {
        "At least 4 characters. Give it to the guest; it is not shown again."
    };
    fields.push_str(&value_row(
        "Password",
        &format!(
            "<input type=\"password\" name=\"password\" autocomplete=\"new-password\" {}>",
            if a.is_some() { "" } else { "required" }
        ),
        password_help,
    ));
    fields.push_str(&value_row(
        "Package",
        &select(
            "package",
            &options,
            &call.kept(
                "package",
                a.and_then(|a| a.package_id.as_deref()).unwrap_or(""),
            ),
        ),
        "What each sign-in gives: its time, data and speed.",
    ));
    let expires = a
        .and_then(|a| a.expires_at)
        .map(|t| crate::core::time::date_of_day(crate::core::time::local_day(t - 1, offset)))
        .unwrap_or_default();
    fields.push_str(&value_row(
        "Valid until",
        &input("expires", &call.kept("expires", &expires), "type=\"date\""),
        "The last day it works; empty for no end.",
    ));
    fields.push_str(&value_row(
        "Devices at once",
        &input(
            "max_devices",
            &call.kept(
                "max_devices",
                &a.map(|a| a.max_devices).unwrap_or(1).to_string(),
            ),
            "type=\"number\" min=\"1\" max=\"20\" style=\"width:90px\"",
        ),
        "",
    ));
    fields.push_str(&value_row(
        "Note",
        &input(
            "note",
            &call.kept("note", a.map(|a| a.note.as_str()).unwrap_or("")),
            "maxlength=\"60\"",
        ),
        "For you (\"Mary, kitchen\").",
    ));
    fields.push_str(&value_row(
        "Disabled",
        &format!(
            "<input type=\"checkbox\" name=\"disabled\" value=\"1\"{}>",
            if call
                .form
                .get("csrf")
                .map_or(a.is_some_and(|a| a.disabled), |_| {
                    call.field("disabled") == "1"
                })
            {
                " checked"
            } else {
                ""
            }
        ),
        "A disabled account cannot sign in, and its devices go offline.",
    ));
    fields.push_str(&form_actions("save", "Save", a.map(|_| "/accounts")));
    let hidden: Vec<(&str, &str)> = match a {
        Some(a) => vec![("edit", a.username.as_str())],
        None => Vec::new(),
    };
    let title = match a {
        Some(a) => format!("Edit {}", a.username),
        None => "New account".into(),
    };
    section(&title, "", &post_form(call, "/accounts", &hidden, &fields))
}

pub(crate) fn save_account(call: &Call) -> Response {
    let app = &call.ctx.app;
    let config = app.config();
    let editing = call.field("edit");
    let existing = if editing.is_empty() {
        None
    } else {
        match app.store.read(|r| r.account(editing)) {
            Ok(Some(a)) => Some(a),
            Ok(None) => return call.fail("/accounts", "Not saved: that account no longer exists."),
            Err(e) => return store_error(e),
        }
    };
    let refused = |text: String| call.fail_here(text, accounts);
    let username = match &existing {
        Some(a) => a.username.clone(),
        None => match accounts::normalise_username(call.field("username")) {
            Some(name) => name,
            None => {
                return refused(
                    "Not saved: the user name takes 1 to 32 letters, digits or . _ - @".into(),
                )
            }
        },
    };
    if existing.is_none() && matches!(app.store.read(|r| r.account(&username)), Ok(Some(_))) {
        return refused(format!(
            "Not saved: there is already an account '{username}'."
        ));
    }
    let password = call.raw_field("password");
    let password_hash = match (&existing, password.is_empty()) {
        (Some(a), true) => a.password_hash.clone(),
        (None, true) => return refused("Not saved: give the account a password.".into()),
        (_, false) => {
            if let Some(problem) = auth::password_problem(password, auth::ACCOUNT_MIN_LEN) {
                return refused(format!("Not saved: {problem}"));
            }
            match auth::hash_password(password) {
                Ok(h) => h,
                Err(e) => return store_error(e),
            }
        }
    };
    let package_id = Some(call.field("package").to_string()).filter(|p| !p.is_empty());
    if package_id
        .as_deref()
        .is_some_and(|id| config.package(id).is_none())
    {
        return refused("Not saved: no such package.".into());
    }
    let offset = config.gateway.utc_offset_secs;
    let expires_at = match call.field("expires") {
        "" => None,
        text => match crate::core::time::parse_date(text) {
            Some(day) => Some(crate::core::time::day_start(day + 1, offset)),
            None => return refused("Not saved: the date is not YYYY-MM-DD.".into()),
        },
    };
    let Some(max_devices) = call
        .field("max_devices")
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=accounts::MAX_DEVICES).contains(n))
    else {
        return refused("Not saved: devices at once is 1 to 20.".into());
    };
    let account = Account {
        username: username.clone(),
        password_hash,
        package_id,
        expires_at,
        max_devices,
        note: call.field("note").chars().take(60).collect(),
        created_at: existing
            .as_ref()
            .map(|a| a.created_at)
            .unwrap_or(app.time().now),
        disabled: call.field("disabled") == "1",
        last_login: existing.and_then(|a| a.last_login),
    };
    match app.put_account(account) {
        Ok(()) => call.back("/accounts", format!("Account {username} saved.")),
        Err(e) => store_error(e),
    }
}

pub(crate) fn delete_account(call: &Call) -> Response {
    let username = call.field("username").to_string();
    match call.ctx.app.delete_account(&username) {
        Ok(true) => call.back(
            "/accounts",
            format!("Account {username} deleted; its devices are offline."),
        ),
        Ok(false) => call.warn("/accounts", "That account was already deleted."),
        Err(e) => store_error(e),
    }
}
