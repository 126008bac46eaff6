//! Table operations: CreateTable, DescribeTable, ListTables, UpdateTable,
//! DeleteTable, DescribeLimits, DescribeEndpoints. The specifications they
//! take are parsed in `table_spec`; tags and TTL have modules of their own.

use nimbus_core::time::now_epoch_millis;
use nimbus_store::{Direction, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::table_spec::{
    attribute_definitions, check_definitions, check_distinct_key_names, check_index, check_redefinition,
    check_throughput_bounds, check_update_combination, gsi_updates, key_schema, on_demand_limits, parse_index,
    resolve_types, stream_spec, table_class, throughput, GsiUpdate, TableRequest, TABLE_KEY_SCHEMA,
};
use super::{tags, Req, Validator};
use crate::error::{dynamodb, internal, invalid_parameter, validation, Result};
use crate::model::items::stats;
use crate::model::table::{Index, KeyAttr, StreamSpec, Table, Throughput};
use crate::model::{Stage, INDEXES, ITEMS};
use crate::types::{item_from_stored, item_to_stored};
use crate::DynamoDb;

fn now_seconds() -> f64 {
    now_epoch_millis() as f64 / 1000.0
}

/// TableId: a UUID, like AWS's (the request-id generator has the right shape).
fn table_uuid() -> String {
    nimbus_core::request::new_request_id()
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
        // The response describes the table as AWS does when it starts creating it.
        for g in d["GlobalSecondaryIndexes"].as_array_mut().into_iter().flatten() {
            g["IndexStatus"] = json!("CREATING");
        }
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
        // The response still lists a dropped index, as being deleted.
        let dropping: Vec<Value> = dropped
            .iter()
            .map(|index| {
                let mut g = current.describe_index(index, (0, 0));
                g["IndexStatus"] = json!("DELETING");
                g
            })
            .collect();
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
        d["TableStatus"] = json!(if creating || !dropping.is_empty() { "UPDATING" } else { "ACTIVE" });
        if !dropping.is_empty() {
            let gsis = d["GlobalSecondaryIndexes"].as_array().cloned().unwrap_or_default();
            d["GlobalSecondaryIndexes"] = Value::Array(gsis.into_iter().chain(dropping).collect());
        }
        // The response shows a new index as AWS does when it starts building it.
        for g in d["GlobalSecondaryIndexes"].as_array_mut().into_iter().flatten() {
            if created_names.iter().any(|n| g["IndexName"] == json!(n)) {
                g["IndexStatus"] = json!("CREATING");
            }
        }
        Ok(json!({ "TableDescription": d }))
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
