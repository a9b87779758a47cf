//! Fuzz target: the portal's request reader (`web::wire`: httparse, the head and body limits,
//! chunked bodies), through `lango::fuzzing::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::request(data));
