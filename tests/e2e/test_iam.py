"""IAM and STS: the APIs with boto3 and the AWS CLI, and least privilege
enforced on every request of a non-root principal."""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import time
import urllib.parse
import uuid

import botocore
import pytest
from botocore.config import Config

import raw
from conftest import Server, make_client, nimbus_binary

ACCOUNT = "000000000000"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
# boto3 checks DurationSeconds >= 900 itself; these tests need the server's answer.
UNCHECKED = Config(parameter_validation=False, retries={"max_attempts": 1})
INVALID_TOKEN = "The security token included in the request is invalid."


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


@pytest.fixture
def iam(client):
    return client("iam")


@pytest.fixture
def new_user(iam, nimbus):
    """new_user(policy_json=None) -> (name, boto3-client factory for that user)."""

    def make(policy=None, name=None):
        name = name or unique("user")
        iam.create_user(UserName=name)
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]

        def as_user(service):
            return make_client(
                nimbus, service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
            )

        as_user.key = key
        return name, as_user

    return make


def trust(principal):
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


# --- IAM API shapes -------------------------------------------------------------


def test_user_lifecycle_and_errors(iam):
    name = unique("alice")
    created = iam.create_user(UserName=name, Path="/team/")["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Path"] == "/team/"
    assert iam.get_user(UserName=name)["User"]["Arn"] == created["Arn"]
    assert name in [u["UserName"] for u in iam.list_users()["Users"]]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]] == [name]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName=name)
    assert error_of(e) == ("EntityAlreadyExists", f"User with name {name} already exists.", 409)

    iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName=name)
    assert error_of(e) == ("NoSuchEntity", f"The user with name {name} cannot be found.", 404)


def test_access_keys_and_delete_conflict(iam):
    name = unique("keys")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    iam.create_access_key(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName=name)
    assert error_of(e) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    listed = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert listed[key["AccessKeyId"]] == "Inactive" and len(listed) == 2

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
    for k in listed:
        iam.delete_access_key(UserName=name, AccessKeyId=k)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(e)[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)


def test_roles_with_trust_policies(iam):
    name = unique("role")
    trust_doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_doc), Description="d")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    # boto3 decodes IAM's URL-encoded policy documents into dicts.
    assert got["AssumeRolePolicyDocument"] == trust_doc
    assert got["MaxSessionDuration"] == 3600 and got["Description"] == "d"
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]

    new_trust = json.loads(trust({"AWS": ACCOUNT}))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new_trust

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=doc(allow("sts:AssumeRole")))
    assert error_of(e)[0] == "MalformedPolicyDocument"

    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=doc(allow("s3:GetObject")))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_role(RoleName=name)
    assert error_of(e) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName=name)
    assert error_of(e) == ("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def test_inline_policies_of_users_roles_and_groups(iam):
    user, role, group = unique("u"), unique("r"), unique("g")
    iam.create_user(UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    iam.create_group(GroupName=group)
    policy = json.loads(doc(allow(["dynamodb:GetItem", "dynamodb:Query"], "arn:aws:dynamodb:*:*:table/A")))
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(policy))
    iam.put_group_policy(GroupName=group, PolicyName="read", PolicyDocument=json.dumps(policy))
    assert iam.get_user_policy(UserName=user, PolicyName="read")["PolicyDocument"] == policy
    assert iam.get_role_policy(RoleName=role, PolicyName="read")["PolicyDocument"] == policy
    got = iam.get_group_policy(GroupName=group, PolicyName="read")
    assert got["PolicyDocument"] == policy and got["GroupName"] == group
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["read"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["read"]
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["read"]
    iam.delete_role_policy(RoleName=role, PolicyName="read")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role_policy(RoleName=role, PolicyName="read")
    assert error_of(e) == ("NoSuchEntity", "The role policy with name read cannot be found.", 404)


@pytest.mark.parametrize(
    "document, message",
    [
        ("{not json", "This policy contains invalid Json"),
        (doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
        (doc({"Effect": "Allow", "Action": "s3:GetObject"}), "Policy statement must contain resources."),
        (doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}),
         "Policy document should not specify a principal."),
        (doc({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}),
         "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (doc({"Effect": "Allow", "Action": "s3:x", "Resource": "*", "Condition": {"StringEqualz": {"a": "b"}}}),
         "Invalid Condition type : StringEqualz"),
        (json.dumps({"Version": "2012-10-18", "Statement": []}), "The policy failed legacy parsing"),
    ],
)
def test_malformed_policy_documents(iam, document, message):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName=unique("bad"), PolicyDocument=document)
    assert error_of(e) == ("MalformedPolicyDocument", message, 400)


def test_trust_policies_must_name_existing_principals(iam):
    ghost = f"arn:aws:iam::{ACCOUNT}:user/{unique('ghost')}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust({"AWS": ghost}))
    assert error_of(e) == ("MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{ghost}"', 400)


def test_policy_size_quotas(iam):
    user = unique("big")
    iam.create_user(UserName=user)
    actions = [f"dynamodb:Action{i:04d}" for i in range(100)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=doc(allow(actions)))
    assert error_of(e) == ("LimitExceeded", f"Maximum policy size of 2048 bytes exceeded for user {user}", 409)
    role = unique("big")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    iam.put_role_policy(RoleName=role, PolicyName="big", PolicyDocument=doc(allow(actions)))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName=unique("big"), PolicyDocument=doc(allow(actions * 3)))
    assert error_of(e) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)


def test_managed_policies_versions_and_attachments(iam):
    name = unique("pol")
    v1 = json.loads(doc(allow("s3:GetObject")))
    v2 = json.loads(doc(allow(["s3:GetObject", "s3:PutObject"])))
    policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(v1), Description="mine")["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(v1))
    assert error_of(e) == (
        "EntityAlreadyExists", f"A policy called {name} already exists. Duplicate names are not allowed.", 409)

    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v2))["PolicyVersion"]
    assert version["VersionId"] == "v2" and version["IsDefaultVersion"] is False
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == v2 and got["IsDefaultVersion"] is True
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True), ("v1", False)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_of(e) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")

    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [a["PolicyName"] for a in attached] == [name, "AWSLambdaBasicExecutionRole"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nope")
    assert error_of(e) == (
        "NoSuchEntity", f"Policy arn:aws:iam::{ACCOUNT}:policy/nope does not exist or is not attachable.", 404)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error_of(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)

    user = unique("u")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=ADMIN)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN}]


def test_aws_managed_policies_are_listed_with_their_statements(iam):
    listed = {p["PolicyName"]: p for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]}
    for name in ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "AWSLambdaBasicExecutionRole",
                 "AWSLambdaDynamoDBExecutionRole", "AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess",
                 "AWSLambda_FullAccess", "CloudWatchLogsFullAccess", "AmazonAPIGatewayInvokeFullAccess"]:
        assert name in listed, name
    basic = listed["AWSLambdaBasicExecutionRole"]
    assert basic["Arn"] == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    version = iam.get_policy_version(PolicyArn=basic["Arn"], VersionId=basic["DefaultVersionId"])["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert iam.list_policies(Scope="Local", PathPrefix="/service-role/")["Policies"] == []


def test_groups_and_membership(iam):
    group, user = unique("devs"), unique("u")
    created = iam.create_group(GroupName=group)["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/{group}" and created["GroupId"].startswith("AGPA")
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups()["Groups"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_group(GroupName=group)
    assert error_of(e) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)


# --- Authentication of IAM users and sessions --------------------------------------


def test_inactive_and_deleted_keys_are_rejected(iam, new_user):
    name, as_user = new_user()
    sts = as_user("sts")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    key_id = as_user.key["AccessKeyId"]

    iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert error_of(e) == ("InvalidClientTokenId", INVALID_TOKEN, 403)

    iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Active")
    assert sts.get_caller_identity()["Account"] == ACCOUNT

    iam.delete_access_key(UserName=name, AccessKeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert error_of(e) == ("InvalidClientTokenId", INVALID_TOKEN, 403)


def test_get_caller_identity_for_root_user_and_assumed_role(client, iam, new_user):
    root = client("sts").get_caller_identity()
    assert (root["Arn"], root["UserId"], root["Account"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT)

    name, as_user = new_user()
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    me = as_user("sts").get_caller_identity()
    assert (me["Arn"], me["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:user/{name}", user_id)

    role = unique("role")
    role_id = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["RoleId"]
    assumed = client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="s1")
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert assumed["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:s1", "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"}
    session = client("sts", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                     aws_session_token=creds["SessionToken"])
    who = session.get_caller_identity()
    assert (who["Arn"], who["UserId"]) == (f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1", f"{role_id}:s1")

    # The session token is part of the credentials.
    forged = client("sts", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token="nope")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        forged.get_caller_identity()
    assert error_of(e)[0] == "InvalidClientTokenId"


# --- Authorization --------------------------------------------------------------


def test_user_allowed_only_get_user_is_denied_list_users(new_user):
    name, as_user = new_user(doc(allow("iam:GetUser")))
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    iam = as_user("iam")
    assert iam.get_user(UserName=name)["User"]["Arn"] == user_arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_users()
    assert error_of(e) == (
        "AccessDenied",
        f"User: {user_arn} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ "
        "because no identity-based policy allows the iam:ListUsers action",
        403,
    )


def test_resource_scoped_allow_and_policy_variables(new_user):
    policy = doc(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))
    name, as_user = new_user(policy)
    other, _ = new_user()
    iam = as_user("iam")
    iam.get_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName=other)
    assert error_of(e)[1] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:GetUser on resource: "
        f"arn:aws:iam::{ACCOUNT}:user/{other} because no identity-based policy allows the iam:GetUser action"
    )


def test_explicit_deny_overrides_administrator_access(iam, new_user):
    name, as_user = new_user()
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    me = as_user("iam")
    assert me.list_users()["Users"]
    iam.put_user_policy(UserName=name, PolicyName="no-roles", PolicyDocument=doc(deny("iam:*Role*")))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        me.list_roles()
    assert error_of(e) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:ListRoles on resource: "
        f"arn:aws:iam::{ACCOUNT}:role/ with an explicit deny in an identity-based policy",
        403,
    )
    # Permissions follow policy changes at once (the compiled cache is invalidated).
    iam.delete_user_policy(UserName=name, PolicyName="no-roles")
    me.list_roles()


def test_permissions_boundary_caps_identity_policies(iam, new_user):
    name, as_user = new_user()
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=doc(allow("iam:List*")))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    me = as_user("iam")
    me.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        me.get_user(UserName=name)
    assert error_of(e)[1] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:GetUser on resource: "
        f"arn:aws:iam::{ACCOUNT}:user/{name} because no permissions boundary allows the iam:GetUser action"
    )
    iam.delete_user_permissions_boundary(UserName=name)
    me.get_user(UserName=name)

    role = unique("bounded")
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}),
                              PermissionsBoundary=boundary)["Role"]
    assert created["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_tags_and_principal_tag_conditions(iam, new_user):
    role = unique("tagged")
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}),
                              Tags=[{"Key": "team", "Value": "blue"}])["Role"]
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.tag_role(RoleName=role, Tags=[{"Key": "Team", "Value": "red"}, {"Key": "env", "Value": "dev"}])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "Team", "Value": "red"}, {"Key": "env", "Value": "dev"}]
    iam.untag_role(RoleName=role, TagKeys=["env"])
    assert iam.get_role(RoleName=role)["Role"]["Tags"] == [{"Key": "Team", "Value": "red"}]

    abac = doc(allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    name, as_user = new_user(abac)
    with pytest.raises(botocore.exceptions.ClientError):
        as_user("iam").list_roles()
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "blue"}])
    as_user("iam").list_roles()
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "team", "Value": "blue"}]


def test_group_policies_apply_to_members(iam, new_user):
    name, as_user = new_user()
    group = unique("readers")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError):
        as_user("iam").list_roles()
    iam.add_user_to_group(GroupName=group, UserName=name)
    as_user("iam").list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("iam").create_user(UserName=unique("x"))
    assert error_of(e)[0] == "AccessDenied"


def test_conditions_on_source_ip_and_username(new_user):
    by_ip = doc(allow("iam:ListUsers", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
                allow("iam:ListRoles", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    _, as_user = new_user(by_ip)
    as_user("iam").list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("iam").list_roles()
    assert error_of(e)[0] == "AccessDenied"

    name = unique("carol")
    by_name = doc(allow("iam:ListGroups", Condition={"StringEquals": {"aws:username": name}}),
                  allow("iam:ListPolicies", Condition={"StringNotEquals": {"aws:username": name}}))
    _, as_carol = new_user(by_name, name=name)
    as_carol("iam").list_groups()
    with pytest.raises(botocore.exceptions.ClientError):
        as_carol("iam").list_policies()


def test_assume_role_trust_duration_and_session_policy(nimbus, client, iam, new_user):
    sts = client("sts")
    role = unique("role")
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN)

    # A trust policy that names neither the caller nor its account.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error_of(e) == (
        "AccessDenied", f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {arn}",
        403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope", RoleSessionName="s1")
    assert error_of(e)[0] == "AccessDenied"

    # A user named by the trust policy may assume the role.
    name, as_user = new_user()
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("sts").assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert error_of(e) == (
        "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400)
    unchecked_sts = make_client(nimbus, "sts", aws_access_key_id=as_user.key["AccessKeyId"],
                                aws_secret_access_key=as_user.key["SecretAccessKey"], config=UNCHECKED)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unchecked_sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=100)
    assert error_of(e)[0] == "ValidationError" and "greater than or equal to 900" in error_of(e)[1]

    # The session policy intersects the role's AdministratorAccess.
    assumed = as_user("sts").assume_role(
        RoleArn=arn, RoleSessionName="narrow", DurationSeconds=900, Policy=doc(allow("iam:ListRoles")))
    creds = assumed["Credentials"]
    session_iam = client("iam", aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    session_iam.list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session_iam.list_users()
    assert error_of(e) == (
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/narrow is not authorized to perform: iam:ListUsers on "
        f"resource: arn:aws:iam::{ACCOUNT}:user/ because no session policy allows the iam:ListUsers action",
        403,
    )


def test_account_trust_needs_identity_permission(client, iam, new_user):
    role = unique("role")
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    _, plain = new_user()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        plain("sts").assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error_of(e)[0] == "AccessDenied"
    _, allowed = new_user(doc(allow("sts:AssumeRole", arn)))
    assert allowed("sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]["AccessKeyId"]


def test_trust_policy_conditions_see_external_id(client, iam):
    role = unique("ext")
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "secret-42"}}}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error_of(e)[0] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError):
        client("sts").assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="wrong-id")
    assert client("sts").assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="secret-42")["Credentials"]


def test_expired_session_credentials_are_rejected():
    server = Server(env={"NIMBUS_STS_MIN_DURATION_SECONDS": "1"})
    try:
        iam = make_client(server, "iam")
        role = unique("short")
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
        creds = make_client(server, "sts", config=UNCHECKED).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="brief", DurationSeconds=2)["Credentials"]
        session = make_client(server, "sts", aws_access_key_id=creds["AccessKeyId"],
                              aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
        assert session.get_caller_identity()["Arn"].endswith(f"assumed-role/{role}/brief")
        time.sleep(2.5)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            session.get_caller_identity()
        assert error_of(e) == ("ExpiredToken", "The security token included in the request is expired", 403)
    finally:
        server.stop()


def test_iam_state_survives_a_restart():
    server = Server()
    data_dir = server.data_dir
    try:
        iam = make_client(server, "iam")
        iam.create_user(UserName="persisted")
        key = iam.create_access_key(UserName="persisted")["AccessKey"]
        iam.put_user_policy(UserName="persisted", PolicyName="p", PolicyDocument=doc(allow("iam:GetUser")))
    finally:
        assert server.stop() == 0
    again = Server(data_dir=data_dir)
    try:
        iam = make_client(again, "iam")
        assert iam.get_user_policy(UserName="persisted", PolicyName="p")["PolicyDocument"]["Statement"][0][
            "Action"] == "iam:GetUser"
        user = make_client(again, "sts", aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"])
        assert user.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/persisted"
    finally:
        assert again.stop() == 0


def test_activity_is_recorded_per_principal(nimbus, new_user):
    name, as_user = new_user(doc(allow("iam:GetUser")))
    as_user("iam").get_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError):
        as_user("iam").list_users()
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    path = "/_nimbus/iam/activity?principal=" + urllib.parse.quote(arn, safe="")
    reply = raw.signed(nimbus.endpoint, "iam", method="GET", path=path)
    assert reply.status == 200, reply.text
    body = reply.json()
    got = {(a["action"], a["resource"]): (a["allowed"], a["denied"]) for a in body["activity"]}
    assert got == {("iam:GetUser", arn): (1, 0), ("iam:ListUsers", f"arn:aws:iam::{ACCOUNT}:user/"): (0, 1)}
    actions = sorted(a for s in body["suggested_policy"]["Statement"] for a in s["Action"])
    assert actions == ["iam:GetUser", "iam:ListUsers"]
    # Only root may read it.
    denied = raw.signed(nimbus.endpoint, "iam", method="GET", path=path,
                        key=as_user.key["AccessKeyId"], secret=as_user.key["SecretAccessKey"])
    assert denied.status == 403


def test_cli_suggest_policy_lists_exactly_the_actions_a_role_used(nimbus, client, iam):
    role = unique("fnrole")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    for session_name in ["env-1", "env-2"]:
        creds = client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=session_name)["Credentials"]
        as_session = client("iam", aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
        as_session.get_role(RoleName=role)
        if session_name == "env-2":
            with pytest.raises(botocore.exceptions.ClientError):
                as_session.create_user(UserName="nope")
    result = subprocess.run([nimbus_binary(), "iam", "suggest-policy", role, "--endpoint", nimbus.endpoint],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    assert policy["Version"] == "2012-10-17"
    assert sorted((s["Action"], s["Resource"]) for s in policy["Statement"]) == [
        (["iam:CreateUser"], f"arn:aws:iam::{ACCOUNT}:user/nope"),
        (["iam:GetRole"], f"arn:aws:iam::{ACCOUNT}:role/{role}"),
    ]


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


def test_other_services_are_checked_through_iam(nimbus, client, iam, new_user):
    """API Gateway authorizes apigateway:<METHOD> on its control plane and
    execute-api:Invoke on AWS_IAM routes; both go through this authorizer."""
    name, as_user = new_user(doc(allow("apigateway:GET")))
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    as_user("apigatewayv2").get_apis()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user("apigatewayv2").create_api(Name="nope", ProtocolType="HTTP")
    assert error_of(e) == (
        "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: apigateway:POST on resource: "
        f"arn:aws:apigateway:us-east-1::/apis because no identity-based policy allows the apigateway:POST action",
        403,
    )

    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        apigw = client("apigatewayv2")
        api_id = apigw.create_api(Name="private", ProtocolType="HTTP")["ApiId"]
        integ = apigw.create_integration(
            ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY", PayloadFormatVersion="1.0",
            IntegrationUri=f"http://127.0.0.1:{backend.server_address[1]}/x")["IntegrationId"]
        apigw.create_route(ApiId=api_id, RouteKey="GET /private", Target=f"integrations/{integ}",
                           AuthorizationType="AWS_IAM")
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        path = f"/_aws/execute-api/{api_id}/private"
        key, secret = as_user.key["AccessKeyId"], as_user.key["SecretAccessKey"]
        denied = raw.signed(nimbus.endpoint, "execute-api", method="GET", path=path, key=key, secret=secret)
        assert denied.status == 403
        assert denied.json()["message"].startswith(f"User: {user_arn} is not authorized to perform: execute-api:Invoke")
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess")
        allowed = raw.signed(nimbus.endpoint, "execute-api", method="GET", path=path, key=key, secret=secret)
        assert allowed.status == 200, allowed.text
    finally:
        backend.shutdown()


# --- The AWS CLI ----------------------------------------------------------------


def test_aws_cli_iam_and_sts(aws_cli):
    name = unique("cli")
    created = aws_cli("iam", "create-user", "--user-name", name)
    assert created["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    aws_cli("iam", "put-user-policy", "--user-name", name, "--policy-name", "p",
            "--policy-document", doc(allow("iam:GetUser")))
    assert aws_cli("iam", "get-user-policy", "--user-name", name, "--policy-name", "p")["PolicyDocument"][
        "Statement"][0]["Action"] == "iam:GetUser"
    key = aws_cli("iam", "create-access-key", "--user-name", name)["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    assert aws_cli("sts", "get-caller-identity", env=env)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    denied = aws_cli("iam", "list-users", env=env, check=False)
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr
    assert "because no identity-based policy allows the iam:ListUsers action" in denied.stderr

    role = unique("clirole")
    aws_cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust({"AWS": ACCOUNT}))
    aws_cli("iam", "attach-role-policy", "--role-name", role, "--policy-arn", ADMIN)
    assumed = aws_cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/{role}",
                      "--role-session-name", "cli")
    creds = assumed["Credentials"]
    session_env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                   "AWS_SESSION_TOKEN": creds["SessionToken"]}
    assert aws_cli("sts", "get-caller-identity", env=session_env)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/cli")
    aws_cli("iam", "list-users", env=session_env)
    aws_cli("iam", "update-access-key", "--user-name", name, "--access-key-id", key["AccessKeyId"],
            "--status", "Inactive")
    rejected = aws_cli("sts", "get-caller-identity", env=env, check=False)
    assert rejected.returncode != 0 and "InvalidClientTokenId" in rejected.stderr


def test_policy_simulator(iam):
    problems, checked = [], []
    iam.meta.events.register("before-parse.iam.*", _shape_checker(problems, checked))
    user = unique("sim")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_user_policy(UserName=user, PolicyName="no-roles", PolicyDocument=doc(deny("iam:GetRole")))
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["iam:ListRoles", "iam:GetRole", "iam:CreateUser"])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("iam:ListRoles", "*", "allowed"), ("iam:GetRole", "*", "explicitDeny"), ("iam:CreateUser", "*", "implicitDeny")]

    own_partition = doc(allow("dynamodb:GetItem", "arn:aws:dynamodb:*:*:table/T",
                              Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}}))
    results = iam.simulate_custom_policy(
        PolicyInputList=[own_partition], ActionNames=["dynamodb:GetItem"],
        ResourceArns=[f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/T"],
        ContextEntries=[{"ContextKeyName": "dynamodb:LeadingKeys", "ContextKeyValues": ["bob"], "ContextKeyType": "stringList"},
                        {"ContextKeyName": "aws:username", "ContextKeyValues": ["bob"], "ContextKeyType": "string"}],
    )["EvaluationResults"]
    assert results[0]["EvalDecision"] == "allowed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:x"])
    assert error_of(e)[0] == "NoSuchEntity"
    assert checked and problems == []


# --- Response shapes against botocore's model ---------------------------------------


def _check_shape(element, shape, path):
    """Every element we emit must exist in the model, with the model's type."""
    problems = []
    kind = shape.type_name
    children = list(element)
    if kind == "structure":
        members = {(m.serialization.get("name") or name): m for name, m in shape.members.items()}
        for child in children:
            tag = child.tag.split("}")[-1]
            if tag not in members:
                problems.append(f"{path}/{tag}: not in {shape.name}")
            else:
                problems += _check_shape(child, members[tag], f"{path}/{tag}")
        for required in shape.required_members:
            tag = shape.members[required].serialization.get("name") or required
            if not any(c.tag.split("}")[-1] == tag for c in children):
                problems.append(f"{path}: required {tag} missing")
    elif kind == "list":
        member_tag = shape.member.serialization.get("name") or "member"
        for child in children:
            tag = child.tag.split("}")[-1]
            if tag != member_tag:
                problems.append(f"{path}/{tag}: expected <{member_tag}>")
            problems += _check_shape(child, shape.member, f"{path}/{tag}")
    else:
        if children:
            problems.append(f"{path}: scalar {kind} has children")
        text = element.text or ""
        if kind == "boolean" and text not in ("true", "false"):
            problems.append(f"{path}: boolean {text!r}")
        if kind == "integer" and not text.lstrip("-").isdigit():
            problems.append(f"{path}: integer {text!r}")
        if kind == "timestamp" and not (len(text) >= 20 and text[10] == "T" and text.endswith("Z")):
            problems.append(f"{path}: timestamp {text!r}")
    return problems


def _shape_checker(problems, checked):
    import xml.etree.ElementTree as ET

    def before_parse(operation_model, response_dict, **_):
        name = operation_model.name
        checked.append(name)
        root = ET.fromstring(response_dict["body"])
        tag = root.tag.split("}")[-1]
        if response_dict["status_code"] >= 300:
            assert tag == "ErrorResponse", tag
            return
        if tag != f"{name}Response":
            problems.append(f"{name}: root <{tag}>")
        if root.find("{*}ResponseMetadata/{*}RequestId") is None:
            problems.append(f"{name}: no ResponseMetadata/RequestId")
        result = root.find(f"{{*}}{name}Result")
        output = operation_model.output_shape
        if output is not None and output.members:
            if result is None and output.required_members:
                problems.append(f"{name}: no {name}Result")
            elif result is not None:
                problems.extend(_check_shape(result, output, name))

    return before_parse


def test_every_response_matches_the_botocore_model(client, iam, new_user):
    problems, checked = [], []
    checker = _shape_checker(problems, checked)
    iam.meta.events.register("before-parse.iam.*", checker)
    sts = client("sts")
    sts.meta.events.register("before-parse.sts.*", checker)

    user, group, role = unique("shape-u"), unique("shape-g"), unique("shape-r")
    iam.create_user(UserName=user, Path="/p/", Tags=[{"Key": "k", "Value": "v"}])
    iam.get_user(UserName=user)
    iam.list_users(MaxItems=1)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.list_access_keys(UserName=user)
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    iam.list_user_tags(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))
    iam.get_user_policy(UserName=user, PolicyName="p")
    iam.list_user_policies(UserName=user)
    policy = iam.create_policy(PolicyName=unique("shape-p"), PolicyDocument=doc(allow("s3:*")), Description="d")
    arn = policy["Policy"]["Arn"]
    iam.get_policy(PolicyArn=arn)
    iam.list_policies(MaxItems=3)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(allow("s3:Get*")), SetAsDefault=True)
    iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    iam.get_policy_version(PolicyArn=ADMIN, VersionId="v1")
    iam.list_policy_versions(PolicyArn=arn)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.list_attached_user_policies(UserName=user)
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=ADMIN)
    iam.get_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.get_group(GroupName=group)
    iam.list_groups()
    iam.list_groups_for_user(UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=doc(allow("s3:GetObject")))
    iam.get_group_policy(GroupName=group, PolicyName="g")
    iam.attach_group_policy(GroupName=group, PolicyArn=ADMIN)
    iam.list_attached_group_policies(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}), Description="d",
                    MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])
    iam.get_role(RoleName=role)
    iam.list_roles()
    iam.update_role(RoleName=role, Description="e")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust({"AWS": ACCOUNT}))
    iam.put_role_policy(RoleName=role, PolicyName="r", PolicyDocument=doc(allow("s3:GetObject")))
    iam.get_role_policy(RoleName=role, PolicyName="r")
    iam.list_role_policies(RoleName=role)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.list_attached_role_policies(RoleName=role)
    iam.list_role_tags(RoleName=role)
    sts.get_caller_identity()
    sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="shape",
                    Policy=doc(allow("s3:GetObject")))
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_role_policy(RoleName=role, PolicyName="r")
    iam.delete_role(RoleName=role)
    assert len(checked) == 47 and "AssumeRole" in checked
    assert problems == []


# --- DynamoDB enforcement ---------------------------------------------------------------


def _table(ddb, name):
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


def test_dynamodb_user_allowed_get_item_on_one_table(client, new_user, aws_cli):
    ddb = client("dynamodb")
    a, b = unique("A"), unique("B")
    arn_a, arn_b = _table(ddb, a), _table(ddb, b)
    ddb.put_item(TableName=a, Item={"pk": {"S": "1"}})
    name, as_user = new_user(doc(allow("dynamodb:GetItem", arn_a)))
    mine = as_user("dynamodb")
    assert mine.get_item(TableName=a, Key={"pk": {"S": "1"}})["Item"]
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    for call, action, arn in [
        (lambda: mine.put_item(TableName=a, Item={"pk": {"S": "2"}}), "dynamodb:PutItem", arn_a),
        (lambda: mine.get_item(TableName=b, Key={"pk": {"S": "1"}}), "dynamodb:GetItem", arn_b),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_of(e) == (
            "AccessDeniedException",
            f"User: {user_arn} is not authorized to perform: {action} on resource: {arn} "
            f"because no identity-based policy allows the {action} action",
            400,
        )
    # The AWS CLI sees the same answer.
    env = {"AWS_ACCESS_KEY_ID": as_user.key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": as_user.key["SecretAccessKey"]}
    got = aws_cli("dynamodb", "get-item", "--table-name", a, "--key", '{"pk": {"S": "1"}}', env=env)
    assert got["Item"] == {"pk": {"S": "1"}}
    denied = aws_cli("dynamodb", "put-item", "--table-name", a, "--item", '{"pk": {"S": "3"}}', env=env, check=False)
    assert denied.returncode != 0
    assert (f"An error occurred (AccessDeniedException) when calling the PutItem operation: User: {user_arn} "
            f"is not authorized to perform: dynamodb:PutItem on resource: {arn_a} because no identity-based "
            f"policy allows the dynamodb:PutItem action") in denied.stderr
    # Nothing was written by the denied calls.
    assert "Item" not in ddb.get_item(TableName=a, Key={"pk": {"S": "2"}})
    assert "Item" not in ddb.get_item(TableName=a, Key={"pk": {"S": "3"}})


def test_dynamodb_leading_keys_restrict_a_user_to_their_partition(client, new_user):
    ddb = client("dynamodb")
    table = unique("Notes")
    arn = _table(ddb, table)
    name = unique("dana")
    policy = doc(allow(["dynamodb:GetItem", "dynamodb:PutItem"], arn,
                       Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}}))
    _, as_user = new_user(policy, name=name)
    mine = as_user("dynamodb")
    mine.put_item(TableName=table, Item={"pk": {"S": name}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        mine.put_item(TableName=table, Item={"pk": {"S": "someone-else"}})
    assert error_of(e)[0] == "AccessDeniedException"
    assert mine.get_item(TableName=table, Key={"pk": {"S": name}})["Item"] == {"pk": {"S": name}}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        mine.get_item(TableName=table, Key={"pk": {"S": "someone-else"}})
    assert error_of(e)[0] == "AccessDeniedException"


def _denied_action(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    code, message, status = error_of(e)
    assert (code, status) == ("AccessDeniedException", 400), message
    return message.split(" is not authorized to perform: ")[1].split(" because ")[0]


def test_dynamodb_explicit_deny_overrides_administrator_access(client, iam, new_user):
    ddb = client("dynamodb")
    table = unique("Locked")
    arn = _table(ddb, table)
    name, as_user = new_user(doc(deny("dynamodb:DeleteItem", arn)))
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    mine = as_user("dynamodb")
    mine.put_item(TableName=table, Item={"pk": {"S": "k"}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        mine.delete_item(TableName=table, Key={"pk": {"S": "k"}})
    assert error_of(e) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: dynamodb:DeleteItem on resource: "
        f"{arn} with an explicit deny in an identity-based policy",
        400,
    )
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]


def test_dynamodb_queries_indexes_batches_and_transactions_are_checked_per_table(client, new_user):
    ddb = client("dynamodb")
    table = unique("Orders")
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "status", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "byStatus", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    other = unique("Other")
    _table(ddb, other)
    policy = doc(
        allow(["dynamodb:Query"], arn, Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["mine"]}}),
        allow(["dynamodb:BatchWriteItem", "dynamodb:PutItem"], arn),
        allow("dynamodb:ListTables"),
    )
    _, as_user = new_user(policy)
    mine = as_user("dynamodb")
    assert isinstance(mine.list_tables()["TableNames"], list)
    assert _denied_action(lambda: mine.describe_table(TableName=table)) == f"dynamodb:DescribeTable on resource: {arn}"
    mine.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "mine"}, "status": {"S": "new"}}}}]})
    got = mine.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "mine"}})
    assert got["Count"] == 1
    # Another partition, the index, another table in the batch, and a
    # transaction's condition check each need their own permission.
    assert _denied_action(lambda: mine.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "theirs"}})
    ) == f"dynamodb:Query on resource: {arn}"
    assert _denied_action(lambda: mine.query(
        TableName=table, IndexName="byStatus", KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "new"}})
    ) == f"dynamodb:Query on resource: {arn}/index/byStatus"
    assert _denied_action(lambda: mine.batch_write_item(RequestItems={
        table: [{"PutRequest": {"Item": {"pk": {"S": "mine"}}}}],
        other: [{"PutRequest": {"Item": {"pk": {"S": "x"}}}}],
    })) == f"dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{other}"
    assert _denied_action(lambda: mine.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "t"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "mine"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])) == f"dynamodb:ConditionCheckItem on resource: {arn}"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "t"}})
    assert "Item" not in ddb.get_item(TableName=other, Key={"pk": {"S": "x"}})


def test_dynamodb_attributes_select_and_return_values_conditions(client, new_user):
    """AWS's "allow access to specific attributes" policy: reads must project
    allowed attributes, writes may only touch them, ReturnValues is limited."""
    ddb = client("dynamodb")
    table = unique("Profiles")
    arn = _table(ddb, table)
    ddb.put_item(TableName=table, Item={"pk": {"S": "u1"}, "name": {"S": "Ann"}, "salary": {"N": "9"}})
    policy = doc(allow(
        ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"], arn,
        Condition={"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "name"]},
                   "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                                            "dynamodb:ReturnValues": ["NONE", "UPDATED_NEW"]}}))
    _, as_user = new_user(policy)
    mine = as_user("dynamodb")
    key = {"pk": {"S": "u1"}}
    assert mine.get_item(TableName=table, Key=key, ProjectionExpression="#n",
                         ExpressionAttributeNames={"#n": "name"})["Item"] == {"name": {"S": "Ann"}}
    got = mine.query(TableName=table, KeyConditionExpression="pk = :p", ProjectionExpression="pk, #n",
                     ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":p": {"S": "u1"}})
    assert got["Items"] == [{"pk": {"S": "u1"}, "name": {"S": "Ann"}}]
    mine.put_item(TableName=table, Item={"pk": {"S": "u2"}, "name": {"S": "Bo"}})
    assert mine.update_item(TableName=table, Key=key, UpdateExpression="SET #n = :v",
                            ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":v": {"S": "Al"}},
                            ReturnValues="UPDATED_NEW")["Attributes"] == {"name": {"S": "Al"}}
    for denied in [
        lambda: mine.get_item(TableName=table, Key=key),  # no projection: all attributes
        lambda: mine.get_item(TableName=table, Key=key, ProjectionExpression="salary"),
        lambda: mine.query(TableName=table, KeyConditionExpression="pk = :p", Select="ALL_ATTRIBUTES",
                           ExpressionAttributeValues={":p": {"S": "u1"}}),
        lambda: mine.put_item(TableName=table, Item={"pk": {"S": "u3"}, "salary": {"N": "1"}}),
        lambda: mine.update_item(TableName=table, Key=key, UpdateExpression="SET salary = :v",
                                 ExpressionAttributeValues={":v": {"N": "10"}}),
        lambda: mine.update_item(TableName=table, Key=key, UpdateExpression="SET #n = :v", ReturnValues="ALL_NEW",
                                 ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":v": {"S": "X"}}),
    ]:
        assert _denied_action(denied).startswith("dynamodb:")
    item = ddb.get_item(TableName=table, Key=key)["Item"]
    assert item == {"pk": {"S": "u1"}, "name": {"S": "Al"}, "salary": {"N": "9"}}
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "u3"}})
