//! `print` and `debug` write to Escalier's log, capped like plugin logs:
//! each line to 4096 bytes, each run to 64 lines and 32 KiB, with one note
//! when the rest of a run's output is dropped.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use escalier_policy::{PolicyEngine, PolicyLimits, PolicySet};
use serde_json::json;

use crate::util::*;

/// Everything logged while `f` runs on this thread.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Default limits except the clock: a slow machine must not turn a run
/// into a timeout (and its warning into one more line).
fn engine() -> Arc<PolicyEngine> {
    static E: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(PolicyEngine::new(PolicyLimits {
            max_time: Duration::from_secs(600),
            ..PolicyLimits::default()
        }))
    })
    .clone()
}

fn set_of(sources: &[(&str, &str)]) -> PolicySet {
    PolicySet::from_sources_with(&engine(), sources.iter().copied())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run_printing(body: &str) -> (Vec<escalier_core::Reaction>, String) {
    let src = format!("const ON = [\"ticket.created\"];\n{body}\n");
    let s = set_of(&[("chatty.rhai", src.as_str())]);
    let mut rs = Vec::new();
    let log = logged(|| rs = react(&s, &ticket(json!({})), &created("T-1", json!({}))));
    (rs, log)
}

#[test]
fn print_in_a_loop_logs_at_most_the_run_quota_and_says_so() {
    // 100 lines of 64 KiB: 6.4 MB uncapped.
    let (rs, log) = run_printing(
        "let s = \"x\"; while s.len() < 65536 { s += s; }\nfor i in 0..100 { print(s); }\ntag(\"printed\");",
    );
    assert_eq!(
        describe_all(&rs),
        ["chatty.rhai: tag printed"],
        "printing is not an error"
    );
    assert!(log.len() < 40 * 1024, "{} bytes logged", log.len());
    assert!(
        log.contains("more bytes not logged"),
        "long lines are cut with a note"
    );
    assert_eq!(
        log.matches("the rest of it is not logged").count(),
        1,
        "one note when the run's quota is reached"
    );
    assert!(log.contains("chatty.rhai"), "lines name the policy");
}

#[test]
fn debug_is_capped_the_same_way_and_shares_the_quota() {
    let (_, log) = run_printing("for i in 0..1000 { debug(`line ${i}`); print(`p${i}`); }");
    let lines = log
        .lines()
        .filter(|l| !l.contains("the rest of it is not logged"))
        .count();
    assert!(lines <= 64, "{lines} lines logged");
    assert_eq!(log.matches("the rest of it is not logged").count(), 1);
}

#[test]
fn each_run_has_its_own_quota() {
    let src = "const ON = [\"ticket.created\"];\nfor i in 0..100 { print(`n${i}`); }\n";
    let s = set_of(&[("a.rhai", src), ("b.rhai", src)]);
    let log = logged(|| {
        react(&s, &ticket(json!({})), &created("T-1", json!({})));
    });
    assert_eq!(
        log.matches("the rest of it is not logged").count(),
        2,
        "{log}"
    );
    assert!(log.contains("b.rhai"), "the second policy still logs");
}
