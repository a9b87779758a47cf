//! Fuzz target: `core::uci::parse_bytes` on any bytes, and the owner page's rewrite of a file it
//! accepts parses back to the same values (`lango::fuzzing::uci`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::uci(data));
