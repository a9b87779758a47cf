//! lango: captive portal and Wi-Fi billing that runs on the OpenWrt router itself.
//!
//! The layers, each a folder, in reading order; dependencies point one way, down this list
//! (`tests/it/layers.rs` checks it):
//! - `core`: pure values, rules and protocols; takes `now` and data and returns data.
//! - `store` (the redb file) and `adapters` (one per outside system, each behind a small trait
//!   with a real and a fake): they know the core and nothing else.
//! - `app`: `App` and its environment, one file per use case; the one admission path.
//! - `web` (the HTTP transport, the guest portal, the owner page) and `ubus` (the lango ubus
//!   object): the front ends, each knowing the app and not each other.
//! - `daemon`: the composition root, CLI commands, signals and crash reports.
//!
//! `fuzzing` (hidden) belongs to no layer: the fuzz targets' and the libuci test's entry points.
//!
//! See ARCHITECTURE.md.

// No unsafe code, with one audited exception: the MIPS crash reporter's signal handler
// (`daemon::crash::mips`), which reads the trap address from the kernel's signal context.
#![deny(unsafe_code)]

pub mod adapters;
pub mod app;
pub mod core;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
pub mod store;
pub mod ubus;
pub mod web;
