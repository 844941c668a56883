//! Time as the host sees it (`capabilities.clock`, granted by default):
//! the time of the record being handled, so replays see the same time.
//! `std::time::SystemTime::now()` reads the same value (the Unix epoch if
//! the manifest sets `clock = false`); `Instant` stands still.

use crate::Timestamp;

/// Milliseconds since the Unix epoch.
pub fn now() -> Timestamp {
    crate::bindings::escalier::plugin::clock::now()
}

/// Parse an RFC 3339 UTC time as event data carries it
/// (`2026-03-02T09:15:00Z`, optional fraction) to milliseconds. Offsets
/// other than `Z` are refused: Escalier writes UTC.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &s[19..];
    let (frac, tz) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit())?;
            let digits = &r[..end];
            let ms = format!("{digits:0<3}")[..3].parse::<i64>().ok()?;
            (ms, &r[end..])
        }
        None => (0, rest),
    };
    if tz != "Z" {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + frac)
}
