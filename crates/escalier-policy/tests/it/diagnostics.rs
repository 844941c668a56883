//! Golden files for load-time diagnostics: `tests/diagnostics/<case>.rhai`
//! is a policy, `<case>.expected` what `escalier check` prints for it
//! (empty for a policy that loads). `BLESS=1 cargo test -p escalier-policy`
//! rewrites the expected files from the current output.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use escalier_policy::{Code, PolicySet};

/// Relative, so the output reads like a user's `policies/x.rhai:3:14`.
/// Cargo runs integration tests from the package directory.
const DIR: &str = "tests/diagnostics";

#[test]
fn diagnostics_match_golden_files() {
    let err = PolicySet::load_dir(DIR).expect_err("the cases contain broken policies");
    let mut by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &err.diagnostics {
        by_file
            .entry(d.file.clone())
            .or_default()
            .push(d.to_string());
    }

    let bless = std::env::var_os("BLESS").is_some();
    let mut mismatches = Vec::new();
    let mut cases = 0;
    for entry in fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        cases += 1;
        let file = Path::new(DIR)
            .join(path.file_name().unwrap())
            .display()
            .to_string();
        let actual = match by_file.get(&file) {
            Some(lines) => lines.join("\n") + "\n",
            None => String::new(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "--- {}\n{expected}+++ actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(cases >= 20, "found only {cases} cases in {DIR}");
    assert!(
        mismatches.is_empty(),
        "{} case(s) differ (BLESS=1 to accept):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_broken_file_is_reported_not_just_the_first() {
    let err = PolicySet::load_dir(DIR).unwrap_err();
    let files: std::collections::BTreeSet<_> =
        err.diagnostics.iter().map(|d| d.file.as_str()).collect();
    let broken = fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".rhai") && !name.starts_with("ok_")
        })
        .count();
    assert_eq!(files.len(), broken, "{files:?}");
}

#[test]
fn codes_are_stable_strings() {
    let err = PolicySet::from_sources([("a.rhai", "tag(\"x\");")]).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::MissingOn);
    assert_eq!(err.diagnostics[0].code.as_str(), "missing_on");
    let json = serde_json::to_value(&err.diagnostics[0]).unwrap();
    assert_eq!(json["code"], "missing_on");
    assert_eq!(
        json["hint"],
        "add a line at the top, for example: const ON = [\"ticket.created\", \"comment.added\"];"
    );
}

#[test]
fn a_method_call_on_a_function_without_parameters_is_an_unknown_method() {
    // Regression: the argument count of `PI()` minus the receiver underflowed.
    let err = PolicySet::from_sources([(
        "m.rhai",
        "const ON = [\"ticket.created\"];\nlet x = 1;\nx.PI();\n",
    )])
    .unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert_eq!(err.diagnostics[0].code, Code::UnknownFunction);
    assert_eq!(
        (err.diagnostics[0].line, err.diagnostics[0].column),
        (Some(3), Some(3))
    );
}
