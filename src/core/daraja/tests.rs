//! Tests of the pure Daraja protocol: the test vectors of docs/daraja.md, every documented answer
//! and callback shape, junk that must not panic.

use super::*;
use crate::core::model::Phone;
use crate::core::time::daraja_timestamp;

const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
const WHO: Who<'static> = Who {
    shortcode: "174379",
    till: false,
};

fn account(kind: MpesaKind) -> Mpesa {
    Mpesa {
        environment: MpesaEnvironment::Sandbox,
        consumer_key: "key".into(),
        consumer_secret: "secret".into(),
        kind,
        shortcode: "174379".into(),
        till: (kind == MpesaKind::Till).then(|| "5123456".into()),
        passkey: PASSKEY.into(),
        account_reference: "WiFi".into(),
        callback_url: None,
        ca_bundle: None,
        simulator_url: None,
        pull: false,
        pull_phone: None,
        qr: false,
    }
}

#[test]
fn password_test_vectors_from_payments_md() {
    let cases = [
        ("20160216165627", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"),
        ("20210628092408", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"),
        ("20260604194233", "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjYwNjA0MTk0MjMz"),
    ];
    for (timestamp, expected) in cases {
        assert_eq!(password("174379", PASSKEY, timestamp), expected);
    }
}

#[test]
fn timestamps_are_east_africa_time() {
    // 2026-06-04T16:42:33Z is 19:42:33 in Nairobi.
    assert_eq!(daraja_timestamp(1_780_591_353), "20260604194233");
}

#[test]
fn paybill_and_till_bodies() {
    let push = StkPush {
        phone: Phone::parse("0712 345 678").unwrap(),
        amount_major: 20,
        account_reference: "Cafe WiFi 1234567".into(),
        description: "Internet package".into(),
        callback_url: "https://example.net/cb".into(),
    };
    let body = push_body(&account(MpesaKind::PayBill), &push, "20260604194233");
    assert_eq!(body["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(
        (body["PartyB"].as_str(), body["Amount"].as_i64()),
        (Some("174379"), Some(20))
    );
    assert_eq!(body["PartyA"], "254712345678");
    assert_eq!(body["PhoneNumber"], "254712345678");
    assert_eq!(body["AccountReference"], "Cafe WiFi 12");
    assert_eq!(body["TransactionDesc"], "Internet pack");
    let body = push_body(&account(MpesaKind::Till), &push, "20260604194233");
    assert_eq!(
        (
            body["TransactionType"].as_str(),
            body["BusinessShortCode"].as_str(),
            body["PartyB"].as_str()
        ),
        (
            Some("CustomerBuyGoodsOnline"),
            Some("174379"),
            Some("5123456")
        )
    );
    let query = query_body(&account(MpesaKind::PayBill), "ws_CO_1", "20260604194233");
    assert_eq!(query["CheckoutRequestID"], "ws_CO_1");
    assert_eq!(query["Password"], body["Password"]);
}

fn failure(status: u16, code: &str, message: &str) -> Answer {
    let body = json!({"requestId": "1-2-3", "errorCode": code, "errorMessage": message});
    interpret(status, body.to_string().as_bytes(), WHO)
}

#[test]
fn errors_are_classified_by_code_and_text() {
    let merchant = |a: Answer| {
        matches!(
            a,
            Answer::Failure(Failure::Gateway(GatewayError::Merchant(_)))
        )
    };
    let unavailable = |a: Answer| {
        matches!(
            a,
            Answer::Failure(Failure::Gateway(GatewayError::Unavailable(_)))
        )
    };
    assert!(matches!(
        failure(404, "404.001.03", "Invalid Access Token"),
        Answer::Failure(Failure::TokenRejected(_))
    ));
    assert!(matches!(
        failure(
            401,
            "401.003.01",
            "Error Occurred - Invalid Access Token - Invalid API call as no apiproduct match found"
        ),
        Answer::Failure(Failure::TokenRejected(_))
    ));
    assert_eq!(
        failure(500, "500.001.1001", "The transaction is being processed"),
        Answer::Failure(Failure::BeingProcessed)
    );
    assert!(matches!(
        failure(500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process for the current subscriber"),
        Answer::Failure(Failure::Gateway(GatewayError::Refused { decline: Decline::Busy, .. }))
    ));
    assert!(merchant(failure(
        500,
        "500.001.1001",
        "Merchant does not exist"
    )));
    assert!(merchant(failure(500, "500.001.1001", "Wrong credentials")));
    assert!(merchant(failure(
        500,
        "500.001.1001",
        "[MerchantValidate] - Wrong credentials"
    )));
    let throttled = |a: Answer| {
        matches!(
            a,
            Answer::Failure(Failure::Gateway(GatewayError::Throttled(_)))
        )
    };
    assert!(throttled(failure(
        500,
        "500.003.02",
        "Error Occurred: Spike Arrest Violation"
    )));
    assert!(throttled(failure(
        500,
        "500.003.02",
        "System is busy. Please try again in few minutes."
    )));
    assert!(throttled(failure(500, "500.003.03", "Quota Violation")));
    assert!(unavailable(failure(
        500,
        "500.003.1001",
        "Internal Server Error"
    )));
    assert!(matches!(
        failure(400, "400.002.02", "Bad Request - Invalid PhoneNumber"),
        Answer::Failure(Failure::Gateway(GatewayError::Refused {
            decline: Decline::Other,
            ..
        }))
    ));
    assert!(merchant(failure(
        400,
        "400.002.02",
        "Bad Request - Invalid BusinessShortCode"
    )));
    assert!(merchant(failure(
        400,
        "400.002.02",
        "Bad Request - Invalid CallBackURL"
    )));
    assert!(merchant(failure(
        400,
        "400.008.01",
        "Invalid authentication type passed"
    )));
    assert!(merchant(failure(404, "404.001.01", "Resource not found")));
    // No envelope at all.
    assert!(unavailable(interpret(
        503,
        b"<html>Service Unavailable</html>",
        WHO
    )));
    assert!(unavailable(interpret(502, b"", WHO)));
    assert!(merchant(interpret(404, b"Not Found", WHO)));
    assert!(unavailable(interpret(200, b"not json", WHO)));
    assert!(unavailable(interpret(200, b"[1,2]", WHO)));
}

#[test]
fn the_till_hint_names_the_store_number() {
    let till = Who {
        shortcode: "5123456",
        till: true,
    };
    let body = json!({"errorCode": "500.001.1001", "errorMessage": "Merchant does not exist"});
    let Answer::Failure(Failure::Gateway(GatewayError::Merchant(m))) =
        interpret(500, body.to_string().as_bytes(), till)
    else {
        panic!("merchant")
    };
    assert!(m.contains("store (head office) number"), "{m}");
}

#[test]
fn acknowledgements_and_query_results() {
    let ack = json!({"MerchantRequestID": "6e3f-4a1c-9b27-5d0c8e41f2a71204518", "CheckoutRequestID": "ws_CO_04062026194233517712345678",
        "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing"});
    let accepted = parse_push_ack(&ack).unwrap();
    assert_eq!(accepted.checkout_id, "ws_CO_04062026194233517712345678");
    assert!(matches!(
        parse_push_ack(&json!({"ResponseCode": "1", "ResponseDescription": "no"})),
        Err(GatewayError::Refused { .. })
    ));
    assert!(matches!(
        parse_push_ack(&json!({"ResponseCode": 0})),
        Err(GatewayError::Unanswered(_))
    ));
    assert!(matches!(
        parse_push_ack(&json!({"ResponseCode": "0", "CheckoutRequestID": "x y"})),
        Err(GatewayError::Unanswered(_))
    ));
    let paid = json!({"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully", "ResultCode": "0", "ResultDesc": "The service request is processed successfully."});
    assert_eq!(
        parse_query_result(&paid),
        Ok(StkOutcome::Paid {
            receipt: None,
            amount: None
        })
    );
    for (code, decline) in [
        ("1032", Decline::Cancelled),
        ("1037", Decline::TimedOut),
        ("2001", Decline::WrongPin),
        ("1", Decline::InsufficientFunds),
        ("17", Decline::Busy),
        ("2028", Decline::Merchant),
    ] {
        assert_eq!(
            parse_query_result(
                &json!({"ResultCode": code, "ResultDesc": "[STK_CB - ]The service request is processed successfully."})
            ),
            Ok(StkOutcome::Declined {
                code: code.parse().unwrap(),
                decline
            }),
            "{code}"
        );
    }
    assert_eq!(
        parse_query_result(&json!({"ResultCode": 1032})),
        Ok(StkOutcome::Declined {
            code: 1032,
            decline: Decline::Cancelled
        })
    );
    assert_eq!(
        parse_query_result(&json!({"ResultCode": "SFC_IC0003"})),
        Ok(StkOutcome::Declined {
            code: -1,
            decline: Decline::Merchant
        })
    );
    assert!(parse_query_result(&json!({"ResponseCode": "0"})).is_err());
}

#[test]
fn tokens_with_string_or_number_lifetimes() {
    assert_eq!(
        parse_token(br#"{"access_token":"abc","expires_in":"3599"}"#),
        Ok(("abc".into(), 3599))
    );
    assert_eq!(
        parse_token(br#"{"access_token":"abc","expires_in":3599}"#),
        Ok(("abc".into(), 3599))
    );
    for junk in [
        &b"{}"[..],
        b"null",
        b"",
        br#"{"access_token":"","expires_in":1}"#,
        br#"{"access_token":"a b","expires_in":1}"#,
        br#"{"access_token":"a","expires_in":"soon"}"#,
        br#"{"access_token":"a","expires_in":-5}"#,
    ] {
        assert!(parse_token(junk).is_err());
    }
}

#[test]
fn callbacks_of_every_documented_shape() {
    let success = br#"{"Body":{"stkCallback":{"MerchantRequestID":"6e3f-4a1c-9b27-5d0c8e41f2a71204518",
        "CheckoutRequestID":"ws_CO_04062026194233517712345678","ResultCode":0,
        "ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[
        {"Name":"Amount","Value":20.00},{"Name":"MpesaReceiptNumber","Value":"UF4KQ81ZTD"},{"Name":"Balance"},
        {"Name":"TransactionDate","Value":20260604194301},{"Name":"PhoneNumber","Value":254712345678}]}}}}"#;
    let cb = parse_callback(success).unwrap();
    assert_eq!(
        (
            cb.result_code,
            cb.amount,
            cb.receipt.as_deref(),
            cb.phone.as_deref()
        ),
        (
            0,
            Some(Money(2000)),
            Some("UF4KQ81ZTD"),
            Some("254712345678")
        )
    );
    // Items in another order, no Balance, strings for numbers, whole-number amount.
    let reordered = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"0","ResultDesc":"ok",
        "CallbackMetadata":{"Item":[{"Name":"PhoneNumber","Value":"254712345678"},{"Name":"Amount","Value":"20"},
        {"Name":"MpesaReceiptNumber","Value":"UF4KQ81ZTD"}]}}}}"#;
    let cb = parse_callback(reordered).unwrap();
    assert_eq!(
        (cb.amount, cb.phone.as_deref()),
        (Some(Money(2000)), Some("254712345678"))
    );
    let cancelled = br#"{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
    let cb = parse_callback(cancelled).unwrap();
    assert_eq!((cb.result_code, cb.amount, cb.receipt), (1032, None, None));
    let odd =
        br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"SFC_IC0003"}}}"#;
    assert_eq!(parse_callback(odd).unwrap().result_code, -1);
}

#[test]
fn junk_callbacks_are_errors_not_panics() {
    let junk: [&[u8]; 12] = [
        b"",
        b"null",
        b"[]",
        b"{}",
        br#"{"Body":1}"#,
        br#"{"Body":{"stkCallback":[]}}"#,
        br#"{"Body":{"stkCallback":{"ResultCode":0}}}"#,
        br#"{"Body":{"stkCallback":{"CheckoutRequestID":"","ResultCode":0}}}"#,
        br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"}}}"#,
        br#"{"Body":{"stkCallback":{"CheckoutRequestID":7,"ResultCode":0}}}"#,
        b"\xff\xfe{",
        br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":{}}}}"#,
    ];
    for body in junk {
        assert!(
            parse_callback(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Bad metadata degrades to "unknown", never to a wrong value.
    let weird = br#"{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[
        {"Name":"Amount","Value":"1e3"},{"Name":"MpesaReceiptNumber","Value":"lower case"},{"Name":"PhoneNumber","Value":[1]}]}}}}"#;
    let cb = parse_callback(weird).unwrap();
    assert_eq!((cb.amount, cb.receipt, cb.phone), (None, None, None));
    let mut seed = 7u64;
    for _ in 0..2000 {
        let len = (seed % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let alphabet = b"{}[]\":,0123456789abcBodystkCallbackResultCode \\";
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        let _ = parse_callback(&bytes);
        let _ = interpret((seed % 600) as u16, &bytes, WHO);
        let _ = parse_token(&bytes);
    }
}

#[test]
fn secrets_are_masked() {
    assert_eq!(mask("AbCdEfGhIjKlMnOp"), "AbC...nOp");
    assert_eq!(mask("short"), "set (5 characters)");
    assert_eq!(hidden(PASSKEY), "set (64 characters)");
    assert_eq!(hidden(""), "not set");
}
