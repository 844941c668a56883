//! Standard Webhooks verification for signed ingest: the shared
//! implementation in `escalier-webhook`, re-exported where the HTTP layer
//! and its users have always found it.

pub use escalier_webhook::*;
