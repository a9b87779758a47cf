//! A payment the customer approves while lango is dead. The Daraja simulator runs as its own
//! process (`lango sim`), so its prompt outlives lango: `lango serve` in the network lab is
//! killed with SIGKILL once the push was acknowledged, the customer approves in the simulator
//! (its control API) meanwhile, and the restarted lango must settle the payment and grant the
//! session exactly once. Needs root (the lab); skips without it like the lab tests.
//!
//! Two confirmations meet the same payment: the restarted lango's query, and the callback with
//! the receipt. Daraja does not retry a callback that found lango down (docs/daraja.md, Callback); the
//! simulator's `retry_deliveries` switch stands in for the callback that arrives after the
//! restart, so that the test also shows the receipt is recorded once.

use std::time::Duration;

use serde_json::Value;

use crate::lab::{guest_mac, Lab};

/// Where `lango sim` listens, inside the router's namespace.
const SIM: &str = "127.0.0.1:8088";

/// The simulator's control API, called from inside the router's namespace.
fn sim_control(lab: &Lab, method: &str, what: &str, body: &str) -> Option<Value> {
    let url = format!("http://{SIM}/__sim/{what}");
    let mut args = vec!["curl", "-s", "--max-time", "3", "-X", method];
    if !body.is_empty() {
        args.extend_from_slice(&["-H", "Content-Type: application/json", "--data", body]);
    }
    args.push(&url);
    let out = lab.exec(&lab.ns_router, &args);
    serde_json::from_slice(&out.stdout).ok()
}

/// The guest's view of its payment (`/api/payment/TOKEN`).
fn payment(lab: &Lab, token: &str) -> Value {
    let url = format!("http://10.77.0.1:8080/api/payment/{token}");
    let (_, body) = lab.curl(1, &[&url]);
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

#[test]
fn lab_an_approval_while_lango_is_down_is_granted_once_after_the_restart() {
    let Some(mut lab) = Lab::start(1, "") else {
        return;
    };
    // The lab started lango with the simulator inside it; move the simulator out.
    lab.kill_lango();
    let config_path = lab.dir.path("lango.conf");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let config = config.replacen(
        "\toption passkey 'p'\n",
        &format!(
            "\toption passkey 'p'\n\toption simulator_url 'http://{SIM}'\n\
             \toption callback_url 'http://10.77.0.1:8080'\n"
        ),
        1,
    );
    assert!(config.contains("simulator_url"), "{config}");
    std::fs::write(&config_path, &config).unwrap();
    // Only the customer ends a prompt here (--approve-after -1: never on its own, time-out
    // after 60 s); the simulator accepts the account in lango's config.
    let ns = lab.ns_router.clone();
    lab.spawn(
        &ns,
        &[
            env!("CARGO_BIN_EXE_lango"),
            "sim",
            "--listen",
            SIM,
            "--config",
            config_path.to_str().unwrap(),
            "--approve-after",
            "-1",
        ],
    );
    lab.wait_for("lango sim", || {
        sim_control(&lab, "GET", "state", "").is_some()
    });
    let faults = sim_control(&lab, "POST", "faults", r#"{"retry_deliveries":6}"#);
    assert!(faults.is_some_and(|f| f["faults"]["retry_deliveries"] == 6));
    lab.start_lango();
    lab.dhcp(1);

    // The guest buys; lango's push is acknowledged (the payment is pending with the prompt on
    // the phone, and the simulator holds it).
    let token = lab.buy(1, "hour", "0712345678");
    let mut checkout = String::new();
    lab.wait_for("the acknowledged push", || {
        let pending = payment(&lab, &token)["state"] == "pending";
        let sessions = sim_control(&lab, "GET", "state", "")
            .and_then(|s| s["sessions"].as_array().cloned())
            .unwrap_or_default();
        if let [one] = sessions.as_slice() {
            checkout = one["checkout_id"].as_str().unwrap_or("").to_string();
        }
        pending && !checkout.is_empty()
    });

    // lango dies; the customer types the PIN while it is down.
    lab.kill_lango();
    let resolved = sim_control(
        &lab,
        "POST",
        "resolve",
        &format!(r#"{{"checkout":"{checkout}","action":"success"}}"#),
    );
    assert_eq!(
        resolved.as_ref().map(|r| &r["resolved"]),
        Some(&Value::Bool(true)),
        "the simulator still holds the prompt lango started"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(!lab.online(1, false), "no access while lango is down");

    // The restarted lango asks Daraja about the payment it was waiting for.
    lab.start_lango();
    lab.wait_for("the payment settled after the restart", || {
        payment(&lab, &token)["state"] == "paid"
    });
    lab.wait_for("the guest online", || lab.online(1, false));

    // The callback gets through on a retry and brings the receipt the simulator issued: kept
    // for the owner as what the callback said, never as the payment's receipt (issue 13).
    let issued = sim_control(&lab, "GET", "state", "")
        .and_then(|s| s["sessions"][0]["receipt"].as_str().map(str::to_string))
        .unwrap_or_default();
    assert_eq!(issued.len(), 10, "a receipt in M-Pesa's shape: {issued}");
    let mut receipt = String::new();
    lab.wait_for("the callback's receipt", || {
        let overview = lab.admin("GET", "/api/overview", "");
        receipt = overview["payments"][0]["callback_receipt"]
            .as_str()
            .unwrap_or("")
            .to_string();
        !receipt.is_empty()
    });
    assert_eq!(receipt, issued);
    assert_eq!(payment(&lab, &token)["receipt"], Value::Null);
    let delivered = sim_control(&lab, "GET", "state", "")
        .and_then(|s| s["deliveries"].as_array().cloned())
        .unwrap_or_default();
    assert!(
        delivered.iter().any(|d| d["status"] == 200),
        "the callback reached the restarted lango: {delivered:?}"
    );

    // Exactly once: one payment with one receipt, one session, one payment_paid event. The
    // worker polls again in the meantime; nothing more may appear.
    std::thread::sleep(Duration::from_secs(3));
    let overview = lab.admin("GET", "/api/overview", "");
    let payments = overview["payments"].as_array().cloned().unwrap_or_default();
    assert_eq!(payments.len(), 1, "{overview}");
    assert_eq!(payments[0]["state"], "paid", "{overview}");
    assert_eq!(payments[0]["receipt"], Value::Null, "{overview}");
    assert_eq!(
        payments[0]["callback_receipt"].as_str(),
        Some(receipt.as_str())
    );
    let sessions = overview["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 1, "{overview}");
    assert_eq!(sessions[0]["mac"], guest_mac(1).as_str(), "{overview}");
    let events = overview["events"].as_array().cloned().unwrap_or_default();
    let paid_events = events
        .iter()
        .filter(|e| e["kind"] == "payment_paid")
        .count();
    assert_eq!(paid_events, 1, "{overview}");
}
