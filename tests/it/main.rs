//! End-to-end tests: each starts the real `escalier` binary on a free
//! loopback port with its own data and policies directories, and speaks
//! HTTP to it the way a help desk would.
//!
//! One binary, a module per area (see CONVENTIONS.md).

mod util;

mod auth;
mod backtest;
mod cli;
mod clocks;
mod cluster;
mod console;
mod crash;
mod examples;
mod hardening;
mod helpdesks;
mod ingest;
mod migrate;
mod notify;
mod openapi;
mod plugins;
mod policies;
mod replay;
mod reports;
mod restart;
mod standins;
mod tickets;
mod writeback;
