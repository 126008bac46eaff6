//! AWS managed policies serverless applications use, with AWS's statements
//! (as published in the AWS Managed Policy reference; `ReadOnlyAccess` is
//! abridged to the services Nimbus emulates plus STS, because the real one
//! lists thousands of actions of services Nimbus does not have).

/// One AWS managed policy.
pub struct AwsManagedPolicy {
    pub name: &'static str,
    /// `/` or `/service-role/`.
    pub path: &'static str,
    pub description: &'static str,
    pub version: &'static str,
    pub document: &'static str,
}

impl AwsManagedPolicy {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }

    /// A stable id in AWS's shape (`ANPA` + 17 characters), derived from the name.
    pub fn id(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name.bytes() {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tail: String = (0..17).map(|i| alphabet[((hash >> ((i * 5) % 60)) & 31) as usize] as char).collect();
        format!("ANPA{tail}")
    }
}

pub fn find(arn: &str) -> Option<&'static AwsManagedPolicy> {
    ALL.iter().find(|p| p.arn() == arn)
}

pub static ALL: &[AwsManagedPolicy] = &[
    AwsManagedPolicy {
        name: "AdministratorAccess",
        path: "/",
        description: "Provides full access to AWS services and resources.",
        version: "v1",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "PowerUserAccess",
        path: "/",
        description:
            "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        version: "v5",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "ReadOnlyAccess",
        path: "/",
        description: "Provides read-only access to AWS services and resources.",
        version: "v1",
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadOnlyAccess","Effect":"Allow","Action":["apigateway:GET","cloudformation:Describe*","cloudformation:Detect*","cloudformation:Estimate*","cloudformation:Get*","cloudformation:List*","cloudwatch:Describe*","cloudwatch:Get*","cloudwatch:List*","dynamodb:BatchGet*","dynamodb:Describe*","dynamodb:Get*","dynamodb:List*","dynamodb:PartiQLSelect","dynamodb:Query","dynamodb:Scan","execute-api:Get*","iam:Generate*","iam:Get*","iam:List*","iam:Simulate*","lambda:Get*","lambda:List*","logs:Describe*","logs:FilterLogEvents","logs:Get*","logs:ListTagsForResource","logs:ListTagsLogGroup","logs:StartQuery","logs:StopQuery","logs:TestMetricFilter","s3:Describe*","s3:Get*","s3:List*","sts:GetCallerIdentity","sts:GetSessionToken","tag:Get*"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "AWSLambdaBasicExecutionRole",
        path: "/service-role/",
        description: "Provides write permissions to CloudWatch Logs.",
        version: "v1",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "AWSLambdaDynamoDBExecutionRole",
        path: "/service-role/",
        description: "Provides list and read access to DynamoDB streams and write permissions to CloudWatch logs.",
        version: "v1",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:DescribeStream","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:ListStreams","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "AmazonDynamoDBFullAccess",
        path: "/",
        description: "Provides full access to Amazon DynamoDB via the AWS Management Console.",
        version: "v15",
        document: r#"{"Version":"2012-10-17","Statement":[{"Action":["dynamodb:*","dax:*","application-autoscaling:DeleteScalingPolicy","application-autoscaling:DeregisterScalableTarget","application-autoscaling:DescribeScalableTargets","application-autoscaling:DescribeScalingActivities","application-autoscaling:DescribeScalingPolicies","application-autoscaling:PutScalingPolicy","application-autoscaling:RegisterScalableTarget","cloudwatch:DeleteAlarms","cloudwatch:DescribeAlarmHistory","cloudwatch:DescribeAlarms","cloudwatch:DescribeAlarmsForMetric","cloudwatch:GetMetricStatistics","cloudwatch:ListMetrics","cloudwatch:PutMetricAlarm","cloudwatch:GetMetricData","datapipeline:ActivatePipeline","datapipeline:CreatePipeline","datapipeline:DeletePipeline","datapipeline:DescribeObjects","datapipeline:DescribePipelines","datapipeline:GetPipelineDefinition","datapipeline:ListPipelines","datapipeline:PutPipelineDefinition","datapipeline:QueryObjects","ec2:DescribeVpcs","ec2:DescribeSubnets","ec2:DescribeSecurityGroups","iam:GetRole","iam:ListRoles","kms:DescribeKey","kms:ListAliases","sns:CreateTopic","sns:DeleteTopic","sns:ListSubscriptions","sns:ListSubscriptionsByTopic","sns:ListTopics","sns:Subscribe","sns:Unsubscribe","sns:SetTopicAttributes","lambda:CreateFunction","lambda:ListFunctions","lambda:ListEventSourceMappings","lambda:CreateEventSourceMapping","lambda:DeleteEventSourceMapping","lambda:GetFunctionConfiguration","lambda:DeleteFunction","resource-groups:ListGroups","resource-groups:ListGroupResources","resource-groups:GetGroup","resource-groups:GetGroupQuery","resource-groups:DeleteGroup","resource-groups:CreateGroup","tag:GetResources","kinesis:ListStreams","kinesis:DescribeStream","kinesis:DescribeStreamSummary"],"Effect":"Allow","Resource":"*"},{"Action":"cloudwatch:GetInsightRuleReport","Effect":"Allow","Resource":"arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*"},{"Action":["iam:PassRole"],"Effect":"Allow","Resource":"*","Condition":{"StringLike":{"iam:PassedToService":["application-autoscaling.amazonaws.com","application-autoscaling.amazonaws.com.cn","dax.amazonaws.com"]}}},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole"],"Resource":"*","Condition":{"StringEquals":{"iam:AWSServiceName":["replication.dynamodb.amazonaws.com","dax.amazonaws.com","dynamodb.application-autoscaling.amazonaws.com","contributorinsights.dynamodb.amazonaws.com","kinesisreplication.dynamodb.amazonaws.com"]}}}]}"#,
    },
    AwsManagedPolicy {
        name: "AmazonDynamoDBReadOnlyAccess",
        path: "/",
        description: "Provides read only access to Amazon DynamoDB via the AWS Management Console.",
        version: "v15",
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"GeneralReadOnlyAccess","Action":["application-autoscaling:DescribeScalableTargets","application-autoscaling:DescribeScalingActivities","application-autoscaling:DescribeScalingPolicies","cloudwatch:DescribeAlarmHistory","cloudwatch:DescribeAlarms","cloudwatch:DescribeAlarmsForMetric","cloudwatch:GetMetricStatistics","cloudwatch:ListMetrics","cloudwatch:GetMetricData","datapipeline:DescribeObjects","datapipeline:DescribePipelines","datapipeline:GetPipelineDefinition","datapipeline:ListPipelines","datapipeline:QueryObjects","dynamodb:BatchGetItem","dynamodb:Describe*","dynamodb:List*","dynamodb:GetAbacStatus","dynamodb:GetItem","dynamodb:GetResourcePolicy","dynamodb:Query","dynamodb:Scan","dynamodb:PartiQLSelect","dax:Describe*","dax:List*","dax:GetItem","dax:BatchGetItem","dax:Query","dax:Scan","ec2:DescribeVpcs","ec2:DescribeSubnets","ec2:DescribeSecurityGroups","iam:GetRole","iam:ListRoles","kms:DescribeKey","kms:ListAliases","sns:ListSubscriptionsByTopic","sns:ListTopics","lambda:ListFunctions","lambda:ListEventSourceMappings","lambda:GetFunctionConfiguration","resource-groups:ListGroups","resource-groups:ListGroupResources","resource-groups:GetGroup","resource-groups:GetGroupQuery","tag:GetResources","kinesis:ListStreams","kinesis:DescribeStream","kinesis:DescribeStreamSummary"],"Effect":"Allow","Resource":"*"},{"Sid":"ContributorInsightsReadOnlyAccess","Action":"cloudwatch:GetInsightRuleReport","Effect":"Allow","Resource":"arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*"}]}"#,
    },
    AwsManagedPolicy {
        name: "AWSLambda_FullAccess",
        path: "/",
        description:
            "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
        version: "v2",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudformation:DescribeStacks","cloudformation:ListStackResources","cloudwatch:ListMetrics","cloudwatch:GetMetricData","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:ListAliases","iam:GetPolicy","iam:GetPolicyVersion","iam:GetRole","iam:GetRolePolicy","iam:ListAttachedRolePolicies","iam:ListRolePolicies","iam:ListRoles","lambda:*","logs:DescribeLogGroups","states:DescribeStateMachine","states:ListStateMachines","tag:GetResources","xray:GetTraceSummaries","xray:BatchGetTraces"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},{"Effect":"Allow","Action":["logs:DescribeLogStreams","logs:GetLogEvents","logs:FilterLogEvents","logs:StartLiveTail","logs:StopLiveTail"],"Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/*"}]}"#,
    },
    AwsManagedPolicy {
        name: "CloudWatchLogsFullAccess",
        path: "/",
        description: "Provides full access to CloudWatch Logs",
        version: "v2",
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"CloudWatchLogsFullAccess","Effect":"Allow","Action":["logs:*","cloudwatch:GenerateQuery"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "AmazonAPIGatewayInvokeFullAccess",
        path: "/",
        description: "Provides full access to invoke APIs in Amazon API Gateway.",
        version: "v2",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["execute-api:Invoke","execute-api:ManageConnections"],"Resource":"arn:aws:execute-api:*:*:*"}]}"#,
    },
];

#[cfg(test)]
mod tests {
    use crate::policy::{Policy, PolicyKind};

    #[test]
    fn every_managed_policy_is_valid_and_findable() {
        for p in super::ALL {
            Policy::parse(p.document, PolicyKind::Identity).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(std::ptr::eq(super::find(&p.arn()).unwrap(), p));
            assert_eq!(p.id().len(), 21);
        }
        assert!(super::find("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").is_some());
    }
}
