#![no_main]
//! libFuzzer driver for `escalier_fuzz::event_json`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| escalier_fuzz::event_json(data));
