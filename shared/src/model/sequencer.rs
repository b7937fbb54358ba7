//! The S3 event `sequencer`: hex text whose order, once left-padded to equal length, is the order
//! of the events for one key. A record keeps the sequencer of the event that set its content, so
//! late and repeated events can be recognised.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Width that sequencers are padded to before comparing; S3's are 16–20 hex digits today.
const SEQUENCER_WIDTH: usize = 32;

/// A normalised sequencer (upper case, left-padded with zeros); comparing two compares the
/// events they came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequencer(String);

impl Sequencer {
    /// Normalises a sequencer; `None` if it is not hex or too long.
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.len() > SEQUENCER_WIDTH
            || !trimmed.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(Sequencer(format!(
            "{:0>width$}",
            trimmed.to_ascii_uppercase(),
            width = SEQUENCER_WIDTH
        )))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Sequencer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sequencer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Sequencer::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a sequencer: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_compare_after_padding() {
        let short = Sequencer::parse("FF").unwrap();
        let long = Sequencer::parse("0100").unwrap();
        assert!(short < long, "0xFF < 0x100 once padded");
        assert_eq!(
            Sequencer::parse("0055b6b8f0a1"),
            Sequencer::parse("55B6B8F0A1")
        );
        assert!(
            Sequencer::parse("0055B6B8F0A1").unwrap() < Sequencer::parse("0055B6B8F0A2").unwrap()
        );
        assert_eq!(Sequencer::parse("xyz"), None);
        assert_eq!(Sequencer::parse(""), None);
    }

    #[test]
    fn the_stored_form_reads_back_as_the_same_sequencer() {
        let s = Sequencer::parse("0A").unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Sequencer>(&text).unwrap(), s);
    }
}
