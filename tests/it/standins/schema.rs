//! Requests checked against the vendors' documented request shapes, as
//! JSON Schemas vendored under `tests/it/schemas/` (each file says which
//! documentation it was written from and what it leaves out).

use serde_json::Value;

use crate::util::repo;

/// The vendored schema `name` (file name without `.schema.json`).
pub fn load(name: &str) -> Value {
    let path = repo()
        .join("tests/it/schemas")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every way `instance` breaks the schema `name`, as `path: message`.
pub fn violations(name: &str, instance: &Value) -> Vec<String> {
    let schema = load(name);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Panic with every violation when `instance` does not match schema `name`.
#[track_caller]
pub fn assert_valid(name: &str, instance: &Value) {
    let v = violations(name, instance);
    assert!(
        v.is_empty(),
        "not a valid {name} request:\n  {}\n{instance:#}",
        v.join("\n  ")
    );
}
