//! The one integration test binary (see Cargo.toml). Each module tests one boundary.

// Shared builders and drivers: TestEnv, a raw HTTP client, fixtures.
mod support;
// The web transport's limits: huge heads, timeouts, connection caps, file handles, keep-alive.
mod door;
// lango's UCI parser against the real libuci (`uci` from the OpenWrt kit).
mod uci;
// `lango setup-guest-network` with the kit's real uci, and the real fw4 in the lab (issue 15).
mod guestnet;
// The redb store: reopen, indexes, schema version, damaged files.
mod store;
// Issue 14's retention: the archive of settled payments, forgotten sessions, kept books.
mod retention;
// Sessions and payments over time with a manual clock: expiry, clock jumps, restarts.
mod lifecycle;
// The layering rule: no import points up the layers.
mod layers;
// The one admission path: blocked devices and clones on every guest surface.
mod admission;
// A purchase through HTTP: package list, STK push, payment page, session, expiry.
mod purchase;
// M-Pesa end to end: the real Daraja client over HTTPS against the simulator, callbacks, SMS.
mod payments;
// Status queries paced to Daraja's rate limits (issue 18).
mod pacing;
// Payments from the M-Pesa menu confirmed by Pull Transactions (issue 18).
mod pull;
// M-Pesa Dynamic QR on the portal, confirmed by Pull; the revenue split by method (issue 18).
#[cfg(feature = "mpesa-qr")]
mod qr;
// What the wallet tests share (a lango that survives a kill, the scenario steps).
#[cfg(feature = "airtel")]
mod wallet;
// Airtel Money, the second wallet, against its simulator over HTTPS (issue 18).
#[cfg(feature = "airtel")]
mod airtel;
// Vodacom M-Pesa Tanzania against its simulator over HTTPS; RSA against OpenSSL.
#[cfg(feature = "vodacom")]
mod vodacom;
// Mixx by Yas and HaloPesa through ClickPesa against its simulator over HTTPS.
#[cfg(feature = "clickpesa")]
mod clickpesa;
// The `lango` binary: exit codes and messages of check-config, serve and demo.
mod cli;
// The network lab: namespaces, real nft and dnsmasq, guests with curl (needs root).
mod lab;
// The gate under attack in the lab: fail closed, IPv6 binding, clones, flows, quotas, tethering.
mod gate;
// Issue 16: a package for several devices, in process and in the lab (shared quota, refusals).
mod devices;
// Flat cost per event in the lab: a grant, a kick and an expiry update the table in place.
mod flat;
// Issue 16 in the lab: fair use past the quota (measured), packages sold inside their hours.
mod fair;
// Issue 16 in the lab: the allow-list and the walled garden.
mod allow;
// The guest portal's handler: probes, RFC 8908, the EasyISP API, limits, secrets.
mod portal;
// Issue 17: lango as a RADIUS NAS against the real FreeRADIUS (vouchers, accounts, refusals).
#[cfg(feature = "radius")]
mod radius;
#[cfg(feature = "radius")]
mod radius_acct;
#[cfg(feature = "radius")]
mod radius_das;
// Issue 17 in the lab: Disconnect and CoA against the real kernel, accounting octets (iperf3).
#[cfg(feature = "radius")]
mod radius_lab;
// Issue 17, many routers: two labs share one FreeRADIUS on SQLite (docs/radius.md's config).
#[cfg(feature = "radius")]
mod radius_fleet;
// Issue 17, RadSec: RADIUS over TLS against FreeRADIUS's TLS listener, certificates by openssl.
#[cfg(feature = "radsec")]
mod radsec;
// Issue 16, the free trial: one tap, once a day per device (its marks), the router's cap.
mod trial;
// Headless Chromium through ChromeDriver: the purchase path with screenshots.
mod browser;
// Issue 18: the wallets turned on and off, with their credentials, on the owner page.
#[cfg(feature = "airtel")]
mod owner_wallets;
// The owner page's handler: sign-in, sessions, CSRF, lock-out, 403s, secrets, every page.
mod admin;
// Issue 13, the owner's side: no owner page for guests, the setup code, the per-address lock-out.
mod door_owner;
// Issue 17: /metrics in Prometheus text, parsed by Prometheus's own Python parser.
mod metrics;
// Issue 17: alerts to a webhook receiver on loopback, once per incident each way.
mod alerts;
// ubus: the object server against a fake ubusd (the socket protocol), and the lango object.
mod ubus;
// luci-app-lango: its rpcd ACL against the views' calls, through the kit's real rpcd.
mod luci;
// A payment approved while lango is dead: `lango sim` in its own process, the lab (needs root).
mod restart;
// A full flash (a small tmpfs, needs root): sales refused first, nothing lost, guests stay.
mod flash;
