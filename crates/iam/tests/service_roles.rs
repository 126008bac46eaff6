//! A service (Lambda) assumes a function's execution role through the core
//! door, and the session is bound by exactly that role's policies.

use std::sync::Arc;

use nimbus_core::{Authorizer, AuthzRequest, RoleAssumer};
use nimbus_iam::model::{Dirty, Model, Role};
use nimbus_iam::{CredentialProvider, IamAuthorizer, IamCredentials, StaticCredentials, Sts};

const ACCOUNT: &str = "000000000000";

/// Removes the test's data directory when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn setup() -> (Arc<Model>, Arc<IamAuthorizer>, Sts, TempDir) {
    let dir = std::env::temp_dir().join(format!("nimbus-iam-test-{}", fastrand_name()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let model = Arc::new(Model::open(store, ACCOUNT).unwrap());
    let role = |name: &str, service: &str, attached: &str| Role {
        name: name.into(),
        path: "/".into(),
        id: format!("AROA{}", name.to_uppercase()),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        created: 0,
        trust_policy: format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        ),
        description: None,
        max_session_duration: 3600,
        inline: Default::default(),
        attached: vec![attached.into()],
        boundary: None,
        tags: Vec::new(),
    };
    let reader = role("reader", "lambda.amazonaws.com", "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess");
    let other = role("other", "ec2.amazonaws.com", "arn:aws:iam::aws:policy/AdministratorAccess");
    model
        .mutate(move |state, dirty: &mut Vec<Dirty>| {
            for r in [reader, other] {
                dirty.push(Dirty::Role(r.name.clone()));
                state.roles.insert(r.name.clone(), r);
            }
            Ok(())
        })
        .await
        .unwrap();
    let authorizer = Arc::new(IamAuthorizer::new(model.clone()));
    let sts = Sts::new(model.clone(), authorizer.clone());
    (model, authorizer, sts, TempDir(dir))
}

fn fastrand_name() -> String {
    format!("{}-{:?}", std::process::id(), std::time::SystemTime::now())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[tokio::test]
async fn a_function_role_session_reads_and_is_denied_writes() {
    let (model, authorizer, sts, _dir) = setup().await;
    let creds = sts
        .assume_role_for_service(
            "lambda.amazonaws.com",
            &format!("arn:aws:iam::{ACCOUNT}:role/reader"),
            "fn-env-1",
            900,
        )
        .await
        .unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"));
    assert_eq!(creds.assumed_role_arn, format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/fn-env-1"));

    // The environment signs with these credentials; the edge finds them here.
    let provider = IamCredentials::new(StaticCredentials::root(ACCOUNT, "test", "test"), model);
    let identity = provider.lookup(&creds.access_key_id).unwrap();
    assert_eq!(identity.session_token.as_deref(), Some(creds.session_token.as_str()));
    let table = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders");
    let ask = |action: &'static str| {
        authorizer.authorize(&AuthzRequest {
            principal: &identity.principal,
            action,
            resource: &table,
            source_ip: "127.0.0.1".parse().unwrap(),
            context_keys: &[],
        })
    };
    assert!(ask("dynamodb:GetItem").is_ok());
    assert!(ask("dynamodb:Query").is_ok());
    let err = ask("dynamodb:PutItem").unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/fn-env-1 is not authorized to perform: dynamodb:PutItem on resource: {table} because no identity-based policy allows the dynamodb:PutItem action"
        )
    );
}

#[tokio::test]
async fn a_role_that_does_not_trust_the_service_cannot_be_assumed() {
    let (_, _, sts, _dir) = setup().await;
    let err = sts
        .assume_role_for_service("lambda.amazonaws.com", &format!("arn:aws:iam::{ACCOUNT}:role/other"), "s1", 900)
        .await
        .unwrap_err();
    assert_eq!(err.code, "AccessDenied");
    assert_eq!(
        err.message,
        format!("User: lambda.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/other")
    );
}
