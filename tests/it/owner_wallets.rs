//! Issue 18, the owner's side of the wallets: each provider (M-Pesa, Airtel Money, Vodacom
//! M-Pesa, ClickPesa) turned on or off and its credentials entered on the owner page, over HTTP
//! against a running lango (the browser tests' `Shop`: real listeners, a config file): the file
//! changes, the running portal offers what the file says, a refused form says why and writes
//! nothing, a blank secret keeps the stored one, and no secret comes back in any owner-page
//! response. Then the same in headless Chromium.

use std::net::SocketAddr;

use crate::browser::{available, fill_first_run, one_at_a_time, Browser, Shop};
use crate::support::{csrf_in, http, Reply};

const AIRTEL_ID: &str = "AIRTELID-3c9e71";
const AIRTEL_SECRET: &str = "AIRTELSECRET-8d02fa";

/// The owner, signed in over HTTP with the first-run form (the setup code read on the router).
struct HttpOwner {
    admin: SocketAddr,
    cookie: String,
    csrf: String,
    /// Every owner-page response so far, for the secrets check.
    seen: std::cell::RefCell<Vec<String>>,
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    pairs.join("&")
}

impl HttpOwner {
    fn first_run(shop: &Shop) -> HttpOwner {
        let code = (shop.running.as_ref().unwrap().app.setup_code())
            .unwrap()
            .unwrap();
        let origin = format!("http://{}", shop.admin);
        let body = form(&[
            ("code", &code),
            ("password", "mama mboga 2027"),
            ("again", "mama mboga 2027"),
        ]);
        let headers = [
            ("Origin", origin.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let reply = http(shop.admin, "POST", "/setup", &headers, &body);
        assert_eq!(reply.status, 303, "{}", reply.body);
        let cookie = reply.header("Set-Cookie").expect("a session cookie");
        let mut owner = HttpOwner {
            admin: shop.admin,
            cookie: cookie.split(';').next().unwrap().to_string(),
            csrf: String::new(),
            seen: Default::default(),
        };
        owner.csrf = csrf_in(&owner.get("/settings").body);
        owner
    }

    fn keep(&self, reply: Reply) -> Reply {
        let mut text = reply.body.clone();
        for (k, v) in &reply.headers {
            text.push_str(&format!("\n{k}: {v}"));
        }
        self.seen.borrow_mut().push(text);
        reply
    }

    fn get(&self, path: &str) -> Reply {
        let reply = http(self.admin, "GET", path, &[("Cookie", &self.cookie)], "");
        self.keep(reply)
    }

    /// A form posted from the settings page: cookie, Origin, CSRF token.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let origin = format!("http://{}", self.admin);
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let reply = http(self.admin, "POST", path, &headers, &form(&all));
        self.keep(reply)
    }
}

fn airtel_form<'a>(enabled: &'a str, id: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("wallet", "airtel"),
        ("airtel.enabled", enabled),
        ("airtel.client_id", id),
        ("airtel.client_secret", secret),
        ("airtel.country", "KE"),
        ("airtel.environment", "sandbox"),
        ("airtel.base_url", ""),
    ]
}

fn portal_home(shop: &Shop) -> String {
    http(shop.portal, "GET", "/", &[], "").body
}

#[test]
fn wallets_are_turned_on_and_off_on_the_owner_page_and_the_portal_follows() {
    let shop = Shop::start();
    let owner = HttpOwner::first_run(&shop);
    let path = shop.dir.path("lango.conf");
    let app = shop.running.as_ref().unwrap().app.clone();
    let settings = owner.get("/settings").body;
    for words in [
        "action=\"/settings/wallet\"",
        "name=\"airtel.client_secret\"",
        "placeholder=\"not set\"",
    ] {
        assert!(settings.contains(words), "{words}: {settings}");
    }
    assert!(!portal_home(&shop).contains("Airtel"));

    // Airtel Money on, with its credentials: in the file, live at once on the portal.
    let saved = owner.post(
        "/settings/wallet",
        &airtel_form("1", AIRTEL_ID, AIRTEL_SECRET),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let settings = owner.get("/settings").body;
    assert!(
        settings.contains("Airtel Money settings saved."),
        "{settings}"
    );
    let file = std::fs::read_to_string(&path).unwrap();
    for line in [
        "config airtel 'airtel'",
        "\toption enabled '1'",
        &format!("\toption client_secret '{AIRTEL_SECRET}'"),
        "\toption country 'KE'",
    ] {
        assert!(file.contains(line), "{line}: {file}");
    }
    assert_eq!(lango::core::config::load(&path).unwrap(), *app.config());
    assert!(
        portal_home(&shop).contains("M-Pesa or Airtel Money number"),
        "{}",
        portal_home(&shop)
    );
    assert!(settings.contains("placeholder=\"set\""), "{settings}");

    // A wallet that cannot work here: refused on the page with the reason, nothing written.
    let before = std::fs::read_to_string(&path).unwrap();
    let refused = owner.post(
        "/settings/wallet",
        &[
            ("wallet", "vodacom"),
            ("vodacom.enabled", "1"),
            ("vodacom.api_key", "VODAKEY-11aa"),
            ("vodacom.public_key", "not-a-key"),
            ("vodacom.service_provider_code", "000000"),
            ("vodacom.environment", "sandbox"),
        ],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("alert-message error\">Not saved")
            && refused
                .body
                .contains("takes TZS, but the shop&#39;s option currency is KES"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"000000\""),
        "the form as typed"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert!(app.config().vodacom.is_none());

    // Off again with the secret fields blank: the stored secrets stay, the portal drops Airtel.
    owner.post("/settings/wallet", &airtel_form("0", "", ""));
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        file.contains("\toption enabled '0'") && file.contains(AIRTEL_SECRET),
        "{file}"
    );
    let airtel = app.config().airtel.clone().unwrap();
    assert!(!airtel.enabled);
    assert_eq!(
        (airtel.client_id.as_str(), airtel.client_secret.as_str()),
        (AIRTEL_ID, AIRTEL_SECRET)
    );
    assert!(!portal_home(&shop).contains("Airtel"));

    // M-Pesa off, Airtel on: the portal asks for an Airtel number only; the M-Pesa form keeps
    // what is stored, to be turned on again.
    owner.post("/settings/wallet", &airtel_form("1", "", ""));
    let mpesa = [
        ("enabled", "0"),
        ("environment", "simulator"),
        ("type", "paybill"),
        ("shortcode", "174379"),
        ("account_reference", "WiFi"),
    ];
    owner.post("/settings/mpesa", &mpesa);
    let file = std::fs::read_to_string(&path).unwrap();
    let section = file.split("config mpesa 'mpesa'").nth(1).unwrap();
    let section = section.split("\n\n").next().unwrap();
    assert!(section.contains("\toption enabled '0'"), "{file}");
    assert!(app.config().mpesa.is_none() && app.config().mpesa_off.is_some());
    let home = portal_home(&shop);
    assert!(
        home.contains("Airtel Money phone number") && !home.contains("M-Pesa or Airtel"),
        "{home}"
    );
    let settings = owner.get("/settings").body;
    assert!(
        settings.contains("<option value=\"0\" selected>Off</option>")
            && settings.contains("value=\"174379\""),
        "{settings}"
    );
    let mut on = mpesa.to_vec();
    on[0].1 = "1";
    owner.post("/settings/mpesa", &on);
    assert!(app.config().mpesa.is_some());
    assert!(portal_home(&shop).contains("M-Pesa or Airtel Money number"));

    // No secret in anything the owner page sent.
    for page in ["/", "/settings", "/payments", "/events", "/packages"] {
        owner.get(page);
    }
    for reply in owner.seen.borrow().iter() {
        for secret in [AIRTEL_ID, AIRTEL_SECRET, "VODAKEY-11aa", "demo-passkey"] {
            assert!(!reply.contains(secret), "{secret} shown: {reply}");
        }
    }
}

/// The same in Chromium: the owner turns Airtel Money on from the settings page and a guest's
/// portal names it. Screenshot `owner-wallets.png`.
#[test]
fn the_owner_turns_airtel_money_on_in_a_browser() {
    if !available() {
        return;
    }
    let _alone = one_at_a_time();
    let shop = Shop::start();
    let browser = Browser::start("en");
    fill_first_run(&shop, &browser);
    browser.click("form[action='/setup'] button");
    browser.wait_for_text("guests online now");
    browser.open(&format!("http://{}/settings", shop.admin));
    browser.wait_for_text("Airtel Money");
    let form = "form[action='/settings/wallet']:has(input[value=airtel])";
    browser.script(&format!(
        "document.querySelector(\"{form} select[name='airtel.enabled']\").value='1'"
    ));
    browser.type_into(&format!("{form} input[name='airtel.client_id']"), AIRTEL_ID);
    browser.type_into(
        &format!("{form} input[name='airtel.client_secret']"),
        AIRTEL_SECRET,
    );
    browser.click(&format!("{form} button.cbi-button-save"));
    browser.wait_for_text("Airtel Money settings saved.");
    let html = browser.html();
    assert!(
        !html.contains(AIRTEL_SECRET) && !html.contains(AIRTEL_ID),
        "{html}"
    );
    browser.screenshot("owner-wallets.png");
    browser.open(&format!("http://{}/", shop.portal));
    browser.wait_for_text("M-Pesa or Airtel Money number");
}
