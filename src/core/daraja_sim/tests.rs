//! Tests of the simulator's state machine: each endpoint, each validation, each fault.

use serde_json::json;

use super::*;

const T: Timestamp = 1_800_000_000;

fn core() -> SimCore {
    let mut settings = SimSettings::demo(10);
    settings.spike_limit_per_sec = 3;
    SimCore::new(settings)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> SimRequest {
    SimRequest {
        method: method.into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn token(core: &mut SimCore) -> String {
    let auth = format!("Basic {}", crate::core::base64::encode(b"demo:demo"));
    let r = core.handle(
        &request("GET", daraja::OAUTH_PATH, &[("Authorization", &auth)], ""),
        T,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["expires_in"], "3599");
    v["access_token"].as_str().unwrap().to_string()
}

fn push_body(phone: &str, amount: Value) -> Value {
    let ts = daraja_timestamp(T);
    json!({
        "BusinessShortCode": 174379,
        "Password": daraja::password("174379", "demo-passkey", &ts),
        "Timestamp": ts,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": amount,
        "PartyA": phone,
        "PartyB": "174379",
        "PhoneNumber": phone,
        "CallBackURL": "http://127.0.0.1:9/cb",
        "AccountReference": "WiFi",
        "TransactionDesc": "WiFi",
    })
}

fn post(core: &mut SimCore, token: &str, path: &str, body: &Value, now: Timestamp) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = core.handle(
        &request(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        ),
        now,
    );
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

#[test]
fn oauth_errors_follow_the_doc() {
    let mut core = core();
    let r = core.handle(
        &request("GET", "/oauth/v1/generate?grant_type=password", &[], ""),
        T,
    );
    assert!(r.body.contains("400.008.02"), "{}", r.body);
    let r = core.handle(
        &request(
            "GET",
            daraja::OAUTH_PATH,
            &[("Authorization", "Bearer x")],
            "",
        ),
        T,
    );
    assert!(r.body.contains("400.008.01"));
    let wrong = format!("Basic {}", crate::core::base64::encode(b"demo:nope"));
    let r = core.handle(
        &request("GET", daraja::OAUTH_PATH, &[("Authorization", &wrong)], ""),
        T,
    );
    assert_eq!(r.status, 400);
    // A new token revokes the previous one.
    let first = token(&mut core);
    let second = token(&mut core);
    let (status, v) = post(
        &mut core,
        &first,
        daraja::PUSH_PATH,
        &push_body("254712345678", json!(20)),
        T,
    );
    assert_eq!((status, v["errorCode"].as_str()), (404, Some("404.001.03")));
    let (status, _) = post(
        &mut core,
        &second,
        daraja::PUSH_PATH,
        &push_body("254712345678", json!(20)),
        T,
    );
    assert_eq!(status, 200);
}

#[test]
fn push_validation_order() {
    let mut core = core();
    let t = token(&mut core);
    let mut body = push_body("254712345678", json!(20));
    // Missing content type: the documented "Invalid BusinessShortCode" symptom.
    let auth = format!("Bearer {t}");
    let r = core.handle(
        &request(
            "POST",
            daraja::PUSH_PATH,
            &[("Authorization", &auth)],
            &body.to_string(),
        ),
        T,
    );
    assert!(r.body.contains("Invalid BusinessShortCode"), "{}", r.body);
    let r = core.handle(
        &request("GET", daraja::PUSH_PATH, &[("Authorization", &auth)], ""),
        T,
    );
    assert_eq!(r.status, 405);
    for (name, bad, message) in [
        ("Amount", json!(20.5), "Bad Request - Invalid Amount"),
        ("Amount", json!(0), "Bad Request - Invalid Amount"),
        (
            "PhoneNumber",
            json!("0712345678"),
            "Bad Request - Invalid PhoneNumber",
        ),
        (
            "PartyA",
            json!("+254712345678"),
            "Bad Request - Invalid PartyA",
        ),
        (
            "CallBackURL",
            json!("https://ex ample.com"),
            "Bad Request - Invalid CallBackURL",
        ),
        (
            "Timestamp",
            json!("20261341000000"),
            "Bad Request - Invalid Timestamp",
        ),
        (
            "TransactionType",
            json!("PayBill"),
            "Bad Request - Invalid TransactionType",
        ),
    ] {
        let mut b = body.clone();
        b[name] = bad;
        let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &b, T);
        assert_eq!(
            (status, v["errorMessage"].as_str()),
            (400, Some(message)),
            "{name}"
        );
    }
    let mut b = body.clone();
    b["BusinessShortCode"] = json!("600984");
    let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &b, T);
    assert_eq!(
        (status, v["errorMessage"].as_str()),
        (500, Some("Merchant does not exist"))
    );
    body["Password"] = json!(daraja::password("174379", "wrong", &daraja_timestamp(T)));
    let (_, v) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
    assert_eq!(v["errorMessage"], "Wrong credentials");
}

#[test]
fn one_prompt_per_subscriber_rule17_and_spike_arrest() {
    let mut core = core();
    let t = token(&mut core);
    let body = push_body("254712345678", json!("20"));
    let (status, ack) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
    assert_eq!(status, 200);
    let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
    assert!(
        checkout.starts_with("ws_CO_") && checkout.ends_with("712345678"),
        "{checkout}"
    );
    let (status, v) = post(&mut core, &t, daraja::PUSH_PATH, &body, T);
    assert_eq!(status, 500);
    assert!(v["errorMessage"]
        .as_str()
        .unwrap()
        .starts_with("Unable to lock subscriber"));
    // After the prompt ends, the same amount within two minutes is rule-limited.
    assert!(core.resolve(&checkout, Action::Cancel, T + 5));
    let (_, ack) = post(&mut core, &t, daraja::PUSH_PATH, &body, T + 6);
    let again = ack["CheckoutRequestID"].as_str().unwrap().to_string();
    assert_eq!(
        core.query(&again, T + 7),
        Ok(QueryAnswer::Final {
            code: 17,
            desc: "Rule limited.".into()
        })
    );
    // Four pushes in one second with a budget of three.
    let mut last = 0;
    for phone in [
        "254711111111",
        "254722222222",
        "254733333333",
        "254744444444",
    ] {
        last = post(
            &mut core,
            &t,
            daraja::PUSH_PATH,
            &push_body(phone, json!(20)),
            T + 100,
        )
        .0;
    }
    assert_eq!(last, 500);
}

#[test]
fn the_query_waits_then_answers_with_strings() {
    let mut core = core();
    let t = token(&mut core);
    let (_, ack) = post(
        &mut core,
        &t,
        daraja::PUSH_PATH,
        &push_body("254712345678", json!(20)),
        T,
    );
    let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
    let ts = daraja_timestamp(T);
    let query = json!({"BusinessShortCode": "174379", "Password": daraja::password("174379", "demo-passkey", &ts),
        "Timestamp": ts, "CheckoutRequestID": checkout});
    let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &query, T + 5);
    assert_eq!(
        (status, v["errorCode"].as_str(), v["errorMessage"].as_str()),
        (
            500,
            Some("500.001.1001"),
            Some("The transaction is being processed")
        )
    );
    let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &query, T + 10);
    assert_eq!((status, v["ResultCode"].as_str()), (200, Some("0")));
    assert_eq!(
        v["ResponseDescription"],
        "The service request has been accepted successsfully"
    );
    assert!(
        v.get("MpesaReceiptNumber").is_none(),
        "the query never carries the receipt"
    );
    let mut unknown = query.clone();
    unknown["CheckoutRequestID"] = json!("ws_CO_nope");
    let (status, v) = post(&mut core, &t, daraja::QUERY_PATH, &unknown, T + 10);
    assert_eq!((status, v["errorCode"].as_str()), (400, Some("400.002.02")));
}

#[test]
fn callbacks_are_scheduled_duplicated_and_dropped_on_request() {
    let mut core = core();
    let p = PushParams {
        shortcode: "174379".into(),
        buy_goods: false,
        amount: 20,
        phone: "254712345678".into(),
        party_b: "174379".into(),
        callback_url: "http://127.0.0.1:9/cb".into(),
        account_reference: "WiFi".into(),
        description: "WiFi".into(),
    };
    let ack = core.accept_push(&p, T).unwrap();
    assert!(
        core.due_deliveries(T + 10).is_empty(),
        "the callback leaves 1 s after the PIN"
    );
    let due = core.due_deliveries(T + 11);
    assert_eq!(due.len(), 1);
    let cb = daraja::parse_callback(due[0].2.as_bytes()).unwrap();
    assert_eq!(cb.checkout_id, ack.checkout_id);
    assert_eq!(
        (cb.result_code, cb.amount, cb.phone.as_deref()),
        (
            0,
            Some(crate::core::model::Money(2000)),
            Some("254712345678")
        )
    );
    let receipt = cb.receipt.unwrap();
    assert_eq!(
        core.receipt_for(&ack.checkout_id, T + 11).as_deref(),
        Some(receipt.as_str())
    );
    assert!(
        core.due_deliveries(T + 12).is_empty(),
        "in flight until told"
    );
    core.delivered(due[0].0, Some(200), T + 12);
    assert!(core.due_deliveries(T + 100).is_empty());

    core.set_faults(Faults {
        duplicate_callbacks: true,
        amount_decimals: true,
        balance_item: true,
        ..Faults::default()
    });
    let p2 = PushParams {
        phone: "254722222222".into(),
        ..p.clone()
    };
    core.accept_push(&p2, T).unwrap();
    let due = core.due_deliveries(T + 13);
    assert_eq!(due.len(), 2);
    assert!(
        due[0].2.contains(r#""Value":20.00"#) && due[0].2.contains(r#"{"Name":"Balance"}"#),
        "{}",
        due[0].2
    );

    core.set_faults(Faults {
        drop_callbacks: true,
        ..Faults::default()
    });
    let p3 = PushParams {
        phone: "254733331032".into(),
        ..p
    };
    core.accept_push(&p3, T).unwrap();
    assert!(core.due_deliveries(T + 100).is_empty());
    assert!(core.deliveries().iter().any(|d| d.dropped));
}

#[test]
fn faults_shape_the_answers() {
    let mut core = core();
    let t = token(&mut core);
    core.set_faults(Faults {
        fail_next: 1,
        unavailable_next: 1,
        stall_next: 1,
        stall_secs: 3,
        ..Faults::default()
    });
    let body = push_body("254712345678", json!(20));
    let auth = format!("Bearer {t}");
    let req = request(
        "POST",
        daraja::PUSH_PATH,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    );
    let r = core.handle(&req, T);
    assert_eq!(
        (r.status, r.content_type, r.stall_secs),
        (503, "text/html", 3)
    );
    let r = core.handle(&req, T);
    assert!(r.status == 500 && r.body.contains("500.003.1001"));
    assert_eq!(core.handle(&req, T).status, 200);
    core.expire_tokens();
    assert!(core.handle(&req, T).body.contains("404.001.03"));
    // The control API ignores faults and tokens.
    let r = core.handle(
        &request("POST", "/__sim/faults", &[], r#"{"query_stuck":true}"#),
        T,
    );
    assert_eq!(r.status, 200);
    assert!(core.faults().query_stuck);
    let r = core.handle(
        &request(
            "POST",
            "/__sim/resolve",
            &[],
            r#"{"checkout":"nope","action":"dance"}"#,
        ),
        T,
    );
    assert_eq!(r.status, 400);
    let r = core.handle(&request("GET", "/__sim/state", &[], ""), T);
    assert!(r.body.contains("\"sessions\""));
}

#[test]
fn till_pushes_need_the_store_number_and_the_till() {
    let mut core = core();
    let p = PushParams {
        shortcode: "174379".into(),
        buy_goods: true,
        amount: 20,
        phone: "254712345678".into(),
        party_b: "174379".into(),
        callback_url: "http://127.0.0.1:9/cb".into(),
        account_reference: "WiFi".into(),
        description: "WiFi".into(),
    };
    let wrong = core.accept_push(&p, T).unwrap();
    assert!(matches!(
        core.query(&wrong.checkout_id, T + 2),
        Ok(QueryAnswer::Final { code: 2028, .. })
    ));
    let right = core
        .accept_push(
            &PushParams {
                party_b: "5123456".into(),
                phone: "254722222222".into(),
                ..p
            },
            T,
        )
        .unwrap();
    assert!(matches!(
        core.query(&right.checkout_id, T + 10),
        Ok(QueryAnswer::Final { code: 0, .. })
    ));
}

#[test]
fn junk_requests_never_panic() {
    let mut core = core();
    let t = token(&mut core);
    let auth = format!("Bearer {t}");
    let mut seed = 99u64;
    for _ in 0..1000 {
        let len = (seed % 200) as usize;
        let body: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let alphabet = b"{}[]\":,0123456789AmountPhoneNumber \\";
                char::from(alphabet[(seed % alphabet.len() as u64) as usize])
            })
            .collect();
        for path in [
            daraja::PUSH_PATH,
            daraja::QUERY_PATH,
            "/__sim/faults",
            "/__sim/resolve",
            "/x",
        ] {
            core.handle(
                &request(
                    "POST",
                    path,
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/json"),
                    ],
                    &body,
                ),
                T,
            );
        }
    }
}

#[test]
fn a_saved_state_keeps_prompts_tokens_and_faults() {
    let mut first = core();
    let t = token(&mut first);
    let (status, ack) = post(
        &mut first,
        &t,
        daraja::PUSH_PATH,
        &push_body("254712345678", json!(20)),
        T,
    );
    assert_eq!(status, 200, "{ack}");
    let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
    first.set_faults(Faults {
        retry_deliveries: 3,
        ..Faults::default()
    });
    let saved = first.save();

    let mut second = SimCore::restore(SimSettings::demo(10), &saved).unwrap();
    assert_eq!(second.faults().retry_deliveries, 3);
    assert_eq!(second.query(&checkout, T + 1), Ok(QueryAnswer::Pending));
    // The token issued before the restart still works; the prompt ends as planned.
    assert!(second.resolve(&checkout, Action::Success, T + 2));
    let receipt = second.receipt_for(&checkout, T + 2).expect("paid");
    assert_eq!(second.receipt_for(&checkout, T + 2), Some(receipt));
    let query = json!({"BusinessShortCode": "174379",
        "Password": daraja::password("174379", "demo-passkey", &daraja_timestamp(T)),
        "Timestamp": daraja_timestamp(T), "CheckoutRequestID": checkout});
    let (status, v) = post(&mut second, &t, daraja::QUERY_PATH, &query, T + 3);
    assert_eq!((status, &v["ResultCode"]), (200, &json!("0")), "{v}");
    // Identifiers go on from where they were: no CheckoutRequestID is issued twice.
    let (_, again) = post(
        &mut second,
        &t,
        daraja::PUSH_PATH,
        &push_body("254712345679", json!(20)),
        T + 4,
    );
    assert_ne!(again["CheckoutRequestID"].as_str(), Some(checkout.as_str()));

    for junk in [
        "",
        "{}",
        "[]",
        "{\"version\":99}",
        &saved[..saved.len() / 2],
    ] {
        assert!(
            SimCore::restore(SimSettings::demo(10), junk).is_err(),
            "{junk}"
        );
    }
}

/// Issue 13: the simulator's identifiers are random, not a function of its seed and the push
/// count. Five simulators started alike, each pushing the same prompt at the same second, used
/// to hand out the same CheckoutRequestID and MerchantRequestID.
#[test]
fn identifiers_are_random_in_the_real_shape() {
    let mut checkouts = Vec::new();
    let mut merchants = Vec::new();
    for _ in 0..5 {
        let mut core = core();
        let t = token(&mut core);
        let (status, ack) = post(
            &mut core,
            &t,
            daraja::PUSH_PATH,
            &push_body("254712345678", json!("20")),
            T,
        );
        assert_eq!(status, 200);
        let checkout = ack["CheckoutRequestID"].as_str().unwrap().to_string();
        // ws_CO_ + DDMMYYYYHHmmss + three digits + the subscriber without 254.
        assert_eq!(checkout.len(), 6 + 14 + 3 + 9, "{checkout}");
        assert!(checkout.starts_with("ws_CO_") && checkout.ends_with("712345678"));
        assert!(
            checkout[6..].bytes().all(|b| b.is_ascii_digit()),
            "{checkout}"
        );
        checkouts.push(checkout);
        merchants.push(ack["MerchantRequestID"].as_str().unwrap().to_string());
    }
    merchants.sort();
    merchants.dedup();
    assert_eq!(merchants.len(), 5, "64 random bits each: {merchants:?}");
    checkouts.sort();
    checkouts.dedup();
    // Five draws of three random digits all alike: one chance in 10^12.
    assert!(checkouts.len() > 1, "{checkouts:?}");
}

#[test]
fn pull_transactions_register_then_list_the_till_payments_in_the_clients_shape() {
    use crate::core::daraja::pull;
    let mut core = core();
    let token = token(&mut core);
    let query = pull::query_body("174379", T + 60, 0);
    let (status, v) = post(&mut core, &token, pull::PULL_QUERY_PATH, &query, T);
    assert_eq!(status, 400, "not registered yet: {v}");
    let register = pull::register_body("174379", "0722000000", "https://x.invalid/p");
    let (status, v) = post(&mut core, &token, pull::PULL_REGISTER_PATH, &register, T);
    assert_eq!((status, v["ResponseStatus"].as_str()), (200, Some("1000")));
    assert!(pull::parse_register(&v).is_ok());
    let (_, again) = post(&mut core, &token, pull::PULL_REGISTER_PATH, &register, T);
    assert!(
        pull::parse_register(&again).is_ok(),
        "already registered is fine"
    );
    let receipt = core.pay_till(None, "254712345678", 20, "5123456", T);
    core.pay_till(Some("UAFZ000001"), "254712345678", 20, "7777777", T);
    let (status, v) = post(&mut core, &token, pull::PULL_QUERY_PATH, &query, T + 60);
    assert_eq!(status, 200, "{v}");
    let txns = pull::parse_query(&v).unwrap();
    assert_eq!(txns.len(), 1, "only this store's tills: {v}");
    assert_eq!(txns[0].receipt, receipt);
    assert_eq!(txns[0].amount, crate::core::model::Money(2000));
    assert_eq!(txns[0].msisdn, "254712***678");
    // Past the last page; a bad window.
    let later = pull::query_body("174379", T + 60, 5);
    let (_, v) = post(&mut core, &token, pull::PULL_QUERY_PATH, &later, T + 60);
    assert!(pull::parse_query(&v).unwrap().is_empty());
    let mut bad = query.clone();
    bad["StartDate"] = json!("yesterday");
    let (status, _) = post(&mut core, &token, pull::PULL_QUERY_PATH, &bad, T + 60);
    assert_eq!(status, 400);
    // The control hook records a payment as `/__sim/till_payment`.
    let r = core.handle(
        &request(
            "POST",
            "/__sim/till_payment",
            &[],
            r#"{"receipt":"UAFZ000002","phone":"254712345678","amount":50,"till":"174379"}"#,
        ),
        T + 70,
    );
    assert_eq!(r.body, r#"{"receipt":"UAFZ000002"}"#);
    let query = pull::query_body("174379", T + 80, 0);
    let (_, v) = post(&mut core, &token, pull::PULL_QUERY_PATH, &query, T + 80);
    assert_eq!(pull::parse_query(&v).unwrap().len(), 2);
}

#[cfg(feature = "mpesa-qr")]
#[test]
fn dynamic_qr_checks_each_field_then_pays_through_pull() {
    use crate::core::daraja::{pull, qr};
    let mut core = core();
    let token = token(&mut core);
    let good = qr::generate_body(&qr::QrRequest {
        merchant_name: "Cafe".into(),
        ref_no: "QABC".into(),
        amount_major: 20,
        trx_code: "BG",
        cpi: "5123456".into(),
    });
    // Each field wrong in turn: Daraja's envelope names it.
    for (name, value) in [
        ("MerchantName", json!("")),
        ("RefNo", json!(null)),
        ("Amount", json!(0)),
        ("Amount", json!("twenty")),
        ("TrxCode", json!("XX")),
        ("CPI", json!("51a3456")),
        ("CPI", json!("7777777")),
        ("Size", json!("big")),
    ] {
        let mut body = good.clone();
        body[name] = value;
        let (status, v) = post(&mut core, &token, qr::QR_PATH, &body, T);
        assert_eq!(
            (status, v["errorCode"].as_str(), v["errorMessage"].as_str()),
            (
                400,
                Some("400.002.02"),
                Some(format!("Bad Request - Invalid {name}").as_str())
            ),
            "{name}"
        );
    }
    let (status, v) = post(&mut core, &token, qr::QR_PATH, &good, T);
    assert_eq!(status, 200, "{v}");
    assert!(qr::parse_generate(&v)
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert_eq!(v["ResponseDescription"], "QR Code Successfully Generated.");
    assert_eq!(core.qr_codes().len(), 1);
    // Paid through the control hook, with the code's amount and till: Pull lists it.
    let r = core.handle(
        &request(
            "POST",
            "/__sim/qr_payment",
            &[],
            r#"{"ref_no":"QABC","phone":"254712345678"}"#,
        ),
        T + 10,
    );
    let receipt: Value = serde_json::from_str(&r.body).unwrap();
    let register = pull::register_body("174379", "0722000000", "https://x.invalid/p");
    post(
        &mut core,
        &token,
        pull::PULL_REGISTER_PATH,
        &register,
        T + 20,
    );
    let query = pull::query_body("174379", T + 30, 0);
    let (_, v) = post(&mut core, &token, pull::PULL_QUERY_PATH, &query, T + 30);
    let txns = pull::parse_query(&v).unwrap();
    assert_eq!(
        (txns[0].receipt.as_str(), txns[0].amount),
        (
            receipt["receipt"].as_str().unwrap(),
            crate::core::model::Money(2000)
        )
    );
    assert_eq!(core.pay_qr("QNONE", "254712345678", None, T + 40), None);
}
