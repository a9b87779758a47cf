//! The wallets beside M-Pesa on the owner page (feature `airtel`; the M-Pesa form is in
//! `settings`): Airtel Money, Vodacom M-Pesa Tanzania (feature `vodacom`) and ClickPesa for Mixx
//! by Yas and HaloPesa (feature `clickpesa`), each turned on or off and its credentials entered,
//! written to its section of `/etc/config/lango` through `settings::edit_config` (validated
//! first, applied at once). A secret is never shown back: the page says "set" or "not set", and
//! a blank secret field keeps what is stored. Field names carry the section's name
//! (`airtel.client_id`), so that a refused form shown again fills only its own fields.

use rouille::Response;

use crate::core::config::Config;
use crate::core::uci_write::set_section_option;
use crate::web::admin::settings::{after_edit, edit_config, settings};
use crate::web::admin::ui::{form_actions, input, post_form, section, select, value_row};
use crate::web::admin::Call;
use crate::web::http::esc;

/// How a field is entered.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Shown and edited as text; blank removes the option.
    Text,
    /// Never shown ("set"/"not set"); blank keeps the stored value.
    Secret,
    /// One of (value, label).
    Choice(&'static [(&'static str, &'static str)]),
}

struct Field {
    option: &'static str,
    title: &'static str,
    kind: Kind,
    help: &'static str,
}

/// What the running config holds for a wallet: whether it is on offer, and each field's value.
type Stored = Option<(bool, Vec<String>)>;

/// A wallet's form: its section type (also its section name), words, fields, and what the
/// running config holds for it (enabled, then each field's value in `fields` order).
struct Wallet {
    kind: &'static str,
    title: &'static str,
    about: &'static str,
    fields: &'static [Field],
    stored: fn(&Config) -> Stored,
}

const ENVIRONMENTS: &[(&str, &str)] = &[
    ("sandbox", "Sandbox (testing)"),
    ("production", "Production (real money)"),
    ("simulator", "Simulator (needs a base URL)"),
];

const BASE_URL: Field = Field {
    option: "base_url",
    title: "Base URL",
    kind: Kind::Text,
    help: "Optional: another address for the API (a lango sim). Blank: the provider's own.",
};

const AIRTEL: Wallet = Wallet {
    kind: "airtel",
    title: "Airtel Money",
    about: "Airtel Africa's collection API (docs/airtel.md): Airtel numbers get the prompt.",
    fields: &[
        Field {
            option: "client_id",
            title: "Client ID",
            kind: Kind::Secret,
            help: "From your application on Airtel's developer portal.",
        },
        Field {
            option: "client_secret",
            title: "Client secret",
            kind: Kind::Secret,
            help: "",
        },
        Field {
            option: "country",
            title: "Country",
            kind: Kind::Choice(&[
                ("KE", "Kenya (KES)"),
                ("UG", "Uganda (UGX)"),
                ("TZ", "Tanzania (TZS)"),
            ]),
            help: "Must match the shop's currency.",
        },
        Field {
            option: "environment",
            title: "Environment",
            kind: Kind::Choice(ENVIRONMENTS),
            help: "",
        },
        BASE_URL,
        Field {
            option: "signing",
            title: "Message signing",
            kind: Kind::Choice(&[
                ("v1", "Off (v1 push)"),
                ("v2", "On (v2 push, needs the public key)"),
            ]),
            help: "Only if Airtel requires it for your account (docs/airtel.md).",
        },
        Field {
            option: "public_key",
            title: "Airtel's public key",
            kind: Kind::Secret,
            help: "For message signing: the RSA key Airtel's portal shows (base64); blank keeps the stored one.",
        },
    ],
    stored: |config| {
        let a = config.airtel.as_ref()?;
        Some((
            a.enabled,
            vec![
                a.client_id.clone(),
                a.client_secret.clone(),
                a.country.code().into(),
                a.environment.name().into(),
                a.base_url.clone().unwrap_or_default(),
                if a.signing.is_some() { "v2" } else { "v1" }.into(),
                if a.signing.is_some() { "set" } else { "" }.into(),
            ],
        ))
    },
};

#[cfg(feature = "vodacom")]
const VODACOM: Wallet = Wallet {
    kind: "vodacom",
    title: "Vodacom M-Pesa (Tanzania)",
    about: "Vodacom's OpenAPI (docs/vodacom.md): Vodacom Tanzania numbers get the prompt. \
            The shop's currency must be TZS.",
    fields: &[
        Field {
            option: "api_key",
            title: "API key",
            kind: Kind::Secret,
            help: "From your application on Vodacom's OpenAPI portal.",
        },
        Field {
            option: "public_key",
            title: "Public key",
            kind: Kind::Secret,
            help: "The environment's public key as the portal shows it (base64).",
        },
        Field {
            option: "service_provider_code",
            title: "Service provider code",
            kind: Kind::Text,
            help: "The shortcode payments go to (5 or 6 digits).",
        },
        Field {
            option: "environment",
            title: "Environment",
            kind: Kind::Choice(ENVIRONMENTS),
            help: "",
        },
        BASE_URL,
    ],
    stored: |config| {
        let v = config.vodacom.as_ref()?;
        Some((
            v.enabled,
            vec![
                v.api_key.clone(),
                "set".into(),
                v.service_provider_code.clone(),
                v.environment.name().into(),
                v.base_url.clone().unwrap_or_default(),
            ],
        ))
    },
};

#[cfg(feature = "clickpesa")]
const CLICKPESA: Wallet = Wallet {
    kind: "clickpesa",
    title: "Mixx by Yas and HaloPesa (ClickPesa)",
    about: "ClickPesa's collection API (docs/tz-aggregator.md): Mixx by Yas and HaloPesa \
            numbers get the prompt. The shop's currency must be TZS.",
    fields: &[
        Field {
            option: "client_id",
            title: "Client ID",
            kind: Kind::Text,
            help: "From your application on ClickPesa's dashboard.",
        },
        Field {
            option: "api_key",
            title: "API key",
            kind: Kind::Secret,
            help: "",
        },
        Field {
            option: "checksum_key",
            title: "Checksum key",
            kind: Kind::Secret,
            help: "Only if checksums are on for the application.",
        },
        Field {
            option: "environment",
            title: "Environment",
            kind: Kind::Choice(&[
                ("production", "Production (real money)"),
                ("simulator", "Simulator (needs a base URL)"),
            ]),
            help: "ClickPesa has no sandbox.",
        },
        BASE_URL,
    ],
    stored: |config| {
        let c = config.clickpesa.as_ref()?;
        Some((
            c.enabled,
            vec![
                c.client_id.clone(),
                c.api_key.clone(),
                c.checksum_key.clone().unwrap_or_default(),
                c.environment.name().into(),
                c.base_url.clone().unwrap_or_default(),
            ],
        ))
    },
};

const WALLETS: &[Wallet] = &[
    AIRTEL,
    #[cfg(feature = "vodacom")]
    VODACOM,
    #[cfg(feature = "clickpesa")]
    CLICKPESA,
];

/// A field's name in the form: the section's type, a dot, the option.
fn form_name(wallet: &Wallet, option: &str) -> String {
    format!("{}.{option}", wallet.kind)
}

/// The wallets' sections of the settings page.
pub(crate) fn sections(call: &Call) -> String {
    let config = call.ctx.app.config();
    let mut out = String::new();
    for wallet in WALLETS {
        let (enabled, values) = (wallet.stored)(&config)
            .unwrap_or_else(|| (false, vec![String::new(); wallet.fields.len()]));
        let on = |yes: bool| if yes { "1" } else { "0" };
        let choices = [
            ("1".to_string(), "On: offered to guests".to_string()),
            ("0".to_string(), "Off".to_string()),
        ];
        let name = form_name(wallet, "enabled");
        let mut fields = value_row(
            "Offered",
            &select(&name, &choices, &call.kept(&name, on(enabled))),
            "",
        );
        for (field, value) in wallet.fields.iter().zip(&values) {
            let name = form_name(wallet, field.option);
            let widget = match field.kind {
                Kind::Text => input(&name, &call.kept(&name, value), "maxlength=\"200\""),
                Kind::Secret => format!(
                    "<input type=\"password\" name=\"{}\" autocomplete=\"off\" \
                     placeholder=\"{}\">",
                    esc(&name),
                    if value.is_empty() { "not set" } else { "set" }
                ),
                Kind::Choice(options) => {
                    let options: Vec<(String, String)> = options
                        .iter()
                        .map(|(v, l)| (v.to_string(), l.to_string()))
                        .collect();
                    let chosen = call.kept(&name, value);
                    let chosen = match chosen.is_empty() {
                        true => options.first().map(|o| o.0.clone()).unwrap_or_default(),
                        false => chosen,
                    };
                    select(&name, &options, &chosen)
                }
            };
            let help = match (field.kind, field.help) {
                (Kind::Secret, "") => "Leave blank to keep what is stored; it is never shown.",
                (_, help) => help,
            };
            fields.push_str(&value_row(field.title, &widget, help));
        }
        fields.push_str(&form_actions("save", "Save", None));
        let form = post_form(
            call,
            "/settings/wallet",
            &[("wallet", wallet.kind)],
            &fields,
        );
        out.push_str(&section(wallet.title, wallet.about, &form));
    }
    out
}

/// Saves one wallet's form into its section: `enabled`, every field given (a blank secret keeps
/// the stored one, a blank text removes the option), validated and applied as every edit.
pub(crate) fn save(call: &Call) -> Response {
    let Some(wallet) = WALLETS.iter().find(|w| w.kind == call.field("wallet")) else {
        return call.fail("/settings", "Not saved: no such wallet.");
    };
    let enabled = match call.field(&form_name(wallet, "enabled")) {
        "0" => "0",
        _ => "1",
    };
    let values: Vec<(&str, String)> = (wallet.fields.iter())
        .map(|f| (f, call.field(&form_name(wallet, f.option)).to_string()))
        .filter(|(f, value)| f.kind != Kind::Secret || !value.is_empty())
        .map(|(f, value)| (f.option, value))
        .collect();
    let what = format!("{} settings changed", wallet.title);
    let result = edit_config(call, &what, &mut |file| {
        set_section_option(file, wallet.kind, "enabled", Some(enabled));
        for (option, value) in &values {
            set_section_option(file, wallet.kind, option, Some(value.as_str()));
        }
        Ok(())
    });
    let done = format!("{} settings saved.", wallet.title);
    after_edit(call, "/settings", &done, result, Some(settings))
}
