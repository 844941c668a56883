//! One SLA clock computation, on a 9–17 Mon–Fri Europe/Paris calendar with
//! holidays: `add_business` for a 4 h and a 5-business-day target,
//! `business_between` over a month (across the spring DST change), and the
//! per-event cost of `ClockSet::on_event` plus re-deriving deadlines.
//!
//! Run: `cargo bench -p escalier-core --bench clock`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use escalier_core::calendar::{Calendar, parse_calendars};
use escalier_core::event::Origin;
use escalier_core::sla::{ClockSet, SlaBook};
use escalier_core::{Event, Record, Source, Timestamp, reduce};
use jiff::SignedDuration;

const CALENDARS: &str = r#"
[calendars.eu]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
holidays = ["2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14", "2026-05-25",
            "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-25",
            { date = "2026-12-24", hours = ["09:00-12:00"] }]
"#;

fn calendar() -> Calendar {
    let mut cals = parse_calendars(CALENDARS).expect("the benchmark calendar parses");
    cals.remove("eu").expect("defined above")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

fn calendar_benches(c: &mut Criterion) {
    let cal = calendar();
    // Tuesday 10:00 CET: the 4 h target lands the same day.
    let tue = ts("2026-03-10T09:00:00Z");
    // Friday 15:00 CET: a 4 h target crosses the weekend.
    let fri = ts("2026-03-13T14:00:00Z");
    c.bench_function("add_business 4h, same day", |b| {
        b.iter(|| cal.add_business(black_box(tue), black_box(SignedDuration::from_hours(4))))
    });
    c.bench_function("add_business 4h, over a weekend", |b| {
        b.iter(|| cal.add_business(black_box(fri), black_box(SignedDuration::from_hours(4))))
    });
    c.bench_function("add_business 5 business days (40h)", |b| {
        b.iter(|| cal.add_business(black_box(tue), black_box(SignedDuration::from_hours(40))))
    });
    c.bench_function("add_business 30 business days (240h), over DST", |b| {
        b.iter(|| cal.add_business(black_box(tue), black_box(SignedDuration::from_hours(240))))
    });
    let (a, z) = (ts("2026-03-10T09:00:00Z"), ts("2026-04-10T09:00:00Z"));
    c.bench_function("business_between over a month, over DST", |b| {
        b.iter(|| cal.business_between(black_box(a), black_box(z)))
    });
}

fn clock_set_benches(c: &mut Criterion) {
    let book = SlaBook::from_toml(&format!(
        "{CALENDARS}\n[[policy]]\nname = \"standard\"\ncalendar = \"eu\"\n\
         targets.normal = {{ first_response = \"4h\", next_response = \"8h\", resolution = \"40h\" }}\n"
    ))
    .expect("the benchmark book parses");
    let record = |seq: u64, at: &str, kind: &str, data: &str| {
        let json = format!(
            r#"{{"id":"e{seq}","type":"{kind}","ticket_id":"T-1","occurred_at":"{at}","data":{data}}}"#
        );
        Record {
            seq,
            index: 0,
            recorded_at: ts(at),
            source: Source::Webhook { delivery: None },
            event: Event::decode_one(&json, Origin::Internal).expect("a valid event"),
        }
    };
    let created = record(
        1,
        "2026-03-10T09:00:00Z",
        "ticket.created",
        r#"{"subject":"s","channel":"email","requester":{"id":"c"}}"#,
    );
    let ticket = reduce::apply(None, &created).expect("created");
    let mut clocks = ClockSet::new();
    clocks.on_event(&book, &ticket, &created.event, created.recorded_at);
    let comment = record(
        2,
        "2026-03-10T11:00:00Z",
        "comment.added",
        r#"{"author":{"kind":"customer"},"body":"any news?"}"#,
    );
    let after = reduce::apply(Some(ticket), &comment).expect("applied");
    c.bench_function("ClockSet::on_event (customer comment) + deadlines", |b| {
        b.iter(|| {
            let mut set = clocks.clone();
            let report = set.on_event(
                &book,
                black_box(&after),
                &comment.event,
                comment.recorded_at,
            );
            let next = set.next_deadline(&book);
            black_box((report, next))
        })
    });
}

criterion_group!(benches, calendar_benches, clock_set_benches);
criterion_main!(benches);
