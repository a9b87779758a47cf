//! lango: captive portal and Wi-Fi billing that runs on the OpenWrt router itself.
//!
//! Modules in reading order. The pure core (`model`, `sessions`, `payments`, `vouchers`,
//! `firewall::desired`, `config::parse`, `uci`) takes `now` and data and returns data. The
//! shell (`app`, `worker`, `daemon`) wires it to the store and to one adapter per outside
//! system: `firewall` (nft; the demo's recording backend), `neighbours` (ARP table and DHCP
//! leases), `payments::PaymentGateway` (`daraja` over `https`; the `simulator` around the pure
//! `daraja_sim`), `time::Clock`. `mpesa` adds callbacks and pasted SMS (`sms`) to the app.
//! `http`, `portal` and `admin` serve guests and the owner. See ARCHITECTURE.md.

// No unsafe code, with one audited exception: the MIPS crash reporter's signal handler
// (`crash::mips`), which reads the trap address from the kernel's signal context.
#![deny(unsafe_code)]

pub mod adapters;
pub mod app;
pub mod core;
pub mod daemon;
pub mod store;
pub mod ubus;
pub mod web;
