//! The parts of the portal's pages a guest reads: the package tiles with the one phone field,
//! the voucher form, the online view and the payment page (waiting, paid, failed), in words
//! rather than the owner's shorthand (`1 hour`, not `1h`). Pure rendering from the config and
//! the records the handlers read; nothing here touches the store or the clock.

use crate::core::config::{Config, Package};
use crate::core::model::{format_bytes, format_rate, Lang, Money};
use crate::core::payments::{Decline, Payment, PaymentState};
use crate::core::provider::Provider;
use crate::core::sessions::{Session, Terms};
use crate::core::time::{local_day, local_minute, Timestamp};
use crate::web::http::esc;
use crate::web::portal::tr;

/// Counts `[data-s]` elements down (or up, with `data-up`) once a second, as `h:mm:ss`; at zero
/// a countdown replaces its paragraph with `data-z`, or reloads the page (the session ended).
/// The pages work without it (they refresh themselves).
pub(super) const TIMERS: &str = "<script>(function(){var t=Date.now(),es=document.querySelectorAll('[data-s]');\
function f(r){var h=Math.floor(r/3600),m=Math.floor(r%3600/60),s=r%60;return(h?h+':'+(m<10?'0':''):'')+m+':'+(s<10?'0':'')+s}\
setInterval(function(){var k=Math.floor((Date.now()-t)/1000);es.forEach(function(e){if(e.z)return;var s=+e.dataset.s,r=e.dataset.up?s+k:Math.max(0,s-k);\
if(r<86400)e.textContent=f(r);if(!r){e.z=1;if(e.dataset.z)e.parentNode.textContent=e.dataset.z;else location.reload()}})},1000)})();</script>";

/// A remaining or elapsed time as a clock (`1:05:09`, `4:07`); whole days in words past a day
/// (the end time says the rest).
pub(super) fn clock(secs: u64, lang: Lang) -> String {
    if secs >= 86_400 {
        return duration_words(secs - secs % 86_400, lang);
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A package's length in words, in the largest unit that divides it: `30 minutes`, `1 hour`,
/// `7 days`; `dakika 30`, `saa 1`, `siku 7`.
pub(super) fn duration_words(secs: u64, lang: Lang) -> String {
    let (n, en, sw) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day", "siku"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour", "saa"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute", "dakika"),
        s => (s, "second", "sekunde"),
    };
    match lang {
        Lang::En if n == 1 => format!("1 {en}"),
        Lang::En => format!("{n} {en}s"),
        Lang::Sw => format!("{sw} {n}"),
    }
}

/// How long to wait, rounded up to whole minutes past one minute: `45 seconds`, `2 minutes`.
pub(super) fn wait_words(secs: i64, lang: Lang) -> String {
    let secs = secs.max(1) as u64;
    if secs <= 60 {
        duration_words(secs, lang)
    } else {
        duration_words(secs.div_ceil(60) * 60, lang)
    }
}

/// `1 GB`, `500 MB`: the owner's unit with a space before it.
pub(super) fn bytes_words(bytes: u64) -> String {
    let text = format_bytes(bytes);
    match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(idx) => format!("{} {}", &text[..idx], &text[idx..]),
        None => text,
    }
}

/// The package's name in `lang` (`name_sw` on the Kiswahili page, when the owner gave one).
pub(super) fn package_name(package: &Package, lang: Lang) -> &str {
    match (lang, &package.name_sw) {
        (Lang::Sw, Some(name)) => name,
        _ => &package.name,
    }
}

/// The name of what was bought, in `lang` while the package is still in the config.
pub(super) fn terms_name<'a>(config: &'a Config, terms: &'a Terms, lang: Lang) -> &'a str {
    let trial = config.trial.as_ref().map(|t| &t.package);
    match config
        .package(&terms.package_id)
        .or(trial.filter(|t| t.id == terms.package_id))
    {
        Some(package) => package_name(package, lang),
        None => &terms.package_name,
    }
}

/// What a package gives, in words: `1 hour · 1 GB of data · up to 5 Mbit/s`, then the owner's
/// description.
fn package_meta(package: &Package, lang: Lang) -> String {
    let mut meta = vec![duration_words(package.duration_secs, lang)];
    meta.push(match (package.quota_bytes, lang) {
        (Some(bytes), Lang::En) => format!("{} of data", bytes_words(bytes)),
        (Some(bytes), Lang::Sw) => format!("data ya {}", bytes_words(bytes)),
        (None, _) => tr(lang, "unlimited").into(),
    });
    if let Some(rate) = package.rate_down_kbit {
        meta.push(format!("{} {}", tr(lang, "up_to"), format_rate(rate)));
    }
    if let Some(rate) = package.fair_kbit {
        meta.push(format!("{} {}", tr(lang, "then"), format_rate(rate)));
    }
    if let Some(window) = package.window {
        meta.push(window.words());
    }
    let mut text = esc(&meta.join(" · "));
    let description = match lang {
        Lang::Sw => package
            .description_sw
            .as_ref()
            .or(package.description.as_ref()),
        Lang::En => package.description.as_ref(),
    };
    if let Some(d) = description {
        text.push_str(&format!("<br>{}", esc(d)));
    }
    text
}

/// What the buy form shows besides the packages: the package to tick, the number typed, an
/// error to put by the field, and (after "not enough money") only packages cheaper than this.
#[derive(Default)]
pub(super) struct BuyForm<'a> {
    pub selected: &'a str,
    pub phone: &'a str,
    pub error: Option<String>,
    pub cheaper_than: Option<Money>,
    pub button: Option<&'static str>,
}

/// One form: a tile per package (a radio button), one phone field, one button. Tap a tile,
/// type the number, tap Pay.
pub(super) fn buy_form(config: &Config, lang: Lang, form: &BuyForm, now: Timestamp) -> String {
    let currency = esc(&config.gateway.currency);
    let mut tiles = String::new();
    for package in config.on_sale(now) {
        if form.cheaper_than.is_some_and(|max| package.price >= max) {
            continue;
        }
        tiles.push_str(&format!(
            "<label><input type=\"radio\" name=\"package\" value=\"{id}\" required{checked}>\
             <span><b>{name}</b><i>{currency} {price}</i>{meta}</span></label>",
            id = esc(&package.id),
            checked = if package.id == form.selected {
                " checked"
            } else {
                ""
            },
            name = esc(package_name(package, lang)),
            price = package.price,
            meta = package_meta(package, lang),
        ));
    }
    if tiles.is_empty() {
        return String::new();
    }
    let error = form
        .error
        .as_ref()
        .map(|e| format!("<p class=\"fe\" id=\"fe\">{e}</p>"))
        .unwrap_or_default();
    let (phone_label, buy) = match wallet_words(config, lang) {
        Some((label, pay)) => (label, form.button.map_or(pay, |key| tr(lang, key))),
        None => (tr(lang, "phone"), tr(lang, form.button.unwrap_or("buy"))),
    };
    format!(
        "<form class=\"card\" method=\"post\" action=\"/buy\" id=\"buy\"><div class=\"tiles\">\
         {tiles}</div><label>{phone_label}<input name=\"phone\" type=\"tel\" inputmode=\"tel\" \
         autocomplete=\"tel\" placeholder=\"07XX XXX XXX\" required maxlength=\"20\" \
         value=\"{phone}\"></label>{error}<button>{buy}</button>{qr}</form>",
        qr = if cfg!(feature = "mpesa-qr") && config.mpesa.as_ref().is_some_and(|m| m.qr && m.pull)
        {
            format!(
                "<button formaction=\"/qr\" formnovalidate class=\"alt\">{}</button>",
                tr(lang, "qr_button")
            )
        } else {
            String::new()
        },
        phone = esc(form.phone),
    )
}

/// The wallet that prompted for `payment`, as the guest knows it: through ClickPesa, the
/// number's own network (Mixx by Yas or HaloPesa).
fn wallet_name(payment: &Payment) -> &'static str {
    #[cfg(feature = "clickpesa")]
    if payment.provider() == Provider::ClickPesa {
        if let Some(network) = crate::core::clickpesa::network(&payment.phone) {
            return network.name();
        }
    }
    payment.provider().name()
}

/// The line under the shop's name: M-Pesa by name only when Daraja's M-Pesa is the one wallet
/// on offer, the phone's wallet when another is, and no payment at all when none is.
pub(super) fn tagline(config: &Config, lang: Lang) -> &'static str {
    if wallet_words(config, lang).is_some() {
        tr(lang, "tagline_wallets")
    } else if config.mpesa.is_some() {
        tr(lang, "tagline")
    } else {
        tr(lang, "tagline_free")
    }
}

/// The phone field's label and the button's words when Airtel Money is on offer (issue 18):
/// Airtel alone, or beside M-Pesa (the number decides which wallet prompts, `App::wallet_for`).
fn wallet_words(config: &Config, lang: Lang) -> Option<(&'static str, &'static str)> {
    #[cfg(feature = "clickpesa")]
    if config.clickpesa.as_ref().is_some_and(|c| c.enabled) {
        #[cfg(feature = "vodacom")]
        let vodacom = config.vodacom.as_ref().is_some_and(|v| v.enabled);
        #[cfg(not(feature = "vodacom"))]
        let vodacom = false;
        let others =
            vodacom || config.mpesa.is_some() || config.airtel.as_ref().is_some_and(|a| a.enabled);
        return Some(match (others, lang) {
            (false, Lang::En) => ("Mixx by Yas or HaloPesa phone number", "Pay"),
            (false, Lang::Sw) => ("Nambari ya simu ya Mixx by Yas au HaloPesa", "Lipa"),
            (true, Lang::En) => (
                "Phone number: your network's wallet prompts (Mixx by Yas, HaloPesa and others)",
                "Pay",
            ),
            (true, Lang::Sw) => (
                "Nambari ya simu: pochi ya mtandao wako itakuomba (Mixx by Yas, HaloPesa na \
                 nyingine)",
                "Lipa",
            ),
        });
    }
    #[cfg(feature = "vodacom")]
    if config.vodacom.as_ref().is_some_and(|v| v.enabled) {
        let others = config.mpesa.is_some() || config.airtel.as_ref().is_some_and(|a| a.enabled);
        return Some(match (others, lang) {
            (false, Lang::En) => ("Vodacom M-Pesa phone number", "Pay with Vodacom M-Pesa"),
            (false, Lang::Sw) => (
                "Nambari ya simu ya Vodacom M-Pesa",
                "Lipa kwa Vodacom M-Pesa",
            ),
            (true, Lang::En) => ("Phone number: Vodacom M-Pesa prompts Vodacom lines", "Pay"),
            (true, Lang::Sw) => (
                "Nambari ya simu: Vodacom M-Pesa itaomba kwa laini za Vodacom",
                "Lipa",
            ),
        });
    }
    #[cfg(feature = "airtel")]
    if config.airtel.as_ref().is_some_and(|a| a.enabled) {
        return Some(match (config.mpesa.is_some(), lang) {
            (false, Lang::En) => ("Airtel Money phone number", "Pay with Airtel Money"),
            (false, Lang::Sw) => ("Nambari ya simu ya Airtel Money", "Lipa kwa Airtel Money"),
            (true, Lang::En) => ("M-Pesa or Airtel Money number: that wallet prompts", "Pay"),
            (true, Lang::Sw) => (
                "Nambari ya M-Pesa au Airtel Money: pochi yake itakuomba",
                "Lipa",
            ),
        });
    }
    let _ = (config, lang);
    None
}

/// The voucher form: one line near the top, or a card of its own (first on the page) with the
/// code a voucher's QR link brought.
/// The free trial's card, if the owner offers one: one button (`Free 15 minutes`,
/// `Dakika 15 bure`), its speed, and that it is once a day. No field: one tap grants it.
pub(super) fn trial_card(config: &Config, lang: Lang) -> String {
    let Some(trial) = &config.trial else {
        return String::new();
    };
    let length = duration_words(trial.package.duration_secs, lang);
    let free = tr(lang, "trial_free");
    let button = match lang {
        Lang::En => format!("{free} {length}"),
        Lang::Sw => {
            let mut chars = length.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            format!("{}{} {free}", first.unwrap_or(' '), chars.as_str())
        }
    };
    let speed = match trial.package.rate_down_kbit {
        Some(rate) => format!(" · {} {}", tr(lang, "up_to"), format_rate(rate)),
        None => String::new(),
    };
    format!(
        "<form class=\"card ok\" method=\"post\" action=\"/trial\" id=\"trial\">\
         <button>{}</button><p class=\"meta\">{}{}</p></form>",
        esc(&button),
        tr(lang, "trial_help"),
        esc(&speed)
    )
}

pub(super) fn voucher_form(lang: Lang, code: &str) -> String {
    format!(
        "<form class=\"card{class}\" method=\"post\" action=\"/voucher\" id=\"voucher\">\
         <label for=\"code\">{title}</label><div class=\"row\"><input id=\"code\" name=\"code\" \
         autocomplete=\"off\" autocapitalize=\"characters\" maxlength=\"32\" required \
         placeholder=\"{placeholder}\" value=\"{code}\"><button>{redeem}</button></div></form>",
        class = if code.is_empty() { "" } else { " ok" },
        title = tr(lang, "voucher"),
        placeholder = tr(lang, "code"),
        code = esc(code.get(..code.len().min(32)).unwrap_or("")),
        redeem = tr(lang, "redeem"),
    )
}

/// The online view: time left as a clock, the local end time, data left, what was bought and
/// the receipt.
pub(super) fn session_card(
    config: &Config,
    session: &Session,
    now: Timestamp,
    lang: Lang,
    receipt: Option<&str>,
) -> String {
    let left = session.seconds_left(now);
    let offset = config.gateway.utc_offset_secs;
    let end = local_minute(session.deadline, offset);
    // The time alone on the same day; the date too when it ends on another.
    let until = match local_day(session.deadline, offset) == local_day(now, offset) {
        true => end.get(11..).unwrap_or(&end),
        false => &end,
    };
    let data = match session.quota_bytes {
        Some(quota) => {
            let left_bytes = quota.saturating_sub(session.bytes_used());
            let pct = (left_bytes.saturating_mul(100) / quota.max(1)).min(100);
            // Fair use: the speed once the data is used.
            let then = session
                .terms
                .fair_kbit
                .map(|rate| format!(" · {} {}", tr(lang, "then"), format_rate(rate)))
                .unwrap_or_default();
            format!(
                "{}: {} {} {}{then}<div class=\"bar\"><i style=\"width:{pct}%\"></i></div>",
                tr(lang, "data"),
                bytes_words(left_bytes),
                tr(lang, "of"),
                bytes_words(quota)
            )
        }
        None => tr(lang, "unlimited").to_string(),
    };
    let receipt = receipt
        .map(|r| format!(" · {}: <b>{}</b>", tr(lang, "receipt"), esc(r)))
        .unwrap_or_default();
    format!(
        "<div class=\"card ok\" id=\"online\"><h2>{online}</h2>\
         <div class=\"big\"><span id=\"left\" data-s=\"{left}\">{clock}</span></div>\
         <div class=\"meta\">{left_word} · {until_word} <b id=\"until\">{until}</b></div>\
         <div class=\"meta\">{data}</div><div class=\"meta\">{package}{receipt}</div></div>",
        online = tr(lang, "online"),
        clock = clock(left, lang),
        left_word = tr(lang, "left"),
        until_word = tr(lang, "until"),
        package = esc(terms_name(config, &session.terms, lang)),
    )
}

/// The M-Pesa receipt to show the paying guest: the one a query confirmed, else the one
/// Daraja's callback named for this paid prompt (kept as evidence rather than recorded as the
/// receipt, since a callback proves nothing by itself, but it is what the guest's SMS says).
pub(super) fn receipt(payment: &Payment) -> Option<&str> {
    let from_callback = payment.callback.as_ref().filter(|h| h.result_code == 0);
    (payment.receipt.as_deref()).or(from_callback.and_then(|h| h.receipt.as_deref()))
}

/// Where the money goes, as the prompt will say it: `You pay KES 20 to PayBill 174379
/// (account WiFi), Mama Mboga Cafe Wi-Fi.`
fn payee(config: &Config, payment: &Payment, lang: Lang) -> String {
    let amount = payment.amount;
    let Some(mpesa) = config
        .mpesa
        .as_ref()
        .filter(|_| payment.provider().is_mpesa())
    else {
        return String::new();
    };
    let to = match lang {
        Lang::En => "to",
        Lang::Sw => "kwa",
    };
    let number = match &mpesa.till {
        Some(till) => format!("{} {}", tr(lang, "till"), esc(till)),
        None => format!(
            "{} {} ({} {})",
            tr(lang, "paybill"),
            esc(&mpesa.shortcode),
            tr(lang, "account"),
            esc(&mpesa.account_reference)
        ),
    };
    format!(
        "<p id=\"payee\">{} {} {amount} {to} <b>{number}</b>, {}.</p>",
        tr(lang, "you_pay"),
        esc(&config.gateway.currency),
        esc(&config.brand.name)
    )
}

/// The guest-facing words for a payment's state, and the card style.
pub(super) fn payment_words(payment: &Payment, lang: Lang) -> (&'static str, &'static str) {
    match payment.state {
        PaymentState::Initiating => ("warn", tr(lang, "sending")),
        PaymentState::Pending => ("warn", tr(lang, "check_phone")),
        PaymentState::Paid => ("ok", tr(lang, "paid")),
        PaymentState::Cancelled => ("err", tr(lang, "cancelled")),
        PaymentState::Expired if payment.decline == Some(Decline::Unavailable) => {
            ("err", tr(lang, "unanswered"))
        }
        PaymentState::Expired => ("err", tr(lang, "timed_out")),
        PaymentState::Failed => match payment.decline {
            Some(Decline::WrongPin) => ("err", tr(lang, "wrong_pin")),
            Some(Decline::InsufficientFunds) => ("err", tr(lang, "funds")),
            Some(Decline::Busy) => ("err", tr(lang, "busy")),
            Some(Decline::TimedOut) => ("err", tr(lang, "timed_out")),
            _ => ("err", tr(lang, "failed")),
        },
    }
}

/// The waiting page's card: the package, the number the prompt went to, the payee, a timer
/// and what to do when no prompt comes.
pub(super) fn waiting_card(
    config: &Config,
    payment: &Payment,
    now: Timestamp,
    lang: Lang,
) -> String {
    let (_, words) = payment_words(payment, lang);
    // The words name M-Pesa; another wallet's prompt is named as that wallet.
    let provider = payment.provider();
    let wallet_name = wallet_name(payment);
    let wallet = |text: &'static str| match provider {
        Provider::Mpesa => std::borrow::Cow::Borrowed(text),
        _ => std::borrow::Cow::Owned(text.replace("M-Pesa", wallet_name)),
    };
    let waited = u64::try_from(now - payment.created_at).unwrap_or(0);
    format!(
        "<div class=\"card warn\"><h2>{name} · {currency} {amount}</h2><p id=\"state\">{words}</p>\
         <p>{sent_to} <b id=\"phone\">{phone}</b></p>{payee}\
         <div class=\"big\">{waiting} <span id=\"t\" data-s=\"{waited}\" data-up=\"1\">{clock}</span></div>\
         <details open><summary>{no_prompt}</summary><p class=\"meta\">{help}</p></details></div>",
        name = esc(terms_name(config, &payment.terms, lang)),
        currency = esc(&config.gateway.currency),
        amount = payment.amount,
        sent_to = tr(lang, "sent_to"),
        phone = match provider {
            Provider::Mpesa => payment.phone.local(),
            _ => format!("{} · {wallet_name}", payment.phone.local()),
        },
        payee = payee(config, payment, lang),
        waiting = tr(lang, "waiting"),
        clock = clock(waited, lang),
        no_prompt = tr(lang, "no_prompt"),
        help = wallet(tr(lang, "no_prompt_help")),
        words = wallet(words),
    )
}

/// `text` with `{t}` replaced by how long to wait, in words; with `TIMERS` on the page it
/// counts down and turns into the `try_now` words at zero.
pub(super) fn with_wait(text: &str, secs: i64, lang: Lang) -> String {
    let span = format!(
        "<b data-s=\"{secs}\" data-z=\"{}\">{}</b>",
        tr(lang, "try_now"),
        wait_words(secs, lang)
    );
    text.replace("{t}", &span)
}

/// Tap-to-call help, when the owner gave a phone number.
pub(super) fn help_line(config: &Config, lang: Lang) -> String {
    match &config.brand.phone {
        Some(phone) => format!(
            "<p class=\"help\">{} <a href=\"tel:{}\">{}</a></p>",
            tr(lang, "help"),
            esc(&phone.replace(' ', "")),
            esc(phone)
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_amounts_in_words() {
        assert_eq!(duration_words(1800, Lang::En), "30 minutes");
        assert_eq!(duration_words(3600, Lang::En), "1 hour");
        assert_eq!(duration_words(7 * 86_400, Lang::Sw), "siku 7");
        assert_eq!(duration_words(3600, Lang::Sw), "saa 1");
        assert_eq!(wait_words(87, Lang::En), "2 minutes");
        assert_eq!(wait_words(30, Lang::Sw), "sekunde 30");
        assert_eq!(bytes_words(1_000_000_000), "1 GB");
        assert_eq!(bytes_words(1_500_000), "1.5 MB");
        assert_eq!(clock(3600, Lang::En), "1:00:00");
        assert_eq!(clock(65, Lang::En), "1:05");
        assert_eq!(clock(2 * 86_400 + 7200 + 5, Lang::En), "2 days");
    }

    /// Issue 18: the line under the shop's name names M-Pesa only when Daraja's M-Pesa is the
    /// one wallet on offer; a shop with M-Pesa off sells no payment by name.
    #[test]
    fn the_tagline_names_only_the_wallets_on_offer() {
        let parse = |text: &str| crate::core::config::parse(text, "lango").unwrap();
        let says = |config: &Config, en: &str, sw: &str| {
            assert_eq!(
                (tagline(config, Lang::En), tagline(config, Lang::Sw)),
                (en, sw)
            );
        };
        let mpesa = "config mpesa\n option environment sandbox\n option consumer_key k\n \
                     option consumer_secret s\n option passkey p\n option shortcode 174379\n";
        says(
            &parse(mpesa),
            "Fast Wi-Fi. Pay with M-Pesa.",
            "Wi-Fi ya kasi. Lipa kwa M-Pesa.",
        );
        let off = format!("{mpesa} option enabled 0\n");
        for text in [off.as_str(), ""] {
            says(&parse(text), "Fast Wi-Fi.", "Wi-Fi ya kasi.");
        }
        if cfg!(feature = "airtel") {
            let airtel = "config airtel 'airtel'\n option client_id i\n option client_secret s\n \
                          option country KE\n option environment sandbox\n";
            for text in [format!("{mpesa}{airtel}"), format!("{off}{airtel}")] {
                says(
                    &parse(&text),
                    "Fast Wi-Fi. Pay from your phone's wallet.",
                    "Wi-Fi ya kasi. Lipa kwa pochi ya simu yako.",
                );
            }
        }
    }

    #[test]
    fn fair_use_and_windows_in_words_in_both_languages() {
        let text = "config package 'night'\n option name 'Night'\n option price 50\n \
                    option duration 8h\n option data 1GB\n option fair_rate 256k\n \
                    option window 22:00-06:00\n";
        let config = crate::core::config::parse(text, "lango").unwrap();
        let package = &config.packages[0];
        assert_eq!(
            package_meta(package, Lang::En),
            "8 hours · 1 GB of data · then 256 kbit/s · 22:00-06:00"
        );
        assert_eq!(
            package_meta(package, Lang::Sw),
            "saa 8 · data ya 1 GB · kisha 256 kbit/s · 22:00-06:00"
        );
        // The online view says the speed after the data, at 23:00 local (+03:00).
        let now = 1_800_000_000 - 1_800_000_000 % 86_400 + 20 * 3600;
        let terms = crate::core::sessions::Terms::of(package);
        let session = crate::core::sessions::grant(
            None,
            1,
            crate::core::model::Mac([2, 0, 0, 0, 0, 1]),
            None,
            &terms,
            crate::core::sessions::Source::Owner,
            now,
        )
        .session()
        .clone();
        let card = session_card(&config, &session, now, Lang::Sw, None);
        assert!(card.contains("kati ya 1 GB · kisha 256 kbit/s"), "{card}");
        // Ends with the window at 06:00, not eight hours later.
        assert!(
            card.contains("<b id=\"until\">2027-01-16 06:00</b>"),
            "{card}"
        );
        // Outside its window the package is not offered.
        let offered = |now| buy_form(&config, Lang::En, &BuyForm::default(), now);
        assert!(offered(now).contains("value=\"night\""));
        assert!(offered(now + 8 * 3600).is_empty());
    }
}
