//! SAM and CloudFormation for Nimbus.
//!
//! A map of the crate:
//! - `template/`: YAML/JSON with line numbers, parameters, conditions, intrinsics.
//! - `sam/`: the `AWS::Serverless-2016-10-31` transform into plain resources.
//! - `engine/`: the resource graph, stack state, create/update/delete with rollback.
//! - `resources/`: one file per resource type, each provisioning through AWS APIs.
//! - `api/`: the `AwsApi` door those calls go through (in-process or HTTP).

pub mod api;
pub mod cli;
pub mod engine;
pub mod resources;
pub mod sam;
pub mod template;
