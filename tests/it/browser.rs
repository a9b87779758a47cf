//! The portal in headless Chromium, driven through ChromeDriver's WebDriver protocol (plain
//! HTTP and JSON, spoken with the support module's client): the purchase path clicked through
//! in English and in Kiswahili against the simulated gateway, with a screenshot of each state
//! saved under `artifacts/screenshots/`. Skipped with a message when Chromium or ChromeDriver is
//! missing, unless LANGO_REQUIRE_ALL_TESTS is set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use lango::adapters::neighbours::LoopbackNeighbours;
use lango::adapters::simulator::Simulator;
use lango::adapters::testing::ManualClock;
use lango::app::Env;
use lango::core::firewall::RecordingFirewall;
use lango::daemon::{self, Running};
use lango::store::Store;

use crate::support::{http11 as http, TempDir, T0};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser at a time: two Chromiums next to the network lab on a small machine make the
/// waits flaky, and the tests gain nothing from running together.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn available() -> bool {
    let found = |p: &str| std::path::Path::new(p).exists();
    if found("/usr/bin/chromium") && found("/usr/bin/chromedriver") {
        return true;
    }
    if std::env::var_os("LANGO_REQUIRE_ALL_TESTS").is_some() {
        panic!("browser test cannot run: /usr/bin/chromium or /usr/bin/chromedriver is missing");
    }
    eprintln!("skipping browser test: install Debian's chromium and chromium-driver");
    false
}

/// Where screenshots go: kept after the test, for people and CI to look at.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/screenshots");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// A ChromeDriver process and one browser session.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: TempDir,
}

impl Browser {
    pub fn start(lang: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = TempDir::new("chromium");
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=412,900", format!("--lang={lang}"),
                     format!("--user-data-dir={}", profile.0.display())],
            "prefs": {"intl.accept_languages": lang},
        }}}});
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let reply = browser.call("POST", "/session", &caps);
        browser.session = reply["sessionId"].as_str().expect("a session").to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let reply = http(
            self.addr,
            method,
            path,
            &[("Content-Type", "application/json")],
            &body,
        );
        let value: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        assert!(
            reply.status < 300,
            "webdriver {method} {path}: {}",
            reply.body
        );
        value.get("value").cloned().unwrap_or(value)
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn open(&self, url: &str) {
        self.call("POST", &self.at("/url"), &json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.at("/element"),
            &json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().expect("element").to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/value")),
            &json!({"text": text}),
        );
    }

    /// Empties an input (before typing over a default value).
    pub fn clear(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/clear")),
            &json!({}),
        );
    }

    /// Resizes the window (412 px wide is a phone; 1280 a laptop).
    pub fn window(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.at("/window/rect"),
            &json!({"width": width, "height": height}),
        );
    }

    /// Elements that stick out to the right of the window (a page that scrolls sideways on a
    /// phone), as `tag.class` names; empty when the page fits.
    pub fn overflowing(&self) -> String {
        let v = self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": "var w=document.documentElement.clientWidth,out=[];\
                document.querySelectorAll('body *').forEach(function(e){var r=e.getBoundingClientRect();\
                if(r.right>w+1&&r.width>0&&!e.closest('.table-wrap,#topmenu'))out.push(e.tagName+'.'+e.className+' '+Math.round(r.right));});\
                return out.slice(0,8).join(', ')", "args": []}),
        );
        v.as_str().unwrap_or("").to_string()
    }

    /// Runs `js` (a function body) in the page and returns its result.
    pub fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": js, "args": []}),
        )
    }

    /// The page's HTML as the browser has it.
    pub fn html(&self) -> String {
        let v = self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": "return document.documentElement.outerHTML", "args": []}),
        );
        v.as_str().unwrap_or("").to_string()
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/click")),
            &json!({}),
        );
    }

    pub fn text(&self) -> String {
        let v = self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": "return document.body.innerText", "args": []}),
        );
        v.as_str().unwrap_or("").to_string()
    }

    /// Waits (bounded) until the page shows `words`.
    #[track_caller]
    pub fn wait_for_text(&self, words: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.text().contains(words) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the page never showed {words:?}; it shows:\n{}",
            self.text()
        );
    }

    pub fn screenshot(&self, name: &str) -> PathBuf {
        if name.starts_with("admin-") && !name.contains("laptop") {
            let wide = self.overflowing();
            assert!(wide.is_empty(), "{name}: wider than the phone: {wide}");
        }
        let v = self.call("GET", &self.at("/screenshot"), &Value::Null);
        let png = lango::core::base64::decode(v.as_str().expect("base64 png")).expect("base64 png");
        let path = artifacts().join(name);
        std::fs::write(&path, png).expect("screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                "",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// lango on loopback with a manual clock, the simulator and the recording firewall, running
/// from a config file (the demo's) that the owner page can edit.
pub struct Shop {
    pub running: Option<Running>,
    pub clock: Arc<ManualClock>,
    pub portal: SocketAddr,
    pub admin: SocketAddr,
    pub dir: TempDir,
}

impl Shop {
    pub fn start() -> Shop {
        let dir = TempDir::new("shop");
        let config_path = dir.path("lango.conf");
        // Free ports, written into the file too: the file and the running config agree, as on
        // a router (otherwise every edit would report the ports as waiting for a restart).
        let free = || {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let (portal, admin) = (free(), free());
        let text = lango::daemon::DEMO_CONFIG
            .replace(
                "option portal_port '8080'",
                &format!("option portal_port '{portal}'"),
            )
            .replace(
                "option admin_port '8081'",
                &format!("option admin_port '{admin}'"),
            );
        std::fs::write(&config_path, &text).unwrap();
        let config = lango::core::config::parse(&text, "shop").unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let sim = Arc::new(Simulator::new(clock.clone(), 3));
        let env = Env {
            clock: clock.clone(),
            firewall: Arc::new(RecordingFirewall::default()),
            neighbours: Arc::new(LoopbackNeighbours),
            gateway: sim.clone(),
        };
        let options = daemon::Options {
            simulator: Some(sim),
            config_path: Some(config_path),
            ..daemon::Options::default()
        };
        let running = daemon::start(config, Store::in_memory().unwrap(), env, options).unwrap();
        Shop {
            portal: running.portal,
            admin: running.admin,
            running: Some(running),
            clock,
            dir,
        }
    }

    /// Time passes on the router (the simulated customer types the PIN).
    pub fn advance(&self, secs: i64) {
        self.clock.advance(secs);
        if let Some(r) = &self.running {
            r.app.due_jobs_wake();
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

fn click_through(lang: &str, words: [&str; 4], phone_to_cancel: &str) -> Vec<PathBuf> {
    let shop = Shop::start();
    let browser = Browser::start(lang);
    let portal = format!("http://{}/", shop.portal);
    let mut shots = Vec::new();
    browser.open(&portal);
    browser.wait_for_text(words[0]);
    shots.push(browser.screenshot(&format!("portal-{lang}-1-packages.png")));
    // A cancelled prompt first: the guest sees it in words and can try again.
    browser.type_into("form[action='/buy'] input[name=phone]", phone_to_cancel);
    browser.click("form[action='/buy'] button");
    browser.wait_for_text(words[1]);
    shots.push(browser.screenshot(&format!("portal-{lang}-2-check-phone.png")));
    shop.advance(4);
    browser.wait_for_text(words[2]);
    shots.push(browser.screenshot(&format!("portal-{lang}-3-cancelled.png")));
    // Then a payment that goes through: the 1 Hour package.
    browser.open(&portal);
    browser.type_into(
        "form[action='/buy']:nth-of-type(2) input[name=phone]",
        "0712 345 678",
    );
    browser.click("form[action='/buy']:nth-of-type(2) button");
    browser.wait_for_text(words[1]);
    shop.advance(4);
    browser.wait_for_text(words[3]);
    shots.push(browser.screenshot(&format!("portal-{lang}-4-paid.png")));
    browser.open(&portal);
    browser.wait_for_text(words[3]);
    shots.push(browser.screenshot(&format!("portal-{lang}-5-online.png")));
    shots
}

#[test]
fn the_purchase_path_in_english_and_kiswahili() {
    if !available() {
        return;
    }
    let _alone = one_at_a_time();
    let en = click_through(
        "en",
        [
            "Choose a package",
            "Check your phone",
            "You cancelled the payment",
            "You are online",
        ],
        "0700001032",
    );
    let sw = click_through(
        "sw",
        [
            "Chagua kifurushi",
            "Angalia simu yako",
            "Umesitisha malipo",
            "Umeunganishwa",
        ],
        "0700001032",
    );
    for shot in en.iter().chain(&sw) {
        let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 2000, "{} is {size} bytes", shot.display());
        eprintln!("screenshot: {}", shot.display());
    }
}

/// Opens the owner page of a new shop and fills in the first-run form: the one-time setup code,
/// which only someone on the router can read (issue 13), and the password twice.
fn fill_first_run(shop: &Shop, browser: &Browser) {
    browser.open(&format!("http://{}/", shop.admin));
    browser.wait_for_text("Choose the owner password");
    let code = (shop.running.as_ref().unwrap().app.setup_code())
        .unwrap()
        .unwrap();
    browser.type_into("input[name=code]", &code);
    browser.type_into("input[name=password]", "mama mboga 2027");
    browser.type_into("input[name=again]", "mama mboga 2027");
}

/// Screenshots that are real pictures, listed for the test's output.
fn check_screenshots(shots: &[PathBuf]) {
    for shot in shots {
        let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 2000, "{} is {size} bytes", shot.display());
        eprintln!("screenshot: {}", shot.display());
    }
}

/// The owner page clicked through: first-run password, a new package, a batch of vouchers and
/// its print sheet, a purchase on the portal showing up on the dashboard and in payments, and
/// kicking that guest. Screenshots at phone width, and the dashboard at laptop width.
#[test]
fn the_owner_page_runs_the_shop() {
    if !available() {
        return;
    }
    let _alone = one_at_a_time();
    let shop = Shop::start();
    let browser = Browser::start("en");
    // Headless Chromium starts windows at least 500 px wide; a phone is narrower.
    browser.window(412, 900);
    let admin = format!("http://{}", shop.admin);
    let mut shots = Vec::new();
    fill_first_run(&shop, &browser);
    shots.push(browser.screenshot("admin-1-first-run.png"));
    browser.click("form[action='/setup'] button");
    browser.wait_for_text("guests online now");
    shots.push(browser.screenshot("admin-2-dashboard.png"));
    // A new package, on sale at once.
    browser.open(&format!("{admin}/packages"));
    browser.type_into("form[action='/packages'] input[name=name]", "Late Night");
    browser.type_into("form[action='/packages'] input[name=price]", "30");
    browser.type_into("form[action='/packages'] input[name=duration]", "8h");
    browser.type_into("form[action='/packages'] input[name=data]", "2GB");
    browser.click("form[action='/packages'] button.cbi-button-save");
    browser.wait_for_text("Package Late Night saved.");
    assert!(
        !browser.text().contains("restart"),
        "nothing waits for a restart"
    );
    shots.push(browser.screenshot("admin-3-packages.png"));
    let running = shop.running.as_ref().unwrap();
    assert!(running.app.config().package("late_night").is_some());
    let file = std::fs::read_to_string(shop.dir.path("lango.conf")).unwrap();
    assert!(file.contains("config package 'late_night'"), "{file}");
    // A batch of vouchers and its print sheet.
    browser.open(&format!("{admin}/vouchers"));
    browser.clear("form[action='/vouchers'] input[name=count]");
    browser.type_into("form[action='/vouchers'] input[name=count]", "6");
    browser.type_into("form[action='/vouchers'] input[name=prefix]", "cafe");
    browser.click("form[action='/vouchers'] button");
    browser.wait_for_text("Made 6 vouchers");
    shots.push(browser.screenshot("admin-4-vouchers.png"));
    browser.click("a[href^='/vouchers/print']");
    browser.wait_for_text("6 unused vouchers");
    assert_eq!(browser.html().matches("<svg").count(), 6);
    shots.push(browser.screenshot("admin-5-print-sheet.png"));
    // A guest buys on the portal (this browser is the guest device too).
    let portal = format!("http://{}/", shop.portal);
    browser.open(&portal);
    browser.type_into(
        "form[action='/buy']:nth-of-type(2) input[name=phone]",
        "0712 345 678",
    );
    browser.click("form[action='/buy']:nth-of-type(2) button");
    browser.wait_for_text("Check your phone");
    shop.advance(4);
    browser.wait_for_text("You are online");
    browser.open(&format!("{admin}/"));
    browser.wait_for_text("KES 20");
    assert!(
        browser.text().contains("1\nguests online now"),
        "{}",
        browser.text()
    );
    shots.push(browser.screenshot("admin-6-dashboard-sale.png"));
    browser.window(1280, 1000);
    shots.push(browser.screenshot("admin-6-dashboard-laptop.png"));
    browser.window(412, 900);
    browser.open(&format!("{admin}/payments"));
    browser.wait_for_text("1 paid prompt,");
    shots.push(browser.screenshot("admin-7-payments.png"));
    // Kick the guest.
    browser.open(&format!("{admin}/guests"));
    browser.wait_for_text("02:00:7f:00:00:01");
    shots.push(browser.screenshot("admin-8-guests.png"));
    browser.click("form[action='/sessions/revoke'] button");
    browser.wait_for_text("ended.");
    browser.wait_for_text("Nobody is online.");
    shots.push(browser.screenshot("admin-9-guest-kicked.png"));
    let active = running.app.store.read(|r| r.active_sessions()).unwrap();
    assert!(active.is_empty());
    browser.open(&format!("{admin}/settings"));
    browser.wait_for_text("Test M-Pesa connection");
    shots.push(browser.screenshot("admin-10-settings.png"));
    // Signing out: the next visit asks for the password.
    browser.click("#indicators button");
    browser.wait_for_text("Authorization Required");
    check_screenshots(&shots);
}

/// Issue 16: the owner page's menu fits a 360 px phone and a 1366 px laptop. Every tab is
/// inside the window and none hides in a menu that scrolls sideways (it wraps), and no page
/// scrolls sideways. A refused form shows a red error with what was typed. Screenshots
/// `owner-<width>-<page>.png`.
#[test]
fn the_owner_menu_fits_a_phone_and_a_laptop() {
    if !available() {
        return;
    }
    let _alone = one_at_a_time();
    let shop = Shop::start();
    let browser = Browser::start("en");
    let admin = format!("http://{}", shop.admin);
    fill_first_run(&shop, &browser);
    browser.click("form[action='/setup'] button");
    browser.wait_for_text("guests online now");
    let check = "var d=document.documentElement,m=document.getElementById('topmenu'),bad=[];\
        if(d.scrollWidth>innerWidth)bad.push('page '+d.scrollWidth+'>'+innerWidth);\
        if(m.scrollWidth>m.clientWidth+1)bad.push('menu scrolls '+m.scrollWidth+'>'+m.clientWidth);\
        m.querySelectorAll('a').forEach(function(a){var r=a.getBoundingClientRect();\
        if(r.width==0||r.left<0||r.right>innerWidth)bad.push(a.textContent+' '+Math.round(r.left)+'-'+Math.round(r.right));});\
        return innerWidth+' '+bad.join(', ')";
    let mut shots = Vec::new();
    for (width, height) in [(360, 640), (1366, 768)] {
        browser.window(width, height);
        for (page, words) in [
            ("/", "guests online now"),
            ("/events", "Recent events"),
            ("/payments", "Daily totals"),
            ("/settings", "Owner password"),
        ] {
            browser.open(&format!("{admin}{page}"));
            browser.wait_for_text(words);
            let result = browser.script(check);
            let result = result.as_str().unwrap_or("");
            assert_eq!(result, format!("{width} "), "{page} at {width} px");
            let name = match page {
                "/" => "dashboard",
                p => p.trim_start_matches('/'),
            };
            shots.push(browser.screenshot(&format!("owner-{width}-{name}.png")));
        }
        // A refused edit: red, with the form as typed.
        browser.open(&format!("{admin}/packages?edit=hour"));
        browser.clear("form[action='/packages'] input[name=price]");
        browser.type_into("form[action='/packages'] input[name=price]", "abc");
        browser.click("form[action='/packages'] button.cbi-button-save");
        browser.wait_for_text("is not a price");
        let html = browser.html();
        assert!(
            html.contains("alert-message error") && !html.contains("alert-message success"),
            "{html}"
        );
        let typed = browser.script(
            "return document.querySelector(\"form[action='/packages'] input[name=price]\").value",
        );
        assert_eq!(typed.as_str(), Some("abc"));
        shots.push(browser.screenshot(&format!("owner-{width}-packages-error.png")));
    }
    check_screenshots(&shots);
}
