//! Fuzz target: `adapters::dns::answer` on any packet an unpaid guest sends to port 53
//! (`lango::fuzzing::dns`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::dns(data));
