#![no_main]
//! libFuzzer driver for `escalier_fuzz::Adapter` with the built GitHub
//! adapter component (`scripts/build-plugins`) in the real plugin host.
//! The first input byte picks the GitHub event and how the delivery is
//! signed, the rest is the body. `adapters` drives every shipped adapter.

use std::path::PathBuf;
use std::sync::OnceLock;

use escalier_fuzz::{Adapter, Tool};

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        let target = std::env::var_os("ESCALIER_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
        Adapter::open(
            Tool::GitHub,
            &target.join("plugins/github"),
            &target.join("plugin-fuzz-cache"),
        )
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    adapter().check(data);
});
