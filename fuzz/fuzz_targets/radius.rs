//! Fuzz target: a datagram on lango's RADIUS socket (`lango::fuzzing::radius`): decoded,
//! walked, made into terms and checked as a reply, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::radius(data));
