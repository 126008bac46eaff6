"""CloudWatch fed by another service through the sinks: API Gateway's
AWS/ApiGateway metrics (GetMetricStatistics, Prometheus) and access logs
(FilterLogEvents), after real data-plane calls."""

import datetime
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from test_apigateway_rest import call, mock_method, new_api

N = 5


def test_cloudwatch_receives_api_gateway_metrics_and_access_logs(nimbus, client):
    apigw, cw, logs = client("apigateway"), client("cloudwatch"), client("logs")
    api_id, root = new_api(apigw, name=f"cw-{uuid.uuid4().hex[:6]}")
    hello = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="hello")
    mock_method(apigw, api_id, hello["id"])
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    group = f"/nimbus/access/{api_id}"
    apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId $context.status"},
    ])
    for _ in range(N):
        assert call(nimbus, api_id, "GET", "/dev/hello").status == 200

    dims = [{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": "dev"}]
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    deadline = time.time() + 10
    while True:
        reply = cw.get_metric_statistics(Namespace="AWS/ApiGateway", MetricName="Count", Dimensions=dims,
                                         StartTime=start, EndTime=start + datetime.timedelta(minutes=10),
                                         Period=600, Statistics=["Sum"])
        total = sum(p["Sum"] for p in reply["Datapoints"])
        if total == N or time.time() > deadline:
            break
        time.sleep(0.2)
    assert total == N
    latency = cw.get_metric_statistics(Namespace="AWS/ApiGateway", MetricName="Latency", Dimensions=dims,
                                       StartTime=start, EndTime=start + datetime.timedelta(minutes=10),
                                       Period=600, Statistics=["SampleCount", "Average"])["Datapoints"]
    assert sum(p["SampleCount"] for p in latency) == N
    assert all(p["Average"] >= 0 and p["Unit"] == "Milliseconds" for p in latency)
    listed = cw.list_metrics(Namespace="AWS/ApiGateway", Dimensions=[{"Name": "ApiId", "Value": api_id}])["Metrics"]
    assert {"Count", "Latency"} <= {m["MetricName"] for m in listed}

    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/metrics") as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    labels = {"api_id": api_id, "stage": "dev"}
    count = [s for s in families["nimbus_apigateway_count"].samples if s.labels == labels]
    assert families["nimbus_apigateway_count"].type == "counter"
    assert count[0].name == "nimbus_apigateway_count_total" and count[0].value == N
    histogram = families["nimbus_apigateway_latency_seconds"]
    assert histogram.type == "histogram"
    observed = [s for s in histogram.samples if s.name.endswith("_count") and s.labels == labels]
    assert observed[0].value == N

    deadline = time.time() + 10
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group, filterPattern="200")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if len(events) == N or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(events) == N
    assert all(e["message"].endswith(" 200") for e in events)
