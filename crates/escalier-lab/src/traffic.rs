//! Synthetic support traffic: a deterministic stream of valid events (as
//! tools send them) with their arrival times, for benchmarks and property
//! tests of replay.
//!
//! Tickets arrive, get comments from customers and agents, change status
//! (pending, on hold, solved, reopened, closed), priority, VIP flag and
//! refund amount, get acknowledged, and receive a CSAT after closing. Words
//! that the example policies react to (billing, crash, cancel, lawyer)
//! appear at realistic rates. Every event respects the lifecycle, so the
//! writer would accept all of them.
//!
//! The random numbers come from SplitMix64, written out here: the stream
//! must not change when a dependency's generator does, or recorded
//! benchmark figures and regressions stop being comparable.

use escalier_core::event::Origin;
use escalier_core::{Event, Timestamp};
use jiff::SignedDuration;
use serde_json::{Value, json};

/// Shape of the traffic.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub seed: u64,
    pub start: Timestamp,
    /// Tickets open at once (new ones arrive as others close).
    pub open_tickets: usize,
    /// Mean time between two events, over all tickets.
    pub mean_gap: SignedDuration,
    /// Prefix of ticket ids (`G-17`) and event ids (`g-17`).
    pub prefix: String,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            seed: 1,
            start: Timestamp::constant(1_773_039_600, 0), // Monday 2026-03-09T07:00:00Z
            open_tickets: 2_000,
            mean_gap: SignedDuration::from_secs(3),
            prefix: "G".into(),
        }
    }
}

/// The status a generated ticket is in, as far as the generator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Open,
    Pending,
    Solved,
    Closed,
}

struct GenTicket {
    id: String,
    life: Life,
    /// Events left before it heads for resolution.
    left: u32,
    vip: bool,
    urgent: bool,
    rated: bool,
}

/// An endless iterator of (event, arrival time).
pub struct Generator {
    opts: GenOptions,
    rng: SplitMix,
    now: Timestamp,
    tickets: Vec<GenTicket>,
    next_ticket: u64,
    next_event: u64,
}

impl Generator {
    pub fn new(opts: GenOptions) -> Generator {
        Generator {
            rng: SplitMix(opts.seed),
            now: opts.start,
            tickets: Vec::new(),
            next_ticket: 0,
            next_event: 0,
            opts,
        }
    }

    fn event(&mut self, ticket: &str, ty: &str, data: Value) -> (Event, Timestamp) {
        self.next_event += 1;
        let id = format!("{}-{}", self.opts.prefix.to_lowercase(), self.next_event);
        let json = json!({"id": id, "type": ty, "ticket_id": ticket, "occurred_at": self.now, "data": data});
        match Event::decode_one(&json.to_string(), Origin::External) {
            Ok(e) => (e, self.now),
            // The generator only builds valid events; a failure is a bug here.
            Err(r) => panic!("generated an invalid {ty}: {r}: {json}"),
        }
    }

    fn create(&mut self) -> (Event, Timestamp) {
        self.next_ticket += 1;
        let id = format!("{}-{}", self.opts.prefix, self.next_ticket);
        let r = &mut self.rng;
        let subject = *r.pick(SUBJECTS);
        let channel = *r.pick(&[
            "email",
            "email",
            "email",
            "chat",
            "web",
            "phone",
            "social_public",
            "api",
        ]);
        let priority = *r.pick(&[
            "low", "normal", "normal", "normal", "normal", "high", "high", "urgent",
        ]);
        let vip = r.chance(5);
        let plan = *r.pick(&["free", "pro", "pro", "enterprise"]);
        let mut data = json!({
            "subject": subject,
            "description": r.pick(DESCRIPTIONS),
            "requester": {"id": format!("cust-{}", r.below(50_000)), "plan": plan, "vip": vip},
            "channel": channel,
            "priority": priority,
        });
        if r.chance(20) {
            data["fields"] = json!({"refund_amount": 20 + r.below(780)});
        }
        if r.chance(10) {
            data["tags"] = json!(["outage"]);
        }
        let left = 2 + r.below(12) as u32;
        self.tickets.push(GenTicket {
            id: id.clone(),
            life: Life::Open,
            left,
            vip,
            urgent: priority == "urgent",
            rated: false,
        });
        self.event(&id, "ticket.created", data)
    }

    /// The next event for the ticket at `i`.
    fn follow_up(&mut self, i: usize) -> (Event, Timestamp) {
        let r = &mut self.rng;
        let t = &mut self.tickets[i];
        let id = t.id.clone();
        let (ty, data) = match t.life {
            Life::Closed => {
                t.rated = true;
                let score = 1 + r.below(5);
                (
                    "csat.received",
                    json!({"score": score, "comment": r.pick(&["thanks", "slow", "ok", "great"])}),
                )
            }
            Life::Solved if r.chance(15) => {
                t.life = Life::Open;
                t.left = 1 + r.below(4) as u32;
                (
                    "status.changed",
                    json!({"status": "open", "reason": "customer replied"}),
                )
            }
            Life::Solved => {
                t.life = Life::Closed;
                ("status.changed", json!({"status": "closed"}))
            }
            _ if t.left == 0 => {
                t.life = Life::Solved;
                ("status.changed", json!({"status": "solved"}))
            }
            Life::Pending => {
                t.left -= 1;
                t.life = Life::Open;
                if r.chance(50) {
                    ("status.changed", json!({"status": "open"}))
                } else {
                    t.life = Life::Pending;
                    (
                        "comment.added",
                        json!({"author": {"kind": "customer"}, "body": r.pick(CUSTOMER_WORDS)}),
                    )
                }
            }
            Life::Open => {
                t.left -= 1;
                match r.below(100) {
                    0..35 => (
                        "comment.added",
                        json!({"author": {"kind": "agent", "id": format!("agent-{}", r.below(40))}, "body": "Thanks, looking into it."}),
                    ),
                    35..65 => (
                        "comment.added",
                        json!({"author": {"kind": "customer"}, "body": r.pick(CUSTOMER_WORDS)}),
                    ),
                    65..72 => {
                        t.life = Life::Pending;
                        (
                            "status.changed",
                            json!({"status": *r.pick(&["pending", "on_hold"])}),
                        )
                    }
                    72..77 => ("status.changed", json!({"status": "open"})),
                    77..82 => {
                        t.urgent = !t.urgent;
                        let p = if t.urgent { "urgent" } else { "high" };
                        ("ticket.updated", json!({"priority": p}))
                    }
                    82..86 => {
                        t.vip = !t.vip;
                        let cust = format!("cust-{}", r.below(50_000));
                        (
                            "ticket.updated",
                            json!({"requester": {"id": cust, "vip": t.vip}}),
                        )
                    }
                    86..92 => (
                        "ticket.updated",
                        json!({"fields": {"refund_amount": 20 + r.below(780)}}),
                    ),
                    92..96 => (
                        "ticket.assigned",
                        json!({"team": *r.pick(&["billing", "technical", "tier-2"]), "agent": format!("agent-{}", r.below(40))}),
                    ),
                    _ => (
                        "ladder.acknowledged",
                        json!({"by": format!("agent-{}", r.below(40))}),
                    ),
                }
            }
        };
        self.event(&id, ty, data)
    }
}

impl Iterator for Generator {
    type Item = (Event, Timestamp);

    fn next(&mut self) -> Option<(Event, Timestamp)> {
        let mean = self.opts.mean_gap.as_millis().max(1) as u64;
        let gap = self.rng.below(2 * mean + 1);
        self.now = self
            .now
            .checked_add(SignedDuration::from_millis(gap as i64))
            .ok()?;
        let short = self.tickets.len() < self.opts.open_tickets;
        if self.tickets.is_empty() || (short && self.rng.chance(35)) {
            return Some(self.create());
        }
        let i = self.rng.below(self.tickets.len() as u64) as usize;
        // Not every customer rates: some closed tickets just leave.
        if self.tickets[i].life == Life::Closed && self.rng.chance(40) {
            self.tickets.swap_remove(i);
            return Some(self.create());
        }
        let next = self.follow_up(i);
        if self.tickets[i].rated {
            self.tickets.swap_remove(i);
        }
        Some(next)
    }
}

const SUBJECTS: &[&str] = &[
    "Wrong invoice",
    "Charged twice this month",
    "The app crashes on start",
    "Error 500 when saving",
    "Please cancel my subscription",
    "How do I export my data?",
    "Password reset mail never arrives",
    "Feature question",
    "Refund for last order",
    "Login not working",
    "Thank you!",
    "Change of address",
];

const DESCRIPTIONS: &[&str] = &[
    "",
    "It started yesterday.",
    "See the screenshot attached.",
    "This is the third time I write.",
    "My lawyer says this is not acceptable.",
    "We are switching to another provider if this goes on.",
];

const CUSTOMER_WORDS: &[&str] = &[
    "Any news?",
    "Still broken.",
    "Thanks, that worked.",
    "I want to cancel if this is not fixed today.",
    "I will file a chargeback.",
    "Could you call me back?",
    "Here are the steps to reproduce.",
];

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_valid_for_the_lifecycle_and_repeats_exactly() {
        let opts = GenOptions {
            open_tickets: 50,
            ..GenOptions::default()
        };
        let a: Vec<(Event, Timestamp)> = Generator::new(opts.clone()).take(3_000).collect();
        let b: Vec<(Event, Timestamp)> = Generator::new(opts).take(3_000).collect();
        assert_eq!(a, b);
        let mut status = std::collections::HashMap::new();
        for (e, _) in &a {
            let next = escalier_core::reduce::check_transition(
                status.get(e.ticket_id.as_str()).copied(),
                e,
            )
            .unwrap_or_else(|r| panic!("{e}: {r}"));
            status.insert(e.ticket_id.as_str().to_owned(), next);
        }
        let types: std::collections::BTreeSet<&str> =
            a.iter().map(|(e, _)| e.type_name()).collect();
        assert!(types.len() >= 7, "{types:?}");
        assert!(
            a.windows(2).all(|w| w[0].1 <= w[1].1),
            "times never go back"
        );
    }
}
