"""CloudWatch fed by another service through the sinks: API Gateway's
AWS/ApiGateway metrics (GetMetricStatistics, ListMetrics, Prometheus) and
access logs (FilterLogEvents), after real data-plane calls.

Names and dimensions as AWS publishes them: REST APIs report Count,
Latency, IntegrationLatency, 4XXError and 5XXError by ApiName (and Stage;
Method and Resource with detailed metrics); HTTP APIs report Count,
Latency, IntegrationLatency, 4xx, 5xx and DataProcessed by ApiId (and
Stage; Route with detailed metrics)."""

import datetime
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

import test_apigateway_http as http_api
from test_apigateway_http import backend  # noqa: F401  (a real HTTP backend fixture)
from test_apigateway_rest import call, mock_method, new_api

N = 5
REST_METRICS = {"Count", "Latency", "IntegrationLatency", "4XXError", "5XXError"}
HTTP_METRICS = {"Count", "Latency", "IntegrationLatency", "4xx", "5xx", "DataProcessed"}


def dims(**pairs):
    return [{"Name": k, "Value": v} for k, v in pairs.items()]


def statistics(cw, name, dimensions, stats, expect_count):
    """Datapoints of one metric over the last minutes, waiting until
    `expect_count` samples have been stored (the sink writes in the background)."""
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    deadline = time.time() + 10
    while True:
        points = cw.get_metric_statistics(Namespace="AWS/ApiGateway", MetricName=name, Dimensions=dimensions,
                                          StartTime=start, EndTime=start + datetime.timedelta(minutes=10),
                                          Period=600, Statistics=sorted({"SampleCount", *stats}))["Datapoints"]
        if sum(p["SampleCount"] for p in points) >= expect_count or time.time() > deadline:
            return points
        time.sleep(0.2)


def total(points, stat="Sum"):
    return sum(p[stat] for p in points)


def metric_names(cw, dimensions):
    listed = cw.list_metrics(Namespace="AWS/ApiGateway", Dimensions=dimensions)["Metrics"]
    return {m["MetricName"] for m in listed if {d["Name"] for d in m["Dimensions"]} == {d["Name"] for d in dimensions}}


def test_rest_api_metrics_and_access_logs(nimbus, client):
    apigw, cw, logs = client("apigateway"), client("cloudwatch"), client("logs")
    name = f"cw-{uuid.uuid4().hex[:6]}"
    api_id, root = new_api(apigw, name=name)
    hello = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="hello")
    mock_method(apigw, api_id, hello["id"])
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    group = f"/nimbus/access/{api_id}"
    apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId $context.status"},
        {"op": "replace", "path": "/~1hello/GET/metrics/enabled", "value": "true"},
    ])
    for _ in range(N):
        assert call(nimbus, api_id, "GET", "/dev/hello").status == 200
    missing = call(nimbus, api_id, "GET", "/dev/nowhere")
    assert missing.status == 403 and missing.json() == {"message": "Missing Authentication Token"}

    stage_dims = dims(ApiName=name, Stage="dev")
    assert total(statistics(cw, "Count", stage_dims, ["Sum"], N + 1)) == N + 1
    # The same requests, by API alone.
    assert total(statistics(cw, "Count", dims(ApiName=name), ["Sum"], N + 1)) == N + 1
    errors = statistics(cw, "4XXError", stage_dims, ["Sum", "Average"], N + 1)
    assert total(errors) == 1 and total(errors, "SampleCount") == N + 1
    assert total(statistics(cw, "5XXError", stage_dims, ["Sum"], N + 1)) == 0
    latency = statistics(cw, "Latency", stage_dims, ["Average"], N + 1)
    assert total(latency, "SampleCount") == N + 1
    assert all(p["Average"] >= 0 and p["Unit"] == "Milliseconds" for p in latency)
    # Only the matched MOCK calls reached an integration.
    assert total(statistics(cw, "IntegrationLatency", stage_dims, [], N), "SampleCount") == N
    # Detailed metrics (metricsEnabled on GET /hello): per method and resource.
    method_dims = dims(ApiName=name, Method="GET", Resource="/hello", Stage="dev")
    assert total(statistics(cw, "Count", method_dims, ["Sum"], N)) == N
    assert metric_names(cw, stage_dims) == REST_METRICS
    assert metric_names(cw, dims(ApiId=api_id, Stage="dev")) == set()

    with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/metrics") as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    labels = {"api_name": name, "stage": "dev"}
    count = [s for s in families["nimbus_apigateway_count"].samples if s.labels == labels]
    assert families["nimbus_apigateway_count"].type == "counter"
    assert count[0].name == "nimbus_apigateway_count_total" and count[0].value == N + 1
    errors = [s for s in families["nimbus_apigateway_4xx_error"].samples if s.labels == labels]
    assert errors[0].value == 1
    histogram = families["nimbus_apigateway_latency_seconds"]
    assert histogram.type == "histogram"
    observed = [s for s in histogram.samples if s.name.endswith("_count") and s.labels == labels]
    assert observed[0].value == N + 1

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


def test_rest_api_name_dimension_drops_non_ascii(nimbus, client):
    apigw, cw = client("apigateway"), client("cloudwatch")
    suffix = uuid.uuid4().hex[:6]
    api_id, root = new_api(apigw, name=f"café-{suffix}")
    mock_method(apigw, api_id, root)
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert call(nimbus, api_id, "GET", "/dev/").status == 200
    assert total(statistics(cw, "Count", dims(ApiName=f"caf-{suffix}", Stage="dev"), ["Sum"], 1)) == 1


def test_http_api_metrics(nimbus, client, backend):  # noqa: F811
    apigw, cw = client("apigatewayv2"), client("cloudwatch")
    api_id = apigw.create_api(Name="metrics", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/items",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="POST /items", Target=f"integrations/{integ}")
    apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True,
                       DefaultRouteSettings={"DetailedMetricsEnabled": True})
    sent = 0
    for _ in range(N):
        reply = http_api.call(nimbus, api_id, "POST", "/prod/items", body=b"0123456789")
        assert reply.status == 200, reply.text
        sent += 10 + len(reply.body)
    assert http_api.call(nimbus, api_id, "GET", "/prod/nowhere").status == 404
    sent += len(b'{"message":"Not Found"}')

    stage_dims = dims(ApiId=api_id, Stage="prod")
    assert total(statistics(cw, "Count", stage_dims, ["Sum"], N + 1)) == N + 1
    assert total(statistics(cw, "Count", dims(ApiId=api_id), ["Sum"], N + 1)) == N + 1
    assert total(statistics(cw, "4xx", stage_dims, ["Sum"], N + 1)) == 1
    assert total(statistics(cw, "5xx", stage_dims, ["Sum"], N + 1)) == 0
    assert total(statistics(cw, "IntegrationLatency", stage_dims, [], N), "SampleCount") == N
    # Latency keeps its distribution: percentiles are answered, within the range.
    latency = statistics(cw, "Latency", stage_dims, ["Minimum", "Maximum"], N + 1)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    points = cw.get_metric_statistics(Namespace="AWS/ApiGateway", MetricName="Latency", Dimensions=stage_dims,
                                      StartTime=start, EndTime=start + datetime.timedelta(minutes=10),
                                      Period=600, ExtendedStatistics=["p50", "p99"])["Datapoints"]
    low, high = min(p["Minimum"] for p in latency), max(p["Maximum"] for p in latency)
    assert points and all(set(p["ExtendedStatistics"]) == {"p50", "p99"} for p in points)
    assert all(low <= p["ExtendedStatistics"]["p50"] <= p["ExtendedStatistics"]["p99"] <= high for p in points)
    processed = statistics(cw, "DataProcessed", stage_dims, ["Sum"], N + 1)
    assert total(processed) == sent and all(p["Unit"] == "Bytes" for p in processed)
    route_dims = dims(ApiId=api_id, Stage="prod", Route="POST /items")
    assert total(statistics(cw, "Count", route_dims, ["Sum"], N)) == N
    assert metric_names(cw, stage_dims) == HTTP_METRICS
