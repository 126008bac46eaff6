//! The table specifications CreateTable and UpdateTable take (key schemas,
//! attribute definitions, indexes, throughput, streams, table class), parsed
//! and checked with AWS's rules and wording.

use nimbus_core::time::now_epoch_millis;
use serde_json::{json, Map, Value};

use super::{Req, Validator};
use crate::error::{invalid_parameter, serialization, validation, Result};
use crate::model::table::{
    Index, KeyAttr, KeySchema, Projection, ProjectionType, ScalarType, StreamSpec, Table, Throughput,
};
use crate::types::unexpected;

/// The member name CreateTable's own KeySchema is validated under.
pub(super) const TABLE_KEY_SCHEMA: &str = "keySchema";

/// A key may not name one attribute twice; AWS checks this once the
/// attribute definitions are known to match.
pub(super) fn check_distinct_key_names(ks: &KeySchema) -> Result<()> {
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
pub(super) fn key_schema(
    value: Option<&Value>,
    field: &str,
    max_len: usize,
    v: &mut Validator,
) -> Result<Option<KeySchema>> {
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
pub(super) fn check_definitions<'a>(
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
pub(super) fn resolve_types(ks: &mut KeySchema, defs: &[KeyAttr]) -> Result<()> {
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

pub(super) fn throughput(
    value: Option<&Map<String, Value>>,
    field: &str,
    v: &mut Validator,
) -> Result<Option<Throughput>> {
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
pub(super) fn on_demand_limits(
    r: &Req<'_>,
    on_demand: bool,
    request: TableRequest,
) -> Result<Option<Map<String, Value>>> {
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
pub(super) fn check_throughput_bounds(tp: Option<&Throughput>) -> Result<()> {
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
pub(super) fn parse_index(
    value: &Value,
    field: &str,
    global: bool,
    v: &mut Validator,
) -> Result<Option<(Index, bool)>> {
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
pub(super) fn check_index(
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

pub(super) fn attribute_definitions(r: &Req<'_>, v: &mut Validator) -> Result<Vec<KeyAttr>> {
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
pub(super) fn table_class(r: &Req<'_>) -> Result<Option<String>> {
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
pub(super) enum TableRequest {
    Create,
    Update,
}

pub(super) fn stream_spec(obj: Option<&Map<String, Value>>, request: TableRequest) -> Result<Option<StreamSpec>> {
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
pub(super) enum GsiUpdate {
    /// A new index, and whether it named a ProvisionedThroughput.
    Create(Index, bool),
    Delete(String),
    Throughput(String, Throughput),
}

/// GlobalSecondaryIndexUpdates: each entry names exactly one action.
pub(super) fn gsi_updates(r: &Req<'_>, v: &mut Validator) -> Result<Vec<GsiUpdate>> {
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
pub(super) fn check_update_combination(r: &Req<'_>, iops: bool, others: bool, index_online: bool) -> Result<()> {
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
pub(super) fn check_redefinition(table: &Table, index: &Index) -> Result<()> {
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
