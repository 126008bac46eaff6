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
