//! Tests of the Airtel Money protocol: numbers per country, bodies, answers and codes.

use super::*;

#[test]
fn numbers_per_country_and_other_networks_refused() {
    let ke = Country::Kenya;
    for typed in [
        "0733 123 456",
        "+254733123456",
        "254733123456",
        "733123456",
        "0100-123-456",
    ] {
        let phone = msisdn(ke, typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
        assert!(
            phone.as_str().starts_with("254") && phone.as_str().len() == 12,
            "{typed}"
        );
    }
    assert_eq!(msisdn(ke, "0785 000 111").unwrap().as_str(), "254785000111");
    // Safaricom's 0712 and 0110 are not Airtel's.
    for other in ["0712345678", "0110123456", "0745123456"] {
        let e = msisdn(ke, other).unwrap_err();
        assert!(e.contains("not an Airtel Money number"), "{other}: {e}");
    }
    assert_eq!(
        msisdn(Country::Uganda, "0701 234 567").unwrap().as_str(),
        "256701234567"
    );
    assert_eq!(
        msisdn(Country::Uganda, "+256752000111").unwrap().as_str(),
        "256752000111"
    );
    assert!(msisdn(Country::Uganda, "0772000111").is_err(), "MTN Uganda");
    // A Kenyan number is not a Ugandan one.
    assert!(msisdn(Country::Uganda, "254733123456").is_err());
    assert_eq!(
        msisdn(Country::Tanzania, "0688 123 456").unwrap().as_str(),
        "255688123456"
    );
    assert!(
        msisdn(Country::Tanzania, "0754123456").is_err(),
        "Vodacom Tanzania"
    );
    for bad in ["", "abc", "07331234", "07331234567", "+", "0733 12x 456"] {
        assert!(msisdn(ke, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn push_body_carries_the_national_number_and_whole_units() {
    let phone = msisdn(Country::Uganda, "0701234567").unwrap();
    let body = push_body(Country::Uganda, &phone, 1000, "WiFi", "LG1234");
    assert_eq!(body["subscriber"]["msisdn"], "701234567");
    assert_eq!(body["subscriber"]["country"], "UG");
    assert_eq!(body["subscriber"]["currency"], "UGX");
    assert_eq!(body["transaction"]["amount"], 1000);
    assert_eq!(body["transaction"]["currency"], "UGX");
    assert_eq!(body["transaction"]["id"], "LG1234");
    assert_eq!(body["reference"], "WiFi");
    let headers = headers(Country::Tanzania);
    assert!(headers.contains(&("X-Country", "TZ")) && headers.contains(&("X-Currency", "TZS")));
    let token = token_body("id", "secret");
    assert_eq!(token["grant_type"], "client_credentials");
}

#[test]
fn token_lifetime_as_string_or_number() {
    let (t, s) =
        parse_token(br#"{"access_token":"abc","expires_in":"180","token_type":"bearer"}"#).unwrap();
    assert_eq!((t.as_str(), s), ("abc", 180));
    assert_eq!(
        parse_token(br#"{"access_token":"x","expires_in":3600}"#)
            .unwrap()
            .1,
        3600
    );
    assert!(parse_token(b"{}").is_err());
    assert!(parse_token(b"<html>").is_err());
}

#[test]
fn push_answers() {
    let ok = serde_json::json!({"data":{"transaction":{"id":"A","status":"SUCCESS"}},
        "status":{"code":"200","message":"SUCCESS","response_code":"DP00800001006","success":true}});
    assert_eq!(parse_push(&ok), Ok(()));
    let broke = serde_json::json!({"status":{"response_code":"DP00800001007","success":false,
        "message":"insufficient"}});
    assert!(matches!(
        parse_push(&broke),
        Err(GatewayError::Refused {
            decline: Decline::InsufficientFunds,
            ..
        })
    ));
    assert_eq!(interpret(401, b"{}"), Answer::TokenRejected);
    assert!(matches!(
        interpret(429, b"{}"),
        Answer::Failed(GatewayError::Throttled(_))
    ));
    let spike = br#"{"fault":{"faultstring":"Spike arrest violation"}}"#;
    assert!(matches!(
        interpret(500, spike),
        Answer::Failed(GatewayError::Throttled(_))
    ));
    assert!(matches!(
        interpret(503, b""),
        Answer::Failed(GatewayError::Unavailable(_))
    ));
    assert!(matches!(
        interpret(400, b"{}"),
        Answer::Failed(GatewayError::Merchant(_))
    ));
    assert!(matches!(
        interpret(200, b"nope"),
        Answer::Failed(GatewayError::Unavailable(_))
    ));
}

fn status(letter: &str, code: &str) -> Value {
    serde_json::json!({"data":{"transaction":{"id":"A","airtel_money_id":"MP1.2.A3",
        "status":letter,"message":"m"}},"status":{"response_code":code,"success":true}})
}

#[test]
fn status_letters_map_onto_outcomes() {
    assert_eq!(
        parse_status(&status("TS", "DP00800001001")),
        StkOutcome::Paid {
            receipt: Some("MP1.2.A3".into()),
            amount: None
        }
    );
    for pending in ["TIP", "TA", "", "XYZ"] {
        assert_eq!(
            parse_status(&status(pending, "DP00800001000")),
            StkOutcome::Pending
        );
    }
    let failed = |code| parse_status(&status("TF", code));
    assert_eq!(
        failed("DP00800001007"),
        StkOutcome::Declined {
            code: 800001007,
            decline: Decline::InsufficientFunds
        }
    );
    assert!(matches!(
        failed("DP00800001002"),
        StkOutcome::Declined {
            decline: Decline::WrongPin,
            ..
        }
    ));
    assert!(matches!(
        failed("DP00800001024"),
        StkOutcome::Declined {
            decline: Decline::TimedOut,
            ..
        }
    ));
    assert!(matches!(
        failed(""),
        StkOutcome::Declined {
            code: -1,
            decline: Decline::Other
        }
    ));
    assert!(matches!(
        parse_status(&status("TE", "")),
        StkOutcome::Declined {
            decline: Decline::TimedOut,
            ..
        }
    ));
    let mut short = status("TS", "DP00800001001");
    short["data"]["transaction"]["amount"] = "15".into();
    assert!(matches!(
        parse_status(&short),
        StkOutcome::Paid {
            amount: Some(Money(1500)),
            ..
        }
    ));
}

#[test]
fn callbacks_are_parsed_but_bounded() {
    let cb = parse_callback(
        br#"{"transaction":{"id":"LG1","message":"m","status_code":"TS","airtel_money_id":"MP9"}}"#,
    )
    .unwrap();
    assert_eq!(
        (cb.id.as_str(), cb.paid, cb.airtel_money_id.as_deref()),
        ("LG1", true, Some("MP9"))
    );
    assert!(parse_callback(b"{}").is_none());
    assert!(parse_callback(b"junk").is_none());
    let long = format!(r#"{{"transaction":{{"id":"{}"}}}}"#, "x".repeat(65));
    assert!(parse_callback(long.as_bytes()).is_none());
}
