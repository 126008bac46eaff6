//! The engine against the real DynamoDB and API Gateway services of this
//! workspace, in-process: the wire formats the provisioners send are the
//! ones those services parse. (Lambda and IAM arrive later; their resources
//! are covered by the engine's unit tests and the e2e suite.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nimbus_core::{Context, Service};
use nimbus_deploy::api::{ApiCall, AwsApi, InProcessApi};
use nimbus_deploy::engine::{DeployOptions, Engine, StoreStates};
use nimbus_store::Store;
use serde_json::json;

const TEMPLATE: &str = r#"
Parameters:
  Stage:
    Type: String
    Default: v1
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Body:
        openapi: 3.0.1
        info: {title: deploy-test, version: '1.0'}
        paths:
          /items:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                payloadFormatVersion: '2.0'
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:f/invocations
  HttpStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref HttpApi
      StageName: $default
      AutoDeploy: true
  RestApi:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Body:
        swagger: '2.0'
        info: {title: rest-test}
        paths:
          /items/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:f/invocations
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref RestApi
  RestStage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref RestApi
      DeploymentId: !Ref Deployment
      StageName: !Ref Stage
Outputs:
  TableArn:
    Value: !GetAtt Table.Arn
  StreamArn:
    Value: !GetAtt Table.StreamArn
  Endpoint:
    Value: !GetAtt HttpApi.ApiEndpoint
  RestRoot:
    Value: !GetAtt RestApi.RootResourceId
"#;

#[tokio::test]
async fn deploys_updates_and_deletes_against_the_real_services() {
    let dir = std::env::temp_dir().join(format!("nimbus-deploy-services-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let services: Vec<Arc<dyn Service>> = vec![
        Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context.clone())),
        Arc::new(nimbus_apigateway::ApiGateway::new(store.clone(), context.clone(), 4566).unwrap()),
    ];
    let api = Arc::new(InProcessApi::new(services, "us-east-1", "000000000000"));
    let engine = Engine::new(api.clone(), Arc::new(StoreStates::new(store.clone())), "us-east-1", "000000000000");
    let options = DeployOptions {
        stack_name: "svc".into(),
        base_dir: Path::new(".").to_path_buf(),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    };

    let out = engine.deploy(TEMPLATE, &options).await.unwrap_or_else(|e| panic!("{e}"));
    let table = out.stack.resources["Table"].physical_id.clone();
    assert!(table.starts_with("svc-Table-"), "{table}");
    assert_eq!(
        out.stack.outputs["TableArn"].value,
        json!(format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}"))
    );
    assert!(out.stack.outputs["StreamArn"].value.as_str().unwrap().contains("/stream/"));
    let api_id = out.stack.resources["HttpApi"].physical_id.clone();
    let routes = api
        .call("apigateway", ApiCall::rest(http::Method::GET, format!("/v2/apis/{api_id}/routes"), None))
        .await
        .unwrap();
    let keys: Vec<&str> = routes["items"].as_array().unwrap().iter().filter_map(|r| r["routeKey"].as_str()).collect();
    assert_eq!(keys, ["GET /items"]);
    let rest_id = out.stack.resources["RestApi"].physical_id.clone();
    let resources = api
        .call("apigateway", ApiCall::rest(http::Method::GET, format!("/restapis/{rest_id}/resources"), None))
        .await
        .unwrap();
    let mut paths: Vec<&str> =
        resources["item"].as_array().unwrap().iter().filter_map(|r| r["path"].as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/items", "/items/{id}"]);

    // Change the HTTP API's routes and the stage name: same API id, new routes, stage replaced.
    let changed = TEMPLATE.replace("/items:\n", "/things:\n");
    let mut options2 = options.clone();
    options2.parameter_overrides.insert("Stage".into(), "v2".into());
    let out2 = engine.deploy(&changed, &options2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out2.stack.resources["HttpApi"].physical_id, api_id);
    let routes = api
        .call("apigateway", ApiCall::rest(http::Method::GET, format!("/v2/apis/{api_id}/routes"), None))
        .await
        .unwrap();
    let keys: Vec<&str> = routes["items"].as_array().unwrap().iter().filter_map(|r| r["routeKey"].as_str()).collect();
    assert_eq!(keys, ["GET /things"]);
    let stages = api
        .call("apigateway", ApiCall::rest(http::Method::GET, format!("/restapis/{rest_id}/stages"), None))
        .await
        .unwrap();
    let names: Vec<&str> = stages["item"].as_array().unwrap().iter().filter_map(|s| s["stageName"].as_str()).collect();
    assert_eq!(names, ["v2"], "the old stage is deleted after the new one exists");
    assert!(out2.cleanup_failures.is_empty(), "{:?}", out2.cleanup_failures);

    engine.delete("svc", None).await.unwrap_or_else(|e| panic!("{e}"));
    let tables =
        api.call("dynamodb", ApiCall::aws_json("1.0", "DynamoDB_20120810.ListTables", json!({}))).await.unwrap();
    assert_eq!(tables["TableNames"], json!([]));
    let apis = api.call("apigateway", ApiCall::rest(http::Method::GET, "/v2/apis", None)).await.unwrap();
    assert_eq!(apis["items"], json!([]));
    assert!(engine.stacks().await.unwrap().is_empty());
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// `nimbus deploy`'s path: the engine in another process, over HTTP, every
/// call SigV4-signed and verified by the real edge.
#[tokio::test]
async fn deploys_over_http_through_the_edge() {
    use nimbus_deploy::api::sigv4::Credentials;
    use nimbus_edge::{AuthMode, Edge};
    use nimbus_iam::{StaticCredentials, Verifier};

    let dir = std::env::temp_dir().join(format!("nimbus-deploy-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let services: Vec<Arc<dyn Service>> = vec![
        Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context.clone())),
        Arc::new(nimbus_apigateway::ApiGateway::new(store.clone(), context.clone(), 0).unwrap()),
    ];
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let edge = Arc::new(Edge::new(services, AuthMode::SigV4(verifier), context));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nimbus_edge::serve(edge, listener, async move {
        let _ = stopped.await;
    }));

    let credentials =
        Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None };
    let engine = nimbus_deploy::cli::remote_engine(&endpoint, credentials, &dir).await.unwrap();
    let options = DeployOptions {
        stack_name: "remote".into(),
        base_dir: Path::new(".").to_path_buf(),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    };
    let out = engine.deploy(TEMPLATE, &options).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stack.status, "CREATE_COMPLETE");
    assert!(dir.join("stacks/remote.json").is_file(), "the stack record is a file in the data dir");
    assert_eq!(engine.stacks().await.unwrap().len(), 1);

    let wrong = Credentials { access_key_id: "test".into(), secret_access_key: "nope".into(), session_token: None };
    let bad = nimbus_deploy::cli::remote_engine(&endpoint, wrong, &dir.join("other")).await.unwrap();
    let err = bad.deploy(TEMPLATE, &options).await.unwrap_err().to_string();
    assert!(err.contains("SignatureDoesNotMatch") || err.contains("signature"), "{err}");

    engine.delete("remote", None).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(engine.stacks().await.unwrap().is_empty());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// CloudFormation's own API through the edge: what boto3's and the AWS
/// CLI's `cloudformation` commands send. When the project's Python venv is
/// there, boto3 itself is the client too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_api_through_the_edge() {
    use nimbus_deploy::api::sigv4::Credentials;
    use nimbus_deploy::api::HttpApi;
    use nimbus_deploy::engine::MemoryStates;
    use nimbus_deploy::service::CloudFormation;
    use nimbus_edge::{AuthMode, Edge};
    use nimbus_iam::{StaticCredentials, Verifier};

    let dir = std::env::temp_dir().join(format!("nimbus-deploy-cfn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let cfn = Arc::new(CloudFormation::new(&dir));
    let services: Vec<Arc<dyn Service>> = vec![
        Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context.clone())),
        Arc::new(nimbus_apigateway::ApiGateway::new(store.clone(), context.clone(), 0).unwrap()),
        cfn.clone(),
    ];
    let inprocess = Arc::new(InProcessApi::new(services.clone(), "us-east-1", "000000000000"));
    cfn.connect(Arc::new(Engine::new(inprocess, Arc::new(MemoryStates::default()), "us-east-1", "000000000000")));
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let edge = Arc::new(Edge::new(services, AuthMode::SigV4(verifier), context));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nimbus_edge::serve(edge, listener, async move {
        let _ = stopped.await;
    }));
    let credentials =
        Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None };
    let client = HttpApi::new(&endpoint, "us-east-1", credentials).unwrap();
    let query = |action: &str, params: &[(&str, &str)]| {
        ApiCall::query(action, "2010-05-15", params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    };

    let created = client
        .call(
            "cloudformation",
            query(
                "CreateStack",
                &[
                    ("StackName", "cfn"),
                    ("TemplateBody", TEMPLATE),
                    ("Parameters.member.1.ParameterKey", "Stage"),
                    ("Parameters.member.1.ParameterValue", "beta"),
                ],
            ),
        )
        .await
        .unwrap();
    assert!(created["CreateStackResult"]["StackId"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudformation:us-east-1:000000000000:stack/cfn/"));
    let again = client
        .call("cloudformation", query("CreateStack", &[("StackName", "cfn"), ("TemplateBody", TEMPLATE)]))
        .await
        .unwrap_err();
    assert_eq!(again.code, "AlreadyExistsException");
    let described = client.call("cloudformation", query("DescribeStacks", &[("StackName", "cfn")])).await.unwrap();
    let stack = &described["DescribeStacksResult"]["Stacks"][0];
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE");
    assert_eq!(stack["Parameters"][0], json!({"ParameterKey": "Stage", "ParameterValue": "beta"}));
    assert!(stack["Outputs"].as_array().unwrap().iter().any(|o| o["OutputKey"] == "TableArn"));
    let resources = client.call("cloudformation", query("ListStackResources", &[("StackName", "cfn")])).await.unwrap();
    assert_eq!(resources["ListStackResourcesResult"]["StackResourceSummaries"].as_array().unwrap().len(), 6);
    let none = client
        .call(
            "cloudformation",
            query(
                "UpdateStack",
                &[
                    ("StackName", "cfn"),
                    ("UsePreviousTemplate", "true"),
                    ("Parameters.member.1.ParameterKey", "Stage"),
                    ("Parameters.member.1.UsePreviousValue", "true"),
                ],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(none.message, "No updates are to be performed.");
    let bad = client
        .call("cloudformation", query("ValidateTemplate", &[("TemplateBody", "Resources: [")]))
        .await
        .unwrap_err();
    assert_eq!(bad.code, "ValidationError");

    // boto3, unmodified, when the project's venv is present.
    let python =
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/nimbus/venv/bin/python");
    if python.is_file() {
        let script = r#"
import sys, boto3
cf = boto3.client("cloudformation", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
body = "Resources:\n  G:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\nOutputs:\n  Name:\n    Value: !Ref G\n"
cf.create_stack(StackName="py", TemplateBody=body)
cf.get_waiter("stack_create_complete").wait(StackName="py", WaiterConfig={"Delay": 1})
stack = cf.describe_stacks(StackName="py")["Stacks"][0]
assert stack["StackStatus"] == "CREATE_COMPLETE", stack
assert stack["Outputs"][0]["OutputValue"].startswith("py-G-"), stack
names = sorted(s["StackName"] for s in cf.list_stacks()["StackSummaries"])
assert names == ["cfn", "py"], names
cf.delete_stack(StackName="py")
try:
    cf.describe_stacks(StackName="py")
    raise SystemExit("still there")
except cf.exceptions.ClientError as e:
    assert "does not exist" in str(e), e
print("boto3 ok")
"#;
        let url = endpoint.clone();
        // The server runs on this runtime: wait for Python off its threads.
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(&python).arg("-c").arg(script).arg(&url).output()
        })
        .await
        .unwrap()
        .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    client.call("cloudformation", query("DeleteStack", &[("StackName", "cfn")])).await.unwrap();
    let gone = client.call("cloudformation", query("DescribeStacks", &[("StackName", "cfn")])).await.unwrap_err();
    assert_eq!(gone.message, "Stack with id cfn does not exist");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// Only DynamoDB runs here: a template needing API Gateway and Lambda stops
/// before anything is made; roles exist in name only without IAM.
#[tokio::test]
async fn missing_services_stop_the_deploy_before_anything_is_made() {
    use nimbus_deploy::engine::MemoryStates;

    let dir = std::env::temp_dir().join(format!("nimbus-deploy-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let services: Vec<Arc<dyn Service>> =
        vec![Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context.clone()))];
    let api = Arc::new(InProcessApi::new(services, "us-east-1", "000000000000"));
    let engine = Engine::new(api.clone(), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    let options = DeployOptions {
        stack_name: "m".into(),
        base_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/todo-api"),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    };
    let text = std::fs::read_to_string(options.base_dir.join("template.yaml")).unwrap();
    let err = engine.deploy(&text, &options).await.unwrap_err().to_string();
    assert!(
        err.contains("needs the apigateway service, which this server does not run; nothing was deployed"),
        "{err}"
    );
    let tables =
        api.call("dynamodb", ApiCall::aws_json("1.0", "DynamoDB_20120810.ListTables", json!({}))).await.unwrap();
    assert_eq!(tables["TableNames"], json!([]), "the table was not created");

    let role = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\nOutputs:\n  Arn:\n    Value: !GetAtt R.Arn\n";
    let out = engine.deploy(role, &options).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stack.outputs["Arn"].value.as_str().unwrap().starts_with("arn:aws:iam::000000000000:role/m-R-"));
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A scheduled rule (what SAM's Schedule events become) through the real
/// EventBridge service: created with its target, updated, deleted.
#[tokio::test]
async fn schedule_rules_through_the_events_service() {
    use nimbus_deploy::engine::MemoryStates;

    let dir = std::env::temp_dir().join(format!("nimbus-deploy-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let services: Vec<Arc<dyn Service>> = vec![Arc::new(nimbus_events::Events::new(store.clone(), context).unwrap())];
    let api = Arc::new(InProcessApi::new(services, "us-east-1", "000000000000"));
    let engine = Engine::new(api.clone(), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    let options = DeployOptions {
        stack_name: "sched".into(),
        base_dir: Path::new(".").to_path_buf(),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    };
    let template = |expr: &str| {
        format!("Resources:\n  Tick:\n    Type: AWS::Events::Rule\n    Properties:\n      ScheduleExpression: {expr}\n      State: ENABLED\n      Targets:\n        - Id: fn\n          Arn: arn:aws:lambda:us-east-1:000000000000:function:f\nOutputs:\n  Arn:\n    Value: !GetAtt Tick.Arn\n")
    };
    let out = engine.deploy(&template("rate(5 minutes)"), &options).await.unwrap_or_else(|e| panic!("{e}"));
    let name = out.stack.resources["Tick"].physical_id.clone();
    assert_eq!(out.stack.outputs["Arn"].value, json!(format!("arn:aws:events:us-east-1:000000000000:rule/{name}")));
    let described =
        api.call("events", ApiCall::aws_json("1.1", "AWSEvents.DescribeRule", json!({"Name": name}))).await.unwrap();
    assert_eq!(described["ScheduleExpression"], "rate(5 minutes)");
    engine.deploy(&template("cron(0 12 * * ? *)"), &options).await.unwrap_or_else(|e| panic!("{e}"));
    let described =
        api.call("events", ApiCall::aws_json("1.1", "AWSEvents.DescribeRule", json!({"Name": name}))).await.unwrap();
    assert_eq!(described["ScheduleExpression"], "cron(0 12 * * ? *)");
    let err = engine.deploy(&template("rate(0 minutes)"), &options).await.unwrap_err().to_string();
    assert!(err.contains("ScheduleExpression is not valid"), "{err}");
    engine.delete("sched", None).await.unwrap_or_else(|e| panic!("{e}"));
    let rules = api.call("events", ApiCall::aws_json("1.1", "AWSEvents.ListRules", json!({}))).await.unwrap();
    assert_eq!(rules["Rules"], json!([]));
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
