use std::net::{IpAddr, Ipv4Addr};

use nimbus_core::{InvokeOutcome, Principal};

use super::*;

fn events(dir: &std::path::Path) -> (Arc<dyn Store>, Events) {
    let store: Arc<dyn Store> = nimbus_store_redb::RedbStore::open(&dir.join("s.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    (store.clone(), Events::new(store, context).unwrap())
}

fn request(op: &str, body: Value) -> AwsRequest {
    AwsRequest {
        request_id: "r".into(),
        method: http::Method::POST,
        uri: "/".parse().unwrap(),
        headers: Default::default(),
        body: Bytes::from(body.to_string()),
        target_operation: Some(op.into()),
        principal: Principal::root("000000000000", "test"),
        region: "us-east-1".into(),
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        authorizer: None,
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nimbus-events-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn rules_and_targets_round_trip_and_persist() {
    let dir = temp("api");
    let (store, ev) = events(&dir);
    let arn = ev
        .dispatch(request("PutRule", json!({"Name": "tick", "ScheduleExpression": "rate(5 minutes)"})))
        .await
        .unwrap();
    assert_eq!(arn["RuleArn"], "arn:aws:events:us-east-1:000000000000:rule/tick");
    let err = ev
        .dispatch(request("PutRule", json!({"Name": "bad", "ScheduleExpression": "rate(5 minute)"})))
        .await
        .unwrap_err();
    assert_eq!(err.message, "Parameter ScheduleExpression is not valid.");
    ev.dispatch(request(
        "PutTargets",
        json!({"Rule": "tick", "Targets": [{"Id": "t1", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f"}]}),
    ))
    .await
    .unwrap();
    let err = ev.dispatch(request("DeleteRule", json!({"Name": "tick"}))).await.unwrap_err();
    assert_eq!(err.message, "Rule can't be deleted since it has targets.");
    let described = ev.dispatch(request("DescribeRule", json!({"Name": "tick"}))).await.unwrap();
    assert_eq!(described["ScheduleExpression"], "rate(5 minutes)");
    assert_eq!(described["State"], "ENABLED");
    drop(ev);
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let reopened = Events::new(store.clone(), context).unwrap();
    let targets = reopened.dispatch(request("ListTargetsByRule", json!({"Rule": "tick"}))).await.unwrap();
    assert_eq!(targets["Targets"][0]["Id"], "t1");
    reopened.dispatch(request("RemoveTargets", json!({"Rule": "tick", "Ids": ["t1"]}))).await.unwrap();
    reopened.dispatch(request("DeleteRule", json!({"Name": "tick"}))).await.unwrap();
    let err = reopened.dispatch(request("DescribeRule", json!({"Name": "tick"}))).await.unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn due_rules_fire_once_per_period() {
    let dir = temp("due");
    let (store, ev) = events(&dir);
    ev.dispatch(request("PutRule", json!({"Name": "rate", "ScheduleExpression": "rate(1 minute)"}))).await.unwrap();
    ev.dispatch(request("PutRule", json!({"Name": "cron", "ScheduleExpression": "cron(* * * * ? *)"}))).await.unwrap();
    ev.dispatch(request(
        "PutRule",
        json!({"Name": "off", "ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}),
    ))
    .await
    .unwrap();
    for rule in ["rate", "cron", "off"] {
        let target = json!({"Rule": rule, "Targets": [{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f", "Input": "{\"k\":1}"}]});
        ev.dispatch(request("PutTargets", target)).await.unwrap();
    }
    // A minute boundary well ahead, so no test step straddles two minutes.
    let start = (nimbus_core::time::now_epoch_millis() / 60_000 + 10) * 60_000;
    ev.rules().get_mut("rate").unwrap().scheduled_at = start - 60_000;
    let names = |due: Vec<(Rule, Target)>| due.into_iter().map(|(r, _)| r.name).collect::<Vec<_>>();
    // The cron rule fires in its minute; the rate rule one interval after it was made.
    assert_eq!(names(ev.due(start - 1)), ["cron"]);
    assert_eq!(names(ev.due(start)), ["cron", "rate"]);
    assert!(names(ev.due(start + 1_000)).is_empty(), "once per minute");
    assert_eq!(names(ev.due(start + 60_000)), ["cron", "rate"]);
    assert!(names(ev.due(start + 61_000)).is_empty());
    assert_eq!(names(ev.due(start + 5 * 60_000 + 10)), ["cron", "rate"], "missed periods are not replayed");
    assert!(names(ev.due(start + 5 * 60_000 + 20)).is_empty());
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_scheduler_invokes_lambda_targets() {
    struct Record(Mutex<Vec<InvokeRequest>>);
    impl Invoker for Record {
        fn invoke(&self, request: InvokeRequest) -> BoxFuture<'_, Result<InvokeOutcome, AwsError>> {
            self.0.lock().unwrap().push(request);
            Box::pin(async {
                Ok(InvokeOutcome { payload: Bytes::new(), function_error: None, executed_version: "$LATEST".into() })
            })
        }
    }
    let dir = temp("fire");
    let (store, ev) = events(&dir);
    let record = Arc::new(Record(Mutex::new(Vec::new())));
    ev.set_invoker(record.clone());
    let ev = Arc::new(ev);
    ev.dispatch(request("PutRule", json!({"Name": "cron", "ScheduleExpression": "cron(* * * * ? *)"}))).await.unwrap();
    ev.dispatch(request(
        "PutTargets",
        json!({"Rule": "cron", "Targets": [{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f"}]}),
    ))
    .await
    .unwrap();
    ev.start();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = record.0.lock().unwrap().clone();
    // Once a minute: one call, two if the test straddled a minute boundary.
    assert!(!calls.is_empty() && calls.len() <= 2, "{calls:?}");
    assert_eq!(calls[0].function, "arn:aws:lambda:us-east-1:000000000000:function:f");
    let event: Value = serde_json::from_slice(&calls[0].payload).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["resources"][0], "arn:aws:events:us-east-1:000000000000:rule/cron");
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
