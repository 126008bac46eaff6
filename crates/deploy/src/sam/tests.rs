use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn run(yaml: &str, base: &Path) -> Result<Template, TemplateError> {
    let t = Template::parse(yaml)?;
    transform(&t, &SamOptions { base_dir: base.to_path_buf() })
}

fn example(name: &str) -> Template {
    let dir = examples().join(name);
    let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
    run(&text, &dir).unwrap()
}

fn ids(t: &Template) -> Vec<String> {
    t.resources().map(|(id, _)| id.clone()).collect()
}

fn res<'a>(t: &'a Template, id: &str) -> &'a Value {
    &t.body["Resources"][id]
}

#[test]
fn hello_example_becomes_what_sam_generates() {
    let t = example("hello");
    assert_eq!(
        ids(&t),
        [
            "HelloWorldFunction",
            "HelloWorldFunctionHelloWorldPermission",
            "HelloWorldFunctionRole",
            "ServerlessHttpApi",
            "ServerlessHttpApiApiGatewayDefaultStage"
        ]
    );
    let f = res(&t, "HelloWorldFunction");
    assert_eq!(f["Type"], "AWS::Lambda::Function");
    assert_eq!(f["Properties"]["Handler"], "app.lambda_handler");
    assert_eq!(f["Properties"]["Runtime"], "python3.12");
    assert_eq!(f["Properties"]["Timeout"], 3, "from Globals");
    assert_eq!(f["Properties"]["Role"], json!({"Fn::GetAtt": ["HelloWorldFunctionRole", "Arn"]}));
    assert!(f["Properties"]["Code"]["LocalPath"].as_str().unwrap().ends_with("hello_world"));
    assert_eq!(f["Properties"]["Code"]["Sha256"].as_str().unwrap().len(), 64);
    let role = res(&t, "HelloWorldFunctionRole");
    assert_eq!(
        role["Properties"]["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}])
    );
    let api = res(&t, "ServerlessHttpApi");
    assert_eq!(api["Type"], "AWS::ApiGatewayV2::Api");
    let get = &api["Properties"]["Body"]["paths"]["/hello"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(get["payloadFormatVersion"], "2.0");
    assert_eq!(get["type"], "aws_proxy");
    let stage = res(&t, "ServerlessHttpApiApiGatewayDefaultStage");
    assert_eq!(
        stage["Properties"],
        json!({"ApiId": {"Ref": "ServerlessHttpApi"}, "StageName": "$default", "AutoDeploy": true})
    );
    let perm = res(&t, "HelloWorldFunctionHelloWorldPermission");
    assert_eq!(perm["Properties"]["Principal"], "apigateway.amazonaws.com");
    assert_eq!(
        perm["Properties"]["SourceArn"]["Fn::Sub"][0],
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/GET/hello"
    );
    assert!(t.body.get("Transform").is_none() && t.body.get("Globals").is_none());
    // Generated resources point at the line of the function they come from.
    assert_eq!(t.line_of("/Resources/HelloWorldFunctionRole"), t.line_of("/Resources/HelloWorldFunction"));
}

#[test]
fn todo_example_has_crud_policy_routes_and_globals_environment() {
    let t = example("todo-api");
    let role = res(&t, "TodosFunctionRole");
    let policy = &role["Properties"]["Policies"][0];
    assert_eq!(policy["PolicyName"], "TodosFunctionRolePolicy0");
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Resource"][0]["Fn::Sub"][1],
        json!({"tableName": {"Ref": "TodosTable"}})
    );
    let paths = &res(&t, "ServerlessHttpApi")["Properties"]["Body"]["paths"];
    let mut routes: Vec<String> = Vec::new();
    for (p, methods) in paths.as_object().unwrap() {
        for m in methods.as_object().unwrap().keys() {
            routes.push(format!("{} {p}", m.to_uppercase()));
        }
    }
    routes.sort();
    assert_eq!(routes, ["DELETE /todos/{id}", "GET /todos", "GET /todos/{id}", "POST /todos", "PUT /todos/{id}"]);
    let env = &res(&t, "TodosFunction")["Properties"]["Environment"];
    assert_eq!(env, &json!({"Variables": {"TABLE_NAME": {"Ref": "TodosTable"}}}));
    let perm = res(&t, "TodosFunctionGetTodoPermission");
    assert!(perm["Properties"]["SourceArn"]["Fn::Sub"][0].as_str().unwrap().ends_with("/GET/todos/*"));
    assert_eq!(res(&t, "TodosTable")["Type"], "AWS::DynamoDB::Table");
}

#[test]
fn rest_api_events_alias_schedule_and_invoke_config() {
    let yaml = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def h(e, c): return 1"
      Handler: index.h
      Runtime: python3.12
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 2
      ReservedConcurrentExecutions: 5
      EventInvokeConfig:
        MaximumRetryAttempts: 1
      Events:
        Get:
          Type: Api
          Properties:
            Path: /items/{id}
            Method: GET
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
  Table:
    Type: AWS::Serverless::SimpleTable
Outputs:
  Alias:
    Value: !Ref Fn.Alias
  Stage:
    Value: !Sub "${ServerlessRestApi.Stage}"
"#;
    let t = run(yaml, Path::new(".")).unwrap();
    let ids = ids(&t);
    let version = ids.iter().find(|i| i.starts_with("FnVersion")).unwrap();
    assert_eq!(version.len(), "FnVersion".len() + 10);
    for id in [
        "FnAliaslive",
        "FnEventInvokeConfig",
        "FnGetPermissionProd",
        "FnTick",
        "FnTickPermission",
        "ServerlessRestApi",
        "ServerlessRestApiProdStage",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} missing from {ids:?}");
    }
    assert!(ids.iter().any(|i| i.starts_with("ServerlessRestApiDeployment")));
    assert_eq!(res(&t, "Fn")["Properties"]["Code"], json!({"ZipFile": "def h(e, c): return 1"}));
    assert_eq!(res(&t, "Fn")["Properties"]["ReservedConcurrentExecutions"], 5);
    let alias = res(&t, "FnAliaslive");
    assert_eq!(alias["Properties"]["FunctionVersion"], json!({"Fn::GetAtt": [version, "Version"]}));
    assert_eq!(alias["Properties"]["ProvisionedConcurrencyConfig"]["ProvisionedConcurrentExecutions"], 2);
    assert_eq!(res(&t, "FnEventInvokeConfig")["Properties"]["Qualifier"], "live");
    assert_eq!(res(&t, "FnTick")["Properties"]["Targets"][0]["Arn"], json!({"Ref": "FnAliaslive"}));
    let integration = &res(&t, "ServerlessRestApi")["Properties"]["Body"]["paths"]["/items/{id}"]["get"]
        ["x-amazon-apigateway-integration"];
    assert_eq!(integration["uri"]["Fn::Sub"][1]["__Target__"], json!({"Ref": "FnAliaslive"}));
    assert_eq!(t.body["Outputs"]["Alias"]["Value"], json!({"Ref": "FnAliaslive"}));
    assert_eq!(t.body["Outputs"]["Stage"]["Value"], json!({"Fn::Sub": "${ServerlessRestApiProdStage}"}));
    let table = res(&t, "Table");
    assert_eq!(table["Properties"]["KeySchema"], json!([{"AttributeName": "id", "KeyType": "HASH"}]));
    assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn explicit_apis_take_their_events() {
    let yaml = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  MyHttp:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: v1
      CorsConfiguration: true
  MyRest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Gamma
  Fn:
    Type: AWS::Serverless::Function
    Role: arn:aws:iam::000000000000:role/r
    Properties:
      InlineCode: x
      Handler: index.h
      Runtime: nodejs20.x
      Role: arn:aws:iam::000000000000:role/r
      Events:
        A:
          Type: HttpApi
          Properties: {ApiId: !Ref MyHttp}
        B:
          Type: Api
          Properties: {RestApiId: !Ref MyRest, Path: /b, Method: any}
"#;
    let t = run(yaml, Path::new(".")).unwrap();
    let ids = ids(&t);
    assert!(!ids.contains(&"FnRole".to_owned()), "a given Role means no generated role");
    assert!(ids.contains(&"MyHttpv1Stage".to_owned()));
    assert!(ids.contains(&"MyRestGammaStage".to_owned()));
    assert!(ids.contains(&"FnBPermissionGamma".to_owned()));
    let body = &res(&t, "MyHttp")["Properties"]["Body"];
    assert!(body["paths"]["$default"]["x-amazon-apigateway-any-method"].is_object());
    assert_eq!(body["x-amazon-apigateway-cors"]["allowOrigins"], json!(["*"]));
    assert!(res(&t, "MyRest")["Properties"]["Body"]["paths"]["/b"]["x-amazon-apigateway-any-method"].is_object());
}

#[test]
fn unsupported_things_are_named_with_their_line() {
    let base = Path::new(".");
    let err =
        run("Transform: AWS::Serverless-2016-10-31\nResources:\n  M:\n    Type: AWS::Serverless::StateMachine\n", base)
            .unwrap_err();
    assert_eq!(err.to_string(), "line 4: resource type AWS::Serverless::StateMachine (M) is not supported by Nimbus");
    let err = run(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      InlineCode: x\n      Events:\n        Q:\n          Type: SQS\n",
        base,
    )
    .unwrap_err();
    assert_eq!(err.line, Some(8));
    assert!(err.message.contains("type SQS is not supported"), "{err}");
    let err = run(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: no/such/dir\n",
        base,
    )
    .unwrap_err();
    assert_eq!(err.line, Some(6));
    let err = run(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      InlineCode: x\n      Events:\n        S:\n          Type: Schedule\n          Properties:\n            Schedule: rate(0 minutes)\n",
        base,
    )
    .unwrap_err();
    assert!(err.message.contains("rate"), "{err}");
}

#[test]
fn globals_merge_rules() {
    let g = json!({"Environment": {"Variables": {"A": "1", "B": "1"}}, "Layers": ["x"], "Timeout": 3});
    let l = json!({"Environment": {"Variables": {"B": "2"}}, "Layers": ["y"], "Timeout": 9});
    assert_eq!(
        merge_globals(&g, &l),
        json!({"Environment": {"Variables": {"A": "1", "B": "2"}}, "Layers": ["x", "y"], "Timeout": 9})
    );
}

#[test]
fn schedules() {
    use super::function::check_schedule;
    for ok in
        ["rate(1 minute)", "rate(5 minutes)", "rate(2 days)", "cron(0 12 * * ? *)", "cron(0/5 8-17 ? * MON-FRI *)"]
    {
        assert!(check_schedule(ok).is_ok(), "{ok}");
    }
    for bad in
        ["rate(1 minutes)", "rate(5 minute)", "rate(x hours)", "cron(0 12 * * *)", "cron(0 12 * * 1 *)", "every 5m"]
    {
        assert!(check_schedule(bad).is_err(), "{bad}");
    }
}

#[test]
fn node_example_transforms() {
    let t = example("hello-node");
    assert_eq!(res(&t, "HelloNodeFunction")["Properties"]["Runtime"], "nodejs20.x");
    assert!(ids(&t).contains(&"ServerlessHttpApiApiGatewayDefaultStage".to_owned()));
}

#[test]
fn unsupported_api_and_event_properties_are_refused() {
    let base = Path::new(".");
    let err = run(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  A:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      Auth:\n        DefaultAuthorizer: X\n",
        base,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "line 6: A: property Auth is not supported by Nimbus");
    let err = run(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      InlineCode: x\n      Events:\n        E:\n          Type: HttpApi\n          Properties:\n            Path: /x\n            Method: get\n            Auth: {Authorizer: NONE}\n",
        base,
    )
    .unwrap_err();
    assert!(err.message.contains("property Auth of HttpApi event E"), "{err}");
    assert_eq!(err.line, Some(8));
}

#[test]
fn rust_example_needs_its_build_and_then_transforms() {
    let src = examples().join("hello-rust");
    let text = std::fs::read_to_string(src.join("template.yaml")).unwrap();
    let dir = std::env::temp_dir().join(format!("nimbus-sam-rust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = run(&text, &dir).unwrap_err();
    assert!(err.message.contains("CodeUri build/"), "{err}");
    assert_eq!(err.line, Some(11));
    std::fs::create_dir_all(dir.join("build")).unwrap();
    std::fs::write(dir.join("build/bootstrap"), b"\x7fELF").unwrap();
    let t = run(&text, &dir).unwrap();
    let f = &res(&t, "HelloRustFunction")["Properties"];
    assert_eq!((f["Runtime"].as_str(), f["Handler"].as_str()), (Some("provided.al2023"), Some("bootstrap")));
    assert!(f["Code"]["LocalPath"].as_str().unwrap().ends_with("build"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn dynamodb_events_become_event_source_mappings() {
    let yaml = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def h(e, c): return 1"
      Handler: index.h
      Runtime: python3.12
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: arn:aws:sqs:us-east-1:000000000000:dlq
"#;
    let t = run(yaml, Path::new(".")).unwrap();
    let mapping = res(&t, "FnChanges");
    assert_eq!(mapping["Type"], "AWS::Lambda::EventSourceMapping");
    let p = &mapping["Properties"];
    assert_eq!(p["FunctionName"], json!({"Ref": "Fn"}));
    assert_eq!(p["EventSourceArn"], json!({"Fn::GetAtt": ["Orders", "StreamArn"]}));
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(p["BatchSize"], 10);
    assert_eq!(p["FilterCriteria"]["Filters"][0]["Pattern"], r#"{"eventName": ["INSERT"]}"#);
    assert_eq!(p["DestinationConfig"], json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}}));
    let managed = &res(&t, "FnRole")["Properties"]["ManagedPolicyArns"];
    assert!(managed.to_string().contains("AWSLambdaDynamoDBExecutionRole"), "{managed}");
}
