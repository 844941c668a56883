//! Test results for people: one line per test, and for a failure, the
//! step, the expectation, expected against got, and every record the step
//! produced with the policy file and line behind it.

use std::fmt::Write;

use super::{FileReport, Produced, Summary};

/// The whole run as text. `verbose`: list passing tests too.
pub fn render(reports: &[FileReport], verbose: bool) -> String {
    let mut out = String::new();
    for r in reports {
        let failing = !r.passed();
        if !failing && !verbose {
            let _ = writeln!(out, "ok    {} ({} tests)", r.file, r.tests.len());
            continue;
        }
        let _ = writeln!(out, "{}  {}", if failing { "FAIL" } else { "ok  " }, r.file);
        if let Some(e) = &r.error {
            let _ = writeln!(out, "      {e}");
        }
        for t in &r.tests {
            if t.passed {
                let _ = writeln!(out, "      ok    {}", t.name);
                continue;
            }
            let _ = writeln!(out, "      FAIL  {} ({}:{})", t.name, r.file, t.line);
            for f in &t.failures {
                let _ = writeln!(
                    out,
                    "            step {} at {}: {}",
                    f.step, f.step_at, f.step_did
                );
                if let Some(at) = &f.expectation_at {
                    let _ = writeln!(out, "            expectation at {at}");
                }
                let _ = writeln!(out, "            {}", f.message);
                if !f.records.is_empty() {
                    let what = if f.code == "forbidden_record" {
                        "produced by"
                    } else {
                        "the step produced"
                    };
                    let _ = writeln!(out, "            {what}:");
                    for p in &f.records {
                        let _ = writeln!(out, "              {}", line(p));
                    }
                } else if f.code == "missing_record" {
                    let _ = writeln!(out, "            the step produced nothing");
                }
            }
        }
    }
    let s = Summary::of(reports);
    let _ = write!(
        out,
        "\n{} in {}: {} passed, {} failed",
        plural(s.tests, "test"),
        plural(s.files, "file"),
        s.passed,
        s.failed
    );
    if s.broken_files > 0 {
        let _ = write!(out, ", {} could not run", plural(s.broken_files, "file"));
    }
    out.push('\n');
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `2.1  action.escalate {"tier":2,...}  policies/escalation/vip.rhai:18 (sha256:…)`
fn line(p: &Produced) -> String {
    let mut data = p.data.to_string();
    if data.len() > 100 {
        let cut = (0..=97)
            .rev()
            .find(|i| data.is_char_boundary(*i))
            .unwrap_or(0);
        data.truncate(cut);
        data.push_str("...");
    }
    let origin = match (&p.location, &p.hash) {
        (Some(l), Some(h)) => format!("{l} ({h})"),
        (Some(l), None) => l.to_string(),
        (None, _) => p.by.clone(),
    };
    format!(
        "{:<6} {} {} {}  <- {}",
        p.pos, p.ticket_id, p.ty, data, origin
    )
}
