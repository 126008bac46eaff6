//! Policy evaluation cost: a user with 10 attached managed policies (plus an
//! inline one and a group's), asked about an action only the last policy
//! allows, then one nothing allows, then one explicitly denied.
//!
//! `cargo run --release -p nimbus-iam --bin iam_bench [iterations]`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use nimbus_core::request::PrincipalKind;
use nimbus_core::{Authorizer, AuthzRequest, Principal};
use nimbus_iam::model::{AccessKey, Dirty, Group, ManagedPolicy, Model, PolicyVersion, User};
use nimbus_iam::IamAuthorizer;
use nimbus_store::NullStore;

const ACCOUNT: &str = "000000000000";

/// (label, action, resource, condition keys, expected to be allowed)
type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a [String])], bool);

fn policy_document(i: usize) -> String {
    // Realistic shapes: explicit actions on table ARNs, a wildcard, a condition.
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:BatchGetItem"],"Resource":["arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/T{i}","arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/T{i}/index/*"]}},
            {{"Effect":"Allow","Action":"logs:Put*","Resource":"arn:aws:logs:*:*:log-group:/app/{i}:*"}},
            {{"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/T{i}","Condition":{{"ForAllValues:StringEquals":{{"dynamodb:LeadingKeys":["${{aws:username}}"]}}}}}},
            {{"Effect":"Deny","Action":"dynamodb:DeleteTable","Resource":"*"}}]}}"#
    )
}

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let model = Arc::new(Model::open(Arc::new(NullStore), ACCOUNT).expect("model"));
    runtime
        .block_on(model.mutate(|state, dirty: &mut Vec<Dirty>| {
            let mut attached = Vec::new();
            for i in 0..10 {
                let arn = format!("arn:aws:iam::{ACCOUNT}:policy/p{i}");
                let version = PolicyVersion { document: policy_document(i), created: 0 };
                state.policies.insert(
                    arn.clone(),
                    ManagedPolicy {
                        name: format!("p{i}"),
                        path: "/".into(),
                        id: format!("ANPA{i}"),
                        arn: arn.clone(),
                        description: None,
                        created: 0,
                        updated: 0,
                        default_version: 1,
                        next_version: 2,
                        versions: [(1, version)].into(),
                    },
                );
                attached.push(arn);
            }
            state.users.insert(
                "alice".into(),
                User {
                    name: "alice".into(),
                    path: "/".into(),
                    id: "AIDAALICE".into(),
                    arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
                    created: 0,
                    inline: [("inline".into(), policy_document(10))].into(),
                    attached,
                    boundary: None,
                    tags: Vec::new(),
                },
            );
            state.groups.insert(
                "devs".into(),
                Group {
                    name: "devs".into(),
                    path: "/".into(),
                    id: "AGPADEVS".into(),
                    arn: format!("arn:aws:iam::{ACCOUNT}:group/devs"),
                    created: 0,
                    inline: [("g".into(), policy_document(11))].into(),
                    attached: Vec::new(),
                    members: ["alice".to_owned()].into(),
                },
            );
            state.keys.insert(
                "AKIAALICE".into(),
                AccessKey {
                    id: "AKIAALICE".into(),
                    secret: "s".into(),
                    user: "alice".into(),
                    active: true,
                    created: 0,
                },
            );
            dirty.push(Dirty::User("alice".into()));
            Ok(())
        }))
        .expect("setup");

    let authorizer = IamAuthorizer::new(model.clone());
    let principal = Principal {
        kind: PrincipalKind::User,
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        user_id: "AIDAALICE".into(),
        access_key_id: "AKIAALICE".into(),
    };
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let leading = ["alice".to_owned()];
    let keys: [(&str, &[String]); 1] = [("dynamodb:LeadingKeys", &leading)];

    let start = Instant::now();
    black_box(authorizer.compiled(&principal));
    println!("compile (cache miss, 12 policies): {:.1} µs", start.elapsed().as_secs_f64() * 1e6);

    let cases: [Case<'_>; 4] = [
        (
            "allowed by the 10th policy",
            "dynamodb:GetItem",
            "arn:aws:dynamodb:us-east-1:000000000000:table/T9",
            &[],
            true,
        ),
        (
            "allowed with a LeadingKeys condition",
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:000000000000:table/T9",
            &keys,
            true,
        ),
        (
            "implicitly denied (every statement checked)",
            "dynamodb:Scan",
            "arn:aws:dynamodb:us-east-1:000000000000:table/X",
            &[],
            false,
        ),
        ("explicitly denied", "dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:000000000000:table/T1", &[], false),
    ];
    println!("{iterations} iterations each, Authorizer::authorize (evaluation + activity recording):");
    for (label, action, resource, context_keys, expect) in cases {
        let request = AuthzRequest { principal: &principal, action, resource, source_ip: ip, context_keys };
        assert_eq!(authorizer.authorize(&request).is_ok(), expect, "{label}");
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(authorizer.authorize(black_box(&request)).is_ok());
        }
        let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
        println!("  {label:<46} {:>7.0} ns/check", ns);
    }
}
