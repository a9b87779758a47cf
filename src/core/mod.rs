//! The pure core: values, rules and protocols. Every function here takes `now` and data and
//! returns data; nothing reads a clock (except `time::SystemClock`, the one clock adapter kept
//! beside the `Clock` trait) or the OS random source (except `token::fill`, its one caller),
//! opens a file or socket, or starts a process. Nothing here imports
//! from another layer (`tests/it/layers.rs`).

pub mod accounts;
pub mod active;
#[cfg(feature = "airtel")]
pub mod aes;
#[cfg(feature = "airtel")]
pub mod airtel;
pub mod alerts;
pub mod archive;
pub mod auth;
pub mod base64;
pub(crate) mod captive;
#[cfg(feature = "clickpesa")]
pub mod clickpesa;
pub mod config;
pub mod daraja;
#[cfg(feature = "simulator")]
pub mod daraja_sim;
pub mod firewall;
pub mod guest_network;
pub mod http;
pub mod ipv6;
pub(crate) mod locks;
pub(crate) mod metrics;
pub mod model;
mod names;
pub(crate) mod pacing;
pub mod payments;
pub mod provider;
pub(crate) mod qr;
#[cfg(feature = "radius")]
pub mod radius;
pub(crate) mod ratelimit;
pub(crate) mod report;
#[cfg(feature = "airtel")]
pub mod rsa;
pub mod sessions;
pub mod sms;
pub mod time;
pub mod token;
pub(crate) mod trial;
pub(crate) mod uci;
pub(crate) mod uci_write;
#[cfg(feature = "vodacom")]
pub mod vodacom;
pub mod vouchers;
pub mod window;
