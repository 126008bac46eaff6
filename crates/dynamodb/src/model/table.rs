//! Table metadata as persisted: key schema, indexes, settings.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{invalid_parameter, validation, Result};
use crate::types::{key, AttributeValue, Item};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn matches(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (ScalarType::S, AttributeValue::S(_))
                | (ScalarType::N, AttributeValue::N(_))
                | (ScalarType::B, AttributeValue::B(_))
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyAttr {
    pub name: String,
    pub kind: ScalarType,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
    /// Further RANGE attributes of a multi-attribute GSI key, compared in
    /// order after `range`.
    #[serde(default)]
    pub more_range: Vec<KeyAttr>,
}

impl KeySchema {
    pub fn attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref()).chain(&self.more_range)
    }

    /// The RANGE attributes in key order.
    pub fn ranges(&self) -> impl Iterator<Item = &KeyAttr> {
        self.range.iter().chain(&self.more_range)
    }

    pub fn is_key(&self, name: &str) -> bool {
        self.attrs().any(|a| a.name == name)
    }

    pub fn to_json(&self) -> Value {
        let mut out = vec![json!({"AttributeName": self.hash.name, "KeyType": "HASH"})];
        out.extend(self.ranges().map(|r| json!({"AttributeName": r.name, "KeyType": "RANGE"})));
        Value::Array(out)
    }

    /// Append the encoded key values of `item` in schema order. `None` when
    /// the item lacks one of them or has it with another type (sparse index).
    pub fn encode(&self, item: &Item, out: &mut Vec<u8>) -> Option<()> {
        for attr in self.attrs() {
            let v = item.get(&attr.name)?;
            if !attr.kind.matches(v) {
                return None;
            }
            key::encode(v, out);
        }
        Some(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectionType {
    #[serde(rename = "ALL")]
    All,
    #[serde(rename = "KEYS_ONLY")]
    KeysOnly,
    #[serde(rename = "INCLUDE")]
    Include,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Projection {
    pub kind: ProjectionType,
    pub non_key: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Throughput {
    pub read: u64,
    pub write: u64,
    pub last_increase: Option<f64>,
    pub last_decrease: Option<f64>,
    pub decreases_today: u64,
}

impl Throughput {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(t) = self.last_increase {
            m.insert("LastIncreaseDateTime".into(), json!(t));
        }
        if let Some(t) = self.last_decrease {
            m.insert("LastDecreaseDateTime".into(), json!(t));
        }
        m.insert("NumberOfDecreasesToday".into(), json!(self.decreases_today));
        m.insert("ReadCapacityUnits".into(), json!(self.read));
        m.insert("WriteCapacityUnits".into(), json!(self.write));
        Value::Object(m)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Index {
    /// Store prefix of this index's entries; unique across tables and indexes.
    pub id: u64,
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    pub throughput: Option<Throughput>,
    pub global: bool,
}

impl Index {
    /// Whether this index holds every attribute of the base item.
    pub fn projects_all(&self) -> bool {
        self.projection.kind == ProjectionType::All
    }

    /// Whether `item`'s values of this index's keys are ones a key may
    /// hold: not empty, and within the key size limits. Items written
    /// before the index existed may have others; they stay out of it.
    pub fn accepts_key_values(&self, item: &Item) -> bool {
        self.key
            .attrs()
            .enumerate()
            .all(|(i, attr)| item.get(&attr.name).is_none_or(|v| check_key_value(v, &attr.name, i == 0).is_ok()))
    }

    /// The index entry for `item`: the table's and index's keys plus the
    /// projected attributes.
    pub fn project(&self, table: &Table, item: &Item) -> Item {
        if self.projects_all() {
            return item.clone();
        }
        item.iter()
            .filter(|(name, _)| {
                table.key.is_key(name)
                    || self.key.is_key(name)
                    || (self.projection.kind == ProjectionType::Include && self.projection.non_key.contains(name))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamSpec {
    pub enabled: bool,
    pub view_type: Option<String>,
    pub label: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ttl {
    pub attribute: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    /// Store prefix of this table's items.
    pub id: u64,
    pub name: String,
    pub arn: String,
    pub table_uuid: String,
    pub created: f64,
    pub key: KeySchema,
    pub attribute_definitions: Vec<KeyAttr>,
    pub billing_mode: String,
    pub billing_mode_updated: Option<f64>,
    pub throughput: Throughput,
    pub gsis: Vec<Index>,
    pub lsis: Vec<Index>,
    pub stream: Option<StreamSpec>,
    pub sse: Option<Value>,
    pub tags: Vec<(String, String)>,
    pub deletion_protection: bool,
    pub table_class: Option<String>,
    /// When UpdateTable last changed the table class.
    #[serde(default)]
    pub table_class_updated: Option<f64>,
    /// OnDemandThroughput as set: `MaxReadRequestUnits`/`MaxWriteRequestUnits`.
    #[serde(default)]
    pub on_demand_limits: Map<String, Value>,
    pub ttl: Option<Ttl>,
    /// What replaced this version of the metadata, once something did.
    #[serde(skip)]
    pub lineage: Lineage,
}

/// Where a table's metadata went after a change: the version that replaced
/// it, or nothing once the table was deleted. The change sets it inside the
/// store transaction that commits it, and the store runs transactions one
/// after another, so a write whose transaction runs later and still holds
/// the old version finds the version in force there (`Table::current`):
/// an item written while a GSI is backfilled gets its index entry, and an
/// item written as the table is deleted is refused rather than orphaned.
#[derive(Default)]
pub struct Lineage(OnceLock<Option<Arc<Table>>>);

/// A copy of a table's metadata is a new version, not replaced yet.
impl Clone for Lineage {
    fn clone(&self) -> Self {
        Lineage::default()
    }
}

impl std::fmt::Debug for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            None => f.write_str("current"),
            Some(Some(_)) => f.write_str("replaced"),
            Some(None) => f.write_str("deleted"),
        }
    }
}

pub const EMPTY_KEY: &str = "The AttributeValue for a key attribute cannot contain an empty string value.";

impl Table {
    /// The version of this table's metadata in force now; `None` once the
    /// table is deleted.
    pub fn current(&self) -> Option<&Table> {
        let mut table = self;
        loop {
            match table.lineage.0.get() {
                None => return Some(table),
                Some(None) => return None,
                Some(Some(next)) => table = next,
            }
        }
    }

    /// `current`, as a shared handle.
    pub fn latest(self: &Arc<Table>) -> Option<Arc<Table>> {
        let mut table = self.clone();
        loop {
            let next = match table.lineage.0.get() {
                None => return Some(table),
                Some(None) => return None,
                Some(Some(next)) => next.clone(),
            };
            table = next;
        }
    }

    /// Whether a change has replaced or deleted this version.
    pub fn is_retired(&self) -> bool {
        self.lineage.0.get().is_some()
    }

    /// Record that `next` replaced this version (`None`: deleted). Called
    /// from inside the transaction that commits the change.
    pub fn retire(&self, next: Option<Arc<Table>>) {
        let _ = self.lineage.0.set(next);
    }

    pub fn is_on_demand(&self) -> bool {
        self.billing_mode == "PAY_PER_REQUEST"
    }

    pub fn indexes(&self) -> impl Iterator<Item = &Index> {
        self.gsis.iter().chain(&self.lsis)
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes().find(|i| i.name == name)
    }

    /// Encoded primary key of a full item being written, with AWS's checks.
    pub fn item_key(&self, item: &Item) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.id.to_be_bytes());
        for (i, attr) in self.key.attrs().enumerate() {
            let Some(v) = item.get(&attr.name) else {
                return Err(invalid_parameter(format!("Missing the key {} in the item", attr.name)));
            };
            if !attr.kind.matches(v) {
                return Err(invalid_parameter(format!(
                    "Type mismatch for key {} expected: {} actual: {}",
                    attr.name,
                    attr.kind.as_str(),
                    v.type_name()
                )));
            }
            check_key_value(v, &attr.name, i == 0)?;
            key::encode(v, &mut out);
        }
        for index in self.indexes() {
            for (i, attr) in index.key.attrs().enumerate() {
                let Some(v) = item.get(&attr.name) else {
                    continue;
                };
                if !attr.kind.matches(v) {
                    return Err(invalid_parameter(format!(
                        "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                        attr.name,
                        attr.kind.as_str(),
                        v.type_name(),
                        index.name
                    )));
                }
                if is_empty_key(v) {
                    return Err(validation(format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. {EMPTY_KEY} IndexName: {}, IndexKey: {}",
                        index.name, attr.name
                    )));
                }
                // Index keys have the table keys' size limits.
                check_key_value(v, &attr.name, i == 0)?;
            }
        }
        Ok(out)
    }

    /// Encoded primary key from a `Key` parameter: exactly the key attributes.
    pub fn key_of(&self, key_item: &Item) -> Result<Vec<u8>> {
        let mismatch = || validation("The provided key element does not match the schema");
        if key_item.len() != self.key.attrs().count() {
            return Err(mismatch());
        }
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.id.to_be_bytes());
        for (i, attr) in self.key.attrs().enumerate() {
            let v = key_item.get(&attr.name).ok_or_else(mismatch)?;
            if !attr.kind.matches(v) {
                return Err(mismatch());
            }
            check_key_value(v, &attr.name, i == 0)?;
            key::encode(v, &mut out);
        }
        Ok(out)
    }

    /// The key attributes of `item`, e.g. for LastEvaluatedKey.
    pub fn key_attributes(&self, item: &Item, index: Option<&Index>) -> Item {
        let mut out = Item::new();
        let names = self.key.attrs().chain(index.into_iter().flat_map(|i| i.key.attrs()));
        for attr in names {
            if let Some(v) = item.get(&attr.name) {
                out.insert(attr.name.clone(), v.clone());
            }
        }
        out
    }

    /// The store key of `index`'s entry for `item`, if the item is in it.
    pub fn index_entry_key(&self, index: &Index, item: &Item) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(&index.id.to_be_bytes());
        index.key.encode(item, &mut out)?;
        self.key.encode(item, &mut out)?;
        Some(out)
    }

    /// One index as DescribeTable shows it; `stat` is its item count and size.
    pub fn describe_index(&self, index: &Index, stat: (u64, u64)) -> Value {
        let mut m = Map::new();
        m.insert("IndexName".into(), json!(index.name));
        m.insert("KeySchema".into(), index.key.to_json());
        let mut p = Map::new();
        p.insert(
            "ProjectionType".into(),
            json!(match index.projection.kind {
                ProjectionType::All => "ALL",
                ProjectionType::KeysOnly => "KEYS_ONLY",
                ProjectionType::Include => "INCLUDE",
            }),
        );
        if index.projection.kind == ProjectionType::Include {
            // AWS lists them sorted by name.
            let mut names = index.projection.non_key.clone();
            names.sort();
            p.insert("NonKeyAttributes".into(), json!(names));
        }
        m.insert("Projection".into(), Value::Object(p));
        if index.global {
            m.insert("IndexStatus".into(), json!("ACTIVE"));
            m.insert("ProvisionedThroughput".into(), index.throughput.clone().unwrap_or_default().to_json());
        }
        m.insert("IndexSizeBytes".into(), json!(stat.1));
        m.insert("ItemCount".into(), json!(stat.0));
        m.insert("IndexArn".into(), json!(format!("{}/index/{}", self.arn, index.name)));
        if index.global && self.is_on_demand() {
            m.insert("WarmThroughput".into(), on_demand_warm_throughput());
        }
        Value::Object(m)
    }

    pub fn describe(&self, item_count: u64, size_bytes: u64, index_stats: &[(u64, u64)]) -> Value {
        let mut attr_defs: Vec<Value> = self
            .attribute_definitions
            .iter()
            .map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind.as_str()}))
            .collect();
        attr_defs.sort_by(|a, b| a["AttributeName"].as_str().cmp(&b["AttributeName"].as_str()));
        let mut d = Map::new();
        d.insert("AttributeDefinitions".into(), Value::Array(attr_defs));
        d.insert("TableName".into(), json!(self.name));
        d.insert("KeySchema".into(), self.key.to_json());
        d.insert("TableStatus".into(), json!("ACTIVE"));
        d.insert("CreationDateTime".into(), json!(self.created));
        d.insert("ProvisionedThroughput".into(), self.throughput.to_json());
        d.insert("TableSizeBytes".into(), json!(size_bytes));
        d.insert("ItemCount".into(), json!(item_count));
        d.insert("TableArn".into(), json!(self.arn));
        d.insert("TableId".into(), json!(self.table_uuid));
        if self.is_on_demand() || self.billing_mode_updated.is_some() {
            let mut b = Map::new();
            b.insert("BillingMode".into(), json!(self.billing_mode));
            if let Some(t) = self.billing_mode_updated.or(Some(self.created)) {
                b.insert("LastUpdateToPayPerRequestDateTime".into(), json!(t));
            }
            d.insert("BillingModeSummary".into(), Value::Object(b));
        }
        let stats = |i: usize| index_stats.get(i).copied().unwrap_or((0, 0));
        if !self.gsis.is_empty() {
            let list: Vec<Value> =
                self.gsis.iter().enumerate().map(|(i, g)| self.describe_index(g, stats(i))).collect();
            d.insert("GlobalSecondaryIndexes".into(), Value::Array(list));
        }
        if !self.lsis.is_empty() {
            let n = self.gsis.len();
            let list: Vec<Value> =
                self.lsis.iter().enumerate().map(|(i, l)| self.describe_index(l, stats(n + i))).collect();
            d.insert("LocalSecondaryIndexes".into(), Value::Array(list));
        }
        if let Some(s) = &self.stream {
            if s.enabled {
                let mut spec = json!({"StreamEnabled": true});
                if let Some(v) = &s.view_type {
                    spec["StreamViewType"] = json!(v);
                }
                d.insert("StreamSpecification".into(), spec);
            }
            // The latest stream stays described after it is disabled.
            if let Some(label) = &s.label {
                d.insert("LatestStreamLabel".into(), json!(label));
                d.insert("LatestStreamArn".into(), json!(format!("{}/stream/{label}", self.arn)));
            }
        }
        if let Some(sse) = &self.sse {
            d.insert("SSEDescription".into(), sse.clone());
        }
        if !self.on_demand_limits.is_empty() {
            d.insert("OnDemandThroughput".into(), Value::Object(self.on_demand_limits.clone()));
        }
        if let Some(class) = &self.table_class {
            let mut summary = json!({"TableClass": class});
            if let Some(t) = self.table_class_updated {
                summary["LastUpdateDateTime"] = json!(t);
            }
            d.insert("TableClassSummary".into(), summary);
        }
        d.insert("DeletionProtectionEnabled".into(), json!(self.deletion_protection));
        if self.is_on_demand() {
            d.insert("WarmThroughput".into(), on_demand_warm_throughput());
        }
        Value::Object(d)
    }
}

/// The warm throughput AWS reports for an on-demand table or GSI it was
/// never asked to pre-warm: what a new on-demand table starts with.
fn on_demand_warm_throughput() -> Value {
    json!({"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"})
}

fn is_empty_key(v: &AttributeValue) -> bool {
    matches!(v, AttributeValue::S(s) if s.is_empty()) || matches!(v, AttributeValue::B(b) if b.is_empty())
}

/// Key values (in keys and in key conditions) may not be empty strings or binaries.
pub fn check_key_not_empty(v: &AttributeValue, name: &str) -> Result<()> {
    if is_empty_key(v) {
        let kind = if matches!(v, AttributeValue::B(_)) { "binary" } else { "string" };
        return Err(validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
        )));
    }
    Ok(())
}

/// Key values may not be empty; hash keys are limited to 2048 bytes and
/// range keys to 1024.
fn check_key_value(v: &AttributeValue, name: &str, is_hash: bool) -> Result<()> {
    check_key_not_empty(v, name)?;
    let len = match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        _ => 0,
    };
    if is_hash && len > 2048 {
        return Err(invalid_parameter("Size of hashkey has exceeded the maximum size limit of2048 bytes"));
    }
    if !is_hash && len > 1024 {
        return Err(invalid_parameter("Aggregated size of all range keys has exceeded the size limit of 1024 bytes"));
    }
    Ok(())
}
