//! DynamoDB's data model: attribute values, numbers, key encoding, sizes.

pub mod base64;
pub mod key;
pub mod number;

use std::collections::BTreeMap;

use nimbus_core::AwsError;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{invalid_parameter, serialization, validation, Result};
pub use number::Number;

/// An item: attribute name to value. Ordered, so output is deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// Documents nest 32 levels deep counting the attribute as level 1: at most
/// 31 maps or lists inside a top-level value.
const MAX_DEPTH: usize = 31;

/// Items and their attributes may not exceed 400 KB.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// AWS validates attribute values in one of two layers, depending on the
/// operation, and the two word some errors differently: PutItem, UpdateItem,
/// DeleteItem, GetItem, BatchGetItem and Query run the current one;
/// BatchWriteItem, the transactions and Scan the older one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Current,
    Older,
}

#[derive(Clone, Debug)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(Item),
    L(Vec<AttributeValue>),
    SS(Vec<String>),
    NS(Vec<Number>),
    BS(Vec<Vec<u8>>),
}

use AttributeValue as AV;

impl AttributeValue {
    /// The type descriptor as AWS spells it (`S`, `BOOL`, `NS`…).
    pub fn type_name(&self) -> &'static str {
        match self {
            AV::S(_) => "S",
            AV::N(_) => "N",
            AV::B(_) => "B",
            AV::Bool(_) => "BOOL",
            AV::Null => "NULL",
            AV::M(_) => "M",
            AV::L(_) => "L",
            AV::SS(_) => "SS",
            AV::NS(_) => "NS",
            AV::BS(_) => "BS",
        }
    }

    /// Parse one DynamoDB-JSON value (`{"S": "x"}`) from a request.
    pub fn from_json(value: &Value) -> Result<Self> {
        parse_value(value, 0, Layer::Current)
    }

    pub fn from_json_in(value: &Value, layer: Layer) -> Result<Self> {
        parse_value(value, 0, layer)
    }

    /// Bytes DynamoDB counts for this value (not counting its name).
    pub fn size(&self) -> usize {
        match self {
            AV::S(s) => s.len(),
            AV::N(n) => n.storage_size(),
            AV::B(b) => b.len(),
            AV::Bool(_) | AV::Null => 1,
            AV::SS(v) => v.iter().map(String::len).sum(),
            AV::NS(v) => v.iter().map(Number::storage_size).sum(),
            AV::BS(v) => v.iter().map(Vec::len).sum(),
            AV::L(v) => 3 + v.iter().map(|e| 1 + e.size()).sum::<usize>(),
            AV::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + e.size()).sum::<usize>(),
        }
    }

    /// The value's text as AWS prints it inside messages such as
    /// `AttributeValue: {N:5}` (scalars plainly, documents as JSON).
    pub fn display_scalar(&self) -> String {
        match self {
            AV::S(s) => s.clone(),
            AV::N(n) => n.to_string(),
            AV::B(b) => base64::encode(b),
            AV::Bool(b) => b.to_string(),
            AV::Null => "true".into(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// Equality as DynamoDB compares: sets ignore order.
impl PartialEq for AttributeValue {
    fn eq(&self, other: &Self) -> bool {
        fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        }
        match (self, other) {
            (AV::S(a), AV::S(b)) => a == b,
            (AV::N(a), AV::N(b)) => a == b,
            (AV::B(a), AV::B(b)) => a == b,
            (AV::Bool(a), AV::Bool(b)) => a == b,
            (AV::Null, AV::Null) => true,
            (AV::M(a), AV::M(b)) => a == b,
            (AV::L(a), AV::L(b)) => a == b,
            (AV::SS(a), AV::SS(b)) => same_set(a, b),
            (AV::NS(a), AV::NS(b)) => same_set(a, b),
            (AV::BS(a), AV::BS(b)) => same_set(a, b),
            _ => false,
        }
    }
}

/// Whether any attribute nests documents deeper than DynamoDB allows (an
/// update can build what a single request value could not).
pub fn too_deep(item: &Item) -> bool {
    fn depth(v: &AV) -> usize {
        match v {
            AV::M(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            AV::L(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    item.values().any(|v| depth(v) > MAX_DEPTH)
}

pub const NESTING_TOO_DEEP: &str =
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";

/// Attribute names, top-level or map keys at any depth, are under 64 KB.
const MAX_NAME_BYTES: usize = 65_535;

pub fn check_attribute_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_BYTES {
        return Err(validation("Attribute name is too large, must be less than 65536 bytes"));
    }
    Ok(())
}

/// Total bytes of an item as DynamoDB counts them: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value.size()).sum()
}

/// A number as `layer` reads it: the older layer, like Java's BigDecimal,
/// has no colon for an empty string and wraps an exponent past 32 bits.
fn parse_number(text: &str, layer: Layer) -> Result<Number> {
    if layer == Layer::Older {
        if text.is_empty() {
            return Err(validation("The parameter cannot be converted to a numeric value"));
        }
        let exponent = text.split_once(['e', 'E']).and_then(|(_, e)| e.parse::<i64>().ok());
        let int_len = text.split(['e', 'E', '.']).next().map_or(0, |i| i.trim_start_matches(['-', '+']).len()) as i64;
        if exponent.is_some_and(|e| e + int_len > i32::MAX as i64) {
            return Err(validation(number::UNDERFLOW));
        }
    }
    Number::parse(text).map_err(validation)
}

fn parse_value(value: &Value, depth: usize, layer: Layer) -> Result<AV> {
    if depth > MAX_DEPTH {
        return Err(validation(NESTING_TOO_DEEP));
    }
    let Value::Object(map) = value else {
        return Err(serialization(unexpected(value, "Structure")));
    };
    let mut found: Option<AV> = None;
    let mut count = 0;
    for (kind, inner) in map {
        if inner.is_null() {
            continue;
        }
        let parsed = match kind.as_str() {
            "S" => AV::S(string(inner)?.to_owned()),
            "N" => AV::N(parse_number(string(inner)?, layer)?),
            "B" => AV::B(base64::decode(string(inner)?).map_err(serialization)?),
            "BOOL" => AV::Bool(boolean(inner)?),
            "NULL" => {
                if !boolean(inner)? {
                    return Err(invalid_parameter("Null attribute value types must have the value of true"));
                }
                AV::Null
            }
            "M" => {
                let Value::Object(entries) = inner else {
                    return Err(serialization(unexpected(inner, "Map")));
                };
                let mut item = Item::new();
                for (k, v) in entries {
                    check_attribute_name(k)?;
                    item.insert(k.clone(), parse_value(v, depth + 1, layer)?);
                }
                AV::M(item)
            }
            "L" => AV::L(list(inner)?.iter().map(|v| parse_value(v, depth + 1, layer)).collect::<Result<_>>()?),
            "SS" => {
                let items = list(inner)?.iter().map(|v| string(v).map(str::to_owned)).collect::<Result<Vec<_>>>()?;
                check_set(&items, SetKind::String, layer, |s| s.as_bytes().to_vec(), |s| s.clone())?;
                // DynamoDB keeps set members in its own order: bytewise, numbers by value.
                let mut items = items;
                items.sort();
                AV::SS(items)
            }
            "NS" => {
                let raw = list(inner)?.iter().map(string).collect::<Result<Vec<_>>>()?;
                let items = raw.iter().map(|s| parse_number(s, layer)).collect::<Result<Vec<_>>>()?;
                check_set(&items, SetKind::Number, layer, |_| Vec::new(), |n| n.to_string())?;
                let mut items = items;
                items.sort();
                AV::NS(items)
            }
            "BS" => {
                let items = list(inner)?
                    .iter()
                    .map(|v| base64::decode(string(v)?).map_err(serialization))
                    .collect::<Result<Vec<_>>>()?;
                if items.is_empty() {
                    return Err(invalid_parameter("Binary sets should not be empty"));
                }
                check_set(&items, SetKind::Binary, layer, |b| b.clone(), |b| base64::encode(b))?;
                let mut items = items;
                items.sort();
                AV::BS(items)
            }
            _ => continue,
        };
        count += 1;
        found.get_or_insert(parsed);
    }
    match (found, count) {
        (None, _) => {
            Err(validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"))
        }
        (Some(_), n) if n > 1 => Err(validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
        )),
        (Some(v), _) => Ok(v),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetKind {
    String,
    Number,
    Binary,
}

/// Sets may be neither empty nor hold a member twice; the duplicate message
/// differs by set type and validation layer, as AWS's do.
fn check_set<T: PartialEq>(
    items: &[T],
    kind: SetKind,
    layer: Layer,
    sort_key: impl Fn(&T) -> Vec<u8>,
    show: impl Fn(&T) -> String,
) -> Result<()> {
    if items.is_empty() {
        let name = if kind == SetKind::String { "string" } else { "number" };
        return Err(invalid_parameter(format!("An {name} set  may not be empty")));
    }
    let Some(repeat) = (1..items.len()).find(|&i| items[..i].contains(&items[i])) else {
        return Ok(());
    };
    let listed: Vec<String> = match layer {
        Layer::Older => items.iter().map(&show).collect(),
        // The current layer lists the members before the repeat in byte
        // order, then the repeat, then the rest as sent, each quoted.
        Layer::Current => {
            let mut before: Vec<&T> = items[..repeat].iter().collect();
            before.sort_by_key(|x| sort_key(x));
            before.into_iter().chain(&items[repeat..]).map(|x| format!("\"{}\"", show(x))).collect()
        }
    };
    let message = match (kind, layer) {
        (SetKind::Number, Layer::Older) => return Err(validation("Input collection contains duplicates")),
        (SetKind::Number, Layer::Current) => "Input collection contains duplicates.".to_owned(),
        (SetKind::Binary, Layer::Older) => {
            format!("Input collection [{}]of type BS contains duplicates.", listed.join(", "))
        }
        (SetKind::Binary, Layer::Current) => {
            format!("Input collection [{}]of type BS contains duplicates.", listed.join(","))
        }
        (SetKind::String, _) => format!("Input collection [{}] contains duplicates.", listed.join(", ")),
    };
    Err(invalid_parameter(message))
}

/// The SerializationException text for a JSON value of the wrong shape,
/// worded as AWS's deserializer words it. `wanted` is the shape's kind:
/// String, Boolean, Integer, List, Map or Structure.
pub fn unexpected(value: &Value, wanted: &str) -> String {
    match (value, wanted) {
        (Value::Array(_), _) => "Start of list found where not expected".into(),
        (Value::Object(_), _) => "Start of structure or map found where not expected.".into(),
        (_, "List") => "Expected list or null".into(),
        (_, "Map") => "Expected map or null".into(),
        (_, "Structure") => "Expected null".into(),
        (Value::String(_), _) => format!("STRING_VALUE cannot be converted to {wanted}"),
        (Value::Bool(true), _) => format!("TRUE_VALUE cannot be converted to {wanted}"),
        (Value::Bool(false), _) => format!("FALSE_VALUE cannot be converted to {wanted}"),
        (Value::Number(_), _) => format!("NUMBER_VALUE cannot be converted to {wanted}"),
        (Value::Null, _) => format!("null cannot be converted to {wanted}"),
    }
}

fn string(v: &Value) -> Result<&str> {
    v.as_str().ok_or_else(|| serialization(unexpected(v, "String")))
}

fn boolean(v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| serialization(unexpected(v, "Boolean")))
}

fn list(v: &Value) -> Result<&Vec<Value>> {
    v.as_array().ok_or_else(|| serialization(unexpected(v, "List")))
}

/// Parse an item (attribute map) from a request.
pub fn item_from_json(value: &Value) -> Result<Item> {
    item_from_json_in(value, Layer::Current)
}

pub fn item_from_json_in(value: &Value, layer: Layer) -> Result<Item> {
    let Value::Object(map) = value else {
        return Err(serialization(unexpected(value, "Map")));
    };
    // An empty attribute name is refused before any value is read.
    if map.contains_key("") {
        return Err(validation("Empty attribute name"));
    }
    let mut item = Item::new();
    for (name, v) in map {
        check_attribute_name(name)?;
        item.insert(name.clone(), parse_value(v, 0, layer)?);
    }
    Ok(item)
}

/// Decode an item this crate stored (trusted, already validated).
pub fn item_from_stored(bytes: &[u8]) -> Result<Item, AwsError> {
    let value: Value = serde_json::from_slice(bytes).map_err(crate::error::internal)?;
    item_from_json(&value)
}

pub fn item_to_stored(item: &Item) -> Vec<u8> {
    serde_json::to_vec(item).unwrap_or_default()
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct Seq<'a, T, F: Fn(&T) -> String>(&'a [T], F);
        impl<T, F: Fn(&T) -> String> Serialize for Seq<'_, T, F> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for x in self.0 {
                    seq.serialize_element(&(self.1)(x))?;
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            AV::S(s) => map.serialize_entry("S", s)?,
            AV::N(n) => map.serialize_entry("N", &n.to_string())?,
            AV::B(b) => map.serialize_entry("B", &base64::encode(b))?,
            AV::Bool(b) => map.serialize_entry("BOOL", b)?,
            AV::Null => map.serialize_entry("NULL", &true)?,
            AV::M(m) => map.serialize_entry("M", m)?,
            AV::L(l) => map.serialize_entry("L", l)?,
            AV::SS(v) => map.serialize_entry("SS", v)?,
            AV::NS(v) => map.serialize_entry("NS", &Seq(v, |n: &Number| n.to_string()))?,
            AV::BS(v) => map.serialize_entry("BS", &Seq(v, |b: &Vec<u8>| base64::encode(b)))?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn msg(v: Value) -> String {
        AttributeValue::from_json(&v).unwrap_err().message
    }

    #[test]
    fn round_trips_every_type() {
        let doc = json!({"M": {"s": {"S": "x"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}, "t": {"BOOL": true},
            "z": {"NULL": true}, "l": {"L": [{"S": ""}, {"N": "-0"}]}, "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA=="]}}});
        let v = AttributeValue::from_json(&doc).unwrap();
        let back = serde_json::to_value(&v).unwrap();
        assert_eq!(back["M"]["n"], json!({"N": "1.5"}));
        assert_eq!(back["M"]["l"], json!({"L": [{"S": ""}, {"N": "0"}]}));
        assert_eq!(back["M"]["b"], json!({"B": "AAE="}));
        assert_eq!(AttributeValue::from_json(&back).unwrap(), v);
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            msg(json!({})),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        assert_eq!(
            msg(json!({"S": "a", "N": "1"})),
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        );
        assert_eq!(
            msg(json!({"SS": []})),
            "One or more parameter values were invalid: An string set  may not be empty"
        );
        assert_eq!(
            msg(json!({"SS": ["b", "a", "b"]})),
            "One or more parameter values were invalid: Input collection [\"a\", \"b\", \"b\"] contains duplicates."
        );
        assert_eq!(
            msg(json!({"BS": ["/w==", "AA==", "AA=="]})),
            "One or more parameter values were invalid: Input collection [\"AA==\",\"/w==\",\"AA==\"]of type BS contains duplicates."
        );
        let older = |v: Value| AttributeValue::from_json_in(&v, Layer::Older).unwrap_err().message;
        assert_eq!(
            older(json!({"SS": ["b", "a", "b"]})),
            "One or more parameter values were invalid: Input collection [b, a, b] contains duplicates."
        );
        assert_eq!(older(json!({"NS": ["2", "1", "2"]})), "Input collection contains duplicates");
        assert_eq!(older(json!({"N": ""})), "The parameter cannot be converted to a numeric value");
        assert_eq!(older(json!({"N": "1e2147483647"})), number::UNDERFLOW);
        assert_eq!(msg(json!({"N": "1e2147483647"})), number::OVERFLOW);
        assert_eq!(msg(json!({"N": ""})), "The parameter cannot be converted to a numeric value: ");
        assert_eq!(msg(json!({"N": "x"})), "The parameter cannot be converted to a numeric value: x");
        assert_eq!(
            msg(json!({"NULL": false})),
            "One or more parameter values were invalid: Null attribute value types must have the value of true"
        );
        let mut deep = json!({"S": "x"});
        for _ in 0..31 {
            deep = json!({"M": {"n": deep}});
        }
        assert!(AttributeValue::from_json(&deep).is_ok(), "a leaf at level 32 is allowed");
        deep = json!({"M": {"n": deep}});
        assert_eq!(msg(deep), NESTING_TOO_DEEP);
        let err = AttributeValue::from_json(&json!({"S": 5})).unwrap_err();
        assert_eq!(err.code, "SerializationException");
    }

    #[test]
    fn sizes_follow_aws() {
        let item =
            item_from_json(&json!({"id": {"S": "abc"}, "n": {"N": "12345"}, "l": {"L": [{"BOOL": true}]}})).unwrap();
        // id: 2 + 3; n: 1 + (1 + 3); l: 1 + 3 + (1 + 1)
        assert_eq!(item_size(&item), 5 + 5 + 6);
    }
}
