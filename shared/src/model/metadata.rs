//! `metadata`: a free JSON object with limits on keys, size and depth, stored as JSON text; and
//! the RFC 7396 merge patch that `PATCH` applies to it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::FieldError;

/// Most keys in `metadata`.
pub(crate) const MAX_METADATA_KEYS: usize = 256;
/// Longest `metadata` key, in bytes.
pub(crate) const MAX_METADATA_KEY_BYTES: usize = 128;
/// Largest `metadata` object, serialized as compact JSON, in bytes.
pub(crate) const MAX_METADATA_BYTES: usize = 10_240;
/// Deepest nesting of objects and arrays in `metadata` (the whole object is level 1): the
/// depth DynamoDB allows in a document attribute, and far more than labels need.
pub(crate) const MAX_METADATA_DEPTH: usize = 32;

/// A free JSON object: at most 256 keys, keys at most 128 bytes, at most 10,240 bytes as JSON.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Applies the metadata limits.
    pub fn parse(value: Map<String, Value>) -> Result<Self, FieldError> {
        if value.len() > MAX_METADATA_KEYS {
            return Err(FieldError::new("metadata", "must have at most 256 keys"));
        }
        if let Some(key) = value.keys().find(|key| key.len() > MAX_METADATA_KEY_BYTES) {
            let shown: String = key.chars().take(32).collect();
            return Err(FieldError::new(
                "metadata",
                format!("key '{shown}…' is longer than 128 bytes"),
            ));
        }
        if depth_below(&value) > MAX_METADATA_DEPTH {
            return Err(FieldError::new(
                "metadata",
                format!("nests objects and arrays deeper than {MAX_METADATA_DEPTH} levels"),
            ));
        }
        let size = serde_json::to_vec(&value)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_METADATA_BYTES {
            return Err(FieldError::new(
                "metadata",
                format!("is {size} bytes as JSON; the limit is 10240"),
            ));
        }
        Ok(Metadata(value))
    }

    /// The object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// How many levels of objects and arrays `map`'s values nest (a flat object is 1).
fn depth_below(map: &Map<String, Value>) -> usize {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + map.values().map(depth).max().unwrap_or(0)
}

/// Serde adapter that stores [`Metadata`] as JSON text.
pub(super) mod as_text {
    use super::Metadata;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Metadata, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&value.0).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text)
            .map(Metadata)
            .map_err(serde::de::Error::custom)
    }
}

/// A JSON merge patch (RFC 7396) for `metadata`, as a `PATCH` body carries it: applied to the
/// current metadata, and the result checked with [`Metadata::parse`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MetadataPatch(Map<String, Value>);

impl MetadataPatch {
    /// A patch; nothing is checked until it is applied.
    pub fn new(patch: Map<String, Value>) -> Self {
        MetadataPatch(patch)
    }

    /// `current` with this patch applied, checked against the metadata limits.
    pub(crate) fn apply(&self, current: &Metadata) -> Result<Metadata, FieldError> {
        let mut target = Value::Object(current.0.clone());
        merge_patch(&mut target, Value::Object(self.0.clone()));
        match target {
            Value::Object(map) => Metadata::parse(map),
            _ => Ok(Metadata::default()),
        }
    }
}

/// RFC 7396 JSON merge patch of `patch` onto `target`.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(&key);
        } else {
            merge_patch(map.entry(key).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn metadata_enforces_key_count_key_length_and_total_size() {
        let ok = json!({"a": 1, "nested": {"deep": [1, 2, {"x": null}]}});
        assert!(Metadata::parse(ok.as_object().unwrap().clone()).is_ok());

        let many: Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!(1))).collect();
        assert!(Metadata::parse(many).is_err());

        let mut long_key = Map::new();
        long_key.insert("k".repeat(129), json!(1));
        assert!(Metadata::parse(long_key).is_err());
        let mut edge_key = Map::new();
        edge_key.insert("k".repeat(128), json!(1));
        assert!(Metadata::parse(edge_key).is_ok());

        let mut big = Map::new();
        big.insert("blob".into(), json!("x".repeat(10_240)));
        assert!(Metadata::parse(big).is_err());
        let mut edge = Map::new();
        // {"blob":"…"} adds 11 bytes around the value.
        edge.insert("blob".into(), json!("x".repeat(10_240 - 11)));
        assert!(Metadata::parse(edge).is_ok());
    }

    #[test]
    fn metadata_nests_at_most_32_levels() {
        // `{"k": <levels - 1 nested arrays>}` nests `levels` deep.
        let nested = |levels: usize| {
            let text = format!(
                "{{\"k\": {}{}}}",
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            );
            serde_json::from_str::<Map<String, Value>>(&text).unwrap()
        };
        assert!(Metadata::parse(nested(32)).is_ok());
        let err = Metadata::parse(nested(33)).unwrap_err();
        assert!(err.message.contains("deeper than 32"), "{err}");
        assert!(Metadata::parse(Map::new()).is_ok());
    }

    #[test]
    fn metadata_round_trips_through_its_stored_text_form() {
        #[derive(Serialize, Deserialize)]
        struct Holder {
            #[serde(with = "as_text")]
            m: Metadata,
        }
        let m =
            Metadata::parse(json!({"a": [1, {"b": "c"}]}).as_object().unwrap().clone()).unwrap();
        let stored = serde_json::to_value(Holder { m: m.clone() }).unwrap();
        assert!(stored["m"].is_string());
        let back: Holder = serde_json::from_value(stored).unwrap();
        assert_eq!(back.m, m);
    }

    #[test]
    fn merge_patches_add_replace_and_remove_keys_at_any_depth() {
        let current = Metadata::parse(
            json!({"a": 1, "b": {"c": 2, "d": 3}})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        let patch = MetadataPatch::new(
            json!({"a": null, "b": {"c": null, "e": 4}, "f": [1]})
                .as_object()
                .unwrap()
                .clone(),
        );
        let merged = patch.apply(&current).unwrap();
        assert_eq!(
            Value::Object(merged.as_map().clone()),
            json!({"b": {"d": 3, "e": 4}, "f": [1]})
        );
    }
}
