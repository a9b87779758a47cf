//! The Daraja simulator's shell around the pure `daraja_sim::SimCore`. `Simulator` is a handle
//! on one simulated Daraja: it can be called in-process as a `PaymentGateway` (unit-speed
//! tests), and `serve` puts the same state behind a real HTTP(S) listener on loopback, with a
//! thread that POSTs callbacks to each push's CallBackURL. The demo serves it over plain HTTP
//! on 127.0.0.1; the tests wrap each connection in TLS with a CA they generate at run time, so
//! that the real rustls client is exercised (the release binary carries no TLS server code).
//!
//! How a simulated customer answers depends on the last four digits of the phone number:
//! `1032` cancels, `1037` never answers (timeout), `2001` types a wrong PIN, `0001` has
//! insufficient funds; any other number pays. `decline_next` overrides this once.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::adapters::https::{self, Body};
use crate::core::config::MpesaKind;
use crate::core::daraja::{self, Answer, Failure, Who};
use crate::core::daraja_sim::{
    Delivery, Faults, PushParams, QueryAnswer, SimCore, SimError, SimRequest, SimResponse,
    SimSettings,
};
use crate::core::model::Money;
use crate::core::payments::{
    CheckStep, GatewayError, PaymentGateway, StkAccepted, StkOutcome, StkPush,
};
use crate::core::time::Clock;

/// A simulated Daraja: one state, reachable in-process and (with `serve`) over HTTP(S).
pub struct Simulator {
    clock: Arc<dyn Clock>,
    core: Mutex<SimCore>,
    /// Where the state is written after each change (`lango sim --state FILE`).
    state_file: Option<std::path::PathBuf>,
}

impl Simulator {
    /// The demo's account (`www/demo.conf`); the customer pays `approve_after_secs` after the
    /// prompt.
    pub fn new(clock: Arc<dyn Clock>, approve_after_secs: i64) -> Simulator {
        Simulator::with_settings(clock, SimSettings::demo(approve_after_secs))
    }

    pub fn with_settings(clock: Arc<dyn Clock>, settings: SimSettings) -> Simulator {
        Simulator {
            clock,
            core: Mutex::new(SimCore::new(settings)),
            state_file: None,
        }
    }

    /// A simulator that keeps its state in `path`: read back if the file exists, written
    /// again (whole, then renamed into place) after every request and callback.
    pub(crate) fn with_state_file(
        clock: Arc<dyn Clock>,
        settings: SimSettings,
        path: &std::path::Path,
    ) -> Result<Simulator, String> {
        let core = match std::fs::read_to_string(path) {
            Ok(text) => {
                SimCore::restore(settings, &text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => SimCore::new(settings),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Simulator {
            clock,
            core: Mutex::new(core),
            state_file: Some(path.to_path_buf()),
        })
    }

    /// Writes the state file, if there is one. A failure is logged: the simulator goes on.
    fn persist(&self, core: &SimCore) {
        let Some(path) = &self.state_file else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, core.save()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            log::warn!("daraja simulator: cannot save {}: {e}", path.display());
        }
    }

    fn core(&self) -> MutexGuard<'_, SimCore> {
        crate::core::locks::lock(&self.core)
    }

    /// Makes the next prompt end with this ResultCode (1032 cancel, 2001 wrong PIN, ...).
    pub fn decline_next(&self, result_code: i64) {
        self.core().decline_next(result_code);
    }

    /// The receipt the simulated M-Pesa issued for a checkout, once paid (what the customer's
    /// confirmation SMS would carry).
    pub fn receipt_for(&self, checkout_id: &str) -> Option<String> {
        self.core().receipt_for(checkout_id, self.clock.now())
    }

    pub fn faults(&self) -> Faults {
        self.core().faults().clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.core().set_faults(faults);
    }

    /// Requests refused for the spike limit so far, per API ("push", "query").
    pub fn spike_refused(&self, path: &str) -> u32 {
        self.core().spike_refused.get(path).copied().unwrap_or(0)
    }

    /// A customer paid `till` (or a PayBill number) `amount` whole shillings from the M-Pesa
    /// menu: Pull Transactions lists it from now. Returns the receipt (made up if `None`).
    pub fn pay_till(&self, receipt: Option<&str>, phone: &str, amount: i64, till: &str) -> String {
        self.core()
            .pay_till(receipt, phone, amount, till, self.clock.now())
    }

    /// The Dynamic QR codes issued so far.
    #[cfg(feature = "mpesa-qr")]
    pub fn qr_codes(&self) -> Vec<crate::core::daraja_sim::qr::QrIssued> {
        self.core().qr_codes().to_vec()
    }

    /// Someone paid the QR issued with `ref_no` (`amount` whole shillings if they changed it):
    /// Pull lists it from now. The receipt, or `None` for no such code.
    #[cfg(feature = "mpesa-qr")]
    pub fn pay_qr(&self, ref_no: &str, phone: &str, amount: Option<i64>) -> Option<String> {
        self.core().pay_qr(ref_no, phone, amount, self.clock.now())
    }

    pub fn expire_tokens(&self) {
        self.core().expire_tokens();
    }

    /// Every callback scheduled so far and what became of it.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.core().deliveries().to_vec()
    }

    /// Prompts so far: (CheckoutRequestID, phone, amount, ResultCode it ends with).
    pub fn prompts(&self) -> Vec<(String, String, i64, i64)> {
        self.core()
            .sessions()
            .iter()
            .map(|s| (s.checkout_id.clone(), s.phone.clone(), s.amount, s.result))
            .collect()
    }

    /// Answers one HTTP request (the server's handler).
    pub fn handle(&self, request: &SimRequest) -> SimResponse {
        let mut core = self.core();
        let response = core.handle(request, self.clock.now());
        self.persist(&core);
        response
    }

    fn gateway_error(e: &SimError, shortcode: &str) -> GatewayError {
        let who = Who {
            shortcode,
            till: false,
        };
        match daraja::classify_error(e.status, e.code, &e.message, who) {
            Answer::Failure(Failure::Gateway(g)) => g,
            Answer::Failure(Failure::TokenRejected(m)) => GatewayError::Merchant(m),
            _ => GatewayError::Unavailable(e.message.clone()),
        }
    }
}

/// In-process: the push skips the wire (no token, no password) and goes straight to the
/// subscriber lock and the prompt; errors are classified exactly as the real client does.
impl PaymentGateway for Simulator {
    fn stk_push(&self, push: &StkPush) -> Result<StkAccepted, GatewayError> {
        let now = self.clock.now();
        let mut core = self.core();
        let Some(merchant) = core.settings().merchants.first().cloned() else {
            return Err(GatewayError::Merchant(
                "the simulator has no merchant".into(),
            ));
        };
        if push.amount_major < 1 {
            return Err(GatewayError::Refused {
                decline: crate::core::payments::Decline::Other,
                message: "400.002.02 Bad Request - Invalid Amount".into(),
            });
        }
        let params = PushParams {
            shortcode: merchant.shortcode.clone(),
            buy_goods: false,
            amount: push.amount_major,
            phone: push.phone.as_str().to_string(),
            party_b: merchant.shortcode.clone(),
            callback_url: push.callback_url.clone(),
            account_reference: push.account_reference.clone(),
            description: push.description.clone(),
        };
        let ack = core
            .accept_push(&params, now)
            .map_err(|e| Simulator::gateway_error(&e, &merchant.shortcode))?;
        log::info!(
            "daraja simulator: STK prompt to {} for {}",
            push.phone.masked(),
            Money::from_major(push.amount_major),
        );
        Ok(StkAccepted {
            merchant_request_id: ack.merchant_request_id,
            checkout_id: ack.checkout_id,
        })
    }

    fn stk_query(&self, checkout_id: &str) -> Result<StkOutcome, GatewayError> {
        let core = self.core();
        match core.query(checkout_id, self.clock.now()) {
            Ok(QueryAnswer::Pending) => Ok(StkOutcome::Pending),
            Ok(QueryAnswer::Final { code, .. }) => Ok(daraja::outcome_of(&code.to_string())),
            Err(e) => Err(Simulator::gateway_error(&e, "")),
        }
    }

    fn check(&self) -> Vec<CheckStep> {
        vec![CheckStep {
            what: "M-Pesa".into(),
            ok: true,
            detail: "the in-process simulator: nothing to test, no money moves".into(),
        }]
    }
}

// ---- the server ----

/// A simulated provider the server below can serve: Daraja's (`Simulator`) or Airtel's
/// (`adapters::airtel_sim`). Requests in, answers out; callbacks due and their fate.
pub trait Served: Send + Sync + 'static {
    /// For thread names and the log: `daraja`, `airtel`.
    fn name(&self) -> &'static str;
    fn handle(&self, request: &SimRequest) -> SimResponse;
    /// Callbacks to POST now: (id, url, JSON body).
    fn due_deliveries(&self) -> Vec<(u64, String, String)>;
    /// What became of callback `id`: the HTTP status, or none.
    fn delivered(&self, id: u64, status: Option<u16>);
    /// Whether a callback may still fall due without another request (a prompt still
    /// running, a delivery to retry). While none may, the delivery thread sleeps until a
    /// request comes instead of looking every `DELIVERY_TICK`.
    fn pending(&self) -> bool {
        true
    }
}

impl Served for Simulator {
    fn name(&self) -> &'static str {
        "daraja"
    }
    fn handle(&self, request: &SimRequest) -> SimResponse {
        Simulator::handle(self, request)
    }
    fn due_deliveries(&self) -> Vec<(u64, String, String)> {
        let mut core = self.core();
        let due = core.due_deliveries(self.clock.now());
        if !due.is_empty() {
            self.persist(&core);
        }
        due
    }
    fn delivered(&self, id: u64, status: Option<u16>) {
        let mut core = self.core();
        core.delivered(id, status, self.clock.now());
        self.persist(&core);
    }
    fn pending(&self) -> bool {
        self.core().pending()
    }
}

/// A connection the server can talk HTTP over: plain TCP, or TLS around it.
pub trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

/// Turns an accepted socket into a connection (the tests add TLS here).
pub type Wrap = Arc<dyn Fn(TcpStream) -> io::Result<Box<dyn Conn>> + Send + Sync>;

/// Plain HTTP.
pub(crate) fn plain() -> Wrap {
    Arc::new(|tcp| Ok(Box::new(tcp) as Box<dyn Conn>))
}

/// A running simulator server. Dropping it stops the accept loop and the deliveries.
pub struct SimServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// How long one connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the delivery thread looks for due callbacks (real time; the simulator's clock
/// may be a manual one).
const DELIVERY_TICK: Duration = Duration::from_millis(20);

/// Serves `sim` on `listener` (bind it to 127.0.0.1) and delivers its callbacks with
/// `callbacks`, a client that may also trust a test CA for https callback URLs.
pub fn serve<S: Served>(
    sim: Arc<S>,
    listener: TcpListener,
    wrap: Wrap,
    callbacks: https::Client,
) -> io::Result<SimServer> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let delivery = {
        let (sim, stop) = (sim.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("{}-sim-cb", sim.name()))
            .spawn(move || delivery_loop(sim.as_ref(), &callbacks, &stop))?
            .thread()
            .clone()
    };
    {
        let (sim, stop) = (sim.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("{}-sim", sim.name()))
            .spawn(move || accept_loop(&sim, &listener, &wrap, &stop, &delivery))?;
    }
    Ok(SimServer { addr, stop })
}

impl SimServer {
    /// The base URL a Daraja client should use.
    pub fn url(&self, tls: bool) -> String {
        format!("{}://{}", if tls { "https" } else { "http" }, self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Serves each connection on a thread of its own; after each request the delivery thread
/// (`delivery`) is woken, since the request may have started a prompt.
fn accept_loop<S: Served>(
    sim: &Arc<S>,
    listener: &TcpListener,
    wrap: &Wrap,
    stop: &AtomicBool,
    delivery: &std::thread::Thread,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(tcp) = stream else { continue };
        let (sim, wrap, delivery) = (sim.clone(), wrap.clone(), delivery.clone());
        let spawned = std::thread::Builder::new()
            .name("sim-conn".into())
            .spawn(move || {
                if let Err(e) = serve_one(sim.as_ref(), tcp, &wrap) {
                    log::debug!("{} simulator: connection: {e}", sim.name());
                }
                delivery.unpark();
            });
        if let Err(e) = spawned {
            log::warn!("simulator: cannot start a connection thread: {e}");
        }
    }
}

fn serve_one<S: Served>(sim: &S, tcp: TcpStream, wrap: &Wrap) -> io::Result<()> {
    tcp.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    tcp.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let mut conn = wrap(tcp)?;
    let message = https::read_message(&mut conn, Body::Empty, https::MAX_BODY)?;
    let mut parts = message.start_line.split_whitespace();
    let request = SimRequest {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        headers: message.headers,
        body: message.body,
    };
    let response = sim.handle(&request);
    if response.stall_secs > 0 {
        std::thread::sleep(Duration::from_secs(response.stall_secs));
    }
    https::write_response(
        &mut conn,
        response.status,
        response.content_type,
        response.body.as_bytes(),
    )
}

fn delivery_loop<S: Served>(sim: &S, client: &https::Client, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let due = sim.due_deliveries();
        for (id, url, body) in due {
            let started = Instant::now();
            let result = client.send(
                "POST",
                &url,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
            let status = match &result {
                Ok(r) => Some(r.status),
                Err(e) => {
                    log::info!("{} simulator: callback to {url} failed: {e}", sim.name());
                    None
                }
            };
            log::debug!(
                "{} simulator: callback {id} to {url}: {status:?} in {} ms",
                sim.name(),
                started.elapsed().as_millis()
            );
            sim.delivered(id, status);
        }
        // Idle (no prompt running, nothing to retry): asleep until a request wakes it; the
        // second is only so that a stop is seen.
        if sim.pending() {
            std::thread::sleep(DELIVERY_TICK);
        } else {
            std::thread::park_timeout(Duration::from_secs(1));
        }
    }
}

/// The simulator's settings for an account as lango's config describes it, so that `serve`
/// with `environment 'simulator'` accepts exactly the configured credentials.
pub fn settings_for(account: &crate::core::config::Mpesa, approve_after_secs: i64) -> SimSettings {
    let mut settings = SimSettings::demo(approve_after_secs);
    settings.consumer_key = account.consumer_key.clone();
    settings.consumer_secret = account.consumer_secret.clone();
    let till = (account.kind == MpesaKind::Till)
        .then(|| account.till.clone())
        .flatten();
    settings.merchants = vec![crate::core::daraja_sim::Merchant {
        shortcode: account.shortcode.clone(),
        passkey: account.passkey.clone(),
        tills: till.into_iter().collect(),
    }];
    settings
}
