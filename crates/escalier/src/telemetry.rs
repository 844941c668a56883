//! Logs (tracing) and metrics (Prometheus text through the `metrics` facade).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Install the log subscriber. `RUST_LOG` wins over the configured level.
/// Colours only on a terminal (and not with `NO_COLOR` set): escape codes
/// in a redirected log or a journal are noise.
pub fn init_logs(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Install the metrics recorder; returns the renderer for `/metrics`.
pub fn init_metrics() -> anyhow::Result<Arc<dyn Fn() -> String + Send + Sync>> {
    let handle: PrometheusHandle = PrometheusBuilder::new()
        .set_buckets(&[
            0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
            1.0, // Above 1 s, so a run far past its limit shows how far.
            2.5, 5.0, 10.0, 30.0,
        ])?
        .install_recorder()?;
    // Without the exporter's own HTTP listener, upkeep is ours to run.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Arc::new(move || handle.render()))
}
