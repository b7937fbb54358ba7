//! JSON parsing that refuses an object naming the same key twice.
//!
//! RFC 8259 leaves duplicate keys to the parser; `serde_json` keeps the last one silently, so
//! `{"name": "a.txt", "name": "../x"}` would mean something different to Stowage than to a
//! proxy or validator in front of it that keeps the first. Stowage answers `400` instead.
//! Nesting is bounded by `serde_json`'s recursion limit (128), which also answers `400`.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses one JSON document (and nothing after it but whitespace).
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(A::Error::custom(format!(
                    "the key \"{shown}\" appears twice in one object"
                )));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn parses_like_serde_json() {
        let text = br#" {"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": "\u00e9"} "#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_slice::<serde_json::Value>(text).unwrap()
        );
        assert_eq!(parse(b"18446744073709551615").unwrap(), json!(u64::MAX));
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            &br#"{"name": "a", "name": "b"}"#[..],
            br#"{"metadata": {"k": 1, "k": 1}}"#,
            br#"[{"x": {"y": [{"z": 1, "z": 2}]}}]"#,
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("appears twice"), "{err}");
        }
        // The same key in sibling objects is fine.
        assert!(parse(br#"[{"k": 1}, {"k": 2}]"#).is_ok());
    }

    #[test]
    fn trailing_data_deep_nesting_and_bad_utf8_are_errors() {
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"\"\xff\"").is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(deep.as_bytes()).is_err());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(ok.as_bytes()).is_ok());
    }
}
