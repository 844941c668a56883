//! The closed vocabularies of the field: ticket status, priority, channel,
//! support tier and comment author kind.
//!
//! Each is a small `Copy` enum with a stable lowercase string form used on
//! the wire, in policies and in the API.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! vocab {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parse the string form.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }

            /// The accepted names, for error messages.
            pub fn names() -> String {
                [$($s),+].join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocab!(
    /// Where a ticket is in its lifecycle.
    Status {
        /// Received, nobody has looked at it yet.
        New = "new",
        /// Being worked on.
        Open = "open",
        /// Waiting on the customer; SLA clocks pause.
        Pending = "pending",
        /// Waiting on a third party; SLA clocks pause.
        OnHold = "on_hold",
        /// Answered; may be reopened.
        Solved = "solved",
        /// Final. Accepts only CSAT.
        Closed = "closed",
    }
);

vocab!(
    /// How urgent the ticket is.
    Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
);

vocab!(
    /// Where the customer reached us. A public social post outranks a private message.
    Channel {
        Email = "email",
        Chat = "chat",
        Phone = "phone",
        Web = "web",
        SocialPublic = "social_public",
        SocialPrivate = "social_private",
        Api = "api",
    }
);

vocab!(
    /// Who wrote a comment.
    AuthorKind {
        Agent = "agent",
        Customer = "customer",
        System = "system",
    }
);

/// Support tier, 0 (self-service) to 4 (code fixes by engineering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tier(u8);

impl Tier {
    pub const MAX: u8 = 4;
    /// Frontline: where new tickets start unless the sender says otherwise.
    pub const FRONTLINE: Tier = Tier(1);

    pub fn new(n: i64) -> Result<Tier, String> {
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= Self::MAX)
            .map(Tier)
            .ok_or_else(|| format!("tier {n} is out of range; tiers are 0 to {}", Self::MAX))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Tier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        Tier::new(n).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_round_trips_its_string_form() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(Channel::parse("social_public"), Some(Channel::SocialPublic));
        assert_eq!(Priority::parse("URGENT"), None);
    }

    #[test]
    fn tiers_are_zero_to_four() {
        assert!(Tier::new(-1).is_err());
        assert!(Tier::new(5).is_err());
        assert_eq!(Tier::new(4).unwrap().get(), 4);
        assert!(serde_json::from_str::<Tier>("7").is_err());
    }
}
