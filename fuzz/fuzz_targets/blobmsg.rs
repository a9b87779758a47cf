//! Fuzz target: ubus messages and their blobmsg payload from the socket: `wire::Message::decode`,
//! then JSON and re-encoding (`lango::fuzzing::blobmsg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lango::fuzzing::blobmsg(data));
