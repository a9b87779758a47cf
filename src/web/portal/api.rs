//! The guest JSON API under `/api/portal/`, with the endpoints and response shapes of the EasyISP
//! portal API (packages, check-session, login, logout, status, voucher, tenant, mpesa check,
//! validate, initiate, status), so that portal pages written for it work; with its holes
//! closed: the device is always the one the network shows (a MAC in the request that disagrees is
//! refused), no response carries a password or credential, session ids are random tokens, and
//! every endpoint is rate limited per device (and per phone for STK pushes) with 429 and
//! Retry-After.

use std::net::IpAddr;

use rouille::{Request, Response};
use serde_json::{json, Value};

use super::Ctx;
use crate::app::{Denied, MoveError, PurchaseError, RedeemError};
use crate::core::config::{Config, MpesaKind, Package};
use crate::core::model::{format_bytes, format_duration, format_rate, Mac, Money};
use crate::core::payments::{Decline, LimitRefusal, PaymentState};
use crate::core::ratelimit::{self, Limit};
use crate::core::sessions::Lifecycle;
use crate::core::vouchers::Refusal;
use crate::web::http::json;

pub fn handle(ctx: &Ctx, request: &Request, path: &str) -> Response {
    let ip = request.remote_addr().ip().to_canonical();
    let now_ms = ctx.app.time().now_ms;
    // The device, from the network; a request naming another MAC is refused outright.
    let mac = ctx.app.identify(ip);
    let body = match read_json(request) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let claimed = body
        .get("macAddress")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| request.get_param("mac"));
    if let Some(claimed) = claimed.filter(|c| !c.is_empty()) {
        let matches = claimed.parse::<Mac>().ok().is_some_and(|c| Some(c) == mac);
        if !matches {
            return error(403, "the MAC address in the request is not this device's");
        }
    }
    let device_key = mac.map(|m| m.to_string()).unwrap_or_else(|| ip.to_string());
    let limit = match (request.method(), path) {
        ("POST", "voucher" | "login" | "mpesa/verify-sms" | "mpesa/callback") => ratelimit::ATTEMPT,
        ("POST", "move") => ratelimit::MOVE,
        _ => ratelimit::API,
    };
    if let Err(wait) = limited(ctx, &format!("{path}:{device_key}"), limit, now_ms) {
        return wait;
    }
    match (request.method(), path) {
        ("GET", "packages") => packages(&ctx.app.config(), ctx.app.time().now),
        ("GET", "check-session") => check_session(ctx, ip),
        ("GET", "status") => status(ctx, ip),
        ("POST", "logout") => logout(ctx, ip),
        ("POST", "voucher") => voucher(ctx, ip, &body),
        ("GET", "tenant") => tenant(&ctx.app.config()),
        ("GET", "mpesa/check") => json(
            200,
            &json!({"configured": ctx.app.config().mpesa.is_some()}),
        ),
        ("GET", "mpesa/validate") => validate(&ctx.app.config()),
        ("POST", "mpesa/initiate") => initiate(ctx, ip, &body),
        ("GET", "mpesa/status") => payment_status(ctx, request),
        ("POST", "move") => move_purchase(ctx, ip, &body),
        ("POST", "mpesa/verify-sms") => verify_sms(ctx, ip, &body),
        // EasyISP's callback path. Anyone on the Wi-Fi can post here, so what comes in is
        // logged and never used as evidence (not even as a hint): lango registers only the
        // unguessable /api/stk-callback/<secret> path with Daraja.
        ("POST", "mpesa/callback") => {
            let checkout = body
                .pointer("/Body/stkCallback/CheckoutRequestID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(64)
                .collect::<String>();
            log::warn!(
                "M-Pesa callback on the public path from {ip} (checkout {checkout:?}) ignored: \
                 lango only believes its secret callback path and its own queries"
            );
            json(200, &json!({"ResultCode": 0, "ResultDesc": "Accepted"}))
        }
        ("POST", "login") => login(ctx, ip, &body),
        _ => error(404, "no such endpoint"),
    }
}

fn limited(ctx: &Ctx, key: &str, limit: Limit, now_ms: i64) -> Result<(), Response> {
    ctx.app.limiter.check(key, limit, now_ms).map_err(|secs| {
        error(429, "too many requests; wait a little")
            .with_unique_header("Retry-After", secs.to_string())
    })
}

fn error(status: u16, message: &str) -> Response {
    json(status, &json!({"success": false, "error": message}))
}

/// A JSON body of at most `MAX_BODY` bytes; an empty body is `{}`.
fn read_json(request: &Request) -> Result<Value, Response> {
    let raw = crate::web::body::read(request).map_err(|e| error(e.status(), e.message()))?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(&raw) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(error(400, "the body must be a JSON object")),
    }
}

fn text(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn speed(p: &Package) -> String {
    match (p.rate_down_kbit, p.rate_up_kbit) {
        (None, None) => "Unlimited".into(),
        (down, up) => format!(
            "{}/{}",
            down.map(format_rate).unwrap_or_else(|| "unlimited".into()),
            up.map(format_rate).unwrap_or_else(|| "unlimited".into())
        ),
    }
}

fn package_json(p: &Package) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        // A JSON number without parsing text into a float (which would link std's float parser).
        "price": p.price.0 as f64 / Money::MINOR_PER_MAJOR as f64,
        "speed": speed(p),
        "duration": format_duration(p.duration_secs),
        "data": p.quota_bytes.map(format_bytes).unwrap_or_else(|| "Unlimited".into()),
    })
}

fn packages(config: &Config, now: crate::core::time::Timestamp) -> Response {
    let list: Vec<Value> = config.on_sale(now).map(package_json).collect();
    json(200, &json!({"packages": list}))
}

fn check_session(ctx: &Ctx, ip: IpAddr) -> Response {
    match ctx.app.device(ip) {
        Ok(Some(view)) => match view.lifecycle {
            Lifecycle::Active(s) => json(
                200,
                &json!({
                    "hasActiveSession": true,
                    "customer": {
                        "packageName": s.terms.package_name,
                        "expiresAt": crate::core::time::iso8601(s.deadline),
                        "remainingMinutes": s.seconds_left(view.now) / 60,
                    }
                }),
            ),
            _ => json(200, &json!({"hasActiveSession": false})),
        },
        Ok(None) => error(403, "this device is not on the guest network"),
        Err(e) => internal(e),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    log::error!("portal api: {e}");
    error(500, "internal error")
}

fn status(ctx: &Ctx, ip: IpAddr) -> Response {
    match ctx.app.device(ip) {
        Ok(Some(view)) => match view.lifecycle {
            Lifecycle::Active(s) => {
                let uptime = u64::try_from(view.now - s.started_at).unwrap_or(0);
                json(
                    200,
                    &json!({
                        "active": true,
                        "sessionId": s.token,
                        "uptime": crate::core::model::human_duration(uptime),
                        "uptimeSeconds": uptime,
                        "secondsRemaining": s.seconds_left(view.now),
                        "bytesIn": s.bytes_down,
                        "bytesOut": s.bytes_up,
                        "bytesRemaining": s.bytes_left(),
                        "customer": {"package": s.terms.package_name},
                    }),
                )
            }
            _ => json(200, &json!({"active": false})),
        },
        Ok(None) => error(403, "this device is not on the guest network"),
        Err(e) => internal(e),
    }
}

fn logout(ctx: &Ctx, ip: IpAddr) -> Response {
    let session = match ctx.app.device(ip) {
        Ok(Some(view)) => match view.lifecycle {
            Lifecycle::Active(s) => s,
            _ => return json(200, &json!({"success": true})),
        },
        Ok(None) => return error(403, "this device is not on the guest network"),
        Err(e) => return internal(e),
    };
    match ctx.app.revoke_session(session.id) {
        Ok(_) => json(200, &json!({"success": true})),
        Err(e) => internal(e),
    }
}

fn voucher(ctx: &Ctx, ip: IpAddr, body: &Value) -> Response {
    match ctx.app.redeem(ip, &text(body, "code")) {
        Ok(s) => json(
            200,
            &json!({
                "success": true,
                "sessionId": s.token,
                "package": {
                    "name": s.terms.package_name,
                    "speed": s.terms.rate_down_kbit.map(format_rate).unwrap_or_else(|| "Unlimited".into()),
                    "duration": format_duration(s.terms.duration_secs),
                },
                "expiresAt": crate::core::time::iso8601(s.deadline),
            }),
        ),
        Err(RedeemError::Refused(Refusal::Used)) => {
            error(409, "this voucher has already been used")
        }
        Err(RedeemError::Refused(Refusal::Closed)) => {
            error(409, "this package cannot be used at this time of day")
        }
        Err(RedeemError::Refused(_)) => error(404, "invalid or unavailable voucher"),
        Err(RedeemError::Full(n)) => {
            error(409, &format!("this voucher is already used on {n} devices"))
        }
        #[cfg(feature = "radius")]
        Err(RedeemError::Radius(e)) => radius_error(&e),
        Err(RedeemError::Denied(d)) => denied(d),
        Err(RedeemError::Store(crate::store::StoreError::Full)) => {
            error(503, "the router's storage is full; ask staff for help")
        }
        Err(RedeemError::Store(e)) => internal(e),
    }
}

/// A RADIUS refusal as JSON: the server's Reply-Message, or that it could not be asked.
#[cfg(feature = "radius")]
fn radius_error(e: &crate::adapters::radius::RadiusError) -> Response {
    use crate::adapters::radius::RadiusError;
    match e {
        RadiusError::Rejected(message) => error(
            403,
            message
                .as_deref()
                .unwrap_or("rejected by the RADIUS server"),
        ),
        _ => error(
            503,
            "codes cannot be checked just now; try again in a minute",
        ),
    }
}

/// Signs the device in with a guest account (the EasyISP shape; the password is checked
/// against its hash and never echoed).
fn login(ctx: &Ctx, ip: IpAddr, body: &Value) -> Response {
    use crate::app::LoginError;
    use crate::core::accounts::LoginRefusal;
    if let Err(wait) = crate::web::portal::login::overall_limit(ctx) {
        return error(429, "too many sign-ins; wait a little")
            .with_unique_header("Retry-After", wait.to_string());
    }
    let password = body.get("password").and_then(Value::as_str).unwrap_or("");
    match ctx.app.login_account(ip, &text(body, "username"), password) {
        Ok(s) => json(
            200,
            &json!({
                "success": true,
                "sessionId": s.token,
                "customer": {
                    "package": s.terms.package_name,
                    "expiresAt": crate::core::time::iso8601(s.deadline),
                },
                "quota": {
                    "speed": s.terms.rate_down_kbit.map(format_rate).unwrap_or_else(|| "Unlimited".into()),
                    "data": s.quota_bytes.map(format_bytes).unwrap_or_else(|| "Unlimited".into()),
                    "time": format_duration(u64::try_from(s.deadline - s.started_at).unwrap_or(0)),
                },
            }),
        ),
        Err(LoginError::Refused(LoginRefusal::BadCredentials)) => error(401, "invalid credentials"),
        Err(LoginError::Refused(LoginRefusal::Disabled | LoginRefusal::NoPackage)) => {
            error(403, "this account is suspended")
        }
        Err(LoginError::Refused(LoginRefusal::Expired)) => error(403, "this account has expired"),
        Err(LoginError::Refused(LoginRefusal::Closed)) => {
            error(409, "this package cannot be used at this time of day")
        }
        Err(LoginError::Refused(LoginRefusal::TooManyDevices { max })) => error(
            409,
            &format!("this account is already online on {max} device(s)"),
        ),
        #[cfg(feature = "radius")]
        Err(LoginError::Radius(e)) => radius_error(&e),
        Err(LoginError::AlreadyOnline) => error(409, "this device already has time running"),
        Err(LoginError::Denied(d)) => denied(d),
        Err(LoginError::Store(e)) => internal(e),
    }
}

/// The one place a refused admission (`App::admit`) becomes a JSON answer.
fn denied(d: Denied) -> Response {
    match d {
        Denied::UnknownDevice => error(403, "this device is not on the guest network"),
        Denied::ClockUnsynced => error(503, "the router is starting; try again in a minute"),
        Denied::Blocked => error(403, "this device is blocked"),
        Denied::Clone => error(403, "another device is using this device's address"),
    }
}

fn tenant(config: &Config) -> Response {
    let brand = &config.brand;
    json(
        200,
        &json!({
            "id": "local",
            "name": brand.name,
            "logo": crate::web::portal::logo_data_uri(config),
            "primaryColor": brand.colour,
            "contact": {"phone": brand.phone, "email": brand.email},
        }),
    )
}

/// Masks all but the first three characters (`123***`).
fn mask(text: &str) -> String {
    let shown: String = text.chars().take(3).collect();
    format!("{shown}***")
}

fn validate(config: &Config) -> Response {
    let Some(m) = &config.mpesa else {
        return json(
            200,
            &json!({"configured": false, "valid": false, "errors": ["M-Pesa is not configured"]}),
        );
    };
    let mut errors = Vec::new();
    if m.consumer_key.is_empty()
        || m.consumer_key == "CHANGE_ME"
        || m.consumer_secret == "CHANGE_ME"
    {
        errors.push("the Daraja consumer key and secret are not set");
    }
    if m.passkey.is_empty() {
        errors.push("the passkey is not set");
    }
    if m.kind == MpesaKind::Till && m.till.is_none() {
        errors.push("a Buy Goods account needs its till number");
    }
    let (config_type, till, paybill) = match m.kind {
        MpesaKind::Till => ("BUYGOODS", m.till.clone(), None),
        MpesaKind::PayBill => ("PAYBILL", None, Some(m.shortcode.clone())),
    };
    json(
        200,
        &json!({
            "configured": true,
            "valid": errors.is_empty(),
            "configType": config_type,
            "errors": errors,
            "details": {
                "tillNumber": till,
                "paybillNumber": paybill,
                "storeNumber": mask(&m.shortcode),
                "environment": m.environment.name(),
                "hasPasskey": !m.passkey.is_empty(),
                "hasCredentials": !m.consumer_key.is_empty() && !m.consumer_secret.is_empty(),
            }
        }),
    )
}

fn initiate(ctx: &Ctx, ip: IpAddr, body: &Value) -> Response {
    let phone = text(body, "phone");
    match ctx.app.start_purchase(ip, &text(body, "packageId"), &phone) {
        Ok(payment) => json(
            200,
            &json!({
                "success": true,
                "checkoutRequestId": payment.token,
                "message": "Check your phone and enter your M-Pesa PIN",
            }),
        ),
        Err(PurchaseError::AlreadyPending(token)) => json(
            409,
            &json!({"success": false, "checkoutRequestId": token, "error": "a payment is already waiting for your PIN"}),
        ),
        Err(PurchaseError::UnknownPackage) => error(404, "unknown package"),
        Err(PurchaseError::Closed(window)) => error(
            409,
            &format!("this package is on sale only {}", window.words()),
        ),
        Err(PurchaseError::BadPhone(message)) => error(400, &message),
        Err(PurchaseError::Denied(d)) => denied(d),
        Err(PurchaseError::Limited(LimitRefusal::PhoneBusy)) => {
            error(409, "this phone already has an M-Pesa request waiting")
        }
        Err(PurchaseError::Limited(
            LimitRefusal::SameAmountTooSoon { wait_secs }
            | LimitRefusal::TooManyAttempts { wait_secs }
            | LimitRefusal::PhoneTooManyPrompts { wait_secs },
        )) => error(429, "too many payment requests; wait a little")
            .with_unique_header("Retry-After", wait_secs.max(1).to_string()),
        Err(PurchaseError::NoRoom) => error(
            503,
            "the router's storage is full: payments are paused; ask staff for help",
        ),
        Err(PurchaseError::Store(e)) => internal(e),
    }
}

fn payment_status(ctx: &Ctx, request: &Request) -> Response {
    let token = request.get_param("checkoutRequestId").unwrap_or_default();
    let payment = match ctx.app.payment_by_token(&token) {
        Ok(Some(p)) => p,
        Ok(None) => return error(404, "unknown payment"),
        Err(e) => return internal(e),
    };
    let body = match payment.state {
        PaymentState::Initiating | PaymentState::Pending => json!({"status": "pending"}),
        PaymentState::Paid => {
            json!({
                "status": "completed",
                "package": payment.terms.package_name,
                "receipt": payment.receipt,
                "moveCode": crate::core::payments::move_code(&payment.token),
            })
        }
        PaymentState::Expired => json!({"status": "expired"}),
        PaymentState::Cancelled => {
            json!({"status": "failed", "message": "Request cancelled by user"})
        }
        PaymentState::Failed => {
            let message = match payment.decline {
                Some(Decline::WrongPin) => "Wrong M-Pesa PIN",
                Some(Decline::InsufficientFunds) => "Insufficient M-Pesa balance",
                Some(Decline::Busy) => "Another M-Pesa request is in progress on this phone",
                _ => "The payment did not go through",
            };
            json!({"status": "failed", "message": message})
        }
    };
    json(200, &body)
}

fn move_purchase(ctx: &Ctx, ip: IpAddr, body: &Value) -> Response {
    match ctx
        .app
        .move_session(ip, &text(body, "receipt"), &text(body, "phone"))
    {
        Ok(s) => json(
            200,
            &json!({"success": true, "sessionId": s.token, "expiresAt": crate::core::time::iso8601(s.deadline)}),
        ),
        Err(MoveError::NotFound) => error(
            404,
            "no running purchase with that receipt and phone number",
        ),
        Err(MoveError::TooSoon(secs)) => error(429, "this purchase was moved recently")
            .with_unique_header("Retry-After", secs.to_string()),
        Err(MoveError::AlreadyOnline) => error(409, "this device already has time running"),
        Err(MoveError::Denied(d)) => denied(d),
        Err(MoveError::Store(e)) => internal(e),
    }
}

fn verify_sms(ctx: &Ctx, ip: IpAddr, body: &Value) -> Response {
    use crate::app::mpesa::{SmsError, SmsOutcome};
    match ctx
        .app
        .claim_sms(ip, &text(body, "smsText"), &text(body, "packageId"))
    {
        Ok(SmsOutcome::Granted(s)) => json(
            200,
            &json!({
                "success": true,
                "sessionId": s.token,
                "expiresAt": crate::core::time::iso8601(s.deadline),
                "package": s.terms.package_name,
            }),
        ),
        Ok(SmsOutcome::AlreadyYours) => {
            json(200, &json!({"success": true, "status": "already_active"}))
        }
        Ok(SmsOutcome::Checking) => json(202, &json!({"success": false, "status": "checking"})),
        Ok(SmsOutcome::SentToOwner) => json(
            202,
            &json!({"success": false, "status": "pending_approval"}),
        ),
        Err(e) => match e {
            SmsError::Denied(d) => denied(d),
            SmsError::TooManyAttempts => error(429, "too many attempts; wait a little"),
            SmsError::NotAPayment(_) => error(400, "this is not an M-Pesa payment message"),
            SmsError::UnknownPackage => error(404, "unknown package"),
            SmsError::AmountBelowPrice { .. } => {
                error(400, "the amount paid is below the package price")
            }
            SmsError::AlreadyUsed => error(409, "this receipt has already been used"),
            SmsError::AlreadyWaiting => error(409, "this receipt is already waiting for the owner"),
            SmsError::Rejected => error(409, "the owner rejected this receipt"),
            SmsError::OwnerBusy => error(503, "too many claims are waiting; ask staff"),
            SmsError::NotPaidHere => error(
                404,
                "M-Pesa shows no payment with this receipt to this till in the last 48 hours",
            ),
            SmsError::MpesaBusy => error(503, "M-Pesa is busy; try again in a minute"),
            SmsError::Store(e) => internal(e),
        },
    }
}
