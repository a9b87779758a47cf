//! Tests of the ClickPesa protocol: the checksum against ClickPesa's documented Python
//! implementation (values computed with it), numbers and networks, the push and query answers
//! classified, the webhook parsed and its checksum checked.

use serde_json::json;

use super::*;

#[test]
fn the_checksum_matches_clickpesas_reference_implementation() {
    // ClickPesa's own example payload (nested, keys out of order) and key; the hex digest is
    // what the Python code on docs.clickpesa.com/home/checksum prints for it.
    let payload = json!({"amount": 100, "currency": "USD", "reference": "TX123",
        "exchange": {"fromCurrency": "TZS", "toCurrency": "TZS", "rate": "1", "amount": "1000"},
        "customer": {"name": "John Doe", "email": "john@example.com", "phone": "+255123456789"}});
    assert_eq!(
        checksum("secret-key", &payload),
        "d777a80827f17cf7882f9ac5efa68416ec680e2d1ab72ad415228d00e4ac4957"
    );
    // lango's push body, signed; the checksum field itself is left out of the digest.
    let phone = Phone::international("255654123456".into());
    let body = push_body(&phone, 20, "LG0123456789ABCDEF", Some("sim-checksum-key"));
    assert_eq!(
        body["checksum"],
        "1bd1b244f583d7db1eec777912b86a5a93ae2788397028edeaba5d3b08aebd5f"
    );
    assert!(checksum_ok("sim-checksum-key", &body));
    assert!(!checksum_ok("another-key", &body));
    let mut changed = body.clone();
    changed["amount"] = "2".into();
    assert!(!checksum_ok("sim-checksum-key", &changed));
    // Without a key there is no checksum field.
    assert!(push_body(&phone, 20, "LG1", None).get("checksum").is_none());
}

#[test]
fn mixx_and_halopesa_numbers_are_taken_and_others_refused() {
    for (typed, want, net) in [
        ("0654 123 456", "255654123456", Network::Mixx),
        ("+255 712 345 678", "255712345678", Network::Mixx),
        ("0677-123-456", "255677123456", Network::Mixx),
        ("773123456", "255773123456", Network::Mixx),
        ("0621 234 567", "255621234567", Network::HaloPesa),
        ("255612345678", "255612345678", Network::HaloPesa),
    ] {
        let phone = msisdn(typed).unwrap();
        assert_eq!(phone.as_str(), want, "{typed}");
        assert_eq!(network(&phone), Some(net), "{typed}");
    }
    // Vodacom (075) and Airtel (068) lines, and things that are not numbers.
    assert!(msisdn("0754 123 456")
        .unwrap_err()
        .contains("not a Mixx by Yas or HaloPesa"));
    assert!(msisdn("0688 123 456").is_err());
    assert!(msisdn("06541234").unwrap_err().starts_with("enter a Mixx"));
    assert!(msisdn("0654abc456").is_err());
}

#[test]
fn push_answers_are_pending_refused_or_the_owners_problem() {
    let ok = json!({"id": "X", "status": "PROCESSING", "channel": "TIGO-PESA"});
    assert_eq!(parse_push(200, &ok), Ok(()));
    // Uncertain: the query by order reference settles it; never sent again.
    assert_eq!(
        parse_push(500, &json!({"message": "Error validating fee"})),
        Ok(())
    );
    assert_eq!(
        parse_push(409, &json!({"message": "Order reference used"})),
        Ok(())
    );
    let phone = json!({"message": "Invalid / unsupported phone number"});
    assert!(matches!(
        parse_push(400, &phone),
        Err(GatewayError::Refused {
            decline: Decline::Other,
            ..
        })
    ));
    let access = json!({"message": "Application has no access to COLLECTION API feature."});
    assert!(matches!(
        parse_push(400, &access),
        Err(GatewayError::Merchant(_))
    ));
    let none = json!({"message": "Account has no payment collection methods"});
    assert!(matches!(
        parse_push(404, &none),
        Err(GatewayError::Merchant(_))
    ));
    assert!(matches!(interpret(401, b"{}"), Answer::TokenRejected));
    assert!(matches!(interpret(429, b"{}"), Answer::Throttled(_)));
}

#[test]
fn query_statuses_map_to_outcomes_with_receipt_and_amount() {
    let entry = |status: &str, message: &str| {
        json!([{"id": "CP1", "status": status, "orderReference": "LG1",
                "paymentReference": "TZREF1", "collectedAmount": 20,
                "collectedCurrency": "TZS", "message": message}])
    };
    for status in ["SUCCESS", "SETTLED"] {
        assert_eq!(
            parse_status(200, &entry(status, ""), "LG1"),
            StkOutcome::Paid {
                receipt: Some("TZREF1".into()),
                amount: Some(Money(2000))
            }
        );
    }
    let declined = |message: &str| match parse_status(200, &entry("FAILED", message), "LG1") {
        StkOutcome::Declined { decline, .. } => decline,
        other => panic!("{other:?}"),
    };
    assert_eq!(declined("Insufficient balance"), Decline::InsufficientFunds);
    assert_eq!(
        declined("Transaction cancelled by user"),
        Decline::Cancelled
    );
    assert_eq!(declined("Request timed out"), Decline::TimedOut);
    assert_eq!(declined(""), Decline::Other);
    for status in ["PROCESSING", "PENDING", "ON-HOLD", "SOMETHING-NEW"] {
        assert_eq!(
            parse_status(200, &entry(status, ""), "LG1"),
            StkOutcome::Pending
        );
    }
    assert_eq!(
        parse_status(404, &json!({"message": "missing"}), "LG1"),
        StkOutcome::Pending
    );
    assert_eq!(parse_status(200, &json!([]), "LG1"), StkOutcome::Pending);
    // A string amount with decimals, another currency, no wallet reference.
    let text = json!([{"id": "CP2", "status": "SUCCESS", "orderReference": "LG2",
                       "collectedAmount": "19.50", "collectedCurrency": "TZS"}]);
    assert_eq!(
        parse_status(200, &text, "LG2"),
        StkOutcome::Paid {
            receipt: Some("CP2".into()),
            amount: Some(Money(1950))
        }
    );
    let usd = json!({"id": "CP3", "status": "SUCCESS", "collectedAmount": 20,
                     "collectedCurrency": "USD"});
    assert!(matches!(
        parse_status(200, &usd, "LG3"),
        StkOutcome::Paid {
            amount: Some(Money(0)),
            ..
        }
    ));
}

#[test]
fn webhooks_are_hints_and_their_checksum_is_checked() {
    let mut received = json!({"event": "PAYMENT RECEIVED", "data": {"paymentId": "CP1",
        "orderReference": "LG1", "amount": "20.00", "currency": "TZS", "status": "SUCCESS"}});
    let bytes = |v: &Value| v.to_string().into_bytes();
    let want = Callback {
        order_reference: "LG1".into(),
        paid: true,
    };
    assert_eq!(
        parse_callback(&bytes(&received), None),
        Some(Ok(want.clone()))
    );
    // With a key: unsigned and wrongly signed are forged; signed is taken.
    assert_eq!(
        parse_callback(&bytes(&received), Some("k")),
        Some(Err(CallbackError::Forged))
    );
    received["checksum"] = checksum("other", &received).into();
    assert_eq!(
        parse_callback(&bytes(&received), Some("k")),
        Some(Err(CallbackError::Forged))
    );
    received["checksum"] = checksum("k", &received).into();
    assert_eq!(parse_callback(&bytes(&received), Some("k")), Some(Ok(want)));
    let failed = json!({"eventType": "PAYMENT FAILED", "data": {"id": "CP2", "status": "FAILED",
        "orderReference": "LG2", "message": "Insufficient balance"}});
    let parsed = parse_callback(&bytes(&failed), None);
    assert_eq!(
        parsed,
        Some(Ok(Callback {
            order_reference: "LG2".into(),
            paid: false
        }))
    );
    // Daraja's and Airtel's bodies are not ClickPesa's.
    let daraja = json!({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1"}}});
    assert_eq!(parse_callback(&bytes(&daraja), None), None);
    let airtel = json!({"transaction": {"id": "LG1", "status_code": "TS"}});
    assert_eq!(parse_callback(&bytes(&airtel), None), None);
}
