//! Flat cost per event (issue 14), in the network lab: a grant, a kick and an expiry are each one
//! small nft transaction on the live table, never a rewrite of it. A rewrite gives the table a
//! new handle and zeroes every device's counters; an update keeps both.

use std::time::Duration;

use crate::lab::Lab;

/// The table's handle and guest 1's upload counter (bytes), from the router.
fn handle_and_counter(lab: &Lab) -> (u64, u64) {
    let out = lab.exec(
        &lab.ns_router,
        &["nft", "-j", "-a", "list", "table", "inet", "lango"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let items = json["nftables"].as_array().cloned().unwrap_or_default();
    let handle = items
        .iter()
        .find_map(|i| i["table"]["handle"].as_u64())
        .unwrap_or(0);
    let counter = items
        .iter()
        .filter(|i| i["set"]["name"] == "paid4")
        .flat_map(|i| i["set"]["elem"].as_array().cloned().unwrap_or_default())
        .filter(|e| e.to_string().contains("02:aa:00:00:00:01"))
        .filter_map(|e| e["elem"]["counter"]["bytes"].as_u64())
        .sum();
    (handle, counter)
}

#[test]
fn lab_a_grant_a_kick_and_an_expiry_update_the_table_in_place() {
    let packages =
        "config package 'short'\n\toption name 'Short'\n\toption price '5'\n\toption duration '3s'\n";
    let Some(lab) = Lab::start(3, packages) else {
        return;
    };
    for n in 1..=3 {
        lab.dhcp(n);
    }
    lab.redeem(1, &lab.voucher("hour"));
    lab.wait_for("guest 1 online", || lab.online(1, false));
    let (handle, counted) = handle_and_counter(&lab);
    assert!(handle > 0 && counted > 0, "{handle} {counted}");
    // A grant (guest 2), an expiry (guest 3's 3 s), and a kick (guest 2's session).
    lab.redeem(2, &lab.voucher("hour"));
    lab.wait_for("guest 2 online", || lab.online(2, false));
    lab.redeem(3, &lab.voucher("short"));
    lab.wait_for("guest 3 online", || lab.online(3, false));
    lab.wait_for("guest 3's expiry", || !lab.online(3, false));
    let sessions = lab.admin("GET", "/api/overview", "");
    let id = sessions["sessions"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|s| s["mac"] == "02:aa:00:00:00:02")
                .and_then(|s| s["id"].as_u64())
        })
        .unwrap_or_else(|| panic!("guest 2's session in {sessions}"));
    let ended = lab.admin("POST", "/api/sessions/revoke", &format!("id={id}"));
    assert_eq!(ended["ended"], true, "{ended}");
    lab.wait_for("guest 2 kicked", || !lab.online(2, false));
    std::thread::sleep(Duration::from_millis(300));
    let (after, counted_after) = handle_and_counter(&lab);
    assert_eq!(after, handle, "the table was rewritten");
    assert!(
        counted_after >= counted,
        "guest 1's counter went back: {counted} → {counted_after}"
    );
    assert!(lab.online(1, false));
}
