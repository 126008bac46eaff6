//! The sinks, background work (alarms, roll-ups, retention) and alarm
//! actions, driven directly against a real store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use nimbus_cloudwatch::CloudWatch;
use nimbus_core::{
    AwsError, AwsRequest, BoxFuture, Context, InvokeOutcome, InvokeRequest, Invoker, LogEvent, MetricDatum, Principal,
    Service,
};
use nimbus_store::Store;
use nimbus_store_redb::RedbStore;
use serde_json::{json, Value};

fn open(name: &str) -> (Arc<dyn Store>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("nimbus-cloudwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
    (store, dir)
}

fn context() -> Context {
    Context { region: "us-east-1".into(), account_id: "000000000000".into() }
}

async fn call(service: &dyn Service, target: &str, body: Value) -> (u16, Value) {
    let request = AwsRequest {
        request_id: "test".into(),
        method: http::Method::POST,
        uri: "/".parse().unwrap(),
        headers: http::HeaderMap::new(),
        body: Bytes::from(body.to_string()),
        target_operation: Some(target.into()),
        principal: Principal::root("000000000000", "test"),
        region: "us-east-1".into(),
        source_ip: "127.0.0.1".parse().unwrap(),
        authorizer: None,
    };
    match service.handle(request).await {
        Ok(response) => (response.status().as_u16(), serde_json::from_slice(response.body()).unwrap_or(Value::Null)),
        Err(err) => (err.status.as_u16(), json!({"__type": err.code, "message": err.message})),
    }
}

fn now_ms() -> i64 {
    nimbus_core::time::now_epoch_millis() as i64
}

#[derive(Default)]
struct FakeInvoker {
    calls: Mutex<Vec<(String, Value)>>,
}

impl Invoker for FakeInvoker {
    fn invoke(&self, request: InvokeRequest) -> BoxFuture<'_, Result<InvokeOutcome, AwsError>> {
        let payload = serde_json::from_slice(&request.payload).unwrap_or(Value::Null);
        self.calls.lock().unwrap().push((request.function, payload));
        Box::pin(async {
            Ok(InvokeOutcome {
                payload: Bytes::from_static(b"null"),
                function_error: None,
                executed_version: "$LATEST".into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_sink_creates_group_and_stream_and_stores_events() {
    let (store, dir) = open("logsink");
    let cw = CloudWatch::new(store, context());
    let t = now_ms();
    let events = vec![
        LogEvent { timestamp_ms: t, message: "START RequestId: r1 Version: $LATEST".into() },
        LogEvent { timestamp_ms: t + 1, message: "END RequestId: r1".into() },
    ];
    cw.log_sink().put_log_events("/aws/lambda/f", "2026/11/27/[$LATEST]abc", events).await.unwrap();
    let (status, out) =
        call(cw.logs.as_ref(), "FilterLogEvents", json!({"logGroupName": "/aws/lambda/f", "filterPattern": "END"}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(out["events"][0]["message"], "END RequestId: r1");
    assert_eq!(out["events"][0]["logStreamName"], "2026/11/27/[$LATEST]abc");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_sink_feeds_statistics_and_an_alarm_invokes_its_function() {
    let (store, dir) = open("alarm");
    let cw = CloudWatch::new(store, context());
    let invoker = Arc::new(FakeInvoker::default());
    cw.set_invoker(invoker.clone());
    let dims = vec![("FunctionName".to_owned(), "f".to_owned())];
    let datum = |name: &str, value: f64, unit: &str| MetricDatum {
        namespace: "AWS/Lambda".into(),
        name: name.into(),
        dimensions: dims.clone(),
        value,
        unit: unit.into(),
        timestamp_ms: now_ms(),
    };
    let sink = cw.metric_sink();
    for _ in 0..5 {
        sink.put_metrics(vec![datum("Invocations", 1.0, "Count"), datum("Duration", 20.0, "Milliseconds")]);
    }
    sink.put_metrics(vec![datum("Errors", 1.0, "Count")]);
    cw.metrics.flush().await;
    let start = (now_ms() / 1000 - 600) as f64;
    let end = (now_ms() / 1000 + 60) as f64;
    let query = |name: &str, stat: &str| {
        json!({"Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
               "StartTime": start, "EndTime": end, "Period": 3600, "Statistics": [stat]})
    };
    let (_, out) = call(cw.metrics.as_ref(), "GetMetricStatistics", query("Invocations", "Sum")).await;
    let total: f64 = out["Datapoints"].as_array().unwrap().iter().map(|p| p["Sum"].as_f64().unwrap()).sum();
    assert_eq!(total, 5.0);
    let (_, out) = call(cw.metrics.as_ref(), "GetMetricStatistics", query("Duration", "Average")).await;
    assert_eq!(out["Datapoints"][0]["Average"], 20.0);
    assert_eq!(out["Datapoints"][0]["Unit"], "Milliseconds");

    let action = "arn:aws:lambda:us-east-1:000000000000:function:pager";
    let (status, _) = call(
        cw.metrics.as_ref(),
        "PutMetricAlarm",
        json!({"AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
               "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Statistic": "Sum", "Period": 60,
               "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
               "AlarmActions": [action]}),
    )
    .await;
    assert_eq!(status, 200);
    cw.metrics.evaluate_alarms().await.unwrap();
    let (_, out) = call(cw.metrics.as_ref(), "DescribeAlarms", json!({"AlarmNames": ["errors"]})).await;
    assert_eq!(out["MetricAlarms"][0]["StateValue"], "ALARM");
    for _ in 0..100 {
        if !invoker.calls.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let calls = invoker.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (function, event) = &calls[0];
    assert_eq!(function, action);
    assert_eq!(event["source"], "aws.cloudwatch");
    assert_eq!(event["alarmArn"], "arn:aws:cloudwatch:us-east-1:000000000000:alarm:errors");
    assert_eq!(event["alarmData"]["alarmName"], "errors");
    assert_eq!(event["alarmData"]["state"]["value"], "ALARM");
    assert_eq!(event["alarmData"]["previousState"]["value"], "INSUFFICIENT_DATA");
    assert_eq!(
        event["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["FunctionName"],
        "f"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roll_ups_keep_statistics_and_percentiles() {
    let (store, dir) = open("rollup");
    let cw = CloudWatch::new(store, context());
    let four_hours_ago = now_ms() - 4 * 3_600_000;
    let minute = four_hours_ago - four_hours_ago.rem_euclid(60_000);
    let data: Vec<MetricDatum> = (1..=100)
        .map(|i| MetricDatum {
            namespace: "AWS/Lambda".into(),
            name: "Duration".into(),
            dimensions: vec![],
            value: i as f64,
            unit: "Milliseconds".into(),
            timestamp_ms: minute + (i % 50) * 1000,
        })
        .collect();
    cw.metric_sink().put_metrics(data);
    cw.metrics.flush().await;
    let query = json!({"Namespace": "AWS/Lambda", "MetricName": "Duration", "StartTime": (minute / 1000) as f64,
                       "EndTime": (minute / 1000 + 60) as f64, "Period": 60,
                       "Statistics": ["Sum", "SampleCount", "Maximum"], "ExtendedStatistics": ["p99"]});
    let (_, before) = call(cw.metrics.as_ref(), "GetMetricStatistics", query.clone()).await;
    let merged = cw.metrics.roll_up(now_ms()).await.unwrap();
    assert_eq!(merged, 99, "100 one-second points of one minute become one point");
    let (_, after) = call(cw.metrics.as_ref(), "GetMetricStatistics", query).await;
    assert_eq!(before, after);
    assert_eq!(after["Datapoints"][0]["Sum"], 5050.0);
    assert_eq!(after["Datapoints"][0]["ExtendedStatistics"]["p99"], 99.0);
    assert_eq!(cw.metrics.roll_up(now_ms()).await.unwrap(), 0, "roll-ups are idempotent");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_sweep_deletes_only_expired_events() {
    let (store, dir) = open("retention");
    let cw = CloudWatch::new(store, context());
    let day = 86_400_000;
    let events = vec![
        LogEvent { timestamp_ms: now_ms() - 10 * day, message: "old".into() },
        LogEvent { timestamp_ms: now_ms() - 2 * day, message: "recent".into() },
    ];
    cw.log_sink().put_log_events("g", "s", events).await.unwrap();
    let (status, _) =
        call(cw.logs.as_ref(), "PutRetentionPolicy", json!({"logGroupName": "g", "retentionInDays": 7})).await;
    assert_eq!(status, 200);
    cw.logs.sweep_expired().await.unwrap();
    let (_, out) = call(
        cw.logs.as_ref(),
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true}),
    )
    .await;
    let messages: Vec<&str> =
        out["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages, vec!["recent"]);
    let _ = std::fs::remove_dir_all(dir);
}
