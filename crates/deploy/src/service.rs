//! CloudFormation's own API (awsQuery, 2010-05-15) as a Nimbus service, so
//! boto3's and the AWS CLI's `cloudformation create-stack`, `update-stack`,
//! `describe-stacks`, `delete-stack` … work against Nimbus with the same
//! engine as `nimbus up`. Stacks are deployed within the request (in-process
//! this takes milliseconds), so the stack is complete when the call returns;
//! a failed create is answered as an error naming the resource, after rollback.
//!
//! Register it with the other services, then connect its engine (which
//! calls those services in-process): see `CloudFormation::connect`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use nimbus_core::error::xml_escape;
use nimbus_core::time::format_iso8601_millis;
use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Protocol, Service, ServiceSpec};

use crate::api::sigv4::percent_decode;
use crate::engine::{DeployError, DeployOptions, Engine, StackState};
use crate::template::intrinsics::to_text;
use crate::template::Template;

const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

static SPEC: ServiceSpec = ServiceSpec {
    name: "cloudformation",
    signing_name: "cloudformation",
    protocol: Protocol::AwsQuery,
    xml_namespace: Some(NAMESPACE),
    ..ServiceSpec::BASE
};

pub struct CloudFormation {
    engine: OnceLock<Arc<Engine>>,
    /// Where relative `CodeUri`s of templates sent through the API resolve.
    base_dir: std::path::PathBuf,
}

impl CloudFormation {
    pub fn new(base_dir: impl Into<std::path::PathBuf>) -> Self {
        CloudFormation { engine: OnceLock::new(), base_dir: base_dir.into() }
    }

    /// Give it the engine, built on an `InProcessApi` over the server's
    /// services (this one among them: the engine never calls it).
    pub fn connect(&self, engine: Arc<Engine>) {
        let _ = self.engine.set(engine);
    }
}

type Form = Vec<(String, String)>;

fn form(request: &AwsRequest) -> Form {
    let mut text = String::from_utf8_lossy(&request.body).into_owned();
    if let Some(q) = request.uri.query() {
        text = format!("{q}&{text}");
    }
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn field<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn required<'a>(form: &'a Form, key: &str) -> Result<&'a str, AwsError> {
    field(form, key).filter(|v| !v.is_empty()).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(key)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

/// `Parameters.member.N.ParameterKey` / `ParameterValue` / `UsePreviousValue`.
fn parameters(form: &Form, previous: Option<&StackState>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in 1.. {
        let Some(key) = field(form, &format!("Parameters.member.{n}.ParameterKey")) else { break };
        let use_previous = field(form, &format!("Parameters.member.{n}.UsePreviousValue")) == Some("true");
        let value = if use_previous {
            previous.and_then(|p| p.parameters.get(key)).cloned()
        } else {
            field(form, &format!("Parameters.member.{n}.ParameterValue")).map(str::to_owned)
        };
        if let Some(v) = value {
            out.insert(key.to_owned(), v);
        }
    }
    out
}

fn respond(operation: &str, request_id: &str, result: &str) -> AwsResponse {
    let body = format!(
        "<{operation}Response xmlns=\"{NAMESPACE}\">\n  <{operation}Result>{result}</{operation}Result>\n  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n</{operation}Response>\n"
    );
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "text/xml")
        .body(Bytes::from(body))
        .unwrap_or_default()
}

fn x(text: &str) -> String {
    xml_escape(text).into_owned()
}

fn time(ms: u64) -> String {
    format_iso8601_millis(ms as i64)
}

fn deploy_error(e: DeployError) -> AwsError {
    match e {
        DeployError::NoSuchStack(name) => validation(format!("Stack with id {name} does not exist")),
        DeployError::State(m) => AwsError::internal(m),
        other => validation(other.to_string()),
    }
}

fn describe(stack: &StackState) -> String {
    let params: String = stack
        .parameters
        .iter()
        .map(|(k, v)| {
            format!("<member><ParameterKey>{}</ParameterKey><ParameterValue>{}</ParameterValue></member>", x(k), x(v))
        })
        .collect();
    let outputs: String = stack
        .outputs
        .iter()
        .map(|(k, o)| {
            let value = to_text(&o.value).unwrap_or_else(|| o.value.to_string());
            let description =
                o.description.as_deref().map(|d| format!("<Description>{}</Description>", x(d))).unwrap_or_default();
            format!(
                "<member><OutputKey>{}</OutputKey><OutputValue>{}</OutputValue>{description}</member>",
                x(k),
                x(&value)
            )
        })
        .collect();
    let created = if stack.created_at == 0 { stack.updated_at } else { stack.created_at };
    format!(
        "<member><StackId>{}</StackId><StackName>{}</StackName><CreationTime>{}</CreationTime><LastUpdatedTime>{}</LastUpdatedTime><StackStatus>{}</StackStatus><DisableRollback>false</DisableRollback><Parameters>{params}</Parameters><Outputs>{outputs}</Outputs><Tags/><EnableTerminationProtection>false</EnableTerminationProtection></member>",
        x(&stack.stack_id),
        x(&stack.name),
        time(created),
        time(stack.updated_at),
        x(&stack.status)
    )
}

impl CloudFormation {
    fn engine(&self) -> Result<&Arc<Engine>, AwsError> {
        self.engine.get().ok_or_else(|| AwsError::internal("CloudFormation is not connected to the services"))
    }

    async fn stack(&self, name_or_id: &str) -> Result<StackState, AwsError> {
        let engine = self.engine()?;
        // A stack id (ARN) names the stack in its path: …:stack/{name}/{uuid}.
        let name = name_or_id.strip_prefix("arn:").and_then(|_| name_or_id.split('/').nth(1)).unwrap_or(name_or_id);
        engine
            .stack(name)
            .await
            .map_err(deploy_error)?
            .ok_or_else(|| validation(format!("Stack with id {name_or_id} does not exist")))
    }

    async fn put_stack(&self, form: &Form, create: bool) -> Result<String, AwsError> {
        let engine = self.engine()?;
        let name = required(form, "StackName")?;
        let previous = engine.stack(name).await.map_err(deploy_error)?;
        match (&previous, create) {
            (Some(_), true) => {
                return Err(AwsError::new(400, "AlreadyExistsException", format!("Stack [{name}] already exists")))
            }
            (None, false) => return Err(validation(format!("Stack [{name}] does not exist"))),
            _ => {}
        }
        let body = match (field(form, "TemplateBody"), field(form, "UsePreviousTemplate")) {
            (Some(b), _) => b.to_owned(),
            (None, Some("true")) => previous
                .as_ref()
                .and_then(|p| p.template_body.clone())
                .ok_or_else(|| validation("the previous template is not known"))?,
            _ if field(form, "TemplateURL").is_some() => {
                return Err(validation("TemplateURL is not supported by Nimbus; send TemplateBody"))
            }
            _ => return Err(validation("Either Template URL or Template Body must be specified.")),
        };
        let options = DeployOptions {
            stack_name: name.to_owned(),
            base_dir: self.base_dir.clone(),
            parameter_overrides: parameters(form, previous.as_ref()),
            progress: None,
        };
        let outcome = engine.deploy(&body, &options).await.map_err(deploy_error)?;
        if !create && outcome.changes.is_empty() {
            return Err(validation("No updates are to be performed."));
        }
        Ok(format!("<StackId>{}</StackId>", x(&outcome.stack.stack_id)))
    }

    async fn dispatch(&self, request: AwsRequest) -> Result<AwsResponse, AwsError> {
        let form = form(&request);
        let action = field(&form, "Action").unwrap_or_default().to_owned();
        request.authorize(&format!("cloudformation:{action}"), "*")?;
        let id = request.request_id.clone();
        let result = match action.as_str() {
            "CreateStack" => self.put_stack(&form, true).await?,
            "UpdateStack" => self.put_stack(&form, false).await?,
            "DeleteStack" => {
                let name = required(&form, "StackName")?;
                match self.engine()?.delete(name, None).await {
                    Ok(_) | Err(DeployError::NoSuchStack(_)) => String::new(),
                    Err(e) => return Err(deploy_error(e)),
                }
            }
            "DescribeStacks" => {
                let stacks = match field(&form, "StackName") {
                    Some(name) => vec![self.stack(name).await?],
                    None => self.engine()?.stacks().await.map_err(deploy_error)?,
                };
                format!("<Stacks>{}</Stacks>", stacks.iter().map(describe).collect::<String>())
            }
            "ListStacks" => {
                let stacks = self.engine()?.stacks().await.map_err(deploy_error)?;
                let members: String = stacks
                    .iter()
                    .map(|s| {
                        let created = if s.created_at == 0 { s.updated_at } else { s.created_at };
                        format!(
                            "<member><StackId>{}</StackId><StackName>{}</StackName><CreationTime>{}</CreationTime><LastUpdatedTime>{}</LastUpdatedTime><StackStatus>{}</StackStatus></member>",
                            x(&s.stack_id),
                            x(&s.name),
                            time(created),
                            time(s.updated_at),
                            x(&s.status)
                        )
                    })
                    .collect();
                format!("<StackSummaries>{members}</StackSummaries>")
            }
            "DescribeStackResources" | "ListStackResources" => {
                let stack = self.stack(required(&form, "StackName")?).await?;
                let list = action == "ListStackResources";
                let members: String = stack
                    .resources
                    .iter()
                    .map(|(id, r)| {
                        let head = if list { String::new() } else { format!("<StackName>{}</StackName><StackId>{}</StackId>", x(&stack.name), x(&stack.stack_id)) };
                        let stamp = if list { "LastUpdatedTimestamp" } else { "Timestamp" };
                        format!(
                            "<member>{head}<LogicalResourceId>{}</LogicalResourceId><PhysicalResourceId>{}</PhysicalResourceId><ResourceType>{}</ResourceType><{stamp}>{}</{stamp}><ResourceStatus>{}</ResourceStatus></member>",
                            x(id),
                            x(&r.physical_id),
                            x(&r.resource_type),
                            time(stack.updated_at),
                            if stack.status.starts_with("UPDATE") { "UPDATE_COMPLETE" } else { "CREATE_COMPLETE" }
                        )
                    })
                    .collect();
                if list {
                    format!("<StackResourceSummaries>{members}</StackResourceSummaries>")
                } else {
                    format!("<StackResources>{members}</StackResources>")
                }
            }
            "GetTemplate" => {
                let stack = self.stack(required(&form, "StackName")?).await?;
                format!("<TemplateBody>{}</TemplateBody>", x(stack.template_body.as_deref().unwrap_or("")))
            }
            "ValidateTemplate" => {
                let body = required(&form, "TemplateBody")?;
                let template = Template::parse(body).map_err(|e| validation(format!("Template format error: {e}")))?;
                let params: String = template
                    .section("Parameters")
                    .into_iter()
                    .flatten()
                    .map(|(k, p)| {
                        let default = p.get("Default").and_then(to_text).map(|d| format!("<DefaultValue>{}</DefaultValue>", x(&d))).unwrap_or_default();
                        let description = p.get("Description").and_then(to_text).map(|d| format!("<Description>{}</Description>", x(&d))).unwrap_or_default();
                        format!("<member><ParameterKey>{}</ParameterKey>{default}<NoEcho>false</NoEcho>{description}</member>", x(k))
                    })
                    .collect();
                let description = template
                    .body
                    .get("Description")
                    .and_then(to_text)
                    .map(|d| format!("<Description>{}</Description>", x(&d)))
                    .unwrap_or_default();
                format!("<Parameters>{params}</Parameters>{description}")
            }
            "" => return Err(AwsError::new(400, "MissingAction", "Missing Action")),
            _ => return Err(AwsError::unknown_operation(Protocol::AwsQuery)),
        };
        Ok(respond(&action, &id, &result))
    }
}

impl Service for CloudFormation {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(self.dispatch(request))
    }
}
