//! `escalier serve`: wire store, writer, processor, policies, watcher and
//! HTTP server together, and shut them down in order on SIGINT/SIGTERM.
//!
//! Shutdown order matters for "nothing acknowledged is lost": the HTTP
//! server stops accepting and finishes in-flight requests (each waits for
//! its commit), then the writer drains its queue and stops, then the
//! processor applies everything committed and stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use escalier_core::{Clock, ManualClock, SystemClock};
use escalier_plugin::PluginRegistry;
use escalier_plugin::outbound::{AddressPolicy, Outbound, OutboundConfig};
use escalier_policy::PolicyRegistry;
use escalier_server::auth::{Scope, TokenEntry, Tokens, generate_token, hash_token};
use escalier_server::{AppState, HttpLimits, Timers, Verifier};
use escalier_store::{
    Processor, ProcessorConfig, Scheduler, SchedulerConfig, Writer, WriterConfig,
};

use super::ConfigArgs;
use crate::config::{Config, Overrides};
use crate::reactors::Reactors;
use crate::{secrets, telemetry};

/// Run the server: verify and store webhook events durably, keep ticket
/// state, run the escalation policies (hot-reloaded from disk).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory (database, generated secret). Overrides storage.data_dir.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Policies directory, watched for changes. Overrides policies.dir.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Installed plugins directory, watched for changes. Overrides plugins.dir.
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8600 (port 0 picks a free one). Overrides server.listen.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Run on a simulated clock starting at TIME (RFC 3339; default: now)
    /// that only moves through `POST /v1/admin/clock`. For tests and demos:
    /// a week of SLA clocks in a second. Never use it in production.
    #[arg(long, value_name = "TIME", num_args = 0..=1, default_missing_value = "now")]
    simulated_clock: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        listen: args.listen.clone(),
        data_dir: args.data_dir.clone(),
        policies: args.policies.clone(),
        plugins: args.plugins.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides)?;
    telemetry::init_logs(&cfg.log);
    let simulated = match args.simulated_clock.as_deref() {
        None => None,
        Some("now") => Some(Arc::new(ManualClock::new(jiff::Timestamp::now()))),
        Some(t) => {
            let start: jiff::Timestamp = t.parse().with_context(|| {
                format!("--simulated-clock {t}: not an RFC 3339 time like 2026-03-06T16:55:00Z")
            })?;
            Some(Arc::new(ManualClock::new(start)))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(cfg, simulated))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(cfg: Config, simulated: Option<Arc<ManualClock>>) -> anyhow::Result<()> {
    let metrics = telemetry::init_metrics()?;
    let clock: Arc<dyn Clock> = match &simulated {
        Some(sim) => {
            tracing::warn!(now = %sim.now(), "running on a simulated clock: time moves only through POST /v1/admin/clock");
            sim.clone()
        }
        None => Arc::new(SystemClock),
    };

    std::fs::create_dir_all(&cfg.storage.data_dir)
        .with_context(|| format!("creating data directory {}", cfg.storage.data_dir.display()))?;
    let resolved = secrets::resolve(&cfg.webhook.secrets, &cfg.storage.data_dir, true)?;
    if let Some(path) = &resolved.generated {
        // Printed once, on the start that created it.
        eprintln!(
            "Generated a webhook signing secret (kept in {}, mode 0600):\n\n    {}\n\nSign requests with it (escalier send does), or set ESCALIER_WEBHOOK_SECRET.",
            path.display(),
            resolved.texts[0]
        );
    }

    let tokens = api_tokens(&cfg)?;

    let limits = cfg.policies.limits.clone();
    let policies = match PolicyRegistry::with_engine(
        cfg.policies.dir.clone(),
        Arc::new(crate::notify::engine(limits)),
        clock.clone(),
    ) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            anyhow::bail!(
                "the policies in {} do not compile; fix them (escalier check) and start again",
                cfg.policies.dir.display()
            );
        }
    };
    let _watcher = escalier_policy::watch(policies.clone(), cfg.policies.reload_debounce)
        .with_context(|| format!("watching {}", cfg.policies.dir.display()))?;

    let plugins = open_plugins(&cfg, clock.clone())?;
    let _plugin_watcher = escalier_plugin::watch(plugins.clone(), cfg.plugins.reload_debounce)
        .with_context(|| format!("watching {}", plugins.plugins_dir().display()))?;

    // Notifications: notify.toml of the set in force, the secrets they use.
    let (signing, generated) = crate::notify::signing_secret(
        &cfg.storage.data_dir,
        plugins.secret(crate::notify::SIGNING_SECRET).is_some(),
    )?;
    if let Some(path) = generated {
        eprintln!(
            "Generated a signing secret for notify.toml's webhook targets (`{}`, kept in {}, mode 0600).",
            crate::notify::SIGNING_SECRET,
            path.display()
        );
    }
    let notify_secrets = Arc::new(crate::notify::secrets(plugins.clone(), signing));
    // Targets that cannot send are logged at start, and again whenever a
    // reload of the policies (and notify.toml) changes them.
    let notify_cache = Arc::new(crate::notify::NotifyCache::logging_disabled({
        let secrets = notify_secrets.clone();
        Arc::new(move |name: &str| secrets(name).is_some())
    }));
    notify_cache.config(&policies.current());

    let store = crate::store::open_for_serve(&cfg)?;
    // Bound before the processor starts: the address names this node to
    // the others (`GET /v1/cluster`). Connections wait until serving starts.
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.server.listen))?;
    let addr: SocketAddr = listener.local_addr()?;
    let node = escalier_store::backend::Node {
        id: crate::store::node_id(&cfg)?,
        addr: addr.to_string(),
    };
    let (writer, writer_thread) = Writer::spawn(
        store.clone(),
        clock.clone(),
        WriterConfig {
            queue_capacity: cfg.storage.queue_capacity,
            gather: cfg.storage.commit_gather,
            ..WriterConfig::default()
        },
    );
    let reactors = Arc::new(
        Reactors::new(
            policies.clone(),
            plugins.clone(),
            store.clone(),
            clock.clone(),
            cfg.policies.pin,
        )
        .with_notify(notify_cache.clone()),
    );
    // Every set in force is stored when it comes into force (not when it
    // first handles a ticket), so a migration can name it at once.
    // A weak handle: the reactors hold the registry, so a strong one here
    // would be a cycle that keeps the store open past shutdown (and the
    // database file unclosed, to be checked whole at the next start).
    policies.on_change({
        let reactors = Arc::downgrade(&reactors);
        move |set| {
            if let Some(reactors) = reactors.upgrade() {
                reactors.remember(set);
            }
        }
    });
    let processor = Processor::spawn(
        store.clone(),
        reactors,
        ProcessorConfig {
            chunk: cfg.processor.chunk,
            limits: escalier_core::Limits {
                max_depth: cfg.processor.max_depth,
                max_derived: cfg.processor.max_derived,
            },
            clock: clock.clone(),
            // Renewed well within the lease, so a live node never loses one.
            renew: (cfg.cluster.lease / 3).clamp(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(1),
            ),
            node: node.clone(),
            ..ProcessorConfig::default()
        },
    );

    let (scheduler, scheduler_handle) = Scheduler::spawn(
        store.clone(),
        writer.clone(),
        clock.clone(),
        SchedulerConfig::default(),
    );

    let outbound = Outbound::new(
        plugins.clone(),
        OutboundConfig {
            connect_timeout: cfg.outbox.connect_timeout,
            request_timeout: cfg.outbox.request_timeout,
            address_policy: AddressPolicy {
                allow_private: cfg.plugins.allow_private.clone(),
            },
            clock: clock.clone(),
            ..OutboundConfig::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("setting up outbound delivery: {e}"))?;
    let (stop_outbox, outbox_stop) = tokio::sync::watch::channel(false);
    // Plugins' requests go to the plugin host's outbound client; notifications
    // to the notifier, once one is configured (until then they fail saying so).
    // Both senders share the one safe client (same address policy, timeouts
    // and TLS roots).
    let notifier: Option<Arc<dyn escalier_outbox::Deliver>> = {
        let http = outbound.client().clone();
        let (p, cache) = (policies.clone(), notify_cache.clone());
        let source: escalier_notify::notifier::ConfigSource =
            Arc::new(move || cache.config(&p.current()).unwrap_or_default());
        Some(Arc::new(escalier_notify::Notifier::new(
            source,
            notify_secrets.clone(),
            http,
            clock.clone(),
        )))
    };
    let outbox_worker = tokio::spawn(
        escalier_outbox::Worker {
            store: store.clone(),
            writer: writer.clone(),
            http: Arc::new(outbound),
            notifications: notifier,
            clock: clock.clone(),
            concurrency: cfg.outbox.concurrency,
            schedule: escalier_outbox::RetrySchedule::default(),
        }
        .run(outbox_stop),
    );

    let status_policies = policies.clone();
    // The policy tests (`escalier test`) of the set in force, run in the
    // background at start and whenever the set or its tests change.
    let policy_tests = {
        let mut opts = escalier_lab::policy_test::TestOptions::new(cfg.policies.dir.clone());
        opts.engine = policies.engine().clone();
        opts.limits = escalier_core::Limits {
            max_depth: cfg.processor.max_depth,
            max_derived: cfg.processor.max_derived,
        };
        Arc::new(escalier_server::policy_tests::PolicyTests::new(
            opts,
            clock.clone(),
        ))
    };
    let policy_tests_task = policy_tests.clone().spawn(
        {
            let p = policies.clone();
            Arc::new(move || p.current().version().to_owned())
        },
        std::time::Duration::from_secs(1),
    );
    let backtests = crate::backtest::service(&cfg, store.clone(), clock.clone());
    let state = AppState {
        store: store.clone(),
        writer,
        verifier: Arc::new(Verifier::new(resolved.secrets)),
        tokens,
        limiter: escalier_server::ratelimit::Limiter::new(
            cfg.server.rate_limit_per_second,
            cfg.server.rate_limit_burst,
        ),
        open_limiter: escalier_server::ratelimit::Limiter::new(
            cfg.server.open_rate_limit_per_second,
            cfg.server.open_rate_limit_burst,
        ),
        limits: HttpLimits {
            max_body_bytes: cfg.server.max_body_bytes,
            max_batch_events: cfg.server.max_batch_events,
            max_wait: cfg.server.max_wait,
            request_timeout: cfg.server.request_timeout,
            conn: escalier_server::conn::ConnLimits {
                header_read_timeout: cfg.server.header_read_timeout,
                max_header_bytes: cfg.server.max_header_bytes,
                max_connections: cfg.server.max_connections,
            },
        },
        policies: {
            let store = store.clone();
            let pin = cfg.policies.pin;
            Arc::new(move || {
                let mut v = serde_json::to_value(status_policies.status()).unwrap_or_default();
                // `policies.pin`: `POST /v1/admin/migrate` says when pinning is off.
                if let Some(map) = v.as_object_mut() {
                    map.insert("pin".into(), serde_json::to_value(pin).unwrap_or_default());
                }
                // The policy tests of the set in force, as last run.
                if let Some(map) = v.as_object_mut() {
                    map.insert("tests".into(), policy_tests.status());
                }
                // Every version that served, for pinning and migration.
                if let (Some(map), Ok(versions)) = (v.as_object_mut(), store.policy_sets()) {
                    map.insert(
                        "versions".into(),
                        serde_json::to_value(versions).unwrap_or_default(),
                    );
                }
                v
            })
        },
        plugins: Some(plugins.clone()),
        notify: {
            let (p, cache, secrets) = (
                policies.clone(),
                notify_cache.clone(),
                notify_secrets.clone(),
            );
            Some(Arc::new(move || {
                crate::notify::targets_status(&p, &cache, &|name: &str| secrets(name).is_some())
            }))
        },
        timers: Timers {
            clock: clock.clone(),
            simulated,
            scheduler: Some(scheduler_handle.clone()),
            books: {
                let p = policies.clone();
                Arc::new(move || p.current().books().clone())
            },
        },
        metrics: Some(metrics),
        console: cfg.console.enabled.then(|| {
            escalier_server::console_sessions(
                cfg.console.secure_cookie,
                cfg.console.idle_timeout,
                cfg.console.absolute_timeout,
            )
        }),
        backtests: Some(backtests.clone()),
    };
    let events = store.input_count()?;
    tracing::info!(
        %addr,
        store = %store.location(),
        node = %node.id,
        data = %cfg.storage.data_dir.display(),
        policies = %cfg.policies.dir.display(),
        events,
        "escalier listening"
    );
    // A line for scripts and tests to wait on, whatever the log settings.
    println!("escalier listening on http://{addr}");

    escalier_server::serve(listener, state, shutdown_signal()).await?;
    // A backtest in progress stops at its next record.
    backtests.cancel_all();
    policy_tests_task.abort();
    tracing::info!(
        "HTTP stopped; draining the outbox worker, the scheduler, the writer and the processor"
    );
    // In-flight deliveries finish and their outcome is recorded; the rest
    // stays in the outbox for the next start.
    let _ = stop_outbox.send(true);
    let _ = outbox_worker.await;
    // The scheduler holds a writer handle: stop it first, so the writer
    // sees its last handle go, commits what is queued and stops.
    scheduler_handle.stop();
    drop(scheduler_handle);
    tokio::task::spawn_blocking(move || {
        let _ = scheduler.join();
        let _ = writer_thread.join();
        processor.join()
    })
    .await??;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Load the installed plugins (a plugin that fails to load is reported and
/// skipped; the others serve).
fn open_plugins(cfg: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<PluginRegistry>> {
    let dir = cfg.plugins_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating plugins directory {}", dir.display()))?;
    let host = crate::plugin_host::host_config(cfg, &dir, clock)?;
    let (registry, report) = PluginRegistry::open(host)
        .map_err(|e| anyhow::anyhow!("plugins in {}: {e}", dir.display()))?;
    for f in &report.failed {
        eprintln!("plugin not loaded: {}: {}", f.dir, f.error);
    }
    tracing::info!(dir = %dir.display(), loaded = registry.current().len(), failed = report.failed.len(), "plugins loaded");
    Ok(registry)
}

/// Tokens from config, environment and the data directory; with none at
/// all, create an admin token and print it once.
fn api_tokens(cfg: &Config) -> anyhow::Result<Arc<Tokens>> {
    let mut fixed = cfg.api.tokens.clone();
    if let Some(t) = &cfg.api.token {
        fixed.push(TokenEntry {
            name: "ESCALIER_API_TOKEN".into(),
            sha256: hash_token(t),
            scopes: vec![Scope::Admin],
        });
    }
    let path = cfg.tokens_path();
    let tokens = Tokens::new(fixed, Some(path.clone()))?;
    if tokens.is_empty() {
        let token = generate_token(rand::random());
        secrets::add_token(
            &path,
            TokenEntry {
                name: "admin".into(),
                sha256: hash_token(&token),
                scopes: vec![Scope::Admin],
            },
        )?;
        eprintln!(
            "Created an admin API token (its hash is in {}). It is shown only now:\n\n    {token}\n\nUse it as `Authorization: Bearer <token>`; make narrower ones with `escalier token create`.",
            path.display()
        );
    }
    Ok(Arc::new(tokens))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
