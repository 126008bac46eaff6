//! IAM checks, made before an operation touches storage
//! (crates/iam/AUTHORIZING.md): each operation's action on the table (or
//! index) ARN, with the condition keys DynamoDB sets — `dynamodb:LeadingKeys`
//! (partition key values), `dynamodb:Attributes` (top-level attribute names
//! read or written), `dynamodb:Select` and `dynamodb:ReturnValues`.
//!
//! Batch operations are checked per table under their own action; the items
//! of a transaction under the per-item action (`dynamodb:PutItem`,
//! `…:ConditionCheckItem`, `…:GetItem`), as AWS documents it.

use std::collections::BTreeSet;

use nimbus_core::AwsRequest;
use serde_json::{Map, Value};

use super::items::parse_projection;
use super::{legacy, query, Req};
use crate::error::Result;
use crate::expr::{parser, update, Attrs, Kind, Path};
use crate::model::table::KeySchema;
use crate::DynamoDb;

/// The condition keys of one check, filled from the parts of the request.
#[derive(Default)]
struct Keys {
    leading: BTreeSet<String>,
    attributes: BTreeSet<String>,
    select: Option<String>,
    return_values: Option<String>,
}

impl Keys {
    fn as_context(&self) -> Vec<(&'static str, Vec<String>)> {
        let mut out = vec![];
        if !self.leading.is_empty() {
            out.push(("dynamodb:LeadingKeys", self.leading.iter().cloned().collect()));
        }
        if !self.attributes.is_empty() {
            out.push(("dynamodb:Attributes", self.attributes.iter().cloned().collect()));
        }
        if let Some(s) = &self.select {
            out.push(("dynamodb:Select", vec![s.clone()]));
        }
        if let Some(rv) = &self.return_values {
            out.push(("dynamodb:ReturnValues", vec![rv.clone()]));
        }
        out
    }

    /// The partition key value and every top-level name of a `Key` or `Item` map.
    fn add_item(&mut self, item: Option<&Map<String, Value>>, schema: Option<&KeySchema>) {
        let Some(item) = item else { return };
        self.attributes.extend(item.keys().cloned());
        let hash = schema.and_then(|s| item.get(&s.hash.name));
        if let Some(value) = hash.and_then(scalar_text) {
            self.leading.insert(value);
        }
    }

    fn add_paths<'p>(&mut self, paths: impl IntoIterator<Item = &'p Path>) {
        self.attributes.extend(paths.into_iter().map(|p| p.head().to_owned()));
    }

    /// ProjectionExpression or AttributesToGet.
    fn add_projection(&mut self, r: &Req<'_>) {
        let mut attrs = Attrs::from_request(r).unwrap_or_default();
        if let Ok(Some(paths)) = parse_projection(r, &mut attrs) {
            self.add_paths(&paths);
        }
    }

    /// UpdateExpression's targets or AttributeUpdates' names.
    fn add_updates(&mut self, r: &Req<'_>) {
        if let Ok(Some(src)) = r.str("UpdateExpression") {
            let mut attrs = Attrs::from_request(r).unwrap_or_default();
            if let Ok(parsed) = update::parse(src, &mut attrs) {
                self.add_paths(parsed.targets());
            }
        }
        if let Ok(Some(updates)) = r.object("AttributeUpdates") {
            self.attributes.extend(updates.keys().cloned());
        }
    }

    /// The partition value a Query's key condition names.
    fn add_query_partition(&mut self, r: &Req<'_>, schema: &KeySchema) {
        let mut attrs = Attrs::from_request(r).unwrap_or_default();
        let cond = match r.str("KeyConditionExpression") {
            Ok(Some(src)) => parser::condition(src, Kind::KeyCondition, &mut attrs).ok(),
            _ => legacy::filter(r, "KeyConditions", false).ok().flatten(),
        };
        if let Some(hash) = cond.and_then(|c| query::partition_value(c, schema)) {
            self.leading.insert(hash.display_scalar());
        }
    }

    fn add_return_values(&mut self, r: &Req<'_>) {
        self.return_values = r.str("ReturnValues").ok().flatten().map(str::to_owned);
    }

    /// A read's Select as stated, or as the API defaults it (a projection
    /// selects specific attributes; none selects all, or all projected on an
    /// index), so a policy requiring SPECIFIC_ATTRIBUTES is not bypassed by
    /// leaving Select out.
    fn add_select(&mut self, r: &Req<'_>, on_index: bool) {
        let stated = r.str("Select").ok().flatten();
        let projected = r.has("ProjectionExpression") || r.has("AttributesToGet");
        let select = match stated {
            Some(s) => s,
            None if projected => "SPECIFIC_ATTRIBUTES",
            None if on_index => "ALL_PROJECTED_ATTRIBUTES",
            None => "ALL_ATTRIBUTES",
        };
        self.select = Some(select.to_owned());
    }
}

/// A key attribute's wire value (`{"S": "x"}`, `{"N": "5"}`, `{"B": "…"}`) as text.
fn scalar_text(value: &Value) -> Option<String> {
    let (_, inner) = value.as_object()?.iter().find(|(t, _)| matches!(t.as_str(), "S" | "N" | "B"))?;
    inner.as_str().map(str::to_owned)
}

impl DynamoDb {
    /// May the caller run `operation` with this body? Root and `--auth off`
    /// pass without any work.
    pub(crate) fn authorize(&self, request: &AwsRequest, operation: &str, region: &str, r: &Req<'_>) -> Result<()> {
        if request.principal.is_root() || request.authorizer.is_none() {
            return Ok(());
        }
        let action = format!("dynamodb:{operation}");
        match operation {
            "ListTables" | "DescribeLimits" | "DescribeEndpoints" => request.authorize(&action, "*"),
            "TagResource" | "UntagResource" | "ListTagsOfResource" => {
                let arn = r.str("ResourceArn").ok().flatten().unwrap_or_default();
                request.authorize(&action, arn)
            }
            "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => self.authorize_item(request, &action, region, r),
            "Query" | "Scan" => self.authorize_read(request, &action, region, r),
            "BatchGetItem" | "BatchWriteItem" => self.authorize_batch(request, &action, region, r),
            "TransactGetItems" | "TransactWriteItems" => self.authorize_transaction(request, region, r),
            "CreateTable" | "DescribeTable" | "UpdateTable" | "DeleteTable" | "UpdateTimeToLive"
            | "DescribeTimeToLive" => {
                let name = r.str("TableName").ok().flatten().unwrap_or_default();
                request.authorize(&action, &self.arn_of(region, name))
            }
            // Unknown operations are answered as such by the dispatcher.
            _ => Ok(()),
        }
    }

    /// A TableName member as an ARN (it may already be one).
    fn arn_of(&self, region: &str, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_owned();
        }
        format!("arn:aws:dynamodb:{region}:{}:table/{name}", self.context.account_id)
    }

    fn schema(&self, region: &str, name: &str) -> Option<KeySchema> {
        self.catalog.get(region, name).ok().flatten().map(|t| t.key.clone())
    }

    fn check(&self, request: &AwsRequest, action: &str, resource: &str, keys: &Keys) -> Result<()> {
        let context = keys.as_context();
        let borrowed: Vec<(&str, &[String])> = context.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        request.authorize_with(action, resource, &borrowed)
    }

    /// GetItem, PutItem, UpdateItem, DeleteItem and each item of a transaction.
    fn authorize_item(&self, request: &AwsRequest, action: &str, region: &str, r: &Req<'_>) -> Result<()> {
        let name = r.str("TableName").ok().flatten().unwrap_or_default();
        let schema = self.schema(region, name);
        let mut keys = Keys::default();
        let member = if action == "dynamodb:PutItem" { "Item" } else { "Key" };
        keys.add_item(r.object(member).ok().flatten(), schema.as_ref());
        keys.add_projection(r);
        keys.add_updates(r);
        keys.add_return_values(r);
        if action == "dynamodb:GetItem" {
            keys.add_select(r, false);
        }
        self.check(request, action, &self.arn_of(region, name), &keys)
    }

    /// Query and Scan, on the table or on `table/T/index/I`.
    fn authorize_read(&self, request: &AwsRequest, action: &str, region: &str, r: &Req<'_>) -> Result<()> {
        let name = r.str("TableName").ok().flatten().unwrap_or_default();
        let index = r.str("IndexName").ok().flatten();
        let mut keys = Keys::default();
        keys.add_projection(r);
        keys.add_select(r, index.is_some());
        if action == "dynamodb:Query" {
            let table = self.catalog.get(region, name).ok().flatten();
            let schema = table.as_ref().map(|t| match index.and_then(|i| t.index(i)) {
                Some(i) => &i.key,
                None => &t.key,
            });
            if let Some(schema) = schema {
                keys.add_query_partition(r, schema);
            }
        }
        let mut arn = self.arn_of(region, name);
        if let Some(index) = index {
            arn = format!("{arn}/index/{index}");
        }
        self.check(request, action, &arn, &keys)
    }

    /// BatchGetItem (`Keys` per table) and BatchWriteItem (Put/Delete requests
    /// per table): one check per table, with the keys of its items.
    fn authorize_batch(&self, request: &AwsRequest, action: &str, region: &str, r: &Req<'_>) -> Result<()> {
        let Ok(Some(tables)) = r.object("RequestItems") else { return Ok(()) };
        for (name, entry) in tables {
            let schema = self.schema(region, name);
            let mut keys = Keys::default();
            match entry {
                // BatchGetItem: {Keys: [...], ProjectionExpression, …}
                Value::Object(get) => {
                    let child = r.child(get);
                    for key in get.get("Keys").and_then(Value::as_array).into_iter().flatten() {
                        keys.add_item(key.as_object(), schema.as_ref());
                    }
                    keys.add_projection(&child);
                    keys.add_select(&child, false);
                }
                // BatchWriteItem: [{PutRequest: {Item}} | {DeleteRequest: {Key}}]
                Value::Array(writes) => {
                    for write in writes {
                        let item = write
                            .pointer("/PutRequest/Item")
                            .or_else(|| write.pointer("/DeleteRequest/Key"))
                            .and_then(Value::as_object);
                        keys.add_item(item, schema.as_ref());
                    }
                }
                _ => {}
            }
            self.check(request, action, &self.arn_of(region, name), &keys)?;
        }
        Ok(())
    }

    /// Each item of a transaction under its own action.
    fn authorize_transaction(&self, request: &AwsRequest, region: &str, r: &Req<'_>) -> Result<()> {
        let Ok(Some(items)) = r.array("TransactItems") else { return Ok(()) };
        for item in items.iter().filter_map(Value::as_object) {
            for (member, body) in item {
                let action = match member.as_str() {
                    "Get" => "dynamodb:GetItem",
                    "Put" => "dynamodb:PutItem",
                    "Update" => "dynamodb:UpdateItem",
                    "Delete" => "dynamodb:DeleteItem",
                    "ConditionCheck" => "dynamodb:ConditionCheckItem",
                    _ => continue,
                };
                if let Some(body) = body.as_object() {
                    self.authorize_item(request, action, region, &r.child(body))?;
                }
            }
        }
        Ok(())
    }
}
