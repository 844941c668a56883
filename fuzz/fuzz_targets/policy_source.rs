#![no_main]
//! libFuzzer driver for `escalier_fuzz::policy_source`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| escalier_fuzz::policy_source(data));
