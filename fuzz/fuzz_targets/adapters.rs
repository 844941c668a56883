#![no_main]
//! libFuzzer driver for `escalier_fuzz::Adapter`: every shipped adapter
//! (GitHub, Zendesk, Freshdesk, Jira, Zammad; built by
//! `scripts/build-plugins`) in the real plugin host. The first input byte
//! picks the adapter, the second how the delivery is authenticated (a
//! valid signature to reach the mapping, or a forged, stale or tampered
//! one), the rest is the body.

use std::path::PathBuf;
use std::sync::OnceLock;

use escalier_fuzz::{Adapter, Tool};

fn adapters() -> &'static [Adapter] {
    static ADAPTERS: OnceLock<Vec<Adapter>> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let target = std::env::var_os("ESCALIER_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
        Tool::ALL
            .iter()
            .map(|&tool| {
                Adapter::open(
                    tool,
                    &target.join("plugins").join(tool.name()),
                    &target.join("plugin-fuzz-cache"),
                )
            })
            .collect()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((pick, rest)) = data.split_first() {
        let all = adapters();
        all[usize::from(*pick) % all.len()].check(rest);
    }
});
