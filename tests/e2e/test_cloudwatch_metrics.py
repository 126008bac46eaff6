"""CloudWatch metrics through boto3 and the AWS CLI (the JSON protocol
today's botocore speaks to CloudWatch), and the Prometheus exposition."""

import datetime
import time
import urllib.request
import uuid

import botocore
import pytest
from prometheus_client.parser import text_string_to_metric_families


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"]


@pytest.fixture
def cw(client):
    return client("cloudwatch")


@pytest.fixture
def ns():
    return f"Nimbus/Test/{uuid.uuid4().hex[:10]}"


def minute_start():
    now = utcnow()
    return now.replace(second=0, microsecond=0) - datetime.timedelta(minutes=5)


def test_cloudwatch_put_and_get_metric_statistics(cw, ns):
    t0 = minute_start()
    dims = [{"Name": "FunctionName", "Value": "hello"}]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0 + datetime.timedelta(seconds=s), "Value": v,
         "Unit": "Milliseconds"}
        for s, v in [(1, 10.0), (2, 20.0), (3, 30.0), (61, 100.0)]
    ])
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0 + datetime.timedelta(seconds=62),
         "Values": [1.0, 2.0], "Counts": [3.0, 1.0], "Unit": "Milliseconds", "StorageResolution": 1},
    ])
    reply = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=t0,
        EndTime=t0 + datetime.timedelta(minutes=3), Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"], ExtendedStatistics=["p50"])
    assert reply["Label"] == "Latency"
    points = sorted(reply["Datapoints"], key=lambda p: p["Timestamp"])
    assert len(points) == 2
    first, second = points
    assert first["Timestamp"] == t0
    assert (first["SampleCount"], first["Sum"], first["Average"], first["Minimum"], first["Maximum"]) == (
        3.0, 60.0, 20.0, 10.0, 30.0)
    assert first["ExtendedStatistics"] == {"p50": 20.0}
    assert first["Unit"] == "Milliseconds"
    assert second["Timestamp"] == t0 + datetime.timedelta(minutes=1)
    assert (second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"]) == (5.0, 105.0, 1.0, 100.0)
    # Dimensions identify the series: without them, nothing.
    none = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", StartTime=t0,
                                    EndTime=t0 + datetime.timedelta(minutes=3), Period=60, Statistics=["Sum"])
    assert none["Datapoints"] == []
    # The unit filter.
    other_unit = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=t0,
                                          EndTime=t0 + datetime.timedelta(minutes=3), Period=60,
                                          Statistics=["Sum"], Unit="Seconds")
    assert other_unit["Datapoints"] == []


def test_cloudwatch_statistic_values_and_percentiles(cw, ns):
    t0 = minute_start()
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Req", "Timestamp": t0, "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}},
    ])
    reply = cw.get_metric_statistics(Namespace=ns, MetricName="Req", StartTime=t0,
                                     EndTime=t0 + datetime.timedelta(minutes=1), Period=60,
                                     Statistics=["Average", "SampleCount"])
    assert reply["Datapoints"][0]["Average"] == 2.5 and reply["Datapoints"][0]["Unit"] == "None"
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Lat", "Timestamp": t0, "Values": [float(v) for v in range(1, 101)]}])
    reply = cw.get_metric_statistics(Namespace=ns, MetricName="Lat", StartTime=t0,
                                     EndTime=t0 + datetime.timedelta(minutes=1), Period=60,
                                     ExtendedStatistics=["p99", "p90"])
    assert reply["Datapoints"][0]["ExtendedStatistics"] == {"p99": 99.0, "p90": 90.0}


def test_cloudwatch_put_metric_data_validation(cw, ns):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": "M", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])
    assert error_of(e) == (
        "InvalidParameterCombination",
        "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive "
        "and you have specified both.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "M", "Value": 1}])
    assert error_of(e) == ("InvalidParameterValue", "The value AWS/Lambda for parameter Namespace is invalid.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Values": [1, 2], "Counts": [1]}])
    assert error_of(e) == ("InvalidParameterValue",
                           "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1, "StorageResolution": 5}])
    assert error_of(e) == ("InvalidParameterValue",
                           "The value 5 for parameter MetricData.member.1.StorageResolution is invalid.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": "M", "Value": 1, "Timestamp": utcnow() - datetime.timedelta(days=15)}])
    assert error_of(e) == ("InvalidParameterValue",
                           "The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past.")


def test_cloudwatch_get_metric_statistics_validation(cw, ns):
    t0 = minute_start()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(Namespace=ns, MetricName="M", StartTime=t0, EndTime=t0 + datetime.timedelta(days=2),
                                 Period=60, Statistics=["Sum"])
    assert error_of(e) == (
        "InvalidParameterCombination",
        "You have requested up to 2880 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints "
        "requested by increasing Period, or decreasing the time range.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_statistics(Namespace=ns, MetricName="M", StartTime=t0, EndTime=t0 + datetime.timedelta(hours=1),
                                 Period=90, Statistics=["Sum"])
    assert error_of(e) == ("InvalidParameterValue", "The parameter Period must be a multiple of 60.")


def test_cloudwatch_list_metrics_filters(cw, ns):
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": "a"}], "Value": 1},
        {"MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": "b"}], "Value": 1},
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "a"},
                                                 {"Name": "Resource", "Value": "a:1"}], "Value": 0},
    ])
    every = cw.list_metrics(Namespace=ns)["Metrics"]
    assert len(every) == 3
    assert {"Namespace": ns, "MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": "b"}]} in every
    assert len(cw.list_metrics(Namespace=ns, MetricName="Invocations")["Metrics"]) == 2
    by_dim = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "FunctionName", "Value": "a"}])["Metrics"]
    assert sorted(m["MetricName"] for m in by_dim) == ["Errors", "Invocations"]
    by_name = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Resource"}])["Metrics"]
    assert [m["MetricName"] for m in by_name] == ["Errors"]
    assert len(cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 3
    assert cw.list_metrics(Namespace=ns + "-none")["Metrics"] == []


def test_cloudwatch_get_metric_data_math_and_pages(cw, ns):
    t0 = minute_start()
    data = []
    for minute, (errors, invocations) in enumerate([(1, 10), (0, 5), (2, 4)]):
        ts = t0 + datetime.timedelta(minutes=minute)
        data.append({"MetricName": "Errors", "Timestamp": ts, "Value": errors, "Unit": "Count"})
        data.append({"MetricName": "Invocations", "Timestamp": ts, "Value": invocations, "Unit": "Count"})
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(name):
        return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "invocations", "MetricStat": stat("Invocations")},
        {"Id": "rate", "Expression": "errors / invocations * 100", "Label": "Error rate"},
        {"Id": "total", "Expression": "SUM(METRICS())"},
    ]
    reply = cw.get_metric_data(MetricDataQueries=queries, StartTime=t0, EndTime=t0 + datetime.timedelta(minutes=3),
                               ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in reply["MetricDataResults"]}
    assert set(results) == {"invocations", "rate", "total"}
    assert results["invocations"]["Label"] == "Invocations"
    assert results["invocations"]["Values"] == [10.0, 5.0, 4.0]
    assert results["invocations"]["Timestamps"] == [t0 + datetime.timedelta(minutes=m) for m in range(3)]
    assert results["invocations"]["StatusCode"] == "Complete"
    assert results["rate"]["Label"] == "Error rate"
    assert results["rate"]["Values"] == [10.0, 0.0, 50.0]
    assert results["total"]["Values"] == [11.0, 5.0, 6.0]
    descending = cw.get_metric_data(MetricDataQueries=queries[:2], StartTime=t0,
                                    EndTime=t0 + datetime.timedelta(minutes=3))
    assert descending["MetricDataResults"][0]["Values"] == [4.0, 5.0, 10.0]
    pages = list(cw.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries[:2], StartTime=t0, EndTime=t0 + datetime.timedelta(minutes=3),
        ScanBy="TimestampAscending", MaxDatapoints=2))
    assert [v for p in pages for r in p["MetricDataResults"] for v in r["Values"]] == [10.0, 5.0, 4.0]
    assert len(pages) == 2


def test_cloudwatch_cli_metrics(aws_cli, ns):
    aws_cli("cloudwatch", "put-metric-data", "--namespace", ns, "--metric-name", "Hits", "--value", "7",
            "--unit", "Count", "--dimensions", "Site=home")
    listed = aws_cli("cloudwatch", "list-metrics", "--namespace", ns)
    assert listed["Metrics"] == [{"Namespace": ns, "MetricName": "Hits", "Dimensions": [{"Name": "Site", "Value": "home"}]}]
    now = utcnow()
    stats = aws_cli("cloudwatch", "get-metric-statistics", "--namespace", ns, "--metric-name", "Hits",
                    "--dimensions", "Name=Site,Value=home", "--statistics", "Sum",
                    "--start-time", (now - datetime.timedelta(minutes=10)).isoformat(),
                    "--end-time", (now + datetime.timedelta(minutes=1)).isoformat(), "--period", "60")
    assert [p["Sum"] for p in stats["Datapoints"]] == [7.0]


def test_cloudwatch_prometheus_exposition_parses(nimbus, client):
    logs = client("logs")
    group = f"/nimbus/prom/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now, "message": "hello"}, {"timestamp": now, "message": "world"}])
    deadline = time.time() + 5
    while True:
        with urllib.request.urlopen(f"{nimbus.endpoint}/_nimbus/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = r.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        family = families.get("nimbus_logs_incoming_log_events")
        samples = [s for s in family.samples if s.labels.get("log_group_name") == group] if family else []
        if samples or time.time() > deadline:
            break
        time.sleep(0.1)
    assert family.type == "counter"
    assert samples[0].name == "nimbus_logs_incoming_log_events_total" and samples[0].value == 2.0
    incoming = [s for s in families["nimbus_logs_incoming_bytes"].samples if s.labels.get("log_group_name") == group]
    assert incoming[0].value == 10.0


def test_cloudwatch_service_metrics_reach_get_metric_statistics(client):
    """Metrics reported through the MetricSink (here AWS/Logs, as Lambda's
    AWS/Lambda will be) are queryable with GetMetricStatistics."""
    logs, cw = client("logs"), client("cloudwatch")
    group = f"/nimbus/sink/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    for i in range(3):
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": "x"}])
    start = utcnow() - datetime.timedelta(minutes=5)
    deadline = time.time() + 5
    while True:
        reply = cw.get_metric_statistics(
            Namespace="AWS/Logs", MetricName="IncomingLogEvents", Dimensions=[{"Name": "LogGroupName", "Value": group}],
            StartTime=start, EndTime=utcnow() + datetime.timedelta(minutes=1), Period=3600, Statistics=["Sum"])
        if sum(p["Sum"] for p in reply["Datapoints"]) == 3 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert sum(p["Sum"] for p in reply["Datapoints"]) == 3
    assert reply["Datapoints"][0]["Unit"] == "Count"


@pytest.fixture
def cw_query(nimbus, tmp_path):
    """A boto3 CloudWatch client forced onto the awsQuery protocol, as SDKs
    from before CloudWatch's JSON protocol speak it."""
    import gzip
    import json as jsonlib
    import os

    import boto3
    import botocore.session
    from botocore.config import Config

    source = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01")
    path = os.path.join(source, "service-2.json")
    model = jsonlib.load(gzip.open(path + ".gz") if not os.path.exists(path) else open(path))
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    target = tmp_path / "cloudwatch" / "2010-08-01"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(jsonlib.dumps(model))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(tmp_path))
    cw = boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=nimbus.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    assert cw.meta.service_model.protocol == "query"
    return cw


def test_cloudwatch_query_protocol(cw_query, ns):
    t0 = minute_start()
    cw_query.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Q", "Dimensions": [{"Name": "D", "Value": "v"}], "Timestamp": t0, "Values": [1.0, 3.0],
         "Counts": [1.0, 1.0], "Unit": "Count"}])
    reply = cw_query.get_metric_statistics(Namespace=ns, MetricName="Q", Dimensions=[{"Name": "D", "Value": "v"}],
                                           StartTime=t0, EndTime=t0 + datetime.timedelta(minutes=1), Period=60,
                                           Statistics=["Sum", "Maximum"], ExtendedStatistics=["p50"])
    point = reply["Datapoints"][0]
    assert (point["Timestamp"], point["Sum"], point["Maximum"], point["Unit"]) == (t0, 4.0, 3.0, "Count")
    assert point["ExtendedStatistics"] == {"p50": 1.0}
    listed = cw_query.list_metrics(Namespace=ns)["Metrics"]
    assert listed == [{"Namespace": ns, "MetricName": "Q", "Dimensions": [{"Name": "D", "Value": "v"}]}]
    data = cw_query.get_metric_data(MetricDataQueries=[
        {"Id": "q", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Q", "Dimensions": [{"Name": "D", "Value": "v"}]},
                                   "Period": 60, "Stat": "Sum"}},
        {"Id": "double", "Expression": "q * 2"}], StartTime=t0, EndTime=t0 + datetime.timedelta(minutes=1))
    assert [r["Values"] for r in data["MetricDataResults"]] == [[4.0], [8.0]]
    assert data["MetricDataResults"][0]["Timestamps"] == [t0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw_query.put_metric_data(Namespace="AWS/X", MetricData=[{"MetricName": "M", "Value": 1}])
    assert error_of(e) == ("InvalidParameterValue", "The value AWS/X for parameter Namespace is invalid.")
    name = f"q-{uuid.uuid4().hex[:8]}"
    cw_query.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="Q", Statistic="Sum", Period=60,
                              EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanThreshold",
                              ActionsEnabled=False)
    alarm = cw_query.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (alarm["AlarmName"], alarm["ActionsEnabled"], alarm["Threshold"]) == (name, False, 100.0)
    cw_query.delete_alarms(AlarmNames=[name])


def test_cloudwatch_dashboards(cw, aws_cli):
    import json as jsonlib

    name = f"dash-{uuid.uuid4().hex[:8]}"
    body = jsonlib.dumps({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6,
                                       "properties": {"metrics": [["AWS/Lambda", "Invocations"]], "region": "us-east-1"}}]})
    assert cw.put_dashboard(DashboardName=name, DashboardBody=body)["DashboardValidationMessages"] == []
    got = cw.get_dashboard(DashboardName=name)
    assert got["DashboardBody"] == body and got["DashboardName"] == name
    assert got["DashboardArn"] == f"arn:aws:cloudwatch::000000000000:dashboard/{name}"
    entries = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [(e["DashboardName"], e["Size"]) for e in entries] == [(name, len(body))]
    assert aws_cli("cloudwatch", "list-dashboards", "--dashboard-name-prefix", name)["DashboardEntries"][0][
        "DashboardName"] == name
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_dashboard(DashboardName=name, DashboardBody="not json")
    assert e.value.response["Error"]["Code"] == "InvalidParameterInput"
    cw.delete_dashboards(DashboardNames=[name])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_dashboard(DashboardName=name)
    assert error_of(e) == ("ResourceNotFound", f"Dashboard {name} does not exist")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
