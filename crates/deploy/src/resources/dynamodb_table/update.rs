//! In-place updates, as CloudFormation makes them. DynamoDB takes only some
//! changes together in one UpdateTable (a billing or throughput change, a
//! stream switched on or off, one index created or deleted, and table
//! class, encryption and deletion protection each alone), so a template
//! change becomes a planned sequence of requests, each sent once the table
//! and its indexes are ACTIVE again.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{
    billing_mode, call, index, on_demand_caps, outcome, set_time_to_live, sse_spec, stream_spec, stream_view,
    throughput, Ctx, Existing, Provisioned, Result,
};
use crate::api::ApiError;
use crate::resources::{invalid, optional_bool, tags_map};

/// How long a table may stay UPDATING before the update fails.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id;
    for mut body in plan(old.properties, props)? {
        wait_until_active(ctx, name).await?;
        body["TableName"] = json!(name);
        ctx.api.call("dynamodb", call("UpdateTable", body)).await?;
    }
    wait_until_active(ctx, name).await?;
    if old.properties.get("TimeToLiveSpecification") != props.get("TimeToLiveSpecification") {
        set_time_to_live(ctx, name, props.get("TimeToLiveSpecification")).await?;
    }
    let described = ctx.api.call("dynamodb", call("DescribeTable", json!({"TableName": name}))).await?;
    if old.properties.get("Tags") != props.get("Tags") {
        let arn = described["Table"]["TableArn"].as_str().unwrap_or_default();
        retag(ctx, arn, old.properties, props).await?;
    }
    Ok(outcome(name, &described["Table"]))
}

/// The UpdateTable requests (less `TableName`) that take a table from `old`
/// to `new` properties, in order: index deletions, billing and throughput,
/// the stream, encryption, table class, deletion protection, index creations.
pub(super) fn plan(old: &Value, new: &Value) -> Result<Vec<Value>> {
    let before = gsis(old);
    let after = gsis(new);
    let mut requests = Vec::new();

    for (name, _) in before.iter().filter(|(name, _)| !after.contains_key(*name)) {
        requests.push(json!({"GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": name}}]}));
    }
    // Indexes kept by name may change only their throughput.
    let mut kept = Vec::new();
    for (name, def) in &after {
        if let Some(was) = before.get(name) {
            if without_throughput(was) != without_throughput(def) {
                return Err(invalid(
                    "Cannot update GSI's properties other than Provisioned Throughput and Contributor Insights Specification. You can create a new GSI with a different name.",
                ));
            }
            kept.push((*name, *was, *def));
        }
    }

    requests.extend(capacity(old, new, &kept));

    match (stream_view(old), stream_view(new)) {
        (was, now) if was == now => {}
        // A stream's view type is fixed: a new one takes a new stream.
        (was, _) => {
            if was.is_some() {
                requests.push(json!({"StreamSpecification": {"StreamEnabled": false}}));
            }
            if let Some(spec) = stream_spec(new) {
                requests.push(json!({ "StreamSpecification": spec }));
            }
        }
    }
    let sse = sse_spec(new);
    if sse_spec(old) != sse {
        requests.push(json!({"SSESpecification": sse.unwrap_or_else(|| json!({"Enabled": false}))}));
    }
    let class = |p: &Value| p.get("TableClass").cloned().unwrap_or_else(|| json!("STANDARD"));
    if class(old) != class(new) {
        requests.push(json!({"TableClass": class(new)}));
    }
    let protected = |p: &Value| optional_bool(p, "DeletionProtectionEnabled").unwrap_or(false);
    if protected(old) != protected(new) {
        requests.push(json!({"DeletionProtectionEnabled": protected(new)}));
    }

    let definitions = new.get("AttributeDefinitions").cloned().unwrap_or(Value::Null);
    for (_, def) in after.iter().filter(|(name, _)| !before.contains_key(*name)) {
        requests.push(json!({
            "AttributeDefinitions": definitions,
            "GlobalSecondaryIndexUpdates": [{"Create": index(def)}],
        }));
    }
    Ok(requests)
}

/// The billing and throughput request, if anything changed. A switch to
/// PROVISIONED must give every remaining index its throughput in the same
/// request; a switch to PAY_PER_REQUEST gives none, only the on-demand caps.
fn capacity(old: &Value, new: &Value, kept: &[(&str, &Value, &Value)]) -> Option<Value> {
    let switching = billing_mode(old) != billing_mode(new);
    let mut body = Map::new();
    if billing_mode(new) == "PAY_PER_REQUEST" {
        if switching {
            body.insert("BillingMode".into(), json!("PAY_PER_REQUEST"));
        }
        // Caps taken out of the template are lifted: -1 is "no maximum".
        let caps = on_demand_caps(new);
        if caps != on_demand_caps(old) {
            let uncapped = json!({"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1});
            body.insert("OnDemandThroughput".into(), caps.unwrap_or(uncapped));
        }
        return (!body.is_empty()).then_some(Value::Object(body));
    }
    let pt = |p: &Value| p.get("ProvisionedThroughput").map(throughput);
    if switching {
        body.insert("BillingMode".into(), json!("PROVISIONED"));
    }
    if let Some(wanted) = pt(new).filter(|wanted| switching || pt(old).as_ref() != Some(wanted)) {
        body.insert("ProvisionedThroughput".into(), wanted);
    }
    let index_updates: Vec<Value> = kept
        .iter()
        .filter_map(|(name, was, now)| {
            let wanted = pt(now).filter(|wanted| switching || pt(was).as_ref() != Some(wanted))?;
            Some(json!({"Update": {"IndexName": name, "ProvisionedThroughput": wanted}}))
        })
        .collect();
    if !index_updates.is_empty() {
        body.insert("GlobalSecondaryIndexUpdates".into(), Value::Array(index_updates));
    }
    (!body.is_empty()).then_some(Value::Object(body))
}

/// The global secondary indexes by name.
fn gsis(props: &Value) -> std::collections::BTreeMap<&str, &Value> {
    let list = props.get("GlobalSecondaryIndexes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter().filter_map(|i| Some((i.get("IndexName")?.as_str()?, i))).collect()
}

fn without_throughput(def: &Value) -> Value {
    let mut def = def.clone();
    if let Some(m) = def.as_object_mut() {
        m.remove("ProvisionedThroughput");
        m.remove("ContributorInsightsSpecification");
    }
    def
}

/// Tags removed from the template are untagged; new or changed ones tagged.
async fn retag(ctx: &Ctx<'_>, arn: &str, old: &Value, new: &Value) -> Result<()> {
    let map = |p: &Value| tags_map(p).and_then(|m| m.as_object().cloned()).unwrap_or_default();
    let (before, after) = (map(old), map(new));
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    if !gone.is_empty() {
        let body = json!({"ResourceArn": arn, "TagKeys": gone});
        ctx.api.call("dynamodb", call("UntagResource", body)).await?;
    }
    let set: Vec<Value> =
        after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    if !set.is_empty() {
        ctx.api.call("dynamodb", call("TagResource", json!({"ResourceArn": arn, "Tags": set}))).await?;
    }
    Ok(())
}

/// DynamoDB refuses an UpdateTable while the table or an index is still
/// being changed: wait for ACTIVE, as CloudFormation does between steps.
async fn wait_until_active(ctx: &Ctx<'_>, name: &str) -> Result<()> {
    let deadline = Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let table = ctx.api.call("dynamodb", call("DescribeTable", json!({"TableName": name}))).await?["Table"].take();
        let indexes = table["GlobalSecondaryIndexes"].as_array().map(Vec::as_slice).unwrap_or_default();
        if table["TableStatus"] == "ACTIVE" && indexes.iter().all(|i| i["IndexStatus"] == "ACTIVE") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ApiError::new(
                400,
                "NotStabilized",
                format!("table {name} did not become ACTIVE within {} seconds", ACTIVE_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
