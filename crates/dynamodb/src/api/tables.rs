//! Table operations: CreateTable, DescribeTable, ListTables, UpdateTable,
//! DeleteTable, tags, TTL, DescribeLimits, DescribeEndpoints.

use nimbus_core::time::now_epoch_millis;
use nimbus_store::{Direction, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::{tags, Req, Validator};
use crate::error::{dynamodb, internal, invalid_parameter, serialization, validation, Result};
use crate::model::items::stats;
use crate::model::table::{
    Index, KeyAttr, KeySchema, Projection, ProjectionType, ScalarType, StreamSpec, Table, Throughput, Ttl,
};
use crate::model::{Stage, INDEXES, ITEMS};
use crate::types::{item_from_stored, item_to_stored, unexpected};
use crate::DynamoDb;

fn now_seconds() -> f64 {
    now_epoch_millis() as f64 / 1000.0
}

/// TableId: a UUID, like AWS's (the request-id generator has the right shape).
fn table_uuid() -> String {
    nimbus_core::request::new_request_id()
}

/// The member name CreateTable's own KeySchema is validated under.
const TABLE_KEY_SCHEMA: &str = "keySchema";

/// A key may not name one attribute twice; AWS checks this once the
/// attribute definitions are known to match.
fn check_distinct_key_names(ks: &KeySchema) -> Result<()> {
    let names: Vec<&str> = ks.attrs().map(|a| a.name.as_str()).collect();
    if names.iter().enumerate().any(|(i, n)| names[..i].contains(n)) {
        return Err(validation(
            "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    Ok(())
}

/// A KeySchema list: HASH first, then optionally RANGE (up to `max_len`
/// elements: a GSI may have a multi-attribute RANGE key). Types are filled
/// in from the attribute definitions by `resolve_types`.
fn key_schema(value: Option<&Value>, field: &str, max_len: usize, v: &mut Validator) -> Result<Option<KeySchema>> {
    let Some(value) = value else {
        v.not_null(false, field);
        return Ok(None);
    };
    let list = value.as_array().ok_or_else(|| serialization(unexpected(value, "List")))?;
    v.check(!list.is_empty(), Some("[]"), field, "Member must have length greater than or equal to 1");
    let mut elems = vec![];
    for (i, e) in list.iter().enumerate() {
        let obj = e.as_object().ok_or_else(|| serialization(unexpected(e, "Structure")))?;
        let r = Req::new(obj);
        let member = format!("{field}.{}.member", i + 1);
        let name = r.str("AttributeName")?;
        let kind = r.enum_value("KeyType", &format!("{member}.keyType"), &["HASH", "RANGE"], v)?;
        v.key_attribute_name(name, &format!("{member}.attributeName"));
        v.not_null(kind.is_some(), &format!("{member}.keyType"));
        elems.push((name.unwrap_or_default().to_owned(), kind.unwrap_or_default()));
    }
    // A table's key has at most two elements, a limit the service model
    // does not carry (an index's may have more): AWS reports it as a
    // constraint on the list, shown as its Java rendering.
    if field == TABLE_KEY_SCHEMA && elems.len() > 2 {
        let shown: Vec<String> = elems
            .iter()
            .map(|(name, kind)| format!("KeySchemaElement(attributeName={name}, keyType={kind})"))
            .collect();
        let shown = format!("[{}]", shown.join(", "));
        v.check(false, Some(&shown), field, "Member must have length less than or equal to 2");
        return Ok(None);
    }
    if elems.is_empty() {
        return Ok(None);
    }
    if elems[0].1 != "HASH" {
        return Err(validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    if elems.iter().skip(1).any(|(_, kind)| *kind != "RANGE") {
        return Err(validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"));
    }
    if elems.len() > max_len {
        return Err(invalid_parameter("The KeySchema exceeds the maximum allowed number of RANGE key attributes"));
    }
    let attr = |name: &str| KeyAttr { name: name.to_owned(), kind: ScalarType::S };
    Ok(Some(KeySchema {
        hash: attr(&elems[0].0),
        range: elems.get(1).map(|(n, _)| attr(n)),
        more_range: elems.iter().skip(2).map(|(n, _)| attr(n)).collect(),
    }))
}

/// CreateTable's AttributeDefinitions must define each key attribute of the
/// table and its indexes exactly once, and nothing else. AWS words each way
/// of getting this wrong differently, depending on whether indexes exist.
fn check_definitions<'a>(
    defs: &[KeyAttr],
    table_key: &'a KeySchema,
    index_keys: impl Iterator<Item = &'a KeySchema>,
) -> Result<()> {
    let defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    if let Some(dup) = defined.iter().enumerate().find_map(|(i, d)| defined[..i].contains(d).then_some(*d)) {
        return Err(validation(format!("Attribute Name is duplicated: {dup}")));
    }
    // More key elements than definitions (a name given twice) is a missing definition.
    if table_key.attrs().count() > defined.len() {
        return Err(validation("Invalid KeySchema: Some index key attribute have no definition"));
    }
    let mut used: Vec<&str> = vec![];
    let mut has_indexes = false;
    for ks in std::iter::once(table_key).chain(index_keys.inspect(|_| has_indexes = true)) {
        for attr in ks.attrs() {
            if !used.contains(&attr.name.as_str()) {
                used.push(&attr.name);
            }
        }
    }
    let unused = defined.iter().any(|d| !used.contains(d));
    let undefined = used.iter().any(|k| !defined.contains(k));
    if !unused && !undefined {
        return Ok(());
    }
    let list = |names: &[&str]| format!("[{}]", names.join(", "));
    Err(match (defined.len() > used.len(), has_indexes) {
        (true, true) => invalid_parameter(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: {}, keys used: {}",
            list(&defined),
            list(&used)
        )),
        (true, false) => invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (false, true) => invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: {}, AttributeDefinitions: {}",
            list(&used),
            list(&defined)
        )),
        (false, false) => validation("Invalid KeySchema: Some index key attribute have no definition"),
    })
}

/// Give each key attribute its type from AttributeDefinitions.
fn resolve_types(ks: &mut KeySchema, defs: &[KeyAttr]) -> Result<()> {
    for attr in std::iter::once(&mut ks.hash).chain(ks.range.as_mut()).chain(ks.more_range.iter_mut()) {
        let Some(d) = defs.iter().find(|d| d.name == attr.name) else {
            let defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            return Err(invalid_parameter(format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                attr.name,
                defined.join(", ")
            )));
        };
        attr.kind = d.kind;
    }
    Ok(())
}

fn throughput(value: Option<&Map<String, Value>>, field: &str, v: &mut Validator) -> Result<Option<Throughput>> {
    let Some(obj) = value else { return Ok(None) };
    let r = Req::new(obj);
    let read = r.int("ReadCapacityUnits")?;
    let write = r.int("WriteCapacityUnits")?;
    // AWS reports the members in this order.
    v.not_null(write.is_some(), &format!("{field}.writeCapacityUnits"));
    v.not_null(read.is_some(), &format!("{field}.readCapacityUnits"));
    for (x, name) in [(write, "writeCapacityUnits"), (read, "readCapacityUnits")] {
        if let Some(x) = x {
            v.check(
                x >= 1,
                Some(&x.to_string()),
                &format!("{field}.{name}"),
                "Member must have value greater than or equal to 1",
            );
        }
    }
    Ok(Some(Throughput {
        read: read.unwrap_or(0).max(0) as u64,
        write: write.unwrap_or(0).max(0) as u64,
        ..Default::default()
    }))
}

/// OnDemandThroughput's request-unit caps, for a table billed on demand
/// (`on_demand`); -1 (no cap) may be set only by UpdateTable.
fn on_demand_limits(r: &Req<'_>, on_demand: bool, request: TableRequest) -> Result<Option<Map<String, Value>>> {
    let Some(obj) = r.object("OnDemandThroughput")? else { return Ok(None) };
    let or = Req::new(obj);
    let mut limits = Map::new();
    for member in ["MaxReadRequestUnits", "MaxWriteRequestUnits"] {
        let Some(units) = or.int(member)? else { continue };
        if !on_demand {
            return Err(invalid_parameter(format!(
                "{member} for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED"
            )));
        }
        if units < 1 && !(units == -1 && request == TableRequest::Update) {
            return Err(invalid_parameter(format!(
                "Requested {member} for OnDemandThroughput for table is outside of valid range"
            )));
        }
        limits.insert(member.to_owned(), json!(units));
    }
    Ok(Some(limits))
}

/// Capacity beyond any account's reach is refused outright.
fn check_throughput_bounds(tp: Option<&Throughput>) -> Result<()> {
    const MAX_UNITS: u64 = 1_000_000_000_000;
    let Some(tp) = tp else { return Ok(()) };
    for (units, name) in [(tp.read, "ReadCapacityUnits"), (tp.write, "WriteCapacityUnits")] {
        if units > MAX_UNITS {
            return Err(validation(format!("Given value {units} for {name} is out of bounds")));
        }
    }
    Ok(())
}

fn projection(value: Option<&Map<String, Value>>, field: &str, v: &mut Validator) -> Result<Projection> {
    let Some(obj) = value else {
        v.not_null(false, field);
        return Ok(Projection { kind: ProjectionType::All, non_key: vec![] });
    };
    let r = Req::new(obj);
    let kind =
        r.enum_value("ProjectionType", &format!("{field}.projectionType"), &["ALL", "KEYS_ONLY", "INCLUDE"], v)?;
    let mut non_key: Option<Vec<String>> = None;
    if let Some(list) = r.array("NonKeyAttributes")? {
        let mut names: Vec<String> = vec![];
        let shown = |list: &[Value]| {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            format!("[{}]", names.join(", "))
        };
        let field = format!("{field}.nonKeyAttributes");
        v.check(!list.is_empty(), Some(&shown(list)), &field, "Member must have length greater than or equal to 1");
        v.check(list.len() <= 20, Some(&shown(list)), &field, "Member must have length less than or equal to 20");
        for name in list {
            let name = name.as_str().ok_or_else(|| serialization(unexpected(name, "String")))?;
            if names.iter().any(|n| n == name) {
                return Err(invalid_parameter(format!("Duplicate element in NonKeyAttributes: {name}")));
            }
            names.push(name.to_owned());
        }
        non_key = Some(names);
    }
    let kind = match kind {
        Some("KEYS_ONLY") => ProjectionType::KeysOnly,
        Some("INCLUDE") => ProjectionType::Include,
        Some(_) => ProjectionType::All,
        None => return Err(invalid_parameter("Unknown ProjectionType: null")),
    };
    if kind == ProjectionType::Include && non_key.is_none() {
        return Err(invalid_parameter("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"));
    }
    if kind != ProjectionType::Include && non_key.is_some() {
        let name = if kind == ProjectionType::All { "ALL" } else { "KEYS_ONLY" };
        return Err(invalid_parameter(format!("ProjectionType is {name}, but NonKeyAttributes is specified")));
    }
    Ok(Projection { kind, non_key: non_key.unwrap_or_default() })
}

/// An index definition as written; `check_index` resolves it against the
/// table once every syntactic problem has been reported. The flag says
/// whether it named a ProvisionedThroughput.
fn parse_index(value: &Value, field: &str, global: bool, v: &mut Validator) -> Result<Option<(Index, bool)>> {
    let obj = value.as_object().ok_or_else(|| serialization("Expected null"))?;
    let r = Req::new(obj);
    let name = r.str("IndexName")?;
    v.table_name(name, &format!("{field}.indexName"));
    // A GSI key may have up to four RANGE attributes.
    let max_len = if global { 5 } else { 2 };
    let ks = key_schema(r.get("KeySchema"), &format!("{field}.keySchema"), max_len, v)?;
    let proj = projection(r.object("Projection")?, &format!("{field}.projection"), v)?;
    let tp = throughput(r.object("ProvisionedThroughput")?, &format!("{field}.provisionedThroughput"), v)?;
    let Some(ks) = ks else { return Ok(None) };
    let given = tp.is_some();
    let throughput = global.then(|| tp.unwrap_or_default());
    let index =
        Index { id: 0, name: name.unwrap_or_default().to_owned(), key: ks, projection: proj, throughput, global };
    Ok(Some((index, given)))
}

/// Type an index's keys from the attribute definitions and check its
/// throughput against the billing mode.
fn check_index(
    index: &mut Index,
    throughput_given: bool,
    defs: &[KeyAttr],
    provisioned: bool,
    request: TableRequest,
) -> Result<()> {
    resolve_types(&mut index.key, defs)?;
    if throughput_given {
        check_throughput_bounds(index.throughput.as_ref())?;
    }
    let name = &index.name;
    if index.global && provisioned && !throughput_given {
        return Err(invalid_parameter(match request {
            TableRequest::Create => format!("ProvisionedThroughput is not specified for index: {name}"),
            TableRequest::Update => format!("ProvisionedThroughput must be specified for index: {name}"),
        }));
    }
    if index.global && !provisioned && throughput_given {
        return Err(invalid_parameter(match request {
            TableRequest::Create => {
                format!("ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST")
            }
            TableRequest::Update => format!(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            ),
        }));
    }
    Ok(())
}

fn attribute_definitions(r: &Req<'_>, v: &mut Validator) -> Result<Vec<KeyAttr>> {
    let Some(list) = r.array("AttributeDefinitions")? else {
        v.not_null(false, "attributeDefinitions");
        return Ok(vec![]);
    };
    let mut defs = vec![];
    for (i, d) in list.iter().enumerate() {
        let obj = d.as_object().ok_or_else(|| serialization("Expected null"))?;
        let dr = Req::new(obj);
        let name = dr.str("AttributeName")?;
        let kind = dr.enum_value(
            "AttributeType",
            &format!("attributeDefinitions.{}.member.attributeType", i + 1),
            &["B", "N", "S"],
            v,
        )?;
        v.not_null(kind.is_some(), &format!("attributeDefinitions.{}.member.attributeType", i + 1));
        v.key_attribute_name(name, &format!("attributeDefinitions.{}.member.attributeName", i + 1));
        if let (Some(name), Some(kind)) = (name, kind.and_then(ScalarType::parse)) {
            defs.push(KeyAttr { name: name.to_owned(), kind });
        }
    }
    Ok(defs)
}

/// TableClass, which AWS checks with a message of its own rather than the
/// generic enum constraint.
fn table_class(r: &Req<'_>) -> Result<Option<String>> {
    let class = r.str("TableClass")?;
    if class.is_some_and(|c| !["STANDARD", "STANDARD_INFREQUENT_ACCESS"].contains(&c)) {
        return Err(validation(
            "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
        ));
    }
    Ok(class.map(str::to_owned))
}

/// Which request a specification comes with: AWS words some of the same
/// errors differently in CreateTable and UpdateTable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TableRequest {
    Create,
    Update,
}

fn stream_spec(obj: Option<&Map<String, Value>>, request: TableRequest) -> Result<Option<StreamSpec>> {
    let Some(obj) = obj else { return Ok(None) };
    let r = Req::new(obj);
    let mut v = Validator::default();
    let enabled = r.bool("StreamEnabled")?;
    v.not_null(enabled.is_some(), "streamSpecification.streamEnabled");
    let view_type = r
        .enum_value(
            "StreamViewType",
            "streamSpecification.streamViewType",
            &["OLD_IMAGE", "KEYS_ONLY", "NEW_AND_OLD_IMAGES", "NEW_IMAGE"],
            &mut v,
        )?
        .map(str::to_owned);
    v.finish()?;
    let enabled = enabled.unwrap_or(false);
    match (request, enabled, view_type.is_some()) {
        (TableRequest::Create, true, false) => {
            return Err(invalid_parameter("Table is being created with a stream enabled, UpdateViewType is required"))
        }
        (TableRequest::Create, false, true) => {
            return Err(invalid_parameter(
                "Table is being created with a stream disabled, UpdateViewType should not be specified",
            ))
        }
        (TableRequest::Update, true, false) => {
            return Err(invalid_parameter("If stream is being enabled then UpdateViewType is required"))
        }
        (TableRequest::Update, false, true) => {
            return Err(invalid_parameter("If stream is being disabled, then UpdateViewType must not be specified"))
        }
        _ => {}
    }
    let label = enabled
        .then(|| nimbus_core::time::format_iso8601_millis(now_epoch_millis() as i64).trim_end_matches('Z').to_owned());
    Ok(Some(StreamSpec { enabled, view_type, label }))
}

/// One entry of UpdateTable's GlobalSecondaryIndexUpdates.
enum GsiUpdate {
    /// A new index, and whether it named a ProvisionedThroughput.
    Create(Index, bool),
    Delete(String),
    Throughput(String, Throughput),
}

/// GlobalSecondaryIndexUpdates: each entry names exactly one action.
fn gsi_updates(r: &Req<'_>, v: &mut Validator) -> Result<Vec<GsiUpdate>> {
    let mut out = vec![];
    for (i, u) in r.array("GlobalSecondaryIndexUpdates")?.into_iter().flatten().enumerate() {
        let obj = u.as_object().ok_or_else(|| serialization(unexpected(u, "Structure")))?;
        let ur = Req::new(obj);
        let field = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        match ["Create", "Update", "Delete"].iter().filter(|a| ur.has(a)).count() {
            0 => return Err(invalid_parameter(
                "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
            )),
            1 => {}
            _ => {
                return Err(invalid_parameter(
                    "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
                ))
            }
        }
        if let Some(c) = ur.get("Create") {
            if let Some((index, given)) = parse_index(c, &format!("{field}.create"), true, v)? {
                out.push(GsiUpdate::Create(index, given));
            }
        } else if let Some(d) = ur.object("Delete")? {
            let name = Req::new(d).str("IndexName")?;
            v.table_name(name, &format!("{field}.delete.indexName"));
            out.push(GsiUpdate::Delete(name.unwrap_or_default().to_owned()));
        } else if let Some(up) = ur.object("Update")? {
            let upr = Req::new(up);
            let name = upr.str("IndexName")?;
            v.table_name(name, &format!("{field}.update.indexName"));
            let tp =
                throughput(upr.object("ProvisionedThroughput")?, &format!("{field}.update.provisionedThroughput"), v)?;
            if let Some(tp) = tp {
                out.push(GsiUpdate::Throughput(name.unwrap_or_default().to_owned(), tp));
            }
        }
    }
    Ok(out)
}

/// Some UpdateTable changes must come alone, and some pairs may not come
/// together; AWS names the one that must stand alone.
fn check_update_combination(r: &Req<'_>, iops: bool, others: bool, index_online: bool) -> Result<()> {
    let stream = r.has("StreamSpecification");
    let alone = [
        ("SSESpecification", "Server-Side Encryption"),
        ("TableClass", "TableClass"),
        ("DeletionProtectionEnabled", "DeletionProtection"),
    ];
    let present = alone.iter().filter(|(member, _)| r.has(member)).count();
    for (member, what) in alone {
        if r.has(member) && (present > 1 || iops || stream || others) {
            return Err(invalid_parameter(format!("{what} modification must be the only operation in the request")));
        }
    }
    if r.has("OnDemandThroughput") && stream {
        return Err(invalid_parameter(
            "OnDemandThroughput can only be combined with BillingMode in an UpdateTable request",
        ));
    }
    if iops && stream {
        return Err(invalid_parameter("You cannot modify stream status while updating table IOPS"));
    }
    if iops && index_online {
        return Err(invalid_parameter("You cannot create or delete index while updating table IOPS"));
    }
    if stream && index_online {
        return Err(invalid_parameter("You cannot create or delete index while changing stream status"));
    }
    Ok(())
}

/// A new index may not give an attribute that is already a key of the
/// table or one of its indexes another type.
fn check_redefinition(table: &Table, index: &Index) -> Result<()> {
    let schema = |ks: &KeySchema| {
        let elems: Vec<String> = ks
            .attrs()
            .enumerate()
            .map(|(i, a)| {
                let kind = if i == 0 { "HASH" } else { "RANGE" };
                format!("SchemaElement: key{{{}:{}:{kind}}}", a.name, a.kind.as_str())
            })
            .collect();
        format!("Schema:[{}]", elems.join(", "))
    };
    let existing = std::iter::once(&table.key).chain(table.indexes().map(|i| &i.key));
    for ks in existing {
        for attr in index.key.attrs() {
            if ks.attrs().any(|a| a.name == attr.name && a.kind != attr.kind) {
                return Err(invalid_parameter(format!(
                    "Attributes cannot be redefined. Please check that your attribute has the same type as previously defined. Existing schema: {} New schema: {}",
                    schema(ks),
                    schema(&index.key)
                )));
            }
        }
    }
    Ok(())
}

impl DynamoDb {
    pub(crate) async fn create_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let name = r.str("TableName")?;
        if name.is_none() {
            return Err(validation("The parameter 'TableName' is required but was not present in the request"));
        }
        v.table_name(name, "tableName");
        let defs = attribute_definitions(&r, &mut v)?;
        let ks = key_schema(r.get("KeySchema"), TABLE_KEY_SCHEMA, 2, &mut v)?;
        let billing = r.enum_value("BillingMode", "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"], &mut v)?;
        let tp = throughput(r.object("ProvisionedThroughput")?, "provisionedThroughput", &mut v)?;
        let provisioned = billing != Some("PAY_PER_REQUEST");
        let mut gsis = vec![];
        for (i, g) in r.array("GlobalSecondaryIndexes")?.into_iter().flatten().enumerate() {
            let field = format!("globalSecondaryIndexes.{}.member", i + 1);
            gsis.extend(parse_index(g, &field, true, &mut v)?);
        }
        let mut lsis = vec![];
        for (i, l) in r.array("LocalSecondaryIndexes")?.into_iter().flatten().enumerate() {
            let field = format!("localSecondaryIndexes.{}.member", i + 1);
            lsis.extend(parse_index(l, &field, false, &mut v)?);
        }
        v.finish()?;
        let (Some(name), Some(mut ks)) = (name, ks) else {
            return Err(internal("unreachable: validated"));
        };
        check_throughput_bounds(tp.as_ref())?;
        for member in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
            if r.array(member)?.is_some_and(Vec::is_empty) {
                return Err(invalid_parameter(format!("List of {member} is empty")));
            }
        }
        let table_class = table_class(&r)?;
        let on_demand_limits = on_demand_limits(&r, !provisioned, TableRequest::Create)?.unwrap_or_default();
        let stream = stream_spec(r.object("StreamSpecification")?, TableRequest::Create)?;
        let tags = tags::parse(r.array("Tags")?)?;
        let throughput = match (billing, tp) {
            (Some("PAY_PER_REQUEST"), Some(_)) => return Err(invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            )),
            (Some("PAY_PER_REQUEST"), None) => Throughput::default(),
            (Some(_), None) => {
                return Err(invalid_parameter(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ))
            }
            (None, None) => return Err(validation("No provisioned throughput specified for the table")),
            (_, Some(tp)) => tp,
        };
        check_definitions(&defs, &ks, gsis.iter().chain(&lsis).map(|(index, _)| &index.key))?;
        for key in std::iter::once(&ks).chain(gsis.iter().chain(&lsis).map(|(index, _)| &index.key)) {
            check_distinct_key_names(key)?;
        }
        resolve_types(&mut ks, &defs)?;
        let resolve = |list: Vec<(Index, bool)>| -> Result<Vec<Index>> {
            list.into_iter()
                .map(|(mut index, given)| {
                    check_index(&mut index, given, &defs, provisioned, TableRequest::Create).map(|()| index)
                })
                .collect()
        };
        let (gsis, lsis) = (resolve(gsis)?, resolve(lsis)?);
        let mut names: Vec<&str> = vec![];
        for index in gsis.iter().chain(&lsis) {
            if names.contains(&index.name.as_str()) {
                return Err(invalid_parameter(format!("Duplicate index name: {}", index.name)));
            }
            names.push(&index.name);
        }
        if !lsis.is_empty() && ks.range.is_none() {
            return Err(invalid_parameter(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        for l in &lsis {
            if l.key.range.is_none() {
                return Err(invalid_parameter(format!(
                    "Index KeySchema does not have a range key for index: {}",
                    l.name
                )));
            }
            if l.key.hash.name != ks.hash.name {
                return Err(invalid_parameter(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                    l.name, l.key.hash.name, ks.hash.name
                )));
            }
        }
        if gsis.len() > 20 {
            return Err(invalid_parameter("GlobalSecondaryIndex count exceeds the per-table limit of 20"));
        }
        if lsis.len() > 5 {
            return Err(invalid_parameter("Number of LocalSecondaryIndexes exceeds per-table limit of 5"));
        }
        let sse = self.sse_spec(region, r.object("SSESpecification")?)?.flatten();
        let created = now_seconds();
        let table = Table {
            id: 0,
            name: name.to_owned(),
            arn: format!("arn:aws:dynamodb:{region}:{}:table/{name}", self.context.account_id),
            table_uuid: table_uuid(),
            created,
            key: ks,
            attribute_definitions: defs,
            billing_mode: billing.unwrap_or("PROVISIONED").to_owned(),
            billing_mode_updated: None,
            throughput,
            gsis,
            lsis,
            stream,
            sse,
            tags,
            deletion_protection: r.bool("DeletionProtectionEnabled")?.unwrap_or(false),
            table_class,
            table_class_updated: None,
            on_demand_limits,
            ttl: None,
            lineage: Default::default(),
        };
        let table = self.catalog.create(region, table).await?;
        let mut d = table.describe(0, 0, &[]);
        d["TableStatus"] = json!("CREATING");
        Ok(json!({ "TableDescription": d }))
    }

    /// An SSESpecification: `None` when absent, else the SSEDescription it
    /// asks for (`None` inside: encryption with AWS-owned keys, which
    /// DescribeTable does not show). Without `Enabled`, an SSEType of KMS
    /// enables it, as on AWS.
    fn sse_spec(&self, region: &str, obj: Option<&Map<String, Value>>) -> Result<Option<Option<Value>>> {
        let Some(obj) = obj else { return Ok(None) };
        let r = Req::new(obj);
        let mut v = Validator::default();
        let sse_type = r.enum_value("SSEType", "sSESpecification.sSEType", &["AES256", "KMS"], &mut v)?;
        let key = r.str("KMSMasterKeyId")?;
        if let Some(k) = key {
            let constraint = "Member must have length greater than or equal to 1";
            v.check(!k.is_empty(), Some(k), "sSESpecification.kMSMasterKeyId", constraint);
        }
        v.finish()?;
        let enabled = r.bool("Enabled")?;
        if enabled == Some(false) {
            if sse_type.is_some() {
                return Err(invalid_parameter("SSEType can not be specified if Enabled is false"));
            }
            if key.is_some() {
                return Err(invalid_parameter("KMSMasterKeyId can not be specified if Enabled is false"));
            }
        }
        if sse_type == Some("AES256") {
            return Err(invalid_parameter("SSEType AES256 is not supported"));
        }
        if key.is_some() && sse_type.is_none() {
            return Err(invalid_parameter("SSEType KMS is required if KMSMasterKeyId is specified"));
        }
        let on = enabled.unwrap_or(sse_type.is_some());
        let arn = match key {
            Some(k) if k.starts_with("arn:") => k.to_owned(),
            Some(k) => {
                format!("arn:aws:kms:{region}:{}:key/{}", self.context.account_id, k.trim_start_matches("alias/"))
            }
            None => format!("arn:aws:kms:{region}:{}:key/nimbus-default", self.context.account_id),
        };
        Ok(Some(on.then(|| json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn}))))
    }

    fn describe(&self, table: &Table) -> Result<Value> {
        let snap = self.catalog.store().snapshot().map_err(internal)?;
        let (count, size) = stats(snap.as_ref(), ITEMS, table.id).map_err(internal)?;
        let index_stats = table
            .indexes()
            .map(|i| stats(snap.as_ref(), INDEXES, i.id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        Ok(table.describe(count, size, &index_stats))
    }

    pub(crate) async fn describe_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        Ok(json!({ "Table": self.describe(&table)? }))
    }

    pub(crate) async fn list_tables(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let start = r.str("ExclusiveStartTableName")?;
        if start.is_some() {
            v.table_name(start, "exclusiveStartTableName");
        }
        let limit = r.int("Limit")?;
        if let Some(l) = limit {
            v.check(l >= 1, Some(&l.to_string()), "limit", "Member must have value greater than or equal to 1");
            v.check(l <= 100, Some(&l.to_string()), "limit", "Member must have value less than or equal to 100");
        }
        v.finish()?;
        let limit = limit.unwrap_or(100) as usize;
        let names: Vec<String> =
            self.catalog.names(region)?.into_iter().filter(|n| start.is_none_or(|s| n.as_str() > s)).collect();
        let page: Vec<&String> = names.iter().take(limit).collect();
        let mut out = json!({ "TableNames": page });
        if names.len() > limit {
            out["LastEvaluatedTableName"] = json!(page.last());
        }
        Ok(out)
    }

    pub(crate) async fn delete_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let _change = self.catalog.changing().await;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        if table.deletion_protection {
            return Err(validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        let mut d = self.describe(&table)?;
        self.catalog.delete(region, &table).await?;
        d["TableStatus"] = json!("DELETING");
        // DeleteTable describes the table without its schema.
        if let Some(m) = d.as_object_mut() {
            for member in [
                "AttributeDefinitions",
                "KeySchema",
                "CreationDateTime",
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
            ] {
                m.remove(member);
            }
        }
        Ok(json!({ "TableDescription": d }))
    }

    pub(crate) async fn update_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let mut v = Validator::default();
        let billing = r.enum_value("BillingMode", "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"], &mut v)?;
        let tp = throughput(r.object("ProvisionedThroughput")?, "provisionedThroughput", &mut v)?;
        let given_defs = if r.has("AttributeDefinitions") { Some(attribute_definitions(&r, &mut v)?) } else { None };
        let index_updates = gsi_updates(&r, &mut v)?;
        v.finish()?;
        check_throughput_bounds(tp.as_ref())?;
        for update in &index_updates {
            if let GsiUpdate::Throughput(_, tp) = update {
                check_throughput_bounds(Some(tp))?;
            }
        }
        let table_class = table_class(&r)?;
        let changes_something = billing.is_some()
            || tp.is_some()
            || !index_updates.is_empty()
            || table_class.is_some()
            || ["StreamSpecification", "SSESpecification", "DeletionProtectionEnabled", "OnDemandThroughput"]
                .iter()
                .any(|m| r.has(m));
        if !changes_something {
            return Err(validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required",
            ));
        }
        let online = index_updates.iter().filter(|u| !matches!(u, GsiUpdate::Throughput(..))).count();
        let iops = tp.is_some() || billing == Some("PROVISIONED");
        let others = billing.is_some() || !index_updates.is_empty() || r.has("OnDemandThroughput");
        check_update_combination(&r, iops, others, online > 0)?;
        if online > 1 {
            return Err(dynamodb(
                "LimitExceededException",
                "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
            ));
        }
        let _change = self.catalog.changing().await;
        let current = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        let mut table: Table = (*current).clone();
        let switching_billing = billing.is_some_and(|mode| mode != table.billing_mode);
        if billing == Some("PAY_PER_REQUEST") && tp.is_some() {
            return Err(invalid_parameter(
                "ProvisionedThroughput cannot be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        if let Some(mode) = billing {
            if mode != table.billing_mode {
                table.billing_mode = mode.to_owned();
                table.billing_mode_updated = Some(now_seconds());
                if mode == "PAY_PER_REQUEST" {
                    table.throughput = Throughput::default();
                    for g in &mut table.gsis {
                        g.throughput = Some(Throughput::default());
                    }
                } else {
                    if tp.is_none() {
                        return Err(invalid_parameter(
                            "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                        ));
                    }
                    // Every existing GSI needs its own throughput in the same request.
                    let updated = |name: &str| {
                        index_updates.iter().any(|u| matches!(u, GsiUpdate::Throughput(n, _) if n == name))
                    };
                    if let Some(g) = table.gsis.iter().find(|g| !updated(&g.name)) {
                        return Err(invalid_parameter(format!(
                            "ProvisionedThroughput must be specified for index: {}",
                            g.name
                        )));
                    }
                }
            }
        }
        if let Some(tp) = tp {
            if table.is_on_demand() {
                return Err(invalid_parameter(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            if tp.read == table.throughput.read && tp.write == table.throughput.write && !switching_billing {
                return Err(validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    table.throughput.read, tp.read, table.throughput.write, tp.write
                )));
            }
            let now = now_seconds();
            if tp.read > table.throughput.read || tp.write > table.throughput.write {
                table.throughput.last_increase = Some(now);
            }
            if tp.read < table.throughput.read || tp.write < table.throughput.write {
                table.throughput.last_decrease = Some(now);
                table.throughput.decreases_today += 1;
            }
            table.throughput.read = tp.read;
            table.throughput.write = tp.write;
        }
        if billing == Some("PROVISIONED") {
            // A switch of billing mode drops the on-demand caps.
            table.on_demand_limits.clear();
        }
        if let Some(limits) = on_demand_limits(&r, table.is_on_demand(), TableRequest::Update)? {
            table.on_demand_limits.extend(limits);
        }
        if let Some(p) = r.bool("DeletionProtectionEnabled")? {
            table.deletion_protection = p;
        }
        if let Some(class) = table_class {
            table.table_class = Some(class);
            table.table_class_updated = Some(now_seconds());
        }
        if let Some(spec) = stream_spec(r.object("StreamSpecification")?, TableRequest::Update)? {
            let active = table.stream.as_ref().is_some_and(|s| s.enabled);
            if spec.enabled && active {
                return Err(validation(format!("Table already has an enabled stream: TableName: {}", table.name)));
            }
            if !spec.enabled && !active {
                return Err(validation(format!("Table has no stream to disable: TableName: {}", table.name)));
            }
            // A disabled stream keeps its last label (and so its ARN).
            let label =
                if spec.enabled { spec.label.clone() } else { table.stream.as_ref().and_then(|s| s.label.clone()) };
            table.stream = Some(StreamSpec { label, ..spec });
        }
        if let Some(sse) = self.sse_spec(region, r.object("SSESpecification")?)? {
            if sse.is_none() && table.sse.is_none() {
                return Err(invalid_parameter("Table is already encrypted by default"));
            }
            table.sse = sse;
        }
        let mut created: Vec<Index> = vec![];
        let mut dropped: Vec<Index> = vec![];
        for update in index_updates {
            match update {
                GsiUpdate::Create(mut index, throughput_given) => {
                    // AWS checks the name before the definition.
                    if table.index(&index.name).is_some() {
                        return Err(validation("Attempting to create an index which already exists"));
                    }
                    let Some(defs) = &given_defs else {
                        return Err(invalid_parameter(format!(
                            "AttributeDefinitions is not specified for index: {}",
                            index.name
                        )));
                    };
                    check_distinct_key_names(&index.key)?;
                    check_index(&mut index, throughput_given, defs, !table.is_on_demand(), TableRequest::Update)?;
                    check_redefinition(&table, &index)?;
                    for attr in index.key.attrs() {
                        if !table.attribute_definitions.iter().any(|d| d.name == attr.name) {
                            table.attribute_definitions.push(attr.clone());
                        }
                    }
                    created.push(index);
                }
                GsiUpdate::Delete(index_name) => {
                    let Some(pos) = table.gsis.iter().position(|g| g.name == index_name) else {
                        if table.lsis.iter().any(|l| l.name == index_name) {
                            return Err(validation(format!(
                                "Cannot delete an index that is not a GlobalSecondaryIndex: {index_name}"
                            )));
                        }
                        return Err(index_not_found(&table.name, &index_name));
                    };
                    dropped.push(table.gsis.remove(pos));
                }
                GsiUpdate::Throughput(index_name, tp) => {
                    // (A switch to PROVISIONED in this request has already been applied.)
                    let on_demand = table.is_on_demand();
                    let Some(g) = table.gsis.iter_mut().find(|g| g.name == index_name) else {
                        return Err(index_not_found(&table.name, &index_name));
                    };
                    if on_demand {
                        return Err(invalid_parameter(format!(
                            "The only Updates for index: {index_name} when TableThroughputMode is PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput"
                        )));
                    }
                    g.throughput = Some(tp);
                }
            }
        }
        if !dropped.is_empty() {
            // A dropped index's key attributes leave the definitions unless still keys.
            let still_key = |name: &str| {
                table.key.is_key(name)
                    || table.indexes().any(|i| i.key.is_key(name))
                    || created.iter().any(|i| i.key.is_key(name))
            };
            let kept: Vec<KeyAttr> =
                table.attribute_definitions.iter().filter(|d| still_key(&d.name)).cloned().collect();
            table.attribute_definitions = kept;
        }
        let creating = !created.is_empty();
        let created_names: Vec<String> = created.iter().map(|i| i.name.clone()).collect();
        if creating {
            let first = self.catalog.allocate_ids(created.len() as u64).await?;
            for (i, index) in created.iter_mut().enumerate() {
                index.id = first + i as u64;
            }
            table.gsis.extend(created.iter().cloned());
        }
        // Dropped indexes go and new ones are backfilled in the transaction
        // that commits the new metadata: no write slips in between.
        let stage: Stage = Box::new(move |view, table, batch| {
            for index in &dropped {
                batch.delete_prefix(INDEXES, &index.id.to_be_bytes());
            }
            if creating {
                backfill(view, table, &created, batch)?;
            }
            Ok(())
        });
        let table = self.catalog.update(region, &current, table, stage).await?;
        let mut d = self.describe(&table)?;
        d["TableStatus"] = json!(if creating { "UPDATING" } else { "ACTIVE" });
        // The response shows a new index as AWS does when it starts building it.
        for g in d["GlobalSecondaryIndexes"].as_array_mut().into_iter().flatten() {
            if created_names.iter().any(|n| g["IndexName"] == json!(n)) {
                g["IndexStatus"] = json!("CREATING");
            }
        }
        Ok(json!({ "TableDescription": d }))
    }

    pub(crate) async fn update_ttl(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let spec = r.object("TimeToLiveSpecification")?;
        let mut v = Validator::default();
        v.not_null(spec.is_some(), "timeToLiveSpecification");
        let (enabled, attr) = match spec {
            Some(s) => {
                let sr = Req::new(s);
                let enabled = sr.bool("Enabled")?;
                let attr = sr.str("AttributeName")?;
                v.not_null(attr.is_some(), "timeToLiveSpecification.attributeName");
                v.not_null(enabled.is_some(), "timeToLiveSpecification.enabled");
                if let Some(a) = attr {
                    let field = "timeToLiveSpecification.attributeName";
                    v.check(!a.is_empty(), Some(a), field, "Member must have length greater than or equal to 1");
                    v.check(a.len() <= 255, Some(a), field, "Member must have length less than or equal to 255");
                }
                (enabled.unwrap_or(false), attr.unwrap_or_default().to_owned())
            }
            None => (false, String::new()),
        };
        v.finish()?;
        let _change = self.catalog.changing().await;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        match table.ttl.as_ref().filter(|t| t.enabled) {
            Some(current) if current.attribute != attr => {
                return Err(validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {}",
                    current.attribute
                )))
            }
            Some(_) if enabled => return Err(validation("TimeToLive is already enabled")),
            None if !enabled => return Err(validation("TimeToLive is already disabled")),
            _ => {}
        }
        let mut t = (*table).clone();
        t.ttl = Some(Ttl { attribute: attr.clone(), enabled });
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({ "TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr} }))
    }

    pub(crate) async fn describe_ttl(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        Ok(match &table.ttl {
            Some(t) if t.enabled => {
                json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": t.attribute}})
            }
            _ => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
        })
    }

    pub(crate) fn describe_limits(&self) -> Value {
        json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000
        })
    }

    /// The endpoint to send DynamoDB requests to: on AWS the regional
    /// hostname; here the host the caller reached this server by, so that
    /// clients doing endpoint discovery stay on it.
    pub(crate) fn describe_endpoints(&self, region: &str, host: Option<&str>) -> Value {
        let address = host.map_or_else(|| format!("dynamodb.{region}.amazonaws.com"), str::to_owned);
        json!({"Endpoints": [{"Address": address, "CachePeriodInMinutes": 1440}]})
    }
}

/// Stage the entries of the new `indexes` for every item of `table`.
fn backfill(
    view: &dyn ReadView,
    table: &Table,
    indexes: &[Index],
    batch: &mut WriteBatch,
) -> std::result::Result<(), TxnError<nimbus_core::AwsError>> {
    let prefix = table.id.to_be_bytes();
    let end = nimbus_store::prefix_end(&prefix);
    let upper = end.as_deref().map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    let mut failure = None;
    view.scan(ITEMS, (std::ops::Bound::Included(&prefix[..]), upper), Direction::Forward, &mut |_, v| {
        match item_from_stored(v) {
            Ok(item) => {
                for index in indexes.iter().filter(|index| index.accepts_key_values(&item)) {
                    if let Some(k) = table.index_entry_key(index, &item) {
                        batch.put(INDEXES, k, item_to_stored(&index.project(table, &item)));
                    }
                }
                std::ops::ControlFlow::Continue(())
            }
            Err(e) => {
                failure = Some(e);
                std::ops::ControlFlow::Break(())
            }
        }
    })?;
    match failure {
        Some(e) => Err(TxnError::Aborted(e)),
        None => Ok(()),
    }
}

fn index_not_found(table: &str, index: &str) -> nimbus_core::AwsError {
    dynamodb("ResourceNotFoundException", format!("Requested resource not found: Index {index} for table {table}"))
}
