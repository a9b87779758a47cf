//! Fuzz target: the HTTP/1.1 message reader `adapters::https::read_message` (requests and responses),
//! then the bounded body reader and the form parser (`lango::fuzzing::http`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::http(data));
