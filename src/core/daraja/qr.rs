//! Daraja's Dynamic QR API, pure (docs/daraja.md, Dynamic QR): the generate body and the
//! answer's check. The answer's `QRCode` is a base64 PNG that lango puts in a page as a
//! `data:` URI, so it is accepted only when it is small (`MAX_PNG_BYTES`), decodes as base64
//! and starts with the PNG signature: nothing else from Daraja reaches the guest's browser.
//! The client is `adapters::daraja`; the simulator answers the same shapes (`core::daraja_sim`).

use serde_json::{json, Value};

use crate::core::payments::GatewayError;

pub const QR_PATH: &str = "/mpesa/qrcode/v1/generate";

/// The largest PNG lango shows. Daraja's codes at `SIZE` pixels are a few kilobytes.
pub(crate) const MAX_PNG_BYTES: usize = 64 * 1024;
/// The square image's side in pixels: large enough to scan from a phone's screen.
pub(crate) const SIZE: u32 = 300;
/// `MerchantName` and `RefNo` are cut to this. [lango]: Daraja documents no limit.
const MAX_TEXT: usize = 22;
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// One QR to make: pay `amount_major` whole shillings to `cpi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrRequest {
    pub merchant_name: String,
    pub ref_no: String,
    pub amount_major: i64,
    /// `BG` for a Buy Goods till, `PB` for a PayBill.
    pub trx_code: &'static str,
    /// Credit Party Identifier: the till or the PayBill number.
    pub cpi: String,
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

pub(crate) fn generate_body(qr: &QrRequest) -> Value {
    json!({
        "MerchantName": cut(&qr.merchant_name),
        "RefNo": cut(&qr.ref_no),
        "Amount": qr.amount_major,
        "TrxCode": qr.trx_code,
        "CPI": qr.cpi,
        "Size": SIZE.to_string(),
    })
}

/// The answer's PNG as a `data:` URI, or why it is not shown.
pub(crate) fn parse_generate(value: &Value) -> Result<String, GatewayError> {
    let bad = |why: &str| Err(GatewayError::Unavailable(format!("Dynamic QR: {why}")));
    let Some(code) = value.get("QRCode").and_then(Value::as_str) else {
        return bad("answer without QRCode");
    };
    let code = code.trim();
    if code.len() > MAX_PNG_BYTES.div_ceil(3) * 4 {
        return bad("QRCode over 64 KB");
    }
    match crate::core::base64::decode(code) {
        Some(png) if png.len() > MAX_PNG_BYTES => bad("QRCode over 64 KB"),
        Some(png) if png.starts_with(&PNG_SIGNATURE) => Ok(format!("data:image/png;base64,{code}")),
        Some(_) => bad("QRCode is not a PNG"),
        None => bad("QRCode is not base64"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1x1 PNG.
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

    #[test]
    fn the_body_has_daraja_s_fields_and_whole_shillings() {
        let body = generate_body(&QrRequest {
            merchant_name: "Mama Mboga Cafe WiFi and Groceries".into(),
            ref_no: "Q0123456789".into(),
            amount_major: 20,
            trx_code: "BG",
            cpi: "5123456".into(),
        });
        assert_eq!(body["MerchantName"], "Mama Mboga Cafe WiFi a");
        assert_eq!(body["RefNo"], "Q0123456789");
        assert_eq!(body["Amount"], 20);
        assert_eq!(
            (body["TrxCode"].as_str(), body["CPI"].as_str()),
            (Some("BG"), Some("5123456"))
        );
        assert_eq!(body["Size"], "300");
    }

    #[test]
    fn only_a_small_png_is_shown() {
        let answer = |code: Value| {
            parse_generate(&json!({
                "ResponseCode": "AG_20191219_000043fdf61864fe9ff5",
                "RequestID": "16738-27456357-1",
                "ResponseDescription": "QR Code Successfully Generated.",
                "QRCode": code,
            }))
        };
        assert_eq!(
            answer(json!(PNG)).unwrap(),
            format!("data:image/png;base64,{PNG}")
        );
        let not = |code: Value, why: &str| match answer(code) {
            Ok(_) => panic!("accepted: {why}"),
            Err(e) => assert!(e.to_string().contains(why), "{e}"),
        };
        not(
            json!("SYEEHEHJJSJSKKKSSSHDBDDBBHSHSBSBHSHSBBBXBXXB"),
            "not a PNG",
        );
        not(json!("iVBORw0KGgo"), "not base64");
        not(
            json!(crate::core::base64::encode(b"GIF89a......")),
            "not a PNG",
        );
        not(json!("\"><script>alert(1)</script>"), "not base64");
        not(json!(12), "without QRCode");
        let mut huge = vec![0u8; MAX_PNG_BYTES + 1];
        huge[..8].copy_from_slice(&PNG_SIGNATURE);
        not(json!(crate::core::base64::encode(&huge)), "over 64 KB");
        huge.truncate(MAX_PNG_BYTES);
        assert!(answer(json!(crate::core::base64::encode(&huge))).is_ok());
        assert!(parse_generate(&json!({"errorCode": "400.002.02"})).is_err());
    }
}
