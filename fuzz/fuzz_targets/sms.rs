//! Fuzz target: `core::sms::parse` on any pasted message (`lango::fuzzing::sms`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::sms(data));
