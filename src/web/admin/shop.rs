//! What the shop sells, on the owner page: packages (create, edit, deactivate, reorder; kept in
//! `/etc/config/lango` through `settings::edit_config`, so `uci` sees the same data) and
//! vouchers (batches with a prefix and a validity, a print sheet with a QR code per voucher,
//! CSV, revoke, who used which).

use rouille::Response;

use crate::core::config::Package;
use crate::core::model::{duration_words, format_bytes, format_duration, format_rate};
use crate::core::uci_write::{put_package, set_package_option, PackageEdit};
use crate::core::vouchers::{self, Voucher, VoucherState};
use crate::web::admin::payments::{csv, csv_row};
use crate::web::admin::settings::{after_edit, edit_config};
use crate::web::admin::ui::{
    self as ui, button, form_actions, html, input, label, local_time, money, post_form, section,
    select, store_error, table, value_row, Tab,
};
use crate::web::admin::{refuse, Call};
use crate::web::http::esc;

fn speed(p: &Package) -> String {
    match (p.rate_down_kbit, p.rate_up_kbit) {
        (None, None) => "unlimited".into(),
        (d, u) => format!(
            "↓ {} ↑ {}",
            d.map(format_rate).unwrap_or_else(|| "any".into()),
            u.map(format_rate).unwrap_or_else(|| "any".into())
        ),
    }
}

fn bytes_text(bytes: u64) -> String {
    match bytes {
        b if b % 1_000_000_000 == 0 => format!("{}GB", b / 1_000_000_000),
        b if b % 1_000_000 == 0 => format!("{}MB", b / 1_000_000),
        b => format!("{b}"),
    }
}

fn rate_text(kbit: u32) -> String {
    if kbit.is_multiple_of(1000) {
        format!("{}M", kbit / 1000)
    } else {
        format!("{kbit}k")
    }
}

pub(crate) fn packages(call: &Call) -> Response {
    let ctx = call.ctx;
    let config = ctx.app.config();
    // `?edit=`, or the package of a refused edit shown again.
    let editing = call
        .param("edit")
        .or_else(|| call.form.get("edit").cloned())
        .and_then(|id| config.package(&id).cloned());
    let n = config.packages.len();
    let rows: Vec<Vec<String>> = config
        .packages
        .iter()
        .enumerate()
        .map(|(idx, p)| {
            let id = p.id.as_str();
            let up = if idx > 0 {
                button(
                    call,
                    "/packages/order",
                    &[("id", id), ("dir", "up")],
                    "↑",
                    "",
                )
            } else {
                String::new()
            };
            let down = if idx + 1 < n {
                button(
                    call,
                    "/packages/order",
                    &[("id", id), ("dir", "down")],
                    "↓",
                    "",
                )
            } else {
                String::new()
            };
            let toggle = if p.active {
                button(
                    call,
                    "/packages/active",
                    &[("id", id), ("active", "0")],
                    "Deactivate",
                    "cbi-button-negative",
                )
            } else {
                button(
                    call,
                    "/packages/active",
                    &[("id", id), ("active", "1")],
                    "Activate",
                    "cbi-button-positive",
                )
            };
            vec![
                format!(
                    "{}<br><code class=\"muted\">{}</code>",
                    esc(&p.name),
                    esc(id)
                ),
                money(ctx, p.price),
                duration_words(p.duration_secs).0,
                p.quota_bytes
                    .map(format_bytes)
                    .unwrap_or_else(|| "unlimited".into())
                    + &p.fair_kbit
                        .map(|r| format!(", then {}", format_rate(r)))
                        .unwrap_or_default(),
                speed(p),
                match (p.active, p.window) {
                    (true, Some(w)) => label("success", &format!("on sale {}", w.words())),
                    _ if p.active => label("success", "on sale"),
                    _ => label("", "not on sale"),
                },
                format!(
                    "<div class=\"actions\">{up}{down} <a class=\"cbi-button cbi-button-edit\" \
                     href=\"/packages?edit={}\">Edit</a> {toggle}</div>",
                    esc(id)
                ),
            ]
        })
        .collect();
    let mut body = section(
        "Packages",
        "Guests see the packages on sale in this order. A package that is not on sale still \
         works for vouchers and accounts made with it.",
        &table(
            &["Package", "Price", "Time", "Data", "Speed", "", ""],
            &rows,
            "No packages yet: add one below.",
            &[1],
        ),
    );
    body.push_str(&package_form(call, editing.as_ref()));
    ui::page(
        call,
        Tab::Packages,
        "Packages",
        "Stored in /etc/config/lango: <code>uci show lango</code> shows the same.",
        &body,
    )
}

fn package_form(call: &Call, p: Option<&Package>) -> String {
    // Each field as stored, or as typed when a refused form is shown again.
    let text =
        |name: &str, f: fn(&Package) -> String| call.kept(name, &p.map(f).unwrap_or_default());
    let mut fields = String::new();
    if p.is_none() {
        fields.push_str(&value_row(
            "Id",
            &input(
                "id",
                &call.kept("id", ""),
                "pattern=\"[A-Za-z0-9_]*\" maxlength=\"32\" placeholder=\"from the name\"",
            ),
            "Letters, digits and _. Never change it once sold.",
        ));
    }
    fields.push_str(&value_row(
        "Name",
        &input(
            "name",
            &text("name", |p| p.name.clone()),
            "required maxlength=\"40\"",
        ),
        "What guests see, in English.",
    ));
    fields.push_str(&value_row(
        "Name in Kiswahili",
        &input(
            "name_sw",
            &text("name_sw", |p| p.name_sw.clone().unwrap_or_default()),
            "maxlength=\"40\"",
        ),
        "Empty: the English name on the Kiswahili page too.",
    ));
    fields.push_str(&value_row(
        "Description",
        &input(
            "description",
            &text("description", |p| p.description.clone().unwrap_or_default()),
            "maxlength=\"80\"",
        ),
        "A line under the name (optional), like \"Good for video calls\".",
    ));
    fields.push_str(&value_row(
        "Description in Kiswahili",
        &input(
            "description_sw",
            &text("description_sw", |p| {
                p.description_sw.clone().unwrap_or_default()
            }),
            "maxlength=\"80\"",
        ),
        "",
    ));
    fields.push_str(&value_row(
        "Price",
        &input(
            "price",
            &text("price", |p| p.price.to_string()),
            "required inputmode=\"decimal\" maxlength=\"10\"",
        ),
        "Like 50 or 49.50.",
    ));
    fields.push_str(&value_row(
        "Time",
        &input(
            "duration",
            &text("duration", |p| format_duration(p.duration_secs)),
            "required maxlength=\"10\"",
        ),
        "Like 30m, 1h, 1d or 7d.",
    ));
    fields.push_str(&value_row(
        "Data",
        &input(
            "data",
            &text("data", |p| {
                p.quota_bytes.map(bytes_text).unwrap_or_default()
            }),
            "maxlength=\"10\"",
        ),
        "Like 500MB or 1GB; empty for unlimited.",
    ));
    fields.push_str(&value_row(
        "Download speed",
        &input(
            "rate_down",
            &text("rate_down", |p| {
                p.rate_down_kbit.map(rate_text).unwrap_or_default()
            }),
            "maxlength=\"10\"",
        ),
        "Like 5M or 512k; empty for unlimited.",
    ));
    fields.push_str(&value_row(
        "Upload speed",
        &input(
            "rate_up",
            &text("rate_up", |p| {
                p.rate_up_kbit.map(rate_text).unwrap_or_default()
            }),
            "maxlength=\"10\"",
        ),
        "",
    ));
    fields.push_str(&value_row(
        "Devices",
        &input(
            "devices",
            &text("devices", |p| match p.devices {
                1 => String::new(),
                n => n.to_string(),
            }),
            "inputmode=\"numeric\" maxlength=\"2\"",
        ),
        "How many devices one purchase or voucher may be used on (1 to 10); they share its \
         time and data. Empty for one.",
    ));
    let active = match call.form.get("csrf") {
        Some(_) => call.field("active") == "1",
        None => p.is_none_or(|p| p.active),
    };
    fields.push_str(&value_row(
        "On sale",
        &format!(
            "<input type=\"checkbox\" name=\"active\" value=\"1\"{}>",
            if active { " checked" } else { "" }
        ),
        "",
    ));
    fields.push_str(&form_actions("save", "Save", p.map(|_| "/packages")));
    let hidden: Vec<(&str, &str)> = match p {
        Some(p) => vec![("edit", p.id.as_str())],
        None => Vec::new(),
    };
    let title = match p {
        Some(p) => format!("Edit {}", p.name),
        None => "New package".to_string(),
    };
    section(&title, "", &post_form(call, "/packages", &hidden, &fields))
}

pub(crate) fn save_package(call: &Call) -> Response {
    let config = call.ctx.app.config();
    let editing = call.field("edit");
    let existing = config.package(editing);
    if !editing.is_empty() && existing.is_none() {
        return call.fail("/packages", "Not saved: that package no longer exists.");
    }
    let refused = |text: String| call.fail_here(text, packages);
    let name = call.field("name").to_string();
    // An id made from the name gets a suffix in the file if another section has it already
    // (`uci_write::free_name`); one the owner typed is refused instead.
    let typed = call.field("id");
    let derived = existing.is_none() && typed.is_empty();
    let id = match existing {
        Some(p) => p.id.clone(),
        None => {
            let id = if typed.is_empty() {
                crate::core::config::package_id(&name)
            } else {
                typed.to_string()
            };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return refused("Not saved: the id takes letters, digits and _.".into());
            }
            if config.package(&id).is_some() {
                return refused(format!("Not saved: there is already a package '{id}'."));
            }
            id
        }
    };
    let optional = |name: &str| Some(call.field(name).to_string()).filter(|v| !v.is_empty());
    let edit = PackageEdit {
        id: id.clone(),
        name: name.clone(),
        name_sw: optional("name_sw"),
        description: optional("description"),
        description_sw: optional("description_sw"),
        price: call.field("price").to_string(),
        duration: call.field("duration").to_string(),
        data: optional("data"),
        rate_down: optional("rate_down"),
        rate_up: optional("rate_up"),
        devices: optional("devices"),
        active: call.field("active") == "1",
        order: existing
            .map(|p| p.order)
            .unwrap_or_else(|| config.packages.iter().map(|p| p.order).max().unwrap_or(0) + 1),
    };
    let what = format!("package {id} saved");
    let new = existing.is_none();
    let result = edit_config(call, &what, &mut |file| {
        let mut edit = edit.clone();
        if derived {
            edit.id = crate::core::uci_write::free_name(file, &edit.id);
        } else if new
            && file
                .sections
                .iter()
                .any(|s| s.name.as_deref() == Some(&edit.id))
        {
            return Err(format!("there is already a section '{}'.", edit.id));
        }
        put_package(file, &edit);
        Ok(())
    });
    after_edit(
        call,
        "/packages",
        &format!("Package {name} saved."),
        result,
        Some(packages),
    )
}

pub(crate) fn toggle_package(call: &Call) -> Response {
    let id = call.field("id").to_string();
    let active = if call.field("active") == "1" {
        "1"
    } else {
        "0"
    };
    let result = edit_config(
        call,
        &format!("package {id} active={active}"),
        &mut |file| match set_package_option(file, &id, "active", active) {
            true => Ok(()),
            false => Err("that package no longer exists.".into()),
        },
    );
    let done = if active == "1" {
        "Package on sale."
    } else {
        "Package taken off sale."
    };
    after_edit(call, "/packages", done, result, None)
}

/// Moves a package one place up or down, numbering every package's `order` afresh.
pub(crate) fn reorder_package(call: &Call) -> Response {
    let config = call.ctx.app.config();
    let mut ids: Vec<String> = config.packages.iter().map(|p| p.id.clone()).collect();
    let Some(idx) = ids.iter().position(|id| id == call.field("id")) else {
        return call.fail("/packages", "Not moved: that package no longer exists.");
    };
    let other = match call.field("dir") {
        "up" => idx.checked_sub(1),
        _ => Some(idx + 1).filter(|i| *i < ids.len()),
    };
    let Some(other) = other else {
        return call.warn("/packages", "Already there.");
    };
    ids.swap(idx, other);
    let result = edit_config(call, "packages reordered", &mut |file| {
        for (n, id) in ids.iter().enumerate() {
            set_package_option(file, id, "order", &(n + 1).to_string());
        }
        Ok(())
    });
    after_edit(call, "/packages", "Order saved.", result, None)
}

// ---- vouchers ----

fn voucher_state(call: &Call, v: &Voucher, names: &[(crate::core::model::Mac, String)]) -> String {
    match &v.state {
        VoucherState::Unused => label("notice", "unused"),
        VoucherState::Used { mac, at, .. } => format!(
            "{} {} <code>{mac}</code>, {}",
            label("success", "used"),
            ui::device_name(names, *mac).map(esc).unwrap_or_default(),
            local_time(call.ctx, *at)
        ),
        VoucherState::Revoked { at } => {
            format!(
                "{} {}",
                label("important", "revoked"),
                local_time(call.ctx, *at)
            )
        }
    }
}

pub fn vouchers(call: &Call) -> Response {
    let ctx = call.ctx;
    let config = ctx.app.config();
    let all = match ctx.app.store.read(|r| r.vouchers()) {
        Ok(v) => v,
        Err(e) => return store_error(e),
    };
    let batch = call.param("batch").unwrap_or_default();
    let names = ctx.app.env.neighbours.hostnames();
    let options: Vec<(String, String)> = config
        .packages
        .iter()
        .map(|p| {
            let sale = if p.active { "" } else { " (not on sale)" };
            (p.id.clone(), format!("{}{sale}", p.name))
        })
        .collect();
    let mut fields = value_row(
        "Package",
        &select("package", &options, &call.kept("package", "")),
        "",
    );
    fields.push_str(&value_row(
        "How many",
        &input(
            "count",
            &call.kept("count", "10"),
            &format!(
                "type=\"number\" min=\"1\" max=\"{}\" required",
                vouchers::MAX_BATCH
            ),
        ),
        &format!("Up to {} at once.", vouchers::MAX_BATCH),
    ));
    fields.push_str(&value_row(
        "Prefix",
        &input(
            "prefix",
            &call.kept("prefix", ""),
            "maxlength=\"8\" pattern=\"[A-Za-z0-9]*\"",
        ),
        "Optional, up to 8 letters or digits printed before each code (like CAFE).",
    ));
    fields.push_str(&value_row(
        "Valid for",
        &format!(
            "{} days",
            input(
                "days",
                &call.kept("days", "30"),
                &format!(
                    "type=\"number\" min=\"0\" max=\"{}\" style=\"width:90px\"",
                    vouchers::MAX_VALID_DAYS
                )
            )
        ),
        "Days to redeem it; 0 for no limit. Time already given keeps running.",
    ));
    fields.push_str(&form_actions("add", "Generate", None));
    let mut body = section(
        "Generate a batch",
        "",
        &post_form(call, "/vouchers", &[], &fields),
    );
    // Batches, newest first: (made, batch, package, [unused, used, revoked]). Kept in order by
    // insertion (a shop has tens of batches), which costs less code than a map or a sort.
    let mut batches: Vec<(i64, &str, &str, [u32; 3])> = Vec::new();
    for v in &all {
        let idx = match batches.iter().position(|b| b.1 == v.batch) {
            Some(idx) => idx,
            None => {
                let at = batches
                    .iter()
                    .position(|b| b.0 < v.created_at)
                    .unwrap_or(batches.len());
                batches.insert(at, (v.created_at, &v.batch, &v.terms.package_name, [0; 3]));
                at
            }
        };
        let slot = match v.state {
            VoucherState::Unused => 0,
            VoucherState::Used { .. } => 1,
            VoucherState::Revoked { .. } => 2,
        };
        if let Some(b) = batches.get_mut(idx) {
            b.3[slot] += 1;
        }
    }
    // Without `?batch=`, the newest batch is shown.
    let batch = match batch.is_empty() {
        true => batches.first().map(|b| b.1.to_string()).unwrap_or_default(),
        false => batch,
    };
    let rows: Vec<Vec<String>> = batches
        .iter()
        .take(50)
        .map(|(at, b, package, counts)| {
            let b = esc(b);
            vec![
                format!("<a href=\"/vouchers?batch={b}\"><code>{b}</code></a>"),
                esc(package),
                local_time(ctx, *at),
                counts[0].to_string(),
                counts[1].to_string(),
                counts[2].to_string(),
                format!(
                    "<a class=\"cbi-button cbi-button-action\" href=\"/vouchers/print?batch={b}\">Print</a> \
                     <a class=\"cbi-button\" href=\"/vouchers.csv?batch={b}\">CSV</a>"
                ),
            ]
        })
        .collect();
    body.push_str(&section(
        "Batches",
        "",
        &table(
            &["Batch", "Package", "Made", "Unused", "Used", "Revoked", ""],
            &rows,
            "No vouchers yet.",
            &[3, 4, 5],
        ),
    ));
    let shown: Vec<&Voucher> = all.iter().filter(|v| v.batch == batch).collect();
    let base = format!("/vouchers?batch={}&", esc(&batch));
    let (range, pages) = ui::pager(&base, call.param("page"), shown.len());
    let rows: Vec<Vec<String>> = shown
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let revoke = if v.state == VoucherState::Unused {
                ui::row_button(None, "code", &v.code, "Revoke", "cbi-button-negative")
            } else {
                String::new()
            };
            vec![
                format!("<code>{}</code>", esc(&vouchers::display(&v.code))),
                esc(&v.terms.package_name),
                v.valid_until
                    .map(|t| local_time(ctx, t))
                    .unwrap_or_else(|| "no limit".into()),
                voucher_state(call, v, &names),
                revoke,
            ]
        })
        .collect();
    let title = if batch.is_empty() {
        "No batch yet".to_string()
    } else {
        format!("Batch {batch}")
    };
    let descr = if batch.is_empty() {
        String::new()
    } else {
        format!(
            "<a class=\"cbi-button cbi-button-action\" href=\"/vouchers/print?batch={0}\">Print this batch</a> \
             <a class=\"cbi-button\" href=\"/vouchers.csv?batch={0}\">CSV</a>",
            esc(&batch)
        )
    };
    let list = table(
        &["Code", "Package", "Redeem by", "State", ""],
        &rows,
        "No vouchers.",
        &[],
    );
    let list = post_form(call, "/vouchers/revoke", &[("batch", &batch)], &list);
    body.push_str(&section(&title, &descr, &format!("{list}{pages}")));
    ui::page(
        call,
        Tab::Vouchers,
        "Vouchers",
        "Codes to sell at the counter. Each one is good for one device, once.",
        &body,
    )
}

pub(crate) fn generate(call: &Call) -> Response {
    let (Ok(count), Ok(days)) = (
        call.field("count").parse::<usize>(),
        call.field("days").parse::<u64>(),
    ) else {
        return call.fail_here(
            "Not made: the count and the days are numbers.".into(),
            vouchers,
        );
    };
    let Some(prefix) = vouchers::normalise_prefix(call.field("prefix")) else {
        return call.fail_here(
            "Not made: the prefix takes up to 8 letters or digits.".into(),
            vouchers,
        );
    };
    let package = call.field("package");
    match call
        .ctx
        .app
        .generate_vouchers(package, count, &prefix, Some(days).filter(|d| *d > 0))
    {
        Ok(Some(list)) => {
            let batch = list.first().map(|v| v.batch.clone()).unwrap_or_default();
            call.back(
                &format!("/vouchers?batch={batch}"),
                format!(
                    "Made {} vouchers (batch {batch}). Print them or download the CSV.",
                    list.len()
                ),
            )
        }
        Ok(None) => call.fail_here("Not made: no such package.".into(), vouchers),
        Err(crate::app::OwnerError::OutOfRange(text)) => {
            call.fail_here(format!("Not made: {text}."), vouchers)
        }
        Err(e) => store_error(e),
    }
}

pub(crate) fn revoke_voucher(call: &Call) -> Response {
    let code = vouchers::normalise(call.field("code"));
    let back = match call.field("batch") {
        "" => "/vouchers".to_string(),
        b => format!("/vouchers?batch={}", esc(b)),
    };
    match call.ctx.app.revoke_voucher(&code) {
        Ok(true) => call.back(
            &back,
            format!("Voucher {} revoked.", vouchers::display(&code)),
        ),
        Ok(false) => call.warn(&back, "That voucher was already used or revoked."),
        Err(e) => store_error(e),
    }
}

fn batch_vouchers(call: &Call) -> Result<(String, Vec<Voucher>), Response> {
    let batch = call.param("batch").unwrap_or_default();
    let list: Vec<Voucher> = call
        .ctx
        .app
        .store
        .read(|r| r.vouchers())
        .map_err(store_error)?
        .into_iter()
        .filter(|v| v.batch == batch)
        .collect();
    if list.is_empty() {
        return Err(refuse(404, "no such batch"));
    }
    Ok((batch, list))
}

/// A page to print: one card per unused voucher of a batch, with its QR code (the portal with
/// the code filled in), the Wi-Fi (brand) name, the package, price, duration and last day of use,
/// in English and in Kiswahili. Larger than the other pages (about 2 KB a voucher).
pub(crate) fn print_sheet(call: &Call) -> Response {
    let (batch, list) = match batch_vouchers(call) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ctx = call.ctx;
    let config = ctx.app.config();
    let portal = crate::core::captive::portal_url(
        &ctx.app.config().gateway,
        std::net::Ipv4Addr::UNSPECIFIED.into(),
    );
    let mut cards = String::new();
    for v in list.iter().filter(|v| v.state == VoucherState::Unused) {
        let url = format!("{portal}?code={}", v.code);
        let qr = crate::core::qr::svg(&url, 110).unwrap_or_default();
        let (en, sw) = duration_words(v.terms.duration_secs);
        let data = v
            .terms
            .quota_bytes
            .map(|b| format!(", {}", format_bytes(b)))
            .unwrap_or_default();
        let (valid_en, valid_sw) = match v.valid_until {
            Some(t) => {
                let day = local_time(ctx, t).get(..10).unwrap_or("").to_string();
                (format!("Use by {day}. "), format!("Tumia kabla ya {day}. "))
            }
            None => Default::default(),
        };
        cards.push_str(&format!(
            "<div class=\"v\">{qr}<div>Wi-Fi: <b>{brand}</b><br>{package} · {price} · {en}{data}<br>\
             <span class=\"code\">{code}</span><br><small>{valid_en}Scan, or open {portal} and type \
             the code.<br><i>Muda: {sw}{data}. {valid_sw}Changanua, au fungua {portal} uandike nambari ya \
             vocha.</i></small></div></div>",
            brand = esc(&config.brand.name),
            package = esc(&v.terms.package_name),
            price = money(ctx, v.terms.price),
            code = esc(&vouchers::display(&v.code)),
            portal = esc(&portal),
        ));
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Vouchers {batch} - {brand}</title><style>\
         body{{margin:0;padding:10px;font:13px/18px \"Helvetica Neue\",Helvetica,Arial,sans-serif;color:#000}}\
         .bar{{margin:0 0 10px}}.sheet{{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:6px}}\
         .v{{display:flex;gap:8px;align-items:center;border:1px dashed #999;padding:6px;break-inside:avoid;page-break-inside:avoid}}\
         .v svg{{flex:none}}.code{{font:bold 17px Monaco,\"Courier New\",monospace;letter-spacing:1px}}small{{color:#444}}\
         button,a{{font:inherit}}@media print{{.bar{{display:none}}body{{padding:0}}}}\
         </style></head><body><div class=\"bar\"><button onclick=\"window.print()\">Print</button> \
         <a href=\"/vouchers?batch={batch}\">Back</a> {n} unused vouchers, batch {batch}</div>\
         <div class=\"sheet\">{cards}</div></body></html>",
        batch = esc(&batch),
        brand = esc(&config.brand.name),
        n = list.iter().filter(|v| v.state == VoucherState::Unused).count(),
    );
    html(page)
}

pub(crate) fn vouchers_csv(call: &Call) -> Response {
    let (batch, list) = match batch_vouchers(call) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ctx = call.ctx;
    let mut out = String::from("code,package,price,redeem_by,state,device,used_at\r\n");
    for v in &list {
        let (state, device, at) = match &v.state {
            VoucherState::Unused => ("unused", String::new(), String::new()),
            VoucherState::Used { mac, at, .. } => ("used", mac.to_string(), local_time(ctx, *at)),
            VoucherState::Revoked { at } => ("revoked", String::new(), local_time(ctx, *at)),
        };
        out.push_str(&csv_row(&[
            &vouchers::display(&v.code),
            &v.terms.package_name,
            &v.terms.price.to_string(),
            &v.valid_until
                .map(|t| local_time(ctx, t))
                .unwrap_or_default(),
            state,
            &device,
            &at,
        ]));
    }
    csv(out, &format!("vouchers-{batch}.csv"))
}
