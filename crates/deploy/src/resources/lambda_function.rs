//! AWS::Lambda::Function through Lambda's restJson API. Code comes inline
//! (`ZipFile`, written to `index.py`/`index.js` as CloudFormation does) or
//! from a local folder or zip (`LocalPath`, what the SAM transform makes of
//! `CodeUri`), zipped in memory. Ref: the function name. GetAtt: Arn.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::zip::{self, Entry};
use super::{generated_name, invalid, optional_i64, optional_str, seg, tags_map, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;
use crate::template::intrinsics::base64;

use http::Method;

/// Configuration properties that UpdateFunctionConfiguration takes, with
/// their CloudFormation names (`KmsKeyArn` is the API's `KMSKeyArn`).
const CONFIG: &[(&str, &str)] = &[
    ("Role", "Role"),
    ("Handler", "Handler"),
    ("Description", "Description"),
    ("Timeout", "Timeout"),
    ("MemorySize", "MemorySize"),
    ("VpcConfig", "VpcConfig"),
    ("Environment", "Environment"),
    ("Runtime", "Runtime"),
    ("DeadLetterConfig", "DeadLetterConfig"),
    ("KmsKeyArn", "KMSKeyArn"),
    ("TracingConfig", "TracingConfig"),
    ("Layers", "Layers"),
    ("EphemeralStorage", "EphemeralStorage"),
    ("LoggingConfig", "LoggingConfig"),
    ("SnapStart", "SnapStart"),
];

/// The deployment package, base64 as the JSON API carries blobs.
pub fn code_zip(props: &Value) -> Result<String> {
    let code = props.get("Code").ok_or_else(|| invalid("property Code is required"))?;
    if let Some(inline) = code.get("ZipFile").and_then(Value::as_str) {
        let runtime = props.get("Runtime").and_then(Value::as_str).unwrap_or("");
        let name = if runtime.starts_with("nodejs") { "index.js" } else { "index.py" };
        return Ok(base64(&zip::write(&[Entry { name: name.into(), data: inline.as_bytes().to_vec(), mode: 0o644 }])));
    }
    if let Some(path) = code.get("LocalPath").and_then(Value::as_str) {
        let path = Path::new(path);
        let bytes = if path.is_dir() { zip::zip_folder(path) } else { std::fs::read(path) }
            .map_err(|e| invalid(format!("cannot read code at {}: {e}", path.display())))?;
        return Ok(base64(&bytes));
    }
    if code.get("S3Bucket").is_some() || code.get("ImageUri").is_some() {
        return Err(invalid(
            "code in S3 or container images is not supported by Nimbus; use a local CodeUri or ZipFile",
        ));
    }
    Err(invalid("Code needs ZipFile or a local path"))
}

/// Numbers from Number parameters arrive as text; the API wants numbers.
fn config_value(props: &Value, key: &str) -> Result<Option<Value>> {
    Ok(match key {
        "Timeout" | "MemorySize" => optional_i64(props, key)?.map(Value::from),
        // Lambda takes only strings; CloudFormation stringifies `DEBUG: true`.
        "Environment" => props.get(key).map(|env| {
            let mut env = env.clone();
            if let Some(Value::Object(vars)) = env.get_mut("Variables") {
                for v in vars.values_mut() {
                    if let Some(text) = crate::template::intrinsics::to_text(v) {
                        *v = Value::String(text);
                    }
                }
            }
            env
        }),
        _ => props.get(key).cloned(),
    })
}

fn function_path(name: &str) -> String {
    format!("/2015-03-31/functions/{}", seg(name))
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = optional_str(props, "FunctionName").unwrap_or_else(|| generated_name(ctx, 64));
    let mut body = json!({"FunctionName": name, "Code": {"ZipFile": code_zip(props)?}, "PackageType": "Zip"});
    for (cfn, api) in CONFIG {
        if let Some(v) = config_value(props, cfn)? {
            body[*api] = v;
        }
    }
    if let Some(a) = props.get("Architectures") {
        body["Architectures"] = a.clone();
    }
    if let Some(tags) = tags_map(props) {
        body["Tags"] = tags;
    }
    let response = ctx.api.call("lambda", ApiCall::rest(Method::POST, "/2015-03-31/functions", Some(body))).await?;
    let arn = response
        .get("FunctionArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:aws:lambda:{}:{}:function:{name}", ctx.region, ctx.account_id));
    let provisioned = Provisioned::named(&name).with("Arn", arn);
    if let Some(n) = optional_i64(props, "ReservedConcurrentExecutions")? {
        if let Err(e) = put_concurrency(ctx, &name, n).await {
            // Do not leave a half-made function behind.
            let _ = ctx.api.call("lambda", ApiCall::rest(Method::DELETE, function_path(&name), None)).await;
            return Err(e);
        }
    }
    Ok(provisioned)
}

async fn put_concurrency(ctx: &Ctx<'_>, name: &str, n: i64) -> Result<()> {
    let path = format!("/2017-10-31/functions/{}/concurrency", seg(name));
    ctx.api
        .call("lambda", ApiCall::rest(Method::PUT, path, Some(json!({"ReservedConcurrentExecutions": n}))))
        .await
        .map(drop)
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id;
    let path = function_path(name);
    let mut config = Map::new();
    for (cfn, api) in CONFIG {
        if old.properties.get(*cfn) != props.get(*cfn) {
            // A removed property goes back to Lambda's default.
            let value = config_value(props, cfn)?.unwrap_or_else(|| default_of(cfn));
            config.insert((*api).to_owned(), value);
        }
    }
    if !config.is_empty() {
        ctx.api
            .call("lambda", ApiCall::rest(Method::PUT, format!("{path}/configuration"), Some(Value::Object(config))))
            .await?;
    }
    if old.properties.get("Code") != props.get("Code")
        || old.properties.get("Architectures") != props.get("Architectures")
    {
        let mut body = json!({"ZipFile": code_zip(props)?});
        if let Some(a) = props.get("Architectures") {
            body["Architectures"] = a.clone();
        }
        ctx.api.call("lambda", ApiCall::rest(Method::PUT, format!("{path}/code"), Some(body))).await?;
    }
    if old.properties.get("ReservedConcurrentExecutions") != props.get("ReservedConcurrentExecutions") {
        match optional_i64(props, "ReservedConcurrentExecutions")? {
            Some(n) => put_concurrency(ctx, name, n).await?,
            None => {
                let p = format!("/2017-10-31/functions/{}/concurrency", seg(name));
                ctx.api.call("lambda", ApiCall::rest(Method::DELETE, p, None)).await?;
            }
        }
    }
    if old.properties.get("Tags") != props.get("Tags") {
        if let (Some(arn), Some(tags)) = (old.attributes.get("Arn").and_then(Value::as_str), tags_map(props)) {
            let p = format!("/2017-03-31/tags/{}", seg(arn));
            ctx.api.call("lambda", ApiCall::rest(Method::POST, p, Some(json!({"Tags": tags})))).await?;
        }
    }
    let arn = old
        .attributes
        .get("Arn")
        .cloned()
        .unwrap_or_else(|| json!(format!("arn:aws:lambda:{}:{}:function:{name}", ctx.region, ctx.account_id)));
    Ok(Provisioned::named(name).with("Arn", arn))
}

fn default_of(key: &str) -> Value {
    match key {
        "Timeout" => json!(3),
        "MemorySize" => json!(128),
        "Environment" => json!({"Variables": {}}),
        "Layers" => json!([]),
        "Description" => json!(""),
        _ => Value::Null,
    }
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, function_path(old.physical_id), None)).await.map(drop)
}
