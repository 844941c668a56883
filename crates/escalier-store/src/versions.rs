//! Policy set versions, content-addressed: every set that served is kept
//! (its files, when it was first seen, and the log position it took effect
//! after), so tickets pinned to it keep their behaviour after the files
//! change, and a migration can say what differs.

use std::collections::BTreeMap;

use escalier_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

const PREFIX: &str = "policy-set:";

/// One stored policy set version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSet {
    pub version: String,
    pub first_seen_at: Timestamp,
    /// Last input processed before it took effect.
    pub after_seq: u64,
    /// Every file of the set: name → text.
    pub files: BTreeMap<String, String>,
}

impl Store {
    /// Store a policy set version if it is new. Returns whether it was.
    pub fn put_policy_set(
        &self,
        version: &str,
        files: impl IntoIterator<Item = (String, String)>,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = format!("{PREFIX}{version}");
        if self.backend.version(&key)?.is_some() {
            return Ok(false);
        }
        let set = StoredSet {
            version: version.to_owned(),
            first_seen_at: at,
            after_seq: self.progress().processed(),
            files: files.into_iter().collect(),
        };
        self.backend
            .put_version_if_absent(&key, &serde_json::to_vec(&set).unwrap_or_default())?;
        Ok(true)
    }

    /// A stored policy set version.
    pub fn policy_set(&self, version: &str) -> Result<Option<StoredSet>, StoreError> {
        let key = format!("{PREFIX}{version}");
        self.backend
            .version(&key)?
            .map(|v| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    what: "policy set version",
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    /// Every stored version, oldest first (without their files).
    pub fn policy_sets(&self) -> Result<Vec<StoredSet>, StoreError> {
        let mut out = Vec::new();
        for (_, v) in self.backend.versions(PREFIX)? {
            if let Ok(mut s) = serde_json::from_slice::<StoredSet>(&v) {
                s.files.clear();
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.first_seen_at);
        Ok(out)
    }
}
