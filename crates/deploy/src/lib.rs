//! SAM and CloudFormation for Nimbus.
//!
//! A map of the crate:
//! - `template/`: YAML/JSON with line numbers, parameters, conditions, intrinsics.
//! - `sam/`: the `AWS::Serverless-2016-10-31` transform into plain resources.
//! - `engine/`: the resource graph, stack state, create/update/delete with rollback.
//! - `resources/`: one file per resource type, each provisioning through AWS APIs.
//! - `api/`: the `AwsApi` door those calls go through (in-process or HTTP + SigV4).
//! - `cli`: what `nimbus up / deploy / delete / stacks` do, for the binary to call.
//!
//! The engine provisions exactly as CloudFormation does: by calling each
//! service's public API in its own wire protocol. It never reaches into a
//! service crate, so `nimbus up` (services in-process) and `nimbus deploy`
//! (a running server over HTTP) share every line of it.
//!
//! # Wiring into the binary
//!
//! `nimbus up [DIR]`: build the services as `serve` does with the data dir
//! `DIR/.nimbus`, start the edge, then
//!
//! ```text
//! let cfn = Arc::new(nimbus_deploy::service::CloudFormation::new(&dir)); // optional: the CloudFormation API
//! services.push(cfn.clone());
//! let engine = nimbus_deploy::cli::in_process_engine(&services, &region, &account_id, &data_dir);
//! cfn.connect(engine.clone());
//! // … build the Edge from `services` and spawn nimbus_edge::serve as `serve` does …
//! let project = nimbus_deploy::cli::Project::locate(&dir, template.as_deref(), stack_name.as_deref())?;
//! let print: nimbus_deploy::cli::Print = Arc::new(|line| println!("{line}"));
//! nimbus_deploy::cli::up(engine, project, overrides, port, print, lambda.clone(), shutdown_signal()).await?;
//! ```
//!
//! `nimbus deploy [--template T] [--stack-name S] [--parameter-overrides K=V …]`,
//! `nimbus delete --stack-name S`, `nimbus stacks` (`crates/nimbus/src/stack_cli.rs`):
//! with `--endpoint-url` (default `http://127.0.0.1:4566`), the server's
//! `--data-dir` (where stack records are shared) and the caller's credentials,
//!
//! ```text
//! let engine = nimbus_deploy::cli::remote_engine(&endpoint, credentials, &data_dir).await?;
//! nimbus_deploy::cli::deploy_project(&engine, &project, &overrides, Some(progress_printer(print))).await
//! engine.delete(&stack_name, Some(progress_printer(print))).await
//! nimbus_deploy::cli::stacks_table(&engine.stacks().await?)
//! ```

pub mod api;
pub mod cli;
pub mod engine;
pub mod resources;
pub mod sam;
pub mod service;
pub mod template;
