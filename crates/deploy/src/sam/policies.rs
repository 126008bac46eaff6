//! SAM's `Policies` property: managed policy names, inline documents, and
//! the policy templates (`DynamoDBCrudPolicy: {TableName: …}`).

use serde_json::{json, Value};

use crate::template::intrinsics::intrinsic_name;

/// What the `Policies` of a function become on its generated role.
#[derive(Default, Debug)]
pub struct RolePolicies {
    pub managed_arns: Vec<Value>,
    /// Inline policy documents, named `<Role>Policy<index>` by the caller.
    pub documents: Vec<Value>,
}

/// Managed policies AWS keeps under `service-role/`.
const SERVICE_ROLE_POLICIES: &[&str] = &[
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaVPCAccessExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaKinesisExecutionRole",
    "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaRole",
];

/// The ARN of an AWS managed policy named by SAM's short form.
pub fn managed_policy_arn(name: &str) -> Value {
    if name.starts_with("arn:") {
        return Value::from(name);
    }
    let folder = if SERVICE_ROLE_POLICIES.contains(&name) { "service-role/" } else { "" };
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::aws:policy/{folder}{name}")})
}

/// Sort `Policies` into managed ARNs and inline documents. The error names
/// the offending entry.
pub fn role_policies(policies: &Value) -> Result<RolePolicies, String> {
    let mut out = RolePolicies::default();
    let items = match policies {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for item in items {
        match &item {
            Value::String(name) => out.managed_arns.push(managed_policy_arn(name)),
            _ if intrinsic_name(&item).is_some() => out.managed_arns.push(item.clone()),
            Value::Object(map) if map.contains_key("Statement") => out.documents.push(item.clone()),
            Value::Object(map) if map.len() == 1 => {
                let (name, params) = map.iter().next().ok_or("empty policy")?;
                out.documents.push(policy_template(name, params)?);
            }
            other => return Err(format!("unrecognised entry in Policies: {other}")),
        }
    }
    Ok(out)
}

fn param(params: &Value, template: &str, name: &str) -> Result<Value, String> {
    params.get(name).cloned().ok_or_else(|| format!("policy template {template} needs the parameter {name}"))
}

fn sub(text: &str, vars: Value) -> Value {
    json!({"Fn::Sub": [text, vars]})
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Expand one SAM policy template to a policy document, as SAM's policy
/// template library defines it.
pub fn policy_template(name: &str, params: &Value) -> Result<Value, String> {
    let table_resources = |params: &Value| -> Result<Value, String> {
        let table = param(params, name, "TableName")?;
        Ok(json!([
            sub(
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}",
                json!({"tableName": table})
            ),
            sub(
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/index/*",
                json!({"tableName": table})
            ),
        ]))
    };
    let dynamodb = |actions: &[&str]| -> Result<Value, String> {
        let actions: Vec<String> = actions.iter().map(|a| format!("dynamodb:{a}")).collect();
        Ok(document(vec![json!({"Effect": "Allow", "Action": actions, "Resource": table_resources(params)?})]))
    };
    match name {
        "DynamoDBCrudPolicy" => dynamodb(&[
            "GetItem",
            "DeleteItem",
            "PutItem",
            "Scan",
            "Query",
            "UpdateItem",
            "BatchWriteItem",
            "BatchGetItem",
            "DescribeTable",
            "ConditionCheckItem",
        ]),
        "DynamoDBReadPolicy" => dynamodb(&["GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"]),
        "DynamoDBWritePolicy" => dynamodb(&["PutItem", "UpdateItem", "BatchWriteItem"]),
        "DynamoDBStreamReadPolicy" => {
            let table = param(params, name, "TableName")?;
            let stream = param(params, name, "StreamName")?;
            Ok(document(vec![
                json!({"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                       "Resource": sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/stream/${streamName}", json!({"tableName": table, "streamName": stream}))}),
                json!({"Effect": "Allow", "Action": ["dynamodb:ListStreams"],
                       "Resource": sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/stream/*", json!({"tableName": table}))}),
            ]))
        }
        "LambdaInvokePolicy" => {
            let function = param(params, name, "FunctionName")?;
            Ok(document(vec![json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                "Resource": sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*", json!({"functionName": function}))})]))
        }
        "CloudWatchPutMetricPolicy" => {
            Ok(document(vec![json!({"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"})]))
        }
        "CloudWatchLogsFullAccess" | "AWSLambdaBasicExecutionRole" => {
            Err(format!("{name} is a managed policy: list it by name (- {name}), not as a template"))
        }
        other => Err(format!("SAM policy template {other} is not supported by Nimbus")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_managed_inline_and_templates() {
        let p = role_policies(&json!([
            "AmazonDynamoDBFullAccess",
            "AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/X",
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
            {"DynamoDBCrudPolicy": {"TableName": {"Ref": "Table"}}},
            {"Ref": "SomePolicyArn"}
        ]))
        .unwrap();
        assert_eq!(
            p.managed_arns[0],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonDynamoDBFullAccess"})
        );
        assert_eq!(
            p.managed_arns[1],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"})
        );
        assert_eq!(p.managed_arns[2], json!("arn:aws:iam::aws:policy/X"));
        assert_eq!(p.managed_arns[3], json!({"Ref": "SomePolicyArn"}));
        assert_eq!(p.documents.len(), 2);
        let crud = &p.documents[1]["Statement"][0];
        assert!(crud["Action"].as_array().unwrap().contains(&json!("dynamodb:PutItem")));
        assert_eq!(crud["Resource"][0]["Fn::Sub"][1]["tableName"], json!({"Ref": "Table"}));
    }

    #[test]
    fn single_policy_string_and_errors() {
        assert_eq!(role_policies(&json!("AWSLambdaExecute")).unwrap().managed_arns.len(), 1);
        assert!(role_policies(&json!([{"DynamoDBCrudPolicy": {}}])).unwrap_err().contains("TableName"));
        assert!(role_policies(&json!([{"SQSPollerPolicy": {"QueueName": "q"}}]))
            .unwrap_err()
            .contains("not supported"));
        let read = policy_template("DynamoDBReadPolicy", &json!({"TableName": "t"})).unwrap();
        assert!(!read["Statement"][0]["Action"].as_array().unwrap().contains(&json!("dynamodb:PutItem")));
        let invoke = policy_template("LambdaInvokePolicy", &json!({"FunctionName": "f"})).unwrap();
        assert_eq!(invoke["Statement"][0]["Action"], json!(["lambda:InvokeFunction"]));
    }
}
