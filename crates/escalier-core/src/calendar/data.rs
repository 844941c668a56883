//! The calendar data format (TOML) and [`ConfigError`], the error every
//! clock data file reports: a stable code, the dotted key at fault
//! (`calendars.eu-support.hours.wed[1]`), its line and column, and a
//! message a person can act on.
//!
//! ```toml
//! [calendars.eu-support]
//! time_zone = "Europe/Paris"
//! hours = { mon = ["09:00-17:00"], wed = ["09:00-12:00", "13:00-17:00"] }
//! holidays = ["2026-12-25", { date = "2026-12-24", hours = ["09:00-12:00"] }]
//!
//! [calendars.always]
//! always = true
//! ```
//!
//! The document is walked by hand over toml's spanned tree rather than
//! through serde derives: every error, including cross-checks such as
//! overlapping intervals, then points at the exact key, and unknown keys get
//! a "did you mean". `Node` and `Table` are shared with the SLA file.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Calendar;
use super::hours::{DayHours, Interval};

/// Which rule a data file broke. Stable: tools match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorCode {
    /// Not valid TOML.
    Syntax,
    /// A key this format does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// The value has the wrong TOML type.
    WrongType,
    /// The value has the right type but is not acceptable.
    InvalidValue,
    /// A name or date given twice.
    Duplicate,
    /// A reference to a calendar or policy that is not defined.
    UnknownName,
}

impl ConfigErrorCode {
    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigErrorCode::Syntax => "syntax",
            ConfigErrorCode::UnknownKey => "unknown_key",
            ConfigErrorCode::MissingKey => "missing_key",
            ConfigErrorCode::WrongType => "wrong_type",
            ConfigErrorCode::InvalidValue => "invalid_value",
            ConfigErrorCode::Duplicate => "duplicate",
            ConfigErrorCode::UnknownName => "unknown_name",
        }
    }
}

/// A data file error. `line` and `column` are 1-based (0 when unknown); the
/// caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub code: ConfigErrorCode,
    /// Dotted path of the key at fault; empty for the whole document.
    pub key: String,
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        if self.key.is_empty() {
            write!(f, "{}: {}", self.code.as_str(), self.message)
        } else {
            write!(
                f,
                "{} at `{}`: {}",
                self.code.as_str(),
                self.key,
                self.message
            )
        }
    }
}

/// Parse a document whose only table is `[calendars.*]`.
pub fn parse_calendars(src: &str) -> Result<BTreeMap<String, Calendar>, ConfigError> {
    let doc = Doc::parse(src)?;
    let root = doc.root()?;
    root.check_keys(&["calendars"])?;
    match root.get("calendars") {
        Some(node) => calendars(&node),
        None => Ok(BTreeMap::new()),
    }
}

/// Read the `calendars` table: one calendar per key.
pub(crate) fn calendars(node: &Node<'_, '_>) -> Result<BTreeMap<String, Calendar>, ConfigError> {
    let table = node.table()?;
    let mut out = BTreeMap::new();
    for (name, cal) in table.entries() {
        check_name(&cal, name)?;
        out.insert(name.to_owned(), calendar(&cal)?);
    }
    Ok(out)
}

/// Names of calendars and policies: short, no spaces, safe in keys and URLs.
pub(crate) fn check_name(node: &Node<'_, '_>, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{name}` is not a valid name: use 1 to 64 letters, digits, `-` or `_`"),
        ))
    }
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn calendar(node: &Node<'_, '_>) -> Result<Calendar, ConfigError> {
    let t = node.table()?;
    t.check_keys(&["time_zone", "always", "hours", "holidays"])?;
    let always = match t.get("always") {
        Some(n) => n.bool()?,
        None => false,
    };
    let tz = match t.get("time_zone") {
        Some(n) => {
            let name = n.str()?;
            TimeZone::get(name).map_err(|_| {
                n.error(
                    ConfigErrorCode::InvalidValue,
                    format!("`{name}` is not an IANA time zone name, e.g. Europe/Paris or America/New_York"),
                )
            })?
        }
        // A 24×7 calendar's zone only matters for reading holiday dates.
        None if always && t.get("holidays").is_none() => TimeZone::UTC,
        None => {
            return Err(t.node.error(
                ConfigErrorCode::MissingKey,
                "a calendar needs `time_zone` (an IANA name such as Europe/Paris, or UTC)"
                    .to_owned(),
            ));
        }
    };
    let mut cal = match (always, t.get("hours")) {
        (true, Some(h)) => {
            return Err(h.error(
                ConfigErrorCode::InvalidValue,
                "an `always = true` calendar is open 24×7; remove `hours` or `always`".to_owned(),
            ));
        }
        (true, None) => Calendar::always_in(tz),
        (false, Some(h)) => Calendar::new(tz, week(&h)?),
        (false, None) => {
            return Err(t.node.error(
                ConfigErrorCode::MissingKey,
                "a calendar needs `hours` (e.g. hours = { mon = [\"09:00-17:00\"] }) or `always = true`".to_owned(),
            ));
        }
    };
    if let Some(h) = t.get("holidays") {
        let mut seen: BTreeMap<Date, String> = BTreeMap::new();
        for item in h.array()? {
            let (date, hours) = holiday(&item)?;
            if let Some(first) = seen.insert(date, item.path.clone()) {
                return Err(item.error(
                    ConfigErrorCode::Duplicate,
                    format!("{date} is already listed at `{first}`"),
                ));
            }
            cal = cal.with_special(date, hours);
        }
    }
    Ok(cal)
}

fn week(node: &Node<'_, '_>) -> Result<[DayHours; 7], ConfigError> {
    let t = node.table()?;
    let names: Vec<&str> = DAYS.iter().map(|(n, _)| *n).collect();
    t.check_keys(&names)?;
    let mut week: [DayHours; 7] = Default::default();
    for (i, (name, _)) in DAYS.iter().enumerate() {
        if let Some(day) = t.get(name) {
            week[i] = day_hours(&day)?;
        }
    }
    Ok(week)
}

/// A list of `"HH:MM-HH:MM"`; an overlap is reported at the later item.
fn day_hours(node: &Node<'_, '_>) -> Result<DayHours, ConfigError> {
    let items = node.array()?;
    let mut ivs: Vec<Interval> = Vec::with_capacity(items.len());
    for item in &items {
        let text = item.str()?;
        let iv: Interval = text.parse().map_err(|e: super::HoursError| {
            item.error(ConfigErrorCode::InvalidValue, e.to_string())
        })?;
        if let Some(other) = ivs
            .iter()
            .find(|o| iv.start() < o.end() && o.start() < iv.end())
        {
            return Err(item.error(
                ConfigErrorCode::InvalidValue,
                format!("`{iv}` overlaps `{other}` on the same day"),
            ));
        }
        ivs.push(iv);
    }
    DayHours::new(ivs).map_err(|e| node.error(ConfigErrorCode::InvalidValue, e.to_string()))
}

/// `"2026-12-25"`, a TOML date `2026-12-25`, or
/// `{ date = "2026-12-24", hours = ["09:00-12:00"], name = "Christmas Eve" }`.
fn holiday(node: &Node<'_, '_>) -> Result<(Date, DayHours), ConfigError> {
    if let Ok(t) = node.table() {
        t.check_keys(&["date", "hours", "name"])?;
        let date = date(&t.required("date")?)?;
        let hours = match t.get("hours") {
            Some(h) => day_hours(&h)?,
            None => DayHours::closed(),
        };
        if let Some(n) = t.get("name") {
            n.str()?;
        }
        return Ok((date, hours));
    }
    Ok((date(node)?, DayHours::closed()))
}

fn date(node: &Node<'_, '_>) -> Result<Date, ConfigError> {
    let text = match node.value.get_ref() {
        DeValue::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => dt.to_string(),
        DeValue::String(s) => s.to_string(),
        _ => {
            return Err(node.error(
                ConfigErrorCode::WrongType,
                format!(
                    "expected a date such as \"2026-12-25\", found {}",
                    node.type_name()
                ),
            ));
        }
    };
    text.parse::<Date>().map_err(|_| {
        node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{text}` is not a date; write YYYY-MM-DD, e.g. 2026-12-25"),
        )
    })
}

/// A parsed TOML document, kept with its source for line numbers. Shared
/// with the other data files of the policies directory (`notify.toml`), so
/// every one reports errors the same way.
pub struct Doc<'i> {
    src: &'i str,
    root: Spanned<DeValue<'i>>,
}

impl<'i> Doc<'i> {
    pub fn parse(src: &'i str) -> Result<Doc<'i>, ConfigError> {
        let root = DeTable::parse(src).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(src, s.start)).unwrap_or((0, 0));
            ConfigError {
                code: ConfigErrorCode::Syntax,
                key: String::new(),
                message: e.message().to_owned(),
                line,
                column,
            }
        })?;
        let span = root.span();
        Ok(Doc {
            src,
            root: Spanned::new(span, DeValue::Table(root.into_inner())),
        })
    }

    /// The top-level table (a parsed document always is one).
    pub fn root(&self) -> Result<Table<'_, 'i>, ConfigError> {
        Node {
            path: String::new(),
            value: &self.root,
            src: self.src,
        }
        .table()
    }
}

/// A value in the document with its dotted path.
pub struct Node<'a, 'i> {
    pub path: String,
    value: &'a Spanned<DeValue<'i>>,
    src: &'a str,
}

impl<'a, 'i> Node<'a, 'i> {
    /// An error about this value, at its position.
    pub fn error(&self, code: ConfigErrorCode, message: String) -> ConfigError {
        self.error_at(code, message, self.value.span())
    }

    fn error_at(&self, code: ConfigErrorCode, message: String, span: Range<usize>) -> ConfigError {
        let (line, column) = line_col(self.src, span.start);
        ConfigError {
            code,
            key: self.path.clone(),
            message,
            line,
            column,
        }
    }

    fn type_name(&self) -> &'static str {
        match self.value.get_ref() {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a float",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date-time",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        }
    }

    fn wrong_type(&self, expected: &str) -> ConfigError {
        self.error(
            ConfigErrorCode::WrongType,
            format!("expected {expected}, found {}", self.type_name()),
        )
    }

    pub fn str(&self) -> Result<&'a str, ConfigError> {
        match self.value.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.wrong_type("a string")),
        }
    }

    pub fn bool(&self) -> Result<bool, ConfigError> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type("true or false")),
        }
    }

    /// A float or an integer, as f64.
    pub fn number(&self) -> Result<f64, ConfigError> {
        let parsed = match self.value.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) if i.radix() == 10 => {
                i.as_str().replace('_', "").parse::<f64>().ok()
            }
            _ => return Err(self.wrong_type("a number")),
        };
        parsed.ok_or_else(|| {
            self.error(
                ConfigErrorCode::InvalidValue,
                "not a finite number".to_owned(),
            )
        })
    }

    /// A whole number.
    pub fn integer(&self) -> Result<i64, ConfigError> {
        match self.value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                self.error(
                    ConfigErrorCode::InvalidValue,
                    "the number is too large".to_owned(),
                )
            }),
            _ => Err(self.wrong_type("a whole number")),
        }
    }

    pub fn array(&self) -> Result<Vec<Node<'a, 'i>>, ConfigError> {
        match self.value.get_ref() {
            DeValue::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    path: format!("{}[{i}]", self.path),
                    value: v,
                    src: self.src,
                })
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    pub fn table(&self) -> Result<Table<'a, 'i>, ConfigError> {
        match self.value.get_ref() {
            DeValue::Table(map) => Ok(Table {
                node: Node {
                    path: self.path.clone(),
                    value: self.value,
                    src: self.src,
                },
                map,
            }),
            _ => Err(self.wrong_type("a table")),
        }
    }
}

/// A table in the document.
pub struct Table<'a, 'i> {
    pub node: Node<'a, 'i>,
    map: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// Refuse keys not in `allowed`, suggesting the nearest one.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        for key in self.map.keys() {
            let k: &str = key.get_ref();
            if !allowed.contains(&k) {
                let hint = match crate::suggest::nearest(k, allowed.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                let mut err = self.node.error_at(
                    ConfigErrorCode::UnknownKey,
                    format!(
                        "unknown key `{k}`{hint} Accepted keys: {}",
                        allowed.join(", ")
                    ),
                    key.span(),
                );
                err.key = join(&self.node.path, k);
                return Err(err);
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<Node<'a, 'i>> {
        self.map.get(key).map(|value| Node {
            path: join(&self.node.path, key),
            value,
            src: self.node.src,
        })
    }

    pub fn required(&self, key: &str) -> Result<Node<'a, 'i>, ConfigError> {
        self.get(key).ok_or_else(|| {
            let mut err = self.node.error(
                ConfigErrorCode::MissingKey,
                format!("missing required key `{key}`"),
            );
            err.key = join(&self.node.path, key);
            err
        })
    }

    /// Entries in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Node<'a, 'i>)> + '_ {
        self.map.iter().map(|(k, value)| {
            let k: &'a str = k.get_ref();
            (
                k,
                Node {
                    path: join(&self.node.path, k),
                    value,
                    src: self.node.src,
                },
            )
        })
    }
}

/// `a` + `b` → `a.b`; keys that are not bare TOML keys are quoted.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> ConfigError {
        parse_calendars(src).unwrap_err()
    }

    #[test]
    fn reads_the_documented_example() {
        let cals = parse_calendars(
            r#"
[calendars.eu-support]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-12:00", "13:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
holidays = ["2026-12-25", { date = "2026-12-24", hours = ["09:00-12:00"] }, 2027-01-01]

[calendars.always]
always = true
"#,
        )
        .unwrap();
        let eu = &cals["eu-support"];
        assert_eq!(eu.time_zone().iana_name(), Some("Europe/Paris"));
        assert_eq!(
            eu.hours(Weekday::Wednesday).to_string(),
            "09:00-12:00, 13:00-17:00"
        );
        assert!(eu.hours(Weekday::Saturday).is_closed());
        assert!(eu.hours_on(Date::constant(2026, 12, 25)).is_closed());
        assert_eq!(
            eu.hours_on(Date::constant(2026, 12, 24)).to_string(),
            "09:00-12:00"
        );
        assert!(eu.hours_on(Date::constant(2027, 1, 1)).is_closed());
        assert_eq!(eu.weekly_business_time().as_hours(), 39);
        assert!(cals["always"].is_continuous());
    }

    #[test]
    fn overlapping_intervals_name_the_item() {
        let e = err(
            "[calendars.eu]\ntime_zone = \"UTC\"\nhours = { wed = [\"09:00-12:30\", \"12:00-17:00\"] }\n",
        );
        assert_eq!(e.code, ConfigErrorCode::InvalidValue);
        assert_eq!(e.key, "calendars.eu.hours.wed[1]");
        assert_eq!(
            e.message,
            "`12:00-17:00` overlaps `09:00-12:30` on the same day"
        );
        assert_eq!((e.line, e.column), (3, 33));
    }

    #[test]
    fn start_after_end_names_the_item() {
        let e = err("[calendars.eu]\ntime_zone = \"UTC\"\nhours = { mon = [\"17:00-09:00\"] }\n");
        assert_eq!(e.key, "calendars.eu.hours.mon[0]");
        assert!(e.message.contains("starts at or after its end"), "{e}");
        let e = err("[calendars.eu]\ntime_zone = \"UTC\"\nhours = { mon = [\"09:00-25:00\"] }\n");
        assert_eq!(e.key, "calendars.eu.hours.mon[0]");
        assert!(e.message.contains("`25:00` is not a time"), "{e}");
    }

    #[test]
    fn bad_time_zone_and_dates_name_the_key() {
        let e = err("[calendars.eu]\ntime_zone = \"Europe/Pariss\"\nhours = {}\n");
        assert_eq!(e.key, "calendars.eu.time_zone");
        assert!(
            e.message
                .contains("`Europe/Pariss` is not an IANA time zone"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (2, 13));

        let e =
            err("[calendars.eu]\ntime_zone = \"UTC\"\nhours = {}\nholidays = [\"2026-02-30\"]\n");
        assert_eq!(e.key, "calendars.eu.holidays[0]");
        assert!(e.message.contains("`2026-02-30` is not a date"), "{e}");

        let e = err(
            "[calendars.eu]\ntime_zone = \"UTC\"\nhours = {}\nholidays = [\"2026-12-25\", { date = \"2026-12-25\" }]\n",
        );
        assert_eq!(e.code, ConfigErrorCode::Duplicate);
        assert_eq!(e.key, "calendars.eu.holidays[1]");
        assert!(
            e.message
                .contains("already listed at `calendars.eu.holidays[0]`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_a_suggestion() {
        let e = err("[calendars.eu]\ntime_zone = \"UTC\"\nhours = { mon = [], thurs = [] }\n");
        assert_eq!(e.code, ConfigErrorCode::UnknownKey);
        assert_eq!(e.key, "calendars.eu.hours.thurs");
        assert!(e.message.contains("did you mean `thu`?"), "{e}");

        let e = err("[calendars.eu]\ntimezone = \"UTC\"\nhours = {}\n");
        assert_eq!(e.key, "calendars.eu.timezone");
        assert!(e.message.contains("did you mean `time_zone`?"), "{e}");
        assert_eq!((e.line, e.column), (2, 1));

        let e = err("[calendar.eu]\nalways = true\n");
        assert_eq!(e.key, "calendar");

        let e = err(
            "[calendars.eu]\ntime_zone = \"UTC\"\nhours = {}\nholidays = [{ date = \"2026-12-25\", hour = [] }]\n",
        );
        assert_eq!(e.key, "calendars.eu.holidays[0].hour");
    }

    #[test]
    fn wrong_types_and_missing_keys_are_named() {
        let e = err("[calendars.eu]\ntime_zone = \"UTC\"\nhours = { mon = \"09:00-17:00\" }\n");
        assert_eq!(e.code, ConfigErrorCode::WrongType);
        assert_eq!(e.key, "calendars.eu.hours.mon");
        assert_eq!(e.message, "expected an array, found a string");

        let e = err("[calendars.eu]\ntime_zone = \"UTC\"\n");
        assert_eq!(e.code, ConfigErrorCode::MissingKey);
        assert_eq!(e.key, "calendars.eu");

        let e = err("[calendars.eu]\nhours = {}\n");
        assert_eq!(e.code, ConfigErrorCode::MissingKey);
        assert!(e.message.contains("time_zone"), "{e}");

        let e = err("[calendars.eu]\nalways = true\nhours = {}\n");
        assert_eq!(e.key, "calendars.eu.hours");

        let e = err("[calendars.\"eu support\"]\nalways = true\n");
        assert_eq!(e.key, "calendars.\"eu support\"");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = err("[calendars.eu]\ntime_zone = \n");
        assert_eq!(e.code, ConfigErrorCode::Syntax);
        assert_eq!(e.line, 2);
    }
}
