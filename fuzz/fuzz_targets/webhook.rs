#![no_main]
//! libFuzzer driver for `escalier_fuzz::webhook`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| escalier_fuzz::webhook(data));
