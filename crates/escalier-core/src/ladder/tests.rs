//! Ladder tests: walking the levels at the right instants, repeat,
//! exhaustion, business time, reloads, and data-file errors. Ticket-level
//! behaviour (acknowledgement, solving, actions) is in `timers/tests.rs`.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::calendar::ConfigErrorCode;
use crate::sla::FireRefused;

const SLA: &str = r#"
[calendars.office]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[calendars.round-the-clock]
always = true
"#;

const LADDERS: &str = r#"
[ladders.major-incident]
description = "Sev-1"
repeat = 1

[[ladders.major-incident.level]]
notify = "oncall-engineer"
after = "15m"

[[ladders.major-incident.level]]
notify = "support-team-lead"
tier = 3
after = "15m"

[[ladders.major-incident.level]]
notify = "head-of-support"
message = "Major incident still unowned"
assign = "head-of-support"
after = "30m"

[ladders.desk]
calendar = "office"

[[ladders.desk.level]]
team = "tier2"
after = "2h"

[[ladders.desk.level]]
notify = "desk-lead"
after = "1h"
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn book() -> LadderBook {
    LadderBook::from_toml(LADDERS, &SlaBook::from_toml(SLA).unwrap()).unwrap()
}

fn level(step: &LadderStep) -> &LevelReached {
    match step {
        LadderStep::Level(l) => l,
        other => panic!("expected a level, got {other:?}"),
    }
}

/// Fire the ladder's one deadline at `now`.
fn fire_next(
    set: &mut LadderSet,
    book: &LadderBook,
    now: Timestamp,
) -> Result<LadderStep, FireRefused> {
    let d = set
        .deadlines(book)
        .next()
        .expect("a running ladder has a next step");
    set.fire(book, &d.ladder, d.run, d.step, now)
}

#[test]
fn a_ladder_walks_its_levels_at_the_right_instants() {
    let book = book();
    let mut set = LadderSet::new();
    let first = set
        .start(
            &book,
            "major-incident",
            "Sev-1 outage",
            ts("2026-03-09T10:00:00Z"),
        )
        .unwrap();
    let l = level(&first);
    assert_eq!((l.level, l.cycle, l.levels, l.late), (1, 0, 3, false));
    assert_eq!(l.target.notify, ["oncall-engineer"]);
    assert_eq!(l.next_at, Some(ts("2026-03-09T10:15:00Z")));

    let d = set.deadlines(&book).next().unwrap();
    assert_eq!(
        (d.due, d.key()),
        (
            ts("2026-03-09T10:15:00Z"),
            "ladder:major-incident:0:1".to_owned()
        )
    );
    // Never early.
    assert_eq!(
        fire_next(&mut set, &book, ts("2026-03-09T10:14:59Z")),
        Err(FireRefused::NotDue {
            due: ts("2026-03-09T10:15:00Z")
        })
    );
    let second = fire_next(&mut set, &book, ts("2026-03-09T10:15:00Z")).unwrap();
    let l = level(&second);
    assert_eq!((l.level, l.late), (2, false));
    assert_eq!(l.target.tier, Some(Tier::new(3).unwrap()));
    // Once.
    assert_eq!(
        set.fire(&book, "major-incident", 0, 1, ts("2026-03-09T10:16:00Z")),
        Err(FireRefused::AlreadyFired)
    );
    let third = fire_next(&mut set, &book, ts("2026-03-09T10:30:00Z")).unwrap();
    assert_eq!(level(&third).level, 3);
    assert_eq!(level(&third).next_at, Some(ts("2026-03-09T11:00:00Z")));
    assert_eq!(set.run("major-incident").unwrap().reached(), 3);
}

#[test]
fn repeat_walks_the_levels_again_then_the_ladder_is_exhausted() {
    let book = book();
    let mut set = LadderSet::new();
    set.start(&book, "major-incident", "r", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    let mut seen = Vec::new();
    let mut now = ts("2026-03-09T10:00:00Z");
    loop {
        let next = set.deadlines(&book).next();
        let Some(d) = next else { break };
        now = d.due;
        match set.fire(&book, &d.ladder, d.run, d.step, now).unwrap() {
            LadderStep::Level(l) => seen.push((l.cycle, l.level, l.reached_at.to_string())),
            LadderStep::Exhausted(e) => {
                assert_eq!((e.reached, e.cycles, e.late), (6, 2, false));
                seen.push((99, 0, e.at.to_string()));
            }
        }
    }
    assert_eq!(
        seen,
        [
            (0, 2, "2026-03-09T10:15:00Z".to_owned()),
            (0, 3, "2026-03-09T10:30:00Z".to_owned()),
            (1, 1, "2026-03-09T11:00:00Z".to_owned()),
            (1, 2, "2026-03-09T11:15:00Z".to_owned()),
            (1, 3, "2026-03-09T11:30:00Z".to_owned()),
            (99, 0, "2026-03-09T12:00:00Z".to_owned()),
        ]
    );
    let run = set.run("major-incident").unwrap();
    assert_eq!(run.state(), LadderState::Exhausted);
    assert_eq!(run.ended().unwrap().at, now);
    assert_eq!(
        set.deadlines(&book).count(),
        0,
        "an exhausted ladder has no next step"
    );
    assert_eq!(
        set.fire(&book, "major-incident", 0, 6, now),
        Err(FireRefused::AlreadyFired)
    );
}

#[test]
fn a_level_reached_late_keeps_its_full_timeout_and_a_little_lag_is_on_time() {
    let book = book();
    let mut set = LadderSet::new();
    set.start(&book, "major-incident", "r", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    // A few milliseconds of scheduler lag is on time.
    let l = fire_next(&mut set, &book, ts("2026-03-09T10:15:00.400Z")).unwrap();
    assert!(!level(&l).late);
    // After downtime: reached late, and level 3 still gets its 15 minutes.
    let l = fire_next(&mut set, &book, ts("2026-03-09T12:00:00Z")).unwrap();
    let l = level(&l);
    assert_eq!(
        (l.level, l.late, l.due),
        (3, true, ts("2026-03-09T10:30:00.400Z"))
    );
    assert_eq!(l.next_at, Some(ts("2026-03-09T12:30:00Z")));
}

#[test]
fn a_business_time_ladder_waits_for_the_desk_to_open() {
    let book = book();
    let mut set = LadderSet::new();
    // Friday 16:00 in Paris (UTC+1 in early March): level 1 at once, then
    // two business hours: one on Friday, one on Monday morning.
    let first = set
        .start(&book, "desk", "unanswered", ts("2026-03-06T16:00:00+01:00"))
        .unwrap();
    assert_eq!(level(&first).target.team.as_deref(), Some("tier2"));
    assert_eq!(level(&first).next_at, Some(ts("2026-03-09T10:00:00+01:00")));
    assert_eq!(
        fire_next(&mut set, &book, ts("2026-03-07T12:00:00Z")),
        Err(FireRefused::NotDue {
            due: ts("2026-03-09T10:00:00+01:00")
        })
    );
    let second = fire_next(&mut set, &book, ts("2026-03-09T10:00:00+01:00")).unwrap();
    // One business hour from Monday 10:00: 11:00; then exhausted.
    assert_eq!(
        level(&second).next_at,
        Some(ts("2026-03-09T11:00:00+01:00"))
    );
}

#[test]
fn starting_a_running_ladder_does_nothing_and_a_later_start_is_a_new_run() {
    let book = book();
    let mut set = LadderSet::new();
    let t0 = ts("2026-03-09T10:00:00Z");
    set.start(&book, "major-incident", "first", t0).unwrap();
    let before = set.clone();
    assert_eq!(
        set.start(
            &book,
            "major-incident",
            "again",
            t0 + SignedDuration::from_mins(5)
        ),
        Err(StartRefused::AlreadyRunning("major-incident".into()))
    );
    assert_eq!(set, before, "refused starts change nothing");
    assert!(matches!(
        set.start(&book, "major-incidnet", "typo", t0),
        Err(StartRefused::UnknownLadder { suggestion: Some(s), .. }) if s == "major-incident"
    ));

    let end = LadderEnd {
        at: t0 + SignedDuration::from_mins(7),
        by: Some("ana".into()),
        note: None,
    };
    assert_eq!(
        set.stop(None, LadderState::Acknowledged, end),
        ["major-incident"]
    );
    assert_eq!(set.deadlines(&book).count(), 0);
    // The old run's deadline is refused; a new run starts over from level 1.
    assert_eq!(
        set.fire(
            &book,
            "major-incident",
            0,
            1,
            t0 + SignedDuration::from_mins(15)
        ),
        Err(FireRefused::Stale)
    );
    let again = set
        .start(
            &book,
            "major-incident",
            "second",
            t0 + SignedDuration::from_mins(20),
        )
        .unwrap();
    assert_eq!((level(&again).run, level(&again).level), (1, 1));
    assert_eq!(
        set.deadlines(&book).next().unwrap().key(),
        "ladder:major-incident:1:1"
    );
}

#[test]
fn steps_due_before_an_instant_fire_once_each() {
    let book = book();
    let mut set = LadderSet::new();
    set.start(&book, "major-incident", "r", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    // Exactly at the due instant: only when inclusive.
    assert!(
        set.fire_due(&book, ts("2026-03-09T10:15:00Z"), false)
            .is_empty()
    );
    assert_eq!(
        set.fire_due(&book, ts("2026-03-09T10:15:00Z"), true).len(),
        1
    );
    // Far later: one step (the next gets its full timeout from now).
    let steps = set.fire_due(&book, ts("2026-03-09T13:00:00Z"), false);
    assert_eq!(steps.len(), 1);
    assert!(level(&steps[0]).late);
}

#[test]
fn a_reload_stops_runs_of_removed_ladders_and_re_derives_timeouts() {
    let book = book();
    let mut set = LadderSet::new();
    set.start(&book, "major-incident", "r", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    set.start(&book, "desk", "r", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    let sla = SlaBook::from_toml(SLA).unwrap();
    let faster = LadderBook::from_toml(
        r#"
[ladders.major-incident]
[[ladders.major-incident.level]]
notify = "oncall-engineer"
after = "5m"
"#,
        &sla,
    )
    .unwrap();
    set.rebind(&faster, ts("2026-03-09T10:02:00Z"));
    assert_eq!(set.run("desk").unwrap().state(), LadderState::Stopped);
    assert!(set.is_running("major-incident"));
    let next: Vec<_> = set.deadlines(&faster).map(|d| (d.key(), d.due)).collect();
    assert_eq!(
        next,
        [(
            "ladder:major-incident:0:1".to_owned(),
            ts("2026-03-09T10:05:00Z")
        )]
    );
    // One level and no repeat now: the next step is exhaustion.
    assert!(matches!(
        fire_next(&mut set, &faster, ts("2026-03-09T10:05:00Z")),
        Ok(LadderStep::Exhausted(_))
    ));
}

#[test]
fn level_actions_are_escalate_route_assign_then_notify() {
    let book = book();
    let ladder = book.ladder("major-incident").unwrap();
    let names: Vec<_> = ladder
        .actions(2, "T-1", "outage")
        .iter()
        .map(|a| a.type_name())
        .collect();
    assert_eq!(names, ["action.escalate", "action.notify"]);
    let actions = ladder.actions(3, "T-1", "outage");
    let names: Vec<_> = actions.iter().map(|a| a.type_name()).collect();
    assert_eq!(names, ["action.assign", "action.notify"]);
    let Action::Notify(n) = &actions[1] else {
        panic!()
    };
    assert_eq!(n.channel, "head-of-support");
    assert!(
        n.message
            .starts_with("Major incident still unowned (ticket T-1"),
        "{}",
        n.message
    );
    for a in ladder.actions(2, "T-1", &"x".repeat(5000)) {
        a.validate().unwrap();
    }
}

#[test]
fn ladder_runs_are_small_and_round_trip() {
    let book = book();
    let mut set = LadderSet::new();
    set.start(&book, "major-incident", "Sev-1", ts("2026-03-09T10:00:00Z"))
        .unwrap();
    let json = serde_json::to_string(&set).unwrap();
    assert!(json.len() < 200, "{json}");
    assert_eq!(serde_json::from_str::<LadderSet>(&json).unwrap(), set);
    assert_eq!(serde_json::to_string(&LadderSet::new()).unwrap(), "{}");
}

fn err(src: &str) -> ConfigError {
    LadderBook::from_toml(src, &SlaBook::from_toml(SLA).unwrap()).unwrap_err()
}

#[test]
fn ladders_file_errors_name_the_key() {
    let e = err(
        "[ladders.x]\ncalendar = \"ofice\"\n[[ladders.x.level]]\nnotify = \"a\"\nafter = \"5m\"\n",
    );
    assert_eq!(
        (e.code, e.key.as_str(), e.line),
        (ConfigErrorCode::UnknownName, "ladders.x.calendar", 2)
    );
    assert!(e.message.contains("did you mean `office`?"), "{e}");

    let e = err("[ladders.x]\n[[ladders.x.level]]\nnotfy = \"a\"\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownKey, "ladders.x.level[0].notfy")
    );
    assert!(e.message.contains("did you mean `notify`?"), "{e}");

    let e = err("[ladders.x]\nrepet = 1\n[[ladders.x.level]]\nnotify = \"a\"\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownKey, "ladders.x.repet")
    );

    let e = err("[ladders.x]\n[[ladders.x.level]]\nnotify = \"a\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::MissingKey, "ladders.x.level[0].after")
    );

    let e = err("[ladders.x]\n[[ladders.x.level]]\nnotify = \"a\"\nafter = \"1M\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::InvalidValue, "ladders.x.level[0].after")
    );

    let e = err("[ladders.x]\n[[ladders.x.level]]\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::MissingKey, "ladders.x.level[0]")
    );

    let e = err("[ladders.x]\n[[ladders.x.level]]\ntier = 7\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::InvalidValue, "ladders.x.level[0].tier")
    );

    let e =
        err("[ladders.x]\n[[ladders.x.level]]\nteam = \"t\"\nmessage = \"m\"\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::InvalidValue, "ladders.x.level[0].message")
    );

    let e = err("[ladders.x]\nrepeat = 11\n[[ladders.x.level]]\nteam = \"t\"\nafter = \"5m\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::InvalidValue, "ladders.x.repeat")
    );

    let e = err("[ladders.x]\nlevel = []\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::InvalidValue, "ladders.x.level")
    );

    let e = err(
        "[ladders.\"has space\"]\n[[ladders.\"has space\".level]]\nteam = \"t\"\nafter = \"5m\"\n",
    );
    assert_eq!(e.code, ConfigErrorCode::InvalidValue);

    let e = err("[ladder.x]\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownKey, "ladder")
    );
    assert!(e.message.contains("did you mean `ladders`?"), "{e}");
}

#[test]
fn a_calendar_needs_the_sla_file_to_define_it() {
    let e = LadderBook::from_toml(
        "[ladders.x]\ncalendar = \"office\"\n[[ladders.x.level]]\nteam = \"t\"\nafter = \"5m\"\n",
        &SlaBook::default(),
    )
    .unwrap_err();
    assert_eq!(e.code, ConfigErrorCode::UnknownName);
    assert!(e.message.contains("defined in sla.toml"), "{e}");
}

#[test]
fn a_level_notifies_one_channel_or_several_each_once() {
    let src = "[ladders.x]\n[[ladders.x.level]]\nnotify = [\"oncall\", \"#room\"]\nafter = \"5m\"\n\
               [[ladders.x.level]]\nnotify = \"lead\"\nafter = \"5m\"\n";
    let book = LadderBook::from_toml(src, &SlaBook::from_toml(SLA).unwrap()).unwrap();
    let ladder = book.ladder("x").unwrap();
    let channels: Vec<String> = ladder
        .actions(1, "T-1", "why")
        .into_iter()
        .map(|a| match a {
            Action::Notify(n) => n.channel,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(channels, ["oncall", "#room"]);
    assert_eq!(ladder.actions(2, "T-1", "why").len(), 1);

    // Stored level events keep their single-string form, and lists round-trip.
    let one = ladder.level(2).unwrap().target.clone();
    assert_eq!(
        serde_json::to_value(&one).unwrap(),
        serde_json::json!({"notify": "lead"})
    );
    let two = ladder.level(1).unwrap().target.clone();
    let json = serde_json::to_value(&two).unwrap();
    assert_eq!(json, serde_json::json!({"notify": ["oncall", "#room"]}));
    assert_eq!(serde_json::from_value::<LevelTarget>(json).unwrap(), two);

    let e = LadderBook::from_toml(
        "[ladders.x]\n[[ladders.x.level]]\nnotify = [\"a\", \"a\"]\nafter = \"5m\"\n",
        &SlaBook::from_toml(SLA).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.code, ConfigErrorCode::Duplicate);
    assert_eq!(
        (e.key.as_str(), e.line),
        ("ladders.x.level[0].notify[1]", 3)
    );
    let e = LadderBook::from_toml(
        "[ladders.x]\n[[ladders.x.level]]\nnotify = []\nafter = \"5m\"\n",
        &SlaBook::from_toml(SLA).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.code, ConfigErrorCode::InvalidValue);
}
