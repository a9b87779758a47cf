//! `/metrics` on the owner page's port (issue 17): who may scrape it, and that what it says
//! parses with Prometheus's own text parser (Debian's python3-prometheus-client) and matches
//! what happened: a paid and a cancelled prompt, a duplicate answer counted once, guests online,
//! today's takings, firewall applies.

use std::collections::HashMap;
use std::net::IpAddr;

use lango::core::payments::{Decline, StkOutcome};
use lango::web::admin::Ctx;

use crate::support::{call_handler, guest, TestEnv, ADMIN_HOST, T0};

const TOKEN: &str = "scrape-0123456789abcdef";
const PARSER: &str = "/usr/bin/python3";

fn env() -> TestEnv {
    let text = lango::daemon::DEMO_CONFIG.replacen(
        "config gateway 'main'\n",
        &format!("config gateway 'main'\n\toption metrics_token '{TOKEN}'\n"),
        1,
    );
    let config = lango::core::config::parse(&text, "metrics.conf").expect("config");
    TestEnv::with(lango::store::Store::in_memory().unwrap(), config, T0)
}

fn scrape(ctx: &Ctx, from: IpAddr, auth: Option<&str>) -> crate::support::Reply {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Host", ADMIN_HOST)];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b));
    }
    call_handler(
        |r| lango::web::admin::handle(ctx, r),
        from,
        "GET",
        "/metrics",
        &headers,
        "",
    )
}

/// Every sample as `name{labels}` → value, read by prometheus_client's text parser; `None` when
/// the parser is not installed (the test is then skipped, or fails under CI).
fn parse(text: &str) -> Option<HashMap<String, f64>> {
    if !std::path::Path::new(PARSER).exists() {
        return crate::support::skip("metrics parser", "no /usr/bin/python3");
    }
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    let mut child = std::process::Command::new(PARSER)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'prometheus_client'") {
        return crate::support::skip(
            "metrics parser",
            "python3-prometheus-client is not installed",
        );
    }
    assert!(
        out.status.success(),
        "the parser refused the text: {err}\n{text}"
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect(),
    )
}

#[test]
fn metrics_are_for_the_token_holders_and_say_what_happened() {
    let env = env();
    let mut ctx = Ctx::new(env.app.clone(), None);
    ctx.owner.api_token = Some("api-token-for-scripts-on-the-router".into());
    let owner: IpAddr = "127.0.0.1".parse().unwrap();

    // Who may read it.
    assert_eq!(scrape(&ctx, owner, None).status, 401);
    assert_eq!(
        scrape(&ctx, owner, Some("scrape-0123456789abcdeX")).status,
        401
    );
    assert_eq!(
        scrape(&ctx, owner, Some("api-token-for-scripts-on-the-router")).status,
        200
    );
    // The owner page's own rules come first: an address outside admin_allow is refused even
    // with the token.
    assert_eq!(
        scrape(&ctx, "10.9.9.9".parse().unwrap(), Some(TOKEN)).status,
        403
    );

    // A paid prompt (answered twice), a cancelled one and one still open.
    let paid = env
        .app
        .start_purchase(guest(1).0, "day", "0712345678")
        .unwrap();
    let cancelled = env
        .app
        .start_purchase(guest(2).0, "hour", "0712345679")
        .unwrap();
    env.app
        .start_purchase(guest(3).0, "hour", "0712345670")
        .unwrap();
    env.advance(1);
    let yes = StkOutcome::Paid {
        receipt: Some("UAB7654321".into()),
        amount: None,
    };
    assert!(env.app.settle(paid.id, &yes).unwrap());
    assert!(
        env.app.settle(paid.id, &yes).unwrap(),
        "the duplicate answer"
    );
    let no = StkOutcome::Declined {
        code: 1032,
        decline: Decline::Cancelled,
    };
    assert!(env.app.settle(cancelled.id, &no).unwrap());
    env.advance(1);

    let reply = scrape(&ctx, owner, Some(TOKEN));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        reply.headers
    );
    assert!(!reply.body.contains(TOKEN), "the token is never shown back");
    let Some(samples) = parse(&reply.body) else {
        return;
    };
    let get = |key: &str| {
        *samples
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in\n{}", reply.body))
    };
    assert_eq!(get("lango_payments_total{outcome=\"paid\"}"), 1.0);
    assert_eq!(get("lango_payments_total{outcome=\"cancelled\"}"), 1.0);
    assert_eq!(get("lango_payments_total{outcome=\"wrong_pin\"}"), 0.0);
    assert_eq!(get("lango_payments_open{}"), 1.0);
    assert_eq!(get("lango_guests_online{}"), 1.0);
    assert_eq!(get("lango_sales_today{method=\"stk\"}"), 1.0);
    assert_eq!(get("lango_sales_today{method=\"qr\"}"), 0.0);
    assert_eq!(
        get("lango_revenue_today_minor_units{currency=\"KES\",method=\"stk\"}"),
        5000.0,
        "the day package, KES 50 in cents"
    );
    assert_eq!(get("lango_funnel_total{step=\"purchases_started\"}"), 3.0);
    assert!(get("lango_firewall_applies_total{result=\"ok\"}") >= 1.0);
    assert_eq!(get("lango_firewall_applies_total{result=\"error\"}"), 0.0);
    assert!(get("lango_memory_rss_bytes{}") > 1_000_000.0);
    assert_eq!(
        get(&format!(
            "lango_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
}
