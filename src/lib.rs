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

pub mod accounts;
pub mod admin;
pub mod admin_accounts;
pub mod admin_pages;
pub mod admin_payments;
pub mod admin_settings;
pub mod admin_shop;
pub mod admin_ui;
pub mod app;
pub mod auth;
pub mod captive;
pub mod config;
pub mod crash;
pub mod daemon;
pub mod daraja;
pub mod daraja_sim;
pub mod dns;
pub mod dnsmasq;
pub mod firewall;
pub mod health;
pub mod http;
pub mod https;
pub mod logger;
pub mod model;
pub mod mpesa;
pub mod neighbours;
pub mod nft;
pub mod owner;
pub mod payments;
pub mod portal;
pub mod portal_api;
pub mod portal_login;
pub mod qr;
pub mod ratelimit;
pub mod report;
pub mod sessions;
pub mod simulator;
pub mod sms;
pub mod store;
pub mod sys;
#[doc(hidden)]
pub mod testing;
pub mod time;
pub mod tls;
pub mod ubus;
pub mod uci;
pub mod uci_write;
pub mod vouchers;
pub mod worker;
