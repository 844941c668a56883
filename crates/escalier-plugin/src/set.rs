//! `PluginSet`: an immutable snapshot of the loaded plugins. The
//! registry swaps in a new one on reload; a call that started on a
//! snapshot finishes on it, so no call ever sees a half-loaded plugin.
//!
//! Plugins are offered each record in name order: subscribers' handlers,
//! for `plugin.command` the addressed plugin's command export, and for
//! `plugin.timer` the handler of the plugin that set the timer (only). A
//! plugin is never offered records it produced itself (so
//! `subscribe = ["*"]` does not feed a plugin its own output).
//!
//! Two ways to hand the set to the processor:
//! - [`PluginSet::reactors`]: one reactor per plugin, so each plugin sees
//!   the ticket with the earlier plugins' reactions applied, as policies
//!   do (recommended);
//! - the set itself as one [`Reactor`]: every plugin sees the ticket as it
//!   was before any of them reacted to the record.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use escalier_core::event::{Origin, PluginCommand, PluginError, PluginTimer};
use escalier_core::{Clock, Event, EventKind, Producer, Reaction, Reactor, Record, Source, Ticket};

use crate::convert;
use crate::error::AdaptError;
use crate::plugin::LoadedPlugin;

/// The plugins serving right now.
pub struct PluginSet {
    /// By plugin name: the order plugins react in.
    plugins: Vec<Arc<LoadedPlugin>>,
    by_name: HashMap<String, usize>,
    /// Event type → indices of subscribers, in name order (wildcards merged in).
    by_type: HashMap<String, Vec<usize>>,
    /// Subscribers of `*`, for types not known when the set was built.
    wildcard: Vec<usize>,
    adapters: BTreeMap<String, usize>,
    has_commands: bool,
    clock: Arc<dyn Clock>,
    unknown_commands: UnknownCommands,
}

/// Reports a `plugin.command` whose plugin is not loaded (unloaded between
/// the API's check and processing).
struct UnknownCommands {
    loaded: Vec<String>,
}

impl Reactor for UnknownCommands {
    fn wants(&self, event_type: &str) -> bool {
        event_type == PluginCommand::TYPE
    }

    fn react(&self, _: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        if let EventKind::PluginCommand(cmd) = &record.event.kind
            && !self.loaded.contains(&cmd.plugin)
        {
            out.push(unknown_plugin(cmd));
        }
    }
}

fn unknown_plugin(cmd: &PluginCommand) -> Reaction {
    Reaction {
        producer: Producer::System,
        kind: EventKind::PluginError(PluginError {
            plugin: cmd.plugin.clone(),
            code: "unknown_plugin".into(),
            message: format!(
                "command `{}` not run: no plugin `{}` is loaded",
                cmd.command, cmd.plugin
            ),
        }),
    }
}

impl PluginSet {
    pub(crate) fn new(mut plugins: Vec<Arc<LoadedPlugin>>, clock: Arc<dyn Clock>) -> PluginSet {
        plugins.sort_by(|a, b| a.name().cmp(b.name()));
        let by_name = plugins
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name().to_owned(), i))
            .collect();
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        for ty in escalier_core::event::all_types() {
            let subs: Vec<usize> = (0..plugins.len())
                .filter(|&i| plugins[i].subscribes(ty))
                .collect();
            if !subs.is_empty() {
                by_type.insert(ty.to_owned(), subs);
            }
        }
        let wildcard = (0..plugins.len())
            .filter(|&i| plugins[i].manifest.subscribe.iter().any(|s| s == "*"))
            .collect();
        let adapters = plugins
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.manifest.adapter.clone().map(|a| (a, i)))
            .collect();
        let has_commands = plugins.iter().any(|p| !p.manifest.commands.is_empty());
        let unknown_commands = UnknownCommands {
            loaded: plugins.iter().map(|p| p.name().to_owned()).collect(),
        };
        PluginSet {
            unknown_commands,
            plugins,
            by_name,
            by_type,
            wildcard,
            adapters,
            has_commands,
            clock,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_name.get(name).map(|&i| &self.plugins[i])
    }

    /// Names of the loaded plugins, in reaction order.
    pub fn names(&self) -> Vec<&str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Whether `plugin` is loaded and declares `command`: what
    /// `POST /v1/tickets/{id}/plugins/{plugin}/commands/{command}` checks
    /// before appending `plugin.command` (404 otherwise).
    pub fn has_command(&self, plugin: &str, command: &str) -> bool {
        self.get(plugin)
            .is_some_and(|p| p.manifest.commands.iter().any(|c| c == command))
    }

    /// The source names `POST /v1/sources/{source}` accepts.
    pub fn adapters(&self) -> impl Iterator<Item = &str> {
        self.adapters.keys().map(String::as_str)
    }

    /// Turn a foreign tool's webhook into validated Escalier events with
    /// the plugin whose manifest says `adapter = "<source>"`.
    ///
    /// Blocking: runs guest code for up to the plugin's time limit. From
    /// async code, call it inside `tokio::task::spawn_blocking`.
    pub fn adapt(
        &self,
        source: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<Event>, AdaptError> {
        let Some(&i) = self.adapters.get(source) else {
            let known = self.adapters.keys().cloned().collect::<Vec<_>>();
            return Err(AdaptError::NoAdapter {
                name: source.to_owned(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        };
        let p = &self.plugins[i];
        let adapter = p.name().to_owned();
        let texts = match p.adapt(headers, body, self.clock.now()) {
            Ok(Ok(texts)) => texts,
            Ok(Err(e)) => {
                let (case, message) = convert::guest_error(&e);
                return Err(match case {
                    "unauthorized" => AdaptError::Unauthorized { adapter, message },
                    "invalid-input" => AdaptError::NotUnderstood { adapter, message },
                    _ => AdaptError::Plugin {
                        adapter,
                        code: "guest_error".into(),
                        message: format!("{case}: {message}"),
                    },
                });
            }
            Err(f) => {
                return Err(AdaptError::Plugin {
                    adapter,
                    code: f.code.to_owned(),
                    message: f.message,
                });
            }
        };
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                Event::decode_one(text, Origin::External).map_err(|rejection| {
                    AdaptError::InvalidOutput {
                        adapter: adapter.clone(),
                        index,
                        rejection,
                    }
                })
            })
            .collect()
    }

    /// For the benchmark: time the phases of one fresh-instance call of
    /// `plugin` (instantiate, call, drop).
    #[doc(hidden)]
    pub fn time_phases(
        &self,
        plugin: &str,
        ticket: &Arc<Ticket>,
        record: &Arc<Record>,
    ) -> Option<[std::time::Duration; 3]> {
        Some(self.get(plugin)?.time_phases(ticket, record))
    }

    /// One reactor per plugin, in name order, plus one that reports
    /// commands for plugins that are not loaded. Pass them to
    /// `escalier_core::process::process` after the policies.
    pub fn reactors(&self) -> Vec<&dyn Reactor> {
        let mut out: Vec<&dyn Reactor> =
            self.plugins.iter().map(|p| &**p as &dyn Reactor).collect();
        out.push(&self.unknown_commands);
        out
    }

    fn subscribers(&self, event_type: &str) -> &[usize] {
        self.by_type
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&self.wildcard)
    }
}

impl Reactor for PluginSet {
    fn wants(&self, event_type: &str) -> bool {
        !self.subscribers(event_type).is_empty()
            || (self.has_commands && event_type == PluginCommand::TYPE)
            || (!self.plugins.is_empty() && event_type == PluginTimer::TYPE)
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let own = match &record.source {
            Source::Plugin { plugin, .. } => Some(plugin.as_str()),
            _ => None,
        };
        if let EventKind::PluginCommand(cmd) = &record.event.kind {
            match self.get(&cmd.plugin) {
                Some(p) => p.command(ticket, record, cmd, out),
                // Unloaded between the API's check and processing.
                None => out.push(unknown_plugin(cmd)),
            }
        }
        if let EventKind::PluginTimer(t) = &record.event.kind {
            // A timer of a plugin no longer loaded fires into the log only.
            if let Some(p) = self.get(&t.plugin) {
                p.handle(ticket, record, out);
            }
            return;
        }
        for &i in self.subscribers(record.event.type_name()) {
            let p = &self.plugins[i];
            if own == Some(p.name()) {
                continue;
            }
            p.handle(ticket, record, out);
        }
    }
}
