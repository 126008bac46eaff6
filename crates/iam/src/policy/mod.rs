//! IAM policies: parsing and validation (`document`), wildcard patterns
//! (`pattern`), condition operators (`condition`) and AWS's evaluation logic
//! (`eval`).

pub mod condition;
pub mod document;
pub mod eval;
pub mod pattern;

pub use document::{Effect, Policy, PolicyKind};
pub use eval::{evaluate, Caller, Decision, EvalContext};
