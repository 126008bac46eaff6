"""CloudWatch alarms: definition, the state machine evaluated by the
server on its own schedule, history, SetAlarmState, actions."""

import datetime
import json
import time
import uuid

import botocore
import pytest


@pytest.fixture
def cw(client):
    return client("cloudwatch")


def wait_for_state(cw, name, state, timeout=15):
    deadline = time.time() + timeout
    while True:
        alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == state or time.time() > deadline:
            return alarm
        time.sleep(0.2)


def test_cloudwatch_alarm_goes_to_alarm_on_errors(cw):
    ns = f"Nimbus/Alarm/{uuid.uuid4().hex[:8]}"
    name = f"errors-{uuid.uuid4().hex[:8]}"
    action = "arn:aws:lambda:us-east-1:000000000000:function:on-alarm"
    cw.put_metric_alarm(
        AlarmName=name, AlarmDescription="any error", Namespace=ns, MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "f"}], Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=0, ComparisonOperator="GreaterThanThreshold", AlarmActions=[action])
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    assert alarm["AlarmActions"] == [action] and alarm["ActionsEnabled"] is True
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 60, 0.0)

    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Value": 2, "Unit": "Count"}])
    alarm = wait_for_state(cw, name, "ALARM")
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [2.0 (")
    assert alarm["StateReason"].endswith(
        "was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).")
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [2.0]

    deadline = time.time() + 10
    while True:
        history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
        kinds = [h["HistoryItemType"] for h in history]
        if "Action" in kinds or time.time() > deadline:
            break
        time.sleep(0.2)
    assert kinds[-1] == "ConfigurationUpdate"
    assert history[-1]["HistorySummary"] == f'Alarm "{name}" created'
    updates = [h for h in history if h["HistoryItemType"] == "StateUpdate"]
    assert updates[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    # No Lambda in this build: the action is attempted and reported failed.
    actions = [h for h in history if h["HistoryItemType"] == "Action"]
    assert actions[0]["HistorySummary"].startswith(f"Failed to execute action {action}")
    only_updates = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistoryItemType"] for h in only_updates] == ["StateUpdate"]


def test_cloudwatch_alarm_missing_data_and_set_state(cw):
    ns = f"Nimbus/Alarm/{uuid.uuid4().hex[:8]}"
    quiet = f"quiet-{uuid.uuid4().hex[:8]}"
    cw.put_metric_alarm(AlarmName=quiet, Namespace=ns, MetricName="Errors", Statistic="Sum", Period=60,
                        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=5,
                        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching")
    alarm = wait_for_state(cw, quiet, "OK")
    assert alarm["StateValue"] == "OK"
    assert (alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (2, "notBreaching")
    cw.set_alarm_state(AlarmName=quiet, StateValue="ALARM", StateReason="testing")
    alarm = cw.describe_alarms(AlarmNames=[quiet])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing")
    # The next evaluation puts it back.
    assert wait_for_state(cw, quiet, "OK")["StateValue"] == "OK"
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="quiet-", StateValue="OK")["MetricAlarms"]
            if a["AlarmName"] == quiet] == [quiet]
    cw.disable_alarm_actions(AlarmNames=[quiet])
    assert cw.describe_alarms(AlarmNames=[quiet])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[quiet])
    assert cw.describe_alarms(AlarmNames=[quiet])["MetricAlarms"][0]["ActionsEnabled"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.set_alarm_state(AlarmName=quiet + "-nope", StateValue="OK", StateReason="x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_alarms(AlarmNames=[quiet, quiet + "-never-existed"])
    assert cw.describe_alarms(AlarmNames=[quiet])["MetricAlarms"] == []


def test_cloudwatch_put_metric_alarm_validation(cw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(AlarmName="bad", Namespace="N", MetricName="M", Statistic="Sum", Period=60,
                            EvaluationPeriods=2, DatapointsToAlarm=3, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(AlarmName="bad", Namespace="N", MetricName="M", Period=60,
                            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_cloudwatch_cli_alarms(aws_cli):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    aws_cli("cloudwatch", "put-metric-alarm", "--alarm-name", name, "--namespace", "N", "--metric-name", "M",
            "--statistic", "Average", "--period", "60", "--evaluation-periods", "1", "--threshold", "10",
            "--comparison-operator", "LessThanThreshold")
    out = aws_cli("cloudwatch", "describe-alarms", "--alarm-names", name)
    assert [a["AlarmName"] for a in out["MetricAlarms"]] == [name]
    aws_cli("cloudwatch", "delete-alarms", "--alarm-names", name)


def test_cloudwatch_alarm_tags_and_alarms_for_metric(cw):
    ns = f"Nimbus/Alarm/{uuid.uuid4().hex[:8]}"
    name = f"tagged-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    cw.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="Errors", Statistic="Sum", Period=60,
                        Dimensions=[{"Name": "FunctionName", "Value": "f"}], EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", Tags=[{"Key": "team", "Value": "core"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "core"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.list_tags_for_resource(ResourceARN=arn + "-missing")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    found = cw.describe_alarms_for_metric(Namespace=ns, MetricName="Errors",
                                          Dimensions=[{"Name": "FunctionName", "Value": "f"}])["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == [name]
    assert cw.describe_alarms_for_metric(Namespace=ns, MetricName="Errors")["MetricAlarms"] == []
    cw.delete_alarms(AlarmNames=[name])


def test_cloudwatch_metric_math_alarm(cw):
    ns = f"Nimbus/Alarm/{uuid.uuid4().hex[:8]}"
    name = f"rate-{uuid.uuid4().hex[:8]}"

    def stat(metric):
        return {"Metric": {"Namespace": ns, "MetricName": metric}, "Period": 60, "Stat": "Sum"}

    metrics = [
        {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "invocations", "MetricStat": stat("Invocations"), "ReturnData": False},
        {"Id": "rate", "Expression": "errors / invocations * 100", "Label": "Error rate", "ReturnData": True},
    ]
    cw.put_metric_alarm(AlarmName=name, Metrics=metrics, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold")
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["Metrics"][2]["Expression"] == "errors / invocations * 100"
    assert "MetricName" not in alarm and "Period" not in alarm
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Errors", "Value": 3},
                                                 {"MetricName": "Invocations", "Value": 10}])
    assert wait_for_state(cw, name, "ALARM")["StateValue"] == "ALARM"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(AlarmName=name, Metrics=metrics, MetricName="Errors", EvaluationPeriods=1,
                            Threshold=10, ComparisonOperator="GreaterThanThreshold")
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
    cw.delete_alarms(AlarmNames=[name])
