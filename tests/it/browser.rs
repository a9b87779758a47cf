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

pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn available() -> bool {
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
    /// Clicks so far (`taps`): what a guest's thumb does.
    clicks: std::cell::Cell<u32>,
}

impl Browser {
    pub fn start(lang: &str) -> Browser {
        Browser::launch(lang, None)
    }

    /// A phone's screen, `width` × `height` CSS pixels (Chromium's mobile emulation: the
    /// viewport is exactly that, and screenshots show what the guest sees without scrolling).
    pub fn phone(lang: &str, width: u32, height: u32) -> Browser {
        Browser::launch(lang, Some((width, height)))
    }

    fn launch(lang: &str, phone: Option<(u32, u32)>) -> Browser {
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
        let mut caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=412,900", format!("--lang={lang}"),
                     format!("--user-data-dir={}", profile.0.display())],
            "prefs": {"intl.accept_languages": lang},
        }}}});
        if let Some((width, height)) = phone {
            caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 13; Phone) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            });
        }
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
            clicks: std::cell::Cell::new(0),
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
        self.clicks.set(self.clicks.get() + 1);
        let id = self.find(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/click")),
            &json!({}),
        );
    }

    /// Clicks since the browser started.
    pub fn taps(&self) -> u32 {
        self.clicks.get()
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": script, "args": []}),
        )
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
    pub sim: Arc<Simulator>,
    pub clock: Arc<ManualClock>,
    pub portal: SocketAddr,
    pub admin: SocketAddr,
    pub dir: TempDir,
}

impl Shop {
    pub fn start() -> Shop {
        Shop::start_with("")
    }

    /// The demo's config with `extra` sections appended.
    pub fn start_with(extra: &str) -> Shop {
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
            )
            + extra;
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
            simulator: Some(sim.clone()),
            config_path: Some(config_path),
            ..daemon::Options::default()
        };
        let running = daemon::start(config, Store::in_memory().unwrap(), env, options).unwrap();
        Shop {
            portal: running.portal,
            admin: running.admin,
            running: Some(running),
            sim,
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

/// What the guest reads at each step, per language.
struct Words {
    choose: &'static str,
    waiting: &'static str,
    cancelled: &'static str,
    same_amount: &'static str,
    wrong_pin: &'static str,
    funds: &'static str,
    timed_out: &'static str,
    online: &'static str,
    until: &'static str,
    receipt: &'static str,
    not_for_online: [&'static str; 2],
    trial: &'static str,
}

const ENGLISH: Words = Words {
    choose: "Choose a package",
    waiting: "Prompt sent to",
    cancelled: "You cancelled the payment",
    same_amount: "every two minutes",
    wrong_pin: "Wrong M-Pesa PIN",
    funds: "Not enough money on M-Pesa",
    timed_out: "The payment request timed out",
    online: "You are online",
    until: "until",
    receipt: "M-Pesa receipt",
    not_for_online: ["Move your time here", "Paid but not online?"],
    trial: "Free 15 minutes",
};

const KISWAHILI: Words = Words {
    choose: "Chagua kifurushi",
    waiting: "Ombi limetumwa kwa",
    cancelled: "Umesitisha malipo",
    same_amount: "kila dakika mbili",
    wrong_pin: "PIN ya M-Pesa si sahihi",
    funds: "Salio la M-Pesa halitoshi",
    timed_out: "Muda wa ombi la malipo umeisha",
    online: "Umeunganishwa",
    until: "hadi",
    receipt: "Risiti ya M-Pesa",
    not_for_online: ["Hamisha muda wako hapa", "Umelipa lakini hujaunganishwa"],
    trial: "Dakika 15 bure",
};

/// The value of the buy form's phone field (what the guest would otherwise type again).
fn typed_phone(browser: &Browser) -> String {
    let v =
        browser.eval("var e=document.querySelector('#buy input[name=phone]');return e?e.value:''");
    v.as_str().unwrap_or("").to_string()
}

/// One failed prompt from the page the browser is on: tick `package` (the number is already
/// there), tap the button, and M-Pesa answers `result_code`.
fn fail_once(shop: &Shop, browser: &Browser, package: &str, result_code: i64, words: &str) {
    shop.sim.decline_next(result_code);
    browser.click(&format!("#buy input[value={package}]+span"));
    browser.click("#buy button");
    browser.wait_for_text("0712 345 678");
    shop.advance(4);
    browser.wait_for_text(words);
    assert_eq!(typed_phone(browser), "0712 345 678", "the number is kept");
}

/// The whole guest flow on one phone size in one language, with a screenshot per step:
/// landing, waiting, cancelled, wrong PIN, not enough money, no answer, paid (the online view)
/// and the online home page; then a voucher's QR link on a fresh router.
fn guest_flow(lang: &str, width: u32, height: u32, words: &Words) -> Vec<PathBuf> {
    let shop = Shop::start();
    let browser = Browser::phone(lang, width, height);
    let portal = format!("http://{}/", shop.portal);
    let tag = format!("portal-{lang}-{width}x{height}");
    let mut shots = Vec::new();
    let mut shot = |browser: &Browser, step: &str| {
        shots.push(browser.screenshot(&format!("{tag}-{step}.png")));
    };
    browser.open(&portal);
    browser.wait_for_text(words.choose);
    // The first view is one request (the page inlines everything) and a few kilobytes.
    let loads = browser.eval(
        "return performance.getEntriesByType('resource').length+'/'+\
         performance.getEntriesByType('navigation')[0].transferSize+'/'+document.documentElement.outerHTML.length",
    );
    let loads = loads.as_str().unwrap_or("").to_string();
    let html_bytes: usize = loads.rsplit('/').next().unwrap().parse().unwrap();
    assert!(loads.starts_with("0/"), "more than one request: {loads}");
    assert!(html_bytes <= 8 * 1024, "first view {html_bytes} bytes");
    eprintln!("{tag}: first view {html_bytes} bytes ({loads})");
    // The voucher entry is on the first screen.
    let bottom =
        browser.eval("return document.getElementById('code').getBoundingClientRect().bottom");
    assert!(
        bottom.as_f64().unwrap() <= f64::from(height),
        "the voucher field is below the first screen: {bottom}"
    );
    shot(&browser, "1-landing");
    // "Paid but not online?": the SMS form, opened (label above a full-width box).
    browser.click("#sms summary");
    let boxes = browser.eval(
        "var t=document.querySelector('#sms textarea'),s=document.querySelector('#sms select');\
         return t.getBoundingClientRect().width===s.getBoundingClientRect().width&&\
         t.getBoundingClientRect().top>t.parentNode.getBoundingClientRect().top+10",
    );
    assert_eq!(
        boxes,
        Value::Bool(true),
        "the SMS form's boxes are full width, under labels"
    );
    browser.eval("document.getElementById('sms').scrollIntoView();return 1");
    shot(&browser, "1b-sms-form");
    browser.eval("document.getElementById('sms').open=false;scrollTo(0,0);return 1");
    // Landing to prompt: tap a package, type the number, tap Pay.
    let before = browser.taps();
    shop.sim.decline_next(1032);
    browser.click("#buy input[value=hour]+span");
    browser.type_into("#buy input[name=phone]", "0712 345 678");
    browser.click("#buy button");
    browser.wait_for_text(words.waiting);
    let taps = browser.taps() - before;
    eprintln!("{tag}: {taps} taps and one field from landing to prompt");
    assert!(taps <= 2, "{taps} taps from landing to prompt");
    let text = browser.text();
    assert!(
        text.contains("0712 345 678") && text.contains("PayBill 174379"),
        "{text}"
    );
    assert!(text.contains("Mama Mboga Cafe Wi-Fi") && browser.html().contains("id=\"t\""));
    shot(&browser, "2-waiting");
    // Cancelled: said so, the number kept, the two-minute rule with the time left.
    shop.advance(4);
    browser.wait_for_text(words.cancelled);
    browser.wait_for_text(words.same_amount);
    assert_eq!(typed_phone(&browser), "0712 345 678", "the number is kept");
    assert!(
        browser.html().contains("href=\"tel:0712000000\""),
        "tap to call"
    );
    shot(&browser, "3-cancelled");
    // A retry that works at once: another package, no typing.
    fail_once(&shop, &browser, "min30", 2001, words.wrong_pin);
    shot(&browser, "4-wrong-pin");
    fail_once(&shop, &browser, "day", 1, words.funds);
    // Not enough money: only cheaper packages are offered.
    let html = browser.html();
    assert!(!html.contains("value=\"day\"") && !html.contains("value=\"week\""));
    assert!(html.contains("value=\"min30\"") && html.contains("value=\"hour\""));
    shot(&browser, "5-no-funds");
    // Ten minutes on: the phone's prompt allowance is back. Nobody answers this one.
    shop.advance(601);
    browser.open(&portal);
    browser.click("#buy input[value=hour]+span");
    browser.type_into("#buy input[name=phone]", "0712 345 678");
    shop.sim.decline_next(1037);
    browser.click("#buy button");
    browser.wait_for_text(words.waiting);
    // lango keeps asking for three minutes before calling the prompt unanswered.
    for _ in 0..8 {
        shop.advance(30);
        std::thread::sleep(Duration::from_millis(300));
    }
    browser.wait_for_text(words.timed_out);
    shot(&browser, "6-no-answer");
    // Two minutes on, the same package again is one tap: it is ticked and the number is there.
    shop.advance(121);
    let url = browser.eval("return location.href");
    browser.open(url.as_str().unwrap());
    browser.wait_for_text(words.timed_out);
    let before = browser.taps();
    browser.click("#buy button");
    browser.wait_for_text(words.waiting);
    assert_eq!(browser.taps() - before, 1);
    // The customer types the PIN; Daraja's callback brings the receipt (the query never does).
    shop.clock.advance(4);
    let app = &shop.running.as_ref().unwrap().app;
    let mac = "02:00:7f:00:00:01".parse().unwrap();
    let checkout = (app.store.read(|r| r.open_payment_for(mac)))
        .unwrap()
        .and_then(|p| p.checkout_id)
        .expect("an acknowledged prompt");
    let receipt = shop.sim.receipt_for(&checkout).expect("paid");
    let body = format!(
        r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"1-2-3","CheckoutRequestID":"{checkout}","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":20.00}},{{"Name":"MpesaReceiptNumber","Value":"{receipt}"}},{{"Name":"TransactionDate","Value":20270115110001}},{{"Name":"PhoneNumber","Value":254712345678}}]}}}}}}}}"#
    );
    let path = format!(
        "{}{}",
        lango::app::mpesa::CALLBACK_PREFIX,
        app.callback_secret().unwrap()
    );
    let reply = http(
        shop.portal,
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    shop.advance(0);
    // Paid: straight to the online view, with time left, end time, data left and receipt.
    browser.wait_for_text(words.online);
    let text = browser.text();
    for w in [words.until, words.receipt, &receipt, "1 GB"] {
        assert!(text.contains(w), "{w}: {text}");
    }
    shot(&browser, "7-paid-online");
    browser.open(&portal);
    browser.wait_for_text(words.online);
    let text = browser.text();
    for w in words.not_for_online {
        assert!(!text.contains(w), "an online guest sees {w:?}");
    }
    assert!(text.contains(words.receipt), "{text}");
    shot(&browser, "8-online-home");
    drop(browser);
    drop(shop);
    // A voucher's QR link on a fresh router: the voucher form first, filled in; one tap.
    let shop = Shop::start();
    let app = &shop.running.as_ref().unwrap().app;
    let code = app.generate_vouchers("hour", 1, "", None).unwrap().unwrap()[0]
        .code
        .clone();
    let browser = Browser::phone(lang, width, height);
    browser.open(&format!("http://{}/?code={code}", shop.portal));
    browser.wait_for_text(words.choose);
    let first =
        browser.eval("var f=document.querySelector('main form');return f.id+'/'+f.code.value");
    assert_eq!(first.as_str(), Some(format!("voucher/{code}").as_str()));
    shot(&browser, "9-voucher-qr");
    browser.click("#voucher button");
    browser.wait_for_text(words.online);
    shot(&browser, "10-voucher-online");
    drop(browser);
    drop(shop);
    // The free trial on a router that offers one: one tap from the landing page, no field.
    let shop = Shop::start_with(
        "\nconfig package 'trial'\n\toption name 'Free trial'\n\toption name_sw 'Majaribio ya bure'\n\
         \toption trial '1'\n\
         \toption duration '15m'\n\toption rate_down '2M'\n\toption rate_up '1M'\n",
    );
    let browser = Browser::phone(lang, width, height);
    browser.open(&format!("http://{}/", shop.portal));
    browser.wait_for_text(words.trial);
    let taps = browser.taps();
    shot(&browser, "11-trial-offer");
    browser.click("#trial button");
    browser.wait_for_text(words.online);
    assert_eq!(browser.taps() - taps, 1, "one tap from landing to online");
    let text = browser.text();
    assert!(text.contains("15:00") || text.contains("14:5"), "{text}");
    assert!(!(lang == "sw" && text.contains("Free trial")), "{text}");
    shot(&browser, "12-trial-online");
    shots
}

/// Issue 16: the guest flow in headless Chromium on a 360×640 and a 390×844 phone, in English
/// and in Kiswahili; screenshots under artifacts/screenshots/portal-LANG-WxH-STEP.png.
#[test]
fn r16_the_guest_flow_on_phones_in_english_and_kiswahili() {
    if !available() {
        return;
    }
    let _alone = one_at_a_time();
    let mut shots = Vec::new();
    for (lang, words) in [("en", &ENGLISH), ("sw", &KISWAHILI)] {
        for (width, height) in [(360, 640), (390, 844)] {
            shots.extend(guest_flow(lang, width, height, words));
        }
    }
    for shot in &shots {
        let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 2000, "{} is {size} bytes", shot.display());
        eprintln!("screenshot: {}", shot.display());
    }
}

/// Opens the owner page of a new shop and fills in the first-run form: the one-time setup code,
/// which only someone on the router can read (issue 13), and the password twice.
pub(crate) fn fill_first_run(shop: &Shop, browser: &Browser) {
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
    browser.click("#buy input[value=hour]+span");
    browser.type_into("#buy input[name=phone]", "0712 345 678");
    browser.click("#buy button");
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
