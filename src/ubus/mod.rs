//! The `lango` object's methods as data (`methods`), their implementation against `App`
//! (`LangoUbus`), and the events lango publishes (`session_start`, `session_stop`,
//! `payment_state`). Owner-facing like the owner page: phone numbers are masked, session and
//! payment tokens never leave. Store errors are logged and answered UNKNOWN_ERROR.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::adapters::ubusd::{BlobmsgType, Event, Method, Status, UbusHandler};
use crate::app::App;
use crate::core::model::{Mac, Money};
use crate::core::payments::Payment;
use crate::core::sessions::Session;
use crate::store::StoreError;

/// At most this many sessions in one `sessions` reply. A session is about 250 bytes of
/// blobmsg, and ubusd refuses messages over 1 MiB.
pub(crate) const MAX_SESSIONS: usize = 2000;
/// `payments` returns 20 unless asked; never more than this.
pub(crate) const DEFAULT_PAYMENTS: usize = 20;
pub(crate) const MAX_PAYMENTS: usize = 500;

/// The methods of `lango` and their argument types (what `ubus -v list lango` shows).
pub(crate) fn methods() -> Vec<Method> {
    use BlobmsgType::{Int32, Int8, String};
    vec![
        Method::new("status", &[]),
        // With `mac`: that device's session alone, its counters read now.
        Method::new("sessions", &[("mac", String)]),
        Method::new("kick", &[("id", Int32), ("mac", String)]),
        Method::new("extend", &[("id", Int32), ("minutes", Int32)]),
        // `blocked` is a blobmsg bool (INT8); absent means true.
        Method::new("block", &[("mac", String), ("blocked", Int8)]),
        Method::new("packages", &[]),
        Method::new(
            "voucher_generate",
            &[("package", String), ("count", Int32), ("days", Int32)],
        ),
        Method::new("payments", &[("limit", Int32)]),
        Method::new("reload", &[]),
        // Not in the rpcd ACL (no LuCI view calls them; LuCI edits `list allow_mac` through uci).
        Method::new("allow", &[("mac", String)]),
        Method::new("disallow", &[("mac", String)]),
        // Root only (not in the rpcd ACL): the first-run proof and the owner's way back in.
        Method::new("setup_code", &[]),
        Method::new("unlock", &[]),
    ]
}

/// The `lango` object backed by the running app. `config_path` is what `reload` reads (the
/// file `lango serve --config` was given); without it `reload` is NOT_SUPPORTED.
pub struct LangoUbus {
    pub app: Arc<App>,
    pub config_path: Option<PathBuf>,
    /// The switchable M-Pesa gateway (`lango serve`): a reload with a new account uses it.
    pub gateway: Option<Arc<crate::core::payments::SwitchGateway>>,
}

impl UbusHandler for LangoUbus {
    fn methods(&self) -> Vec<Method> {
        methods()
    }

    fn call(&self, method: &str, args: &Value) -> Result<Value, Status> {
        let result = match method {
            "status" => self.status(),
            "sessions" => self.sessions(args),
            "kick" => self.kick(args),
            "extend" => self.extend(args),
            "block" => self.block(args),
            "packages" => Ok(self.packages()),
            "voucher_generate" => self.voucher_generate(args),
            "payments" => self.payments(args),
            "reload" => Ok(self.reload()?),
            "allow" => Ok(self.allow(args, true)?),
            "disallow" => Ok(self.allow(args, false)?),
            "setup_code" => self.setup_code(),
            "unlock" => Ok(self.unlock()),
            _ => return Err(Status::MethodNotFound),
        };
        result.map_err(|e| match e {
            Failure::Status(s) => s,
            Failure::Store(e) => {
                log::error!("ubus {method}: {e}");
                Status::UnknownError
            }
        })
    }
}

/// A method's failure: an answer for the caller, or a store error (logged, UNKNOWN_ERROR).
enum Failure {
    Status(Status),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The app refuses numbers outside its limits: an invalid argument to ubus.
impl From<crate::app::OwnerError> for Failure {
    fn from(e: crate::app::OwnerError) -> Self {
        match e {
            crate::app::OwnerError::OutOfRange(_) => Failure::Status(Status::InvalidArgument),
            crate::app::OwnerError::Store(e) => Failure::Store(e),
        }
    }
}

impl From<Status> for Failure {
    fn from(s: Status) -> Self {
        Failure::Status(s)
    }
}

/// An integer argument within `lo..=hi`; `None` if absent, INVALID_ARGUMENT if out of range.
fn int_arg(args: &Value, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, Status> {
    match args.get(name) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(Status::InvalidArgument),
        },
    }
}

fn session_json(s: &Session, now: i64) -> Value {
    json!({
        "id": s.id,
        "mac": s.mac.to_string(),
        "ip": s.ip.map(|ip| ip.to_string()),
        "package": s.terms.package_id,
        "package_name": s.terms.package_name,
        "started_at": s.started_at,
        "deadline": s.deadline,
        "seconds_left": s.seconds_left(now),
        "bytes_up": s.bytes_up,
        "bytes_down": s.bytes_down,
        "quota_bytes": s.quota_bytes,
    })
}

fn payment_json(p: &Payment) -> Value {
    json!({
        "id": p.id,
        "state": p.state.name(),
        "amount": p.amount.to_string(),
        "phone": p.phone.masked(),
        "mac": p.mac.to_string(),
        "package": p.terms.package_id,
        "receipt": p.receipt,
        "result_code": p.result_code,
        "session_id": p.session_id,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

impl LangoUbus {
    fn status(&self) -> Result<Value, Failure> {
        let time = self.app.time();
        let config = self.app.config();
        let days = self.app.daily_takings(30)?;
        let takings = |n: usize| Money(days.iter().rev().take(n).map(|d| d.total().0).sum());
        let (active, open, unused) = self.app.store.read(|r| {
            let unused = r
                .vouchers()?
                .iter()
                .filter(|v| v.state == crate::core::vouchers::VoucherState::Unused)
                .count();
            Ok((r.active_sessions()?.len(), r.open_payments()?.len(), unused))
        })?;
        let gw = &config.gateway;
        #[cfg(feature = "radius")]
        let radius = self.app.radius_status().map(|r| {
            let servers: Vec<Value> = r
                .servers
                .iter()
                .map(|h| json!({"server": h.server, "state": h.reach.name(), "since": h.since}))
                .collect();
            json!({"servers": servers, "accounting": r.accounting, "accounting_queued": r.queued})
        });
        #[cfg(not(feature = "radius"))]
        let radius: Option<Value> = None;
        let mut status = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "now": time.now,
            "clock_trusted": time.trusted,
            "sessions_active": active,
            "payments_open": open,
            "vouchers_unused": unused,
            "packages": config.active_packages().count(),
            "revenue_today": takings(1).to_string(),
            "revenue_7d": takings(7).to_string(),
            "revenue_30d": takings(30).to_string(),
            "portal": std::net::SocketAddr::new(gw.portal_addr, gw.portal_port).to_string(),
            "mpesa": config.mpesa.is_some(),
        });
        if let Some(radius) = radius {
            status["radius"] = radius;
        }
        Ok(status)
    }

    fn sessions(&self, args: &Value) -> Result<Value, Failure> {
        let now = self.app.time().now;
        if let Some(mac) = args.get("mac") {
            let mac: Mac = mac
                .as_str()
                .and_then(|m| m.parse().ok())
                .ok_or(Status::InvalidArgument)?;
            let Some(session) = self.app.store.read(|r| r.active_session(mac))? else {
                return Err(Status::NotFound.into());
            };
            let session = self.app.with_fresh_usage(session);
            return Ok(json!({
                "sessions": [session_json(&session, now)],
                "total": 1,
                "truncated": false,
            }));
        }
        let (active, blocked) = self
            .app
            .store
            .read(|r| Ok((r.active_sessions()?, r.blocked_devices()?)))?;
        let list: Vec<Value> = active
            .iter()
            .take(MAX_SESSIONS)
            .map(|s| session_json(&self.app.with_usage(s.clone()), now))
            .collect();
        Ok(json!({
            "sessions": list,
            "total": active.len(),
            "truncated": active.len() > MAX_SESSIONS,
            "blocked": blocked.iter().map(|d| d.mac.to_string()).collect::<Vec<_>>(),
        }))
    }

    /// `{"id": n}` or `{"mac": "aa:bb:…"}`: ends that active session now.
    fn kick(&self, args: &Value) -> Result<Value, Failure> {
        let id = match (int_arg(args, "id", 1, i64::MAX)?, args.get("mac")) {
            (Some(id), _) => id as u64,
            (None, Some(mac)) => {
                let mac: Mac = mac
                    .as_str()
                    .and_then(|m| m.parse().ok())
                    .ok_or(Status::InvalidArgument)?;
                match self.app.store.read(|r| r.active_session(mac))? {
                    Some(s) => s.id,
                    None => return Err(Status::NotFound.into()),
                }
            }
            (None, None) => return Err(Status::InvalidArgument.into()),
        };
        if !self.app.revoke_session(id)? {
            return Err(Status::NotFound.into());
        }
        Ok(json!({ "kicked": id }))
    }

    fn extend(&self, args: &Value) -> Result<Value, Failure> {
        let id = int_arg(args, "id", 1, i64::MAX)?.ok_or(Status::InvalidArgument)?;
        let minutes = int_arg(args, "minutes", 1, i64::MAX)?.ok_or(Status::InvalidArgument)?;
        let now = self.app.time().now;
        match self.app.extend_session(id as u64, minutes as u64)? {
            Some(s) => Ok(session_json(&s, now)),
            None => Err(Status::NotFound.into()),
        }
    }

    /// `{"mac": "aa:bb:…", "blocked": bool}`: blocks a device (its session ends, it can no
    /// longer buy, redeem or sign in) or, with `blocked` false, unblocks it.
    fn block(&self, args: &Value) -> Result<Value, Failure> {
        let mac: Mac = args
            .get("mac")
            .and_then(Value::as_str)
            .and_then(|m| m.parse().ok())
            .ok_or(Status::InvalidArgument)?;
        let blocked = args.get("blocked").and_then(Value::as_bool).unwrap_or(true);
        self.app.set_blocked(mac, blocked)?;
        Ok(json!({ "mac": mac.to_string(), "blocked": blocked }))
    }

    fn packages(&self) -> Value {
        let config = self.app.config();
        let list: Vec<Value> = config
            .packages
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "price": p.price.to_string(),
                    "duration_secs": p.duration_secs,
                    "quota_bytes": p.quota_bytes,
                    "rate_down_kbit": p.rate_down_kbit,
                    "rate_up_kbit": p.rate_up_kbit,
                    "active": p.active,
                })
            })
            .collect();
        json!({ "currency": config.gateway.currency, "packages": list })
    }

    /// `{"package": id, "count": 1..500, "days": 0..3650}` (days 0 or absent: no expiry).
    fn voucher_generate(&self, args: &Value) -> Result<Value, Failure> {
        let package = args
            .get("package")
            .and_then(Value::as_str)
            .ok_or(Status::InvalidArgument)?;
        let count = int_arg(args, "count", 1, i64::MAX)?.unwrap_or(1);
        // On 32-bit routers `as usize` would wrap a huge count into a small one; saturate, and
        // let the app refuse it.
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let days = int_arg(args, "days", 0, i64::MAX)?.filter(|d| *d > 0);
        match self
            .app
            .generate_vouchers(package, count, "", days.map(|d| d as u64))?
        {
            Some(list) => {
                let codes: Vec<&str> = list.iter().map(|v| v.code.as_str()).collect();
                Ok(json!({
                    "package": package,
                    "codes": codes,
                    "valid_until": list.first().and_then(|v| v.valid_until),
                }))
            }
            None => Err(Status::NotFound.into()),
        }
    }

    fn payments(&self, args: &Value) -> Result<Value, Failure> {
        let limit = int_arg(args, "limit", 1, MAX_PAYMENTS as i64)?
            .map_or(DEFAULT_PAYMENTS, |n| n as usize);
        let list = self.app.store.read(|r| r.recent_payments(limit))?;
        Ok(json!({ "payments": list.iter().map(payment_json).collect::<Vec<_>>() }))
    }

    /// The one-time setup code the owner page's first-run form asks for, or that a password is
    /// set already. ubusd lets only root call it (the rpcd ACL does not list it).
    fn setup_code(&self) -> Result<Value, Failure> {
        Ok(match self.app.setup_code()? {
            Some(code) => json!({ "owner_password_set": false, "setup_code": code }),
            None => json!({ "owner_password_set": true }),
        })
    }

    /// Lifts the owner page's lock-out for every address: the owner's way back in when
    /// guessers elsewhere tripped the overall ceiling.
    fn unlock(&self) -> Value {
        let cleared = self.app.owner_lockout.reset();
        log::info!("ubus unlock: the owner page's lock-out lifted ({cleared} addresses)");
        json!({ "unlocked": true, "addresses": cleared })
    }

    /// Reads the config file again, as SIGHUP does. A bad file is refused (the running config
    /// stays) and its problems are returned, not an error status, so LuCI can show them
    /// (settings' "Check and reload").
    fn reload(&self) -> Result<Value, Status> {
        let Some(path) = &self.config_path else {
            return Err(Status::NotSupported);
        };
        let reloaded =
            match crate::app::reconfigure::reload(&self.app, path, self.gateway.as_deref()) {
                Ok(()) => json!({ "reloaded": true }),
                Err(e) => json!({ "reloaded": false, "error": e }),
            };
        Ok(reloaded)
    }
}

impl LangoUbus {
    /// `{"mac": "aa:bb:…"}`: puts a device on the allow-list (`list allow_mac`: through without
    /// paying) or, for `disallow`, takes it off; written to the config file and applied at
    /// once, as the owner page does. A refused edit is answered `{"changed": false, "error"}`.
    fn allow(&self, args: &Value, allowed: bool) -> Result<Value, Status> {
        let mac: Mac = args
            .get("mac")
            .and_then(Value::as_str)
            .and_then(|m| m.parse().ok())
            .ok_or(Status::InvalidArgument)?;
        let Some(path) = &self.config_path else {
            return Err(Status::NotSupported);
        };
        let mut changed = false;
        let verb = if allowed {
            "allowed"
        } else {
            "no longer allowed"
        };
        let edited = crate::app::reconfigure::edit_file(
            &self.app,
            self.gateway.as_deref(),
            path,
            &format!("{mac} {verb} without paying (ubus)"),
            &mut |file| {
                changed = crate::core::uci_write::set_allowed(file, mac, allowed);
                Ok(())
            },
            &|_| Ok(()),
        );
        Ok(match edited {
            Ok(_) => json!({ "mac": mac.to_string(), "allowed": allowed, "changed": changed }),
            Err(e) => json!({ "mac": mac.to_string(), "changed": false, "error": e }),
        })
    }
}

/// `session.start`: a device went online (a payment settled or a voucher was redeemed).
pub fn session_start(s: &Session) -> Event {
    Event::new(
        "session.start",
        json!({
            "id": s.id,
            "mac": s.mac.to_string(),
            "ip": s.ip.map(|ip| ip.to_string()),
            "package": s.terms.package_id,
            "deadline": s.deadline,
        }),
    )
}

/// A sink for the app's changes (`App::set_change_sink`) that turns each into its ubus event
/// and hands it to the ubusd connection, dropping it when the queue is full.
pub fn change_sink(events: std::sync::mpsc::SyncSender<Event>) -> crate::app::ChangeSink {
    Box::new(move |change| {
        let event = match &change {
            crate::app::Change::SessionStarted(s) => session_start(s),
            crate::app::Change::SessionStopped(s) => session_stop(s),
            crate::app::Change::Payment(p) => payment_state(p),
        };
        let _ = events.try_send(event);
    })
}

/// `session.stop`: a session ended (time, quota, or kicked).
pub fn session_stop(s: &Session) -> Event {
    let reason = match s.end_reason {
        Some(crate::core::sessions::EndReason::Time) => "time",
        Some(crate::core::sessions::EndReason::Quota) => "quota",
        Some(crate::core::sessions::EndReason::Revoked) => "revoked",
        Some(crate::core::sessions::EndReason::Idle) => "idle",
        None => "unknown",
    };
    Event::new(
        "session.stop",
        json!({
            "id": s.id,
            "mac": s.mac.to_string(),
            "reason": reason,
            "bytes_up": s.bytes_up,
            "bytes_down": s.bytes_down,
        }),
    )
}

/// `payment.state`: a payment changed state (pending, paid, failed, cancelled, expired).
pub fn payment_state(p: &Payment) -> Event {
    Event::new(
        "payment.state",
        json!({
            "id": p.id,
            "state": p.state.name(),
            "amount": p.amount.to_string(),
            "mac": p.mac.to_string(),
            "package": p.terms.package_id,
            "receipt": p.receipt,
            "session_id": p.session_id,
        }),
    )
}
