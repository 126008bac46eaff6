//! The engine's ordering, diff and rollback logic, against a recording
//! `AwsApi` that answers with the minimum each provisioner reads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nimbus_core::BoxFuture;
use serde_json::{json, Value};

use super::*;
use crate::api::{ApiCall, ApiError, AwsApi};

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    /// Fail the first call whose operation contains this text.
    fail_on: Mutex<Option<String>>,
    counter: Mutex<u32>,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    fn fail_on(&self, op: &str) {
        *self.fail_on.lock().unwrap() = Some(op.to_owned());
    }
    fn next_id(&self) -> String {
        let mut c = self.counter.lock().unwrap();
        *c += 1;
        format!("id{c}")
    }
}

/// `CreateRole`, `PUT /2015-03-31/functions/{name}/code` → `UpdateFunctionCode`-ish labels.
fn label(service: &str, call: &ApiCall) -> String {
    let op = call.operation();
    if call.target.is_some() || matches!(call.body, crate::api::Body::Form(_)) {
        return format!("{service}:{op}");
    }
    // Strip generated names so the labels are stable.
    let path = call.path_and_query.split('?').next().unwrap_or("");
    let shape: Vec<&str> = path
        .split('/')
        .map(|s| if s.starts_with("app-") || s.starts_with("id") || s.starts_with("arn") { "*" } else { s })
        .collect();
    format!("{service}:{} {}", call.method, shape.join("/"))
}

impl AwsApi for Recorder {
    fn call<'a>(&'a self, service: &'a str, call: ApiCall) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let label = label(service, &call);
            self.calls.lock().unwrap().push(label.clone());
            if let Some(op) = self.fail_on.lock().unwrap().as_deref() {
                if label.contains(op) {
                    return Err(ApiError::new(400, "ValidationException", format!("injected failure in {op}")));
                }
            }
            let body = match &call.body {
                crate::api::Body::Json(v) => v.clone(),
                _ => json!({}),
            };
            let id = self.next_id();
            Ok(match call.operation().as_str() {
                "CreateRole" => {
                    json!({"CreateRoleResult": {"Role": {"Arn": "arn:aws:iam::000000000000:role/r", "RoleId": "AROA1"}}})
                }
                "CreateTable" => {
                    json!({"TableDescription": {"TableArn": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{}", body["TableName"].as_str().unwrap_or(""))}})
                }
                _ if call.path_and_query == "/2015-03-31/functions" => {
                    json!({"FunctionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{}", body["FunctionName"].as_str().unwrap_or(""))})
                }
                _ if call.path_and_query == "/v2/apis" => {
                    json!({"apiId": "api1", "apiEndpoint": "https://api1.execute-api.us-east-1.amazonaws.com"})
                }
                _ if call.path_and_query == "/restapis" => json!({"id": "rest1", "rootResourceId": "root1"}),
                _ if call.path_and_query.starts_with("/restapis/rest1/resources/")
                    && call.method == http::Method::POST =>
                {
                    json!({"id": "res1"})
                }
                _ if call.path_and_query.ends_with("/deployments") => json!({"id": "dep1"}),
                _ if call.path_and_query.ends_with("/integrations") => json!({"integrationId": id}),
                _ if call.path_and_query.ends_with("/routes") => json!({"routeId": id}),
                _ => json!({}),
            })
        })
    }
}

fn engine() -> (Arc<Recorder>, Engine) {
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::new(recorder.clone(), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    (recorder, engine)
}

fn options(base: &Path) -> DeployOptions {
    DeployOptions {
        stack_name: "app".into(),
        base_dir: base.to_path_buf(),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    }
}

/// A scratch copy of an example, so tests can edit its code.
fn scratch(example: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(example);
    let dst = std::env::temp_dir().join(format!(
        "nimbus-engine-{example}-{}-{}",
        std::process::id(),
        nimbus_core::request::new_request_id()
    ));
    for (rel, abs) in crate::sam::code::list_files(&src).unwrap() {
        let to = dst.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(abs, to).unwrap();
    }
    dst
}

#[tokio::test]
async fn hello_creates_in_dependency_order_then_redeploys_as_a_diff() {
    let (rec, engine) = engine();
    let dir = scratch("hello");
    let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
    let outcome = engine.deploy(&text, &options(&dir)).await.unwrap();
    assert_eq!(
        rec.take(),
        [
            "iam:CreateRole",
            "iam:AttachRolePolicy",
            "lambda:POST /2015-03-31/functions",
            "apigateway:POST /v2/apis",
            "apigateway:POST /v2/apis/api1/integrations",
            "apigateway:POST /v2/apis/api1/routes",
            "lambda:POST /2015-03-31/functions/*/policy",
            "apigateway:POST /v2/apis/api1/stages",
        ]
    );
    let stack = &outcome.stack;
    assert_eq!(stack.status, "CREATE_COMPLETE");
    assert_eq!(stack.outputs["HelloWorldApi"].value, json!("https://api1.execute-api.us-east-1.amazonaws.com/hello"));
    assert_eq!(stack.outputs["HelloWorldFunctionIamRole"].value, json!("arn:aws:iam::000000000000:role/r"));
    let function = &stack.resources["HelloWorldFunction"];
    assert!(function.physical_id.starts_with("app-HelloWorldFunction-"), "{}", function.physical_id);
    assert_eq!(function.properties["Role"], json!("arn:aws:iam::000000000000:role/r"));

    // Nothing changed: nothing is called.
    let again = engine.deploy(&text, &options(&dir)).await.unwrap();
    assert!(rec.take().is_empty());
    assert!(again.changes.is_empty());
    assert_eq!(again.stack.status, "UPDATE_COMPLETE");
    assert_eq!(again.stack.stack_id, stack.stack_id);

    // An edited handler: only its code is sent again.
    std::fs::write(
        dir.join("hello_world/app.py"),
        "def lambda_handler(e, c):\n    return {'statusCode': 200, 'body': 'v2'}\n",
    )
    .unwrap();
    let edited = engine.deploy(&text, &options(&dir)).await.unwrap();
    assert_eq!(rec.take(), ["lambda:PUT /2015-03-31/functions/*/code"]);
    assert_eq!(edited.changes, [("HelloWorldFunction".to_owned(), "AWS::Lambda::Function".to_owned(), Action::Update)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first() {
    let (rec, engine) = engine();
    let dir = scratch("hello");
    let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
    engine.deploy(&text, &options(&dir)).await.unwrap();
    rec.take();
    // Drop the function (and with it its role, permission and the implicit API).
    let table_only = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n      BillingMode: PAY_PER_REQUEST\n";
    let outcome = engine.deploy(table_only, &options(&dir)).await.unwrap();
    let calls = rec.take();
    assert_eq!(calls[0], "dynamodb:CreateTable", "creates come before cleanup");
    let pos = |needle: &str| {
        calls.iter().position(|c| c.ends_with(needle)).unwrap_or_else(|| panic!("{needle} not in {calls:?}"))
    };
    assert!(pos("DELETE /2015-03-31/functions/*/policy/*") < pos("DELETE /2015-03-31/functions/*"));
    assert!(pos("DELETE /2015-03-31/functions/*") < pos("iam:DeleteRole"));
    assert!(pos("iam:DetachRolePolicy") < pos("iam:DeleteRole"));
    assert!(pos("DELETE /v2/apis/api1/stages/%24default") < pos("DELETE /v2/apis/api1"));
    assert_eq!(outcome.stack.resources.keys().collect::<Vec<_>>(), ["T"]);
    assert!(outcome.cleanup_failures.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_failure_rolls_back_and_names_the_resource() {
    let (rec, engine) = engine();
    let dir = scratch("hello");
    let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
    rec.fail_on("/stages");
    let err = engine.deploy(&text, &options(&dir)).await.unwrap_err();
    let DeployError::Resource { logical_id, reason, line, rollback_failures, .. } = &err else { panic!("{err}") };
    assert_eq!(logical_id, "ServerlessHttpApiApiGatewayDefaultStage");
    assert!(reason.contains("injected failure"), "{reason}");
    assert_eq!(*line, Some(12), "implicit resources are located at the function whose event made them");
    assert!(rollback_failures.is_empty());
    let calls = rec.take();
    let after_failure: Vec<&String> = calls.iter().skip_while(|c| !c.contains("/stages")).skip(1).collect();
    assert_eq!(
        after_failure,
        [
            "lambda:DELETE /2015-03-31/functions/*/policy/*",
            "apigateway:DELETE /v2/apis/api1",
            "lambda:DELETE /2015-03-31/functions/*",
            "iam:DetachRolePolicy",
            "iam:DeleteRole",
        ]
    );
    assert!(engine.stack("app").await.unwrap().is_none(), "a failed first deploy leaves no stack");
    assert!(err.to_string().contains("ServerlessHttpApiApiGatewayDefaultStage"));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_failed_update_restores_the_previous_state() {
    let (rec, engine) = engine();
    let v1 = "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: g\n      RetentionInDays: 7\n";
    engine.deploy(v1, &options(Path::new("."))).await.unwrap();
    rec.take();
    let v2 = "Resources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: g\n      RetentionInDays: 14\n  T:\n    Type: AWS::DynamoDB::Table\n    DependsOn: G\n    Properties:\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n";
    rec.fail_on("CreateTable");
    let err = engine.deploy(v2, &options(Path::new("."))).await.unwrap_err();
    assert!(matches!(&err, DeployError::Resource { logical_id, line: Some(7), .. } if logical_id == "T"), "{err:?}");
    // G updated, T fails, G restored.
    assert_eq!(rec.take(), ["logs:PutRetentionPolicy", "dynamodb:CreateTable", "logs:PutRetentionPolicy"]);
    let stack = engine.stack("app").await.unwrap().unwrap();
    assert_eq!(stack.resources["G"].properties["RetentionInDays"], 7);
    assert_eq!(stack.status, "UPDATE_ROLLBACK_COMPLETE");
}

#[tokio::test]
async fn template_errors_touch_nothing() {
    let (rec, engine) = engine();
    let unsupported = "Resources:\n  Ok:\n    Type: AWS::Logs::LogGroup\n  Q:\n    Type: AWS::SQS::Queue\n";
    let err = engine.deploy(unsupported, &options(Path::new("."))).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "template error: line 5: resource type AWS::SQS::Queue (Q) is not supported by Nimbus; nothing was deployed"
    );
    let cycle = "Resources:\n  A:\n    Type: AWS::Logs::LogGroup\n    DependsOn: B\n  B:\n    Type: AWS::Logs::LogGroup\n    DependsOn: A\n";
    let err = engine.deploy(cycle, &options(Path::new("."))).await.unwrap_err();
    assert!(err.to_string().contains("circular dependency between resources: A -> B -> A"), "{err}");
    assert!(rec.take().is_empty());
    assert!(engine.stacks().await.unwrap().is_empty());
}

#[tokio::test]
async fn conditions_parameters_and_replacement() {
    let (rec, engine) = engine();
    let text = "Parameters:\n  Env:\n    Type: String\n    Default: dev\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\nResources:\n  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: !Sub '${AWS::StackName}-${Env}'\n  P:\n    Type: AWS::Logs::LogGroup\n    Condition: IsProd\nOutputs:\n  Name:\n    Value: !Ref G\n  Prod:\n    Condition: IsProd\n    Value: !Ref P\n";
    let out = engine.deploy(text, &options(Path::new("."))).await.unwrap();
    assert_eq!(rec.take(), ["logs:CreateLogGroup"]);
    assert_eq!(out.stack.outputs["Name"].value, json!("app-dev"));
    assert!(!out.stack.outputs.contains_key("Prod"));
    let mut opts = options(Path::new("."));
    opts.parameter_overrides.insert("Env".into(), "prod".into());
    let out = engine.deploy(text, &opts).await.unwrap();
    // The name changed: a new group, then the old one deleted; P appears.
    assert_eq!(rec.take(), ["logs:CreateLogGroup", "logs:CreateLogGroup", "logs:DeleteLogGroup"]);
    assert_eq!(out.stack.outputs["Name"].value, json!("app-prod"));
    assert!(out.changes.contains(&("G".to_owned(), "AWS::Logs::LogGroup".to_owned(), Action::Replace)));
}

#[tokio::test]
async fn delete_removes_everything_in_reverse_order() {
    let (rec, engine) = engine();
    let dir = scratch("todo-api");
    let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
    let progress: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = progress.clone();
    let mut opts = options(&dir);
    opts.progress = Some(Arc::new(move |p: &Progress| {
        if p.outcome.is_some() {
            seen.lock().unwrap().push(format!("{} {}", p.action, p.logical_id));
        }
    }));
    let out = engine.deploy(&text, &opts).await.unwrap();
    let created = progress.lock().unwrap().clone();
    assert_eq!(created.len(), out.stack.resources.len());
    let table = &out.stack.resources["TodosTable"];
    assert_eq!(table.physical_id, "todos");
    let function = &out.stack.resources["TodosFunction"];
    assert_eq!(function.properties["Environment"]["Variables"]["TABLE_NAME"], "todos");
    let role = &out.stack.resources["TodosFunctionRole"];
    let policy = role.properties["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"][0].as_str().unwrap();
    assert_eq!(policy, "arn:aws:dynamodb:us-east-1:000000000000:table/todos");
    rec.take();
    engine.delete("app", None).await.unwrap();
    let calls = rec.take();
    let pos = |needle: &str| {
        calls.iter().position(|c| c.ends_with(needle)).unwrap_or_else(|| panic!("{needle} not in {calls:?}"))
    };
    assert!(pos("DELETE /2015-03-31/functions/*") < pos("dynamodb:DeleteTable"), "the function refers to the table");
    assert!(pos("DELETE /2015-03-31/functions/*") < pos("iam:DeleteRole"));
    assert!(engine.stack("app").await.unwrap().is_none());
    assert!(matches!(engine.delete("app", None).await, Err(DeployError::NoSuchStack(_))));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn independent_resources_are_provisioned_together() {
    struct Slow;
    impl AwsApi for Slow {
        fn call<'a>(&'a self, _: &'a str, _: ApiCall) -> BoxFuture<'a, Result<Value, ApiError>> {
            Box::pin(async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                Ok(json!({}))
            })
        }
    }
    let engine = Engine::new(Arc::new(Slow), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    let mut text = String::from("Resources:\n");
    for i in 0..5 {
        text.push_str(&format!("  G{i}:\n    Type: AWS::Logs::LogGroup\n"));
    }
    text.push_str("  Last:\n    Type: AWS::Logs::LogGroup\n    DependsOn: [G0, G1, G2, G3, G4]\n");
    let started = std::time::Instant::now();
    let out = engine.deploy(&text, &options(Path::new("."))).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.changes.len(), 6);
    assert_eq!(out.changes.last().unwrap().0, "Last", "a dependent waits for all it depends on");
    // Two waves of 200 ms (400 ms), not six (1200 ms).
    assert!(elapsed < std::time::Duration::from_millis(900), "{elapsed:?}");
}

/// The template `sam init` offers for Python "Hello World" (REST API event,
/// Globals with LoggingConfig, the usual Outputs), deployed unchanged.
#[tokio::test]
async fn sam_init_hello_world_deploys_unchanged() {
    let dir = scratch("hello");
    let template = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: >
  sam-app

  Sample SAM Template for sam-app

# More info about Globals: https://github.com/awslabs/serverless-application-model/blob/master/docs/globals.rst
Globals:
  Function:
    Timeout: 3
    MemorySize: 128

    LoggingConfig:
      LogFormat: JSON
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function # More info about Function Resource: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#awsserverlessfunction
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.13
      Architectures:
      - x86_64
      Events:
        HelloWorld:
          Type: Api # More info about API Event Source: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#api
          Properties:
            Path: /hello
            Method: get

Outputs:
  # ServerlessRestApi is an implicit API created from Events key under Serverless::Function
  # Find out more about other implicit resources you can reference within SAM
  # https://github.com/awslabs/serverless-application-model/blob/master/docs/internals/generated_resources.rst#api
  HelloWorldApi:
    Description: API Gateway endpoint URL for Prod stage for Hello World function
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldFunction:
    Description: Hello World Lambda Function ARN
    Value: !GetAtt HelloWorldFunction.Arn
  HelloWorldFunctionIamRole:
    Description: Implicit IAM Role created for Hello World function
    Value: !GetAtt HelloWorldFunctionRole.Arn
"#;
    let api = Arc::new(Recorder::default());
    let engine = Engine::new(api.clone(), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    let out = engine.deploy(template, &options(&dir)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.stack.outputs["HelloWorldApi"].value,
        json!("https://rest1.execute-api.us-east-1.amazonaws.com/Prod/hello/")
    );
    let ids: Vec<&String> = out.stack.resources.keys().collect();
    assert!(ids.iter().any(|i| i.starts_with("ServerlessRestApiDeployment")), "{ids:?}");
    for id in [
        "HelloWorldFunction",
        "HelloWorldFunctionRole",
        "HelloWorldFunctionHelloWorldPermissionProd",
        "ServerlessRestApi",
        "ServerlessRestApiProdStage",
    ] {
        assert!(out.stack.resources.contains_key(id), "{id} missing from {ids:?}");
    }
    let calls = api.take();
    for expected in [
        "apigateway:POST /restapis",
        "apigateway:POST /restapis/rest1/resources/root1",
        "apigateway:PUT /restapis/rest1/resources/res1/methods/GET",
        "apigateway:PUT /restapis/rest1/resources/res1/methods/GET/integration",
        "apigateway:POST /restapis/rest1/deployments",
        "apigateway:POST /restapis/rest1/stages",
    ] {
        assert!(calls.iter().any(|c| c == expected), "{expected} not in {calls:?}");
    }
    let function = &out.stack.resources["HelloWorldFunction"].properties;
    assert_eq!(function["LoggingConfig"], json!({"LogFormat": "JSON"}));
    std::fs::remove_dir_all(&dir).ok();
}

/// `sam init`'s "Serverless API" shape: a SimpleTable, DynamoDBCrudPolicy,
/// REST events with path parameters, the table name in the environment.
#[tokio::test]
async fn sam_init_serverless_api_deploys_unchanged() {
    let dir = scratch("todo-api");
    let template = r#"AWSTemplateFormatVersion: 2010-09-09
Description: >-
  sam-app
Transform:
- AWS::Serverless-2016-10-31
Resources:
  getAllItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Architectures:
      - x86_64
      MemorySize: 128
      Timeout: 100
      Description: A simple example includes a HTTP get method to get all items from a DynamoDB table.
      Policies:
      - DynamoDBCrudPolicy:
          TableName: !Ref SampleTable
      Environment:
        Variables:
          SAMPLE_TABLE: !Ref SampleTable
      Events:
        Api:
          Type: Api
          Properties:
            Path: /
            Method: GET
  getByIdFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Policies:
      - DynamoDBCrudPolicy:
          TableName: !Ref SampleTable
      Environment:
        Variables:
          SAMPLE_TABLE: !Ref SampleTable
      Events:
        Api:
          Type: Api
          Properties:
            Path: /{id}
            Method: GET
  SampleTable:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey:
        Name: id
        Type: String
      ProvisionedThroughput:
        ReadCapacityUnits: 2
        WriteCapacityUnits: 2
Outputs:
  WebEndpoint:
    Description: API Gateway endpoint URL for Prod stage
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"
"#;
    let (rec, engine) = engine();
    let out = engine.deploy(template, &options(&dir)).await.unwrap_or_else(|e| panic!("{e}"));
    let table = out.stack.resources["SampleTable"].physical_id.clone();
    assert!(table.starts_with("app-SampleTable-"), "{table}");
    let env = &out.stack.resources["getByIdFunction"].properties["Environment"]["Variables"]["SAMPLE_TABLE"];
    assert_eq!(env, &json!(table));
    assert!(out.stack.resources.contains_key("getByIdFunctionApiPermissionProd"));
    let calls = rec.take();
    assert!(
        calls.iter().position(|c| c == "dynamodb:CreateTable")
            < calls.iter().position(|c| c == "lambda:POST /2015-03-31/functions")
    );
    std::fs::remove_dir_all(&dir).ok();
}
