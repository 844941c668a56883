#![no_main]
//! libFuzzer driver for `escalier_fuzz::plugin_manifest`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| escalier_fuzz::plugin_manifest(data));
