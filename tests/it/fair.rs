//! Issue 16's "what owners sell", in the network lab: fair use (past its data a device goes on
//! at the owner's fair rate instead of being cut off; measured with a timed download from the
//! wan) and sale windows (a package is sold only inside its hours, and a session of it ends
//! when they end). Time is real here: the windows are computed around the current local time
//! (the lab's `utc_offset` is the default, +03:00).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lab::{guest_mac, Lab, WAN4};

/// The fair rate the test sells, in kbit/s, and in bytes per second.
const FAIR_KBIT: u64 = 1000;
const FAIR_BYTES: f64 = (FAIR_KBIT * 1000 / 8) as f64;

/// Guest `n` downloads `file` from the wan for at most `secs`: (bytes, bytes per second).
fn download(lab: &Lab, n: usize, file: &str, secs: u32) -> (u64, f64) {
    let secs = secs.to_string();
    let (_, out) = lab.curl(
        n,
        &[
            "--max-time",
            &secs,
            "-o",
            "/dev/null",
            "-w",
            "%{size_download} %{speed_download}",
            &format!("http://{WAN4}/{file}"),
        ],
    );
    let mut parts = out.split_whitespace();
    let bytes = parts.next().and_then(|b| b.parse().ok()).unwrap_or(0);
    let speed = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (bytes, speed)
}

#[test]
fn lab_fair_use_slows_a_guest_past_its_quota_instead_of_cutting_it_off() {
    let packages = "config package 'fair'\n\toption name 'Fair 2 MB'\n\toption price '5'\n\
                    \toption duration '1h'\n\toption data '2MB'\n\toption fair_rate '1M'\n\
                    config package 'capped'\n\toption name 'Capped 2 MB'\n\toption price '5'\n\
                    \toption duration '1h'\n\toption data '2MB'\n";
    let Some(lab) = Lab::start(2, packages) else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    lab.redeem(1, &lab.voucher("fair"));
    lab.redeem(2, &lab.voucher("capped"));
    lab.wait_for("both guests online", || {
        lab.online(1, false) && lab.online(2, false)
    });
    // The quota (2 MB, headers counted) is used by two 1 MB files, at full speed.
    for n in [1, 2] {
        let got = download(&lab, n, "1mb.bin", 5).0 + download(&lab, n, "1mb.bin", 5).0;
        eprintln!("lab: guest {n} downloaded {got} bytes of its 2 MB quota");
    }
    // The capped guest is cut off; the fair-use guest goes on, at about the fair rate.
    assert!(!lab.online(2, false), "the capped guest's quota is used up");
    let (bytes, speed) = download(&lab, 1, "4mb.bin", 8);
    eprintln!(
        "lab: past its quota, the fair-use guest downloaded {bytes} bytes in 8 s: \
         {speed:.0} bytes/s, {:.2} of the fair rate ({FAIR_KBIT} kbit/s)",
        speed / FAIR_BYTES
    );
    assert!(
        speed > 0.3 * FAIR_BYTES && speed < 2.0 * FAIR_BYTES,
        "{speed:.0} bytes/s at a fair rate of {FAIR_BYTES} bytes/s"
    );
    // Several usage readings later (reconcile_interval 2s), lango has not ended the session.
    assert!(lab.online(1, false), "the fair-use guest is still online");
    // The capped guest's session ends in the store once lango reads its counters (the kernel
    // cut it at once); under emulation that reading can come a few seconds later.
    let sessions_left = || {
        let overview = lab.admin("GET", "/api/overview", "");
        let sessions = overview["sessions"].as_array().cloned().unwrap_or_default();
        let macs: Vec<String> = sessions
            .iter()
            .filter_map(|s| s["mac"].as_str().map(str::to_string))
            .collect();
        (macs, sessions)
    };
    lab.wait_for("only the fair-use session is left", || {
        sessions_left().0 == [guest_mac(1)]
    });
    let (_, sessions) = sessions_left();
    assert!(sessions[0]["bytes_used"].as_u64().unwrap_or(0) > 2_000_000);
}

/// Minutes after local midnight (+03:00) and the Unix time now.
fn local_now() -> (u64, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ((now + 3 * 3600) % 86_400 / 60, now)
}

fn hhmm(minutes: u64) -> String {
    let m = minutes % 1440;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Guest `n` posts the buy form: (HTTP status, page).
fn post_buy(lab: &Lab, n: usize, package: &str) -> (String, String) {
    let form = format!("package={package}&phone=0712345678");
    let out = lab.exec(
        &lab.ns_guests[n - 1],
        &[
            "curl",
            "-s",
            "-w",
            "\n%{http_code}",
            "--data",
            &form,
            "http://10.77.0.1:8080/buy",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (page, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_string(), page.to_string())
}

#[test]
fn lab_a_night_package_is_sold_only_inside_its_window_and_ends_with_it() {
    let (minute, started) = local_now();
    // Open since five minutes ago, closing in two or three; and one opening in two hours.
    let (open, close) = (minute + 1440 - 5, minute + 3);
    let packages = format!(
        "config package 'night'\n\toption name 'Night'\n\toption price '30'\n\
         \toption duration '8h'\n\toption window '{}-{}'\n\
         config package 'late'\n\toption name 'Late'\n\toption price '40'\n\
         \toption duration '8h'\n\toption window '{}-{}'\n",
        hhmm(open),
        hhmm(close),
        hhmm(minute + 120),
        hhmm(minute + 180),
    );
    let Some(lab) = Lab::start(2, &packages) else {
        return;
    };
    lab.dhcp(1);
    lab.dhcp(2);
    // The portal's tiles and its JSON list only what is on sale now (the pasted-SMS form still
    // names every package: a guest may have paid just before the window closed).
    let (_, home) = lab.curl(1, &["http://10.77.0.1:8080/"]);
    assert!(
        home.contains("name=\"package\" value=\"night\"")
            && !home.contains("name=\"package\" value=\"late\""),
        "{home}"
    );
    let (_, listed) = lab.curl(1, &["http://10.77.0.1:8080/api/packages"]);
    assert!(
        listed.contains("\"night\"") && !listed.contains("\"late\""),
        "{listed}"
    );
    // Outside its window a purchase is refused before any prompt: no payment, no STK push.
    let (status, page) = post_buy(&lab, 1, "late");
    assert_eq!(status, "409", "{page}");
    assert!(page.contains("Not on sale now"), "{page}");
    let payments = lab.admin("GET", "/api/overview", "")["payments"].clone();
    assert_eq!(payments, serde_json::json!([]));
    // A voucher of it is refused too, and opens nothing.
    lab.redeem(2, &lab.voucher("late"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lab.online(2, false));
    // Inside its window: paid, online, and the session (and the kernel's element) ends when
    // the window closes, not eight hours later.
    let token = lab.buy(1, "night", "0712345678");
    let status_url = format!("http://10.77.0.1:8080/api/payment/{token}");
    lab.wait_for("the simulated customer to pay", || {
        lab.curl(1, &[&status_url]).1.contains("\"state\":\"paid\"")
    });
    lab.wait_for("guest 1 online", || lab.online(1, false));
    let (_, now) = local_now();
    let closes = started - started % 60 + (close - minute) * 60;
    let left = closes - now;
    let overview = lab.admin("GET", "/api/overview", "");
    let seconds_left = overview["sessions"][0]["seconds_left"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        seconds_left.abs_diff(left) <= 2,
        "{seconds_left} s left, the window closes in {left} s: {overview}"
    );
    let out = lab.exec(
        &lab.ns_router,
        &["nft", "-j", "list", "set", "inet", "lango", "paid_mac"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let expires = json["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["set"]["elem"].as_array().cloned().unwrap_or_default())
        .find(|e| e.to_string().contains(&guest_mac(1)))
        .and_then(|e| e["elem"]["expires"].as_u64())
        .expect("guest 1's element with an expiry");
    eprintln!(
        "lab: night package bought at {} local, window closes in {left} s; session {seconds_left} s \
         left, kernel element expires in {expires} s",
        hhmm(minute)
    );
    assert!(
        expires <= left + 1 && expires + 3 >= left,
        "{expires} vs {left}"
    );
}
