//! Fuzz target: `core::daraja::parse_callback` on any body posted to the callback paths
//! (`lango::fuzzing::daraja_callback`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::daraja_callback(data));
