//! Table operations: CreateTable, DescribeTable, ListTables, UpdateTable,
//! DeleteTable, tags, TTL, DescribeLimits, DescribeEndpoints.

use std::sync::Arc;

use nimbus_core::time::now_epoch_millis;
use nimbus_store::{Direction, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::{Req, Validator};
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

/// A KeySchema list: HASH first, then optionally RANGE (up to `max_len`
/// elements: a GSI may have a multi-attribute RANGE key). Types are filled
/// in from the attribute definitions by `resolve_types`.
fn key_schema(value: Option<&Value>, field: &str, max_len: usize, v: &mut Validator) -> Result<Option<KeySchema>> {
    let Some(value) = value else {
        v.not_null(false, field);
        return Ok(None);
    };
    let list = value.as_array().ok_or_else(|| serialization(unexpected(value, "List")))?;
    v.check(!list.is_empty(), None, field, "Member must have length greater than or equal to 1");
    v.check(list.len() <= max_len, None, field, &format!("Member must have length less than or equal to {max_len}"));
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
    if elems.is_empty() || elems.len() > max_len {
        return Ok(None);
    }
    if elems[0].1 != "HASH" {
        return Err(validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    for (i, (range, kind)) in elems.iter().enumerate().skip(1) {
        if *kind != "RANGE" {
            return Err(validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"));
        }
        if elems[..i].iter().any(|(n, _)| n == range) {
            return Err(validation(
                "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
    }
    let attr = |name: &str| KeyAttr { name: name.to_owned(), kind: ScalarType::S };
    Ok(Some(KeySchema {
        hash: attr(&elems[0].0),
        range: elems.get(1).map(|(n, _)| attr(n)),
        more_range: elems.iter().skip(2).map(|(n, _)| attr(n)).collect(),
    }))
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
    v.not_null(read.is_some(), &format!("{field}.readCapacityUnits"));
    v.not_null(write.is_some(), &format!("{field}.writeCapacityUnits"));
    for (x, name) in [(read, "readCapacityUnits"), (write, "writeCapacityUnits")] {
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

fn projection(value: Option<&Map<String, Value>>, field: &str, v: &mut Validator) -> Result<Projection> {
    let Some(obj) = value else {
        v.not_null(false, field);
        return Ok(Projection { kind: ProjectionType::All, non_key: vec![] });
    };
    let r = Req::new(obj);
    let kind =
        r.enum_value("ProjectionType", &format!("{field}.projectionType"), &["ALL", "KEYS_ONLY", "INCLUDE"], v)?;
    let non_key: Option<Vec<String>> =
        r.array("NonKeyAttributes")?.map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_owned()).collect());
    let kind = match kind {
        Some("KEYS_ONLY") => ProjectionType::KeysOnly,
        Some("INCLUDE") => ProjectionType::Include,
        _ => ProjectionType::All,
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
fn check_index(index: &mut Index, throughput_given: bool, defs: &[KeyAttr], provisioned: bool) -> Result<()> {
    resolve_types(&mut index.key, defs)?;
    let name = &index.name;
    if index.global && provisioned && !throughput_given {
        return Err(invalid_parameter(format!("ProvisionedThroughput must be specified for index: {name}")));
    }
    if index.global && !provisioned && throughput_given {
        return Err(invalid_parameter(format!(
            "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
        )));
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
        v.key_attribute_name(name, &format!("attributeDefinitions.{}.member.attributeName", i + 1));
        v.not_null(kind.is_some(), &format!("attributeDefinitions.{}.member.attributeType", i + 1));
        if let (Some(name), Some(kind)) = (name, kind.and_then(ScalarType::parse)) {
            defs.push(KeyAttr { name: name.to_owned(), kind });
        }
    }
    Ok(defs)
}

fn tags(list: Option<&Vec<Value>>) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for t in list.into_iter().flatten() {
        let obj = t.as_object().ok_or_else(|| serialization("Expected null"))?;
        let r = Req::new(obj);
        let key = r.str("Key")?.unwrap_or_default().to_owned();
        let value = r.str("Value")?.unwrap_or_default().to_owned();
        out.push((key, value));
    }
    Ok(out)
}

fn stream_spec(obj: Option<&Map<String, Value>>) -> Result<Option<StreamSpec>> {
    let Some(obj) = obj else { return Ok(None) };
    let r = Req::new(obj);
    let enabled = r.bool("StreamEnabled")?.unwrap_or(false);
    let view_type = r.str("StreamViewType")?.map(str::to_owned);
    if enabled && view_type.is_none() {
        return Err(validation("Stream view type is required when enabling stream"));
    }
    let label = enabled
        .then(|| nimbus_core::time::format_iso8601_millis(now_epoch_millis() as i64).trim_end_matches('Z').to_owned());
    Ok(Some(StreamSpec { enabled, view_type, label }))
}

impl DynamoDb {
    pub(crate) async fn create_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let name = r.str("TableName")?;
        v.table_name(name, "tableName");
        let defs = attribute_definitions(&r, &mut v)?;
        let ks = key_schema(r.get("KeySchema"), "keySchema", 2, &mut v)?;
        let billing = r.enum_value("BillingMode", "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"], &mut v)?;
        let tp = throughput(r.object("ProvisionedThroughput")?, "provisionedThroughput", &mut v)?;
        r.enum_value("TableClass", "tableClass", &["STANDARD", "STANDARD_INFREQUENT_ACCESS"], &mut v)?;
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
        resolve_types(&mut ks, &defs)?;
        let resolve = |list: Vec<(Index, bool)>| -> Result<Vec<Index>> {
            list.into_iter()
                .map(|(mut index, given)| check_index(&mut index, given, &defs, provisioned).map(|()| index))
                .collect()
        };
        let (gsis, lsis) = (resolve(gsis)?, resolve(lsis)?);
        let mut used: Vec<&str> = ks.attrs().map(|a| a.name.as_str()).collect();
        for index in gsis.iter().chain(&lsis) {
            used.extend(index.key.attrs().map(|a| a.name.as_str()));
        }
        if defs.iter().any(|d| !used.contains(&d.name.as_str()))
            || defs.len() < used.iter().collect::<std::collections::BTreeSet<_>>().len()
        {
            return Err(invalid_parameter(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        for i in 0..defs.len() {
            if defs[..i].iter().any(|d| d.name == defs[i].name) {
                return Err(invalid_parameter("Cannot have two attributes with the same name"));
            }
        }
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
            return Err(validation("One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20"));
        }
        if lsis.len() > 5 {
            return Err(validation(
                "One or more parameter values were invalid: LocalSecondaryIndex count exceeds the per-table limit of 5",
            ));
        }
        let stream = stream_spec(r.object("StreamSpecification")?)?;
        crate::streams::model::check_spec(stream.as_ref())?;
        let sse = r.object("SSESpecification")?.map(|s| {
            let enabled = s.get("Enabled").and_then(Value::as_bool).unwrap_or(false);
            if enabled {
                json!({"Status": "ENABLED", "SSEType": "KMS",
                    "KMSMasterKeyArn": format!("arn:aws:kms:{region}:{}:key/nimbus-default", self.context.account_id)})
            } else {
                Value::Null
            }
        });
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
            sse: sse.filter(|s| !s.is_null()),
            tags: tags(r.array("Tags")?)?,
            deletion_protection: r.bool("DeletionProtectionEnabled")?.unwrap_or(false),
            table_class: r.str("TableClass")?.map(str::to_owned),
            ttl: None,
            lineage: Default::default(),
        };
        let table = self.catalog.create(region, table).await?;
        let mut d = table.describe(0, 0, &[]);
        d["TableStatus"] = json!("CREATING");
        Ok(json!({ "TableDescription": d }))
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
        Ok(json!({ "TableDescription": d }))
    }

    pub(crate) async fn update_table(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let mut v = Validator::default();
        let billing = r.enum_value("BillingMode", "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"], &mut v)?;
        let tp = throughput(r.object("ProvisionedThroughput")?, "provisionedThroughput", &mut v)?;
        r.enum_value("TableClass", "tableClass", &["STANDARD", "STANDARD_INFREQUENT_ACCESS"], &mut v)?;
        v.finish()?;
        let _change = self.catalog.changing().await;
        let current = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        let mut table: Table = (*current).clone();
        let mut changed = false;
        let mut defs = table.attribute_definitions.clone();
        if r.has("AttributeDefinitions") {
            let mut v = Validator::default();
            for d in attribute_definitions(&r, &mut v)? {
                if !defs.iter().any(|x| x.name == d.name) {
                    defs.push(d);
                }
            }
            v.finish()?;
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
                } else if tp.is_none() {
                    return Err(invalid_parameter(
                        "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                    ));
                }
            }
            changed = true;
        }
        if let Some(tp) = tp {
            if table.is_on_demand() {
                return Err(validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"));
            }
            if tp.read == table.throughput.read && tp.write == table.throughput.write && billing.is_none() {
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
            changed = true;
        }
        if let Some(p) = r.bool("DeletionProtectionEnabled")? {
            table.deletion_protection = p;
            changed = true;
        }
        if let Some(class) = r.str("TableClass")? {
            table.table_class = Some(class.to_owned());
            changed = true;
        }
        if r.has("StreamSpecification") {
            let mut spec = stream_spec(r.object("StreamSpecification")?)?;
            if let Some(spec) = &mut spec {
                crate::streams::model::check_change(&table, spec)?;
            }
            table.stream = spec;
            changed = true;
        }
        if let Some(sse) = r.object("SSESpecification")? {
            let enabled = sse.get("Enabled").and_then(Value::as_bool).unwrap_or(false);
            table.sse = enabled.then(|| {
                json!({"Status": "ENABLED", "SSEType": "KMS",
                    "KMSMasterKeyArn": format!("arn:aws:kms:{region}:{}:key/nimbus-default", self.context.account_id)})
            });
            changed = true;
        }
        let mut created: Vec<Index> = vec![];
        let mut dropped: Vec<Index> = vec![];
        for (i, u) in r.array("GlobalSecondaryIndexUpdates")?.into_iter().flatten().enumerate() {
            let obj = u.as_object().ok_or_else(|| serialization("Expected null"))?;
            let ur = Req::new(obj);
            let mut v = Validator::default();
            if let Some(c) = ur.get("Create") {
                let field = format!("globalSecondaryIndexUpdates.{}.member.create", i + 1);
                let index = parse_index(c, &field, true, &mut v)?;
                v.finish()?;
                if let Some((mut index, given)) = index {
                    check_index(&mut index, given, &defs, !table.is_on_demand())?;
                    if table.index(&index.name).is_some() {
                        return Err(validation(format!(
                            "One or more parameter values were invalid: Attempting to create an index which already exists: {}",
                            index.name
                        )));
                    }
                    created.push(index);
                }
            } else if let Some(d) = ur.object("Delete")? {
                let index_name = Req::new(d).str("IndexName")?.unwrap_or_default();
                let Some(pos) = table.gsis.iter().position(|g| g.name == index_name) else {
                    return Err(resource_not_found_index(index_name));
                };
                dropped.push(table.gsis.remove(pos));
            } else if let Some(up) = ur.object("Update")? {
                let ur = Req::new(up);
                let index_name = ur.str("IndexName")?.unwrap_or_default();
                let tp = throughput(ur.object("ProvisionedThroughput")?, "provisionedThroughput", &mut v)?;
                v.finish()?;
                let Some(g) = table.gsis.iter_mut().find(|g| g.name == index_name) else {
                    return Err(resource_not_found_index(index_name));
                };
                if let Some(tp) = tp {
                    g.throughput = Some(tp);
                }
            }
            changed = true;
        }
        if !changed && !r.has("AttributeDefinitions") {
            return Err(validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        table.attribute_definitions = defs;
        let creating = !created.is_empty();
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
        Ok(json!({ "TableDescription": d }))
    }

    fn table_by_arn(&self, region: &str, arn: Option<&str>) -> Result<Arc<Table>> {
        let arn = arn.unwrap_or_default();
        let name = arn.split_once(":table/").map(|(_, n)| n).filter(|n| !n.contains('/') && arn.starts_with("arn:"));
        let Some(name) = name else {
            return Err(validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}")));
        };
        match self.catalog.get(region, name)? {
            Some(t) if t.arn == arn => Ok(t),
            _ => Err(dynamodb(
                "ResourceNotFoundException",
                format!("Requested resource not found: ResourcArn: {arn} not found"),
            )),
        }
    }

    pub(crate) async fn tag_resource(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.not_null(r.has("Tags"), "tags");
        v.finish()?;
        let _change = self.catalog.changing().await;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let new_tags = tags(r.array("Tags")?)?;
        let mut t = (*table).clone();
        for (k, val) in new_tags {
            match t.tags.iter_mut().find(|(x, _)| *x == k) {
                Some(slot) => slot.1 = val,
                None => t.tags.push((k, val)),
            }
        }
        if t.tags.len() > 50 {
            return Err(validation(
                "One or more parameter values were invalid: The number of tags exceeds the limit of 50",
            ));
        }
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.not_null(r.has("TagKeys"), "tagKeys");
        v.finish()?;
        let _change = self.catalog.changing().await;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let keys: Vec<&str> = r.array("TagKeys")?.into_iter().flatten().filter_map(Value::as_str).collect();
        let mut t = (*table).clone();
        t.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_tags(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.finish()?;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let tags: Vec<Value> = table.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        Ok(json!({ "Tags": tags }))
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
                v.not_null(enabled.is_some(), "timeToLiveSpecification.enabled");
                v.not_null(attr.is_some(), "timeToLiveSpecification.attributeName");
                (enabled.unwrap_or(false), attr.unwrap_or_default().to_owned())
            }
            None => (false, String::new()),
        };
        v.finish()?;
        let _change = self.catalog.changing().await;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        let currently = table.ttl.as_ref().is_some_and(|t| t.enabled);
        if enabled && currently {
            return Err(validation("TimeToLive is already enabled"));
        }
        if !enabled && !currently {
            return Err(validation("TimeToLive is already disabled"));
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

    pub(crate) fn describe_endpoints(&self, region: &str) -> Value {
        json!({"Endpoints": [{"Address": format!("dynamodb.{region}.amazonaws.com"), "CachePeriodInMinutes": 1440}]})
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
                for index in indexes {
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

fn resource_not_found_index(name: &str) -> nimbus_core::AwsError {
    dynamodb("ResourceNotFoundException", format!("Requested resource not found: Index: {name} not found"))
}
