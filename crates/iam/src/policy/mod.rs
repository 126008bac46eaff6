//! IAM policies: parsing and validation (`document`), wildcard patterns
//! (`pattern`), condition operators (`condition`), AWS's evaluation logic
//! (`eval`) and its indexed form for a principal's compiled policies (`set`).

pub mod condition;
pub mod document;
pub mod eval;
pub mod pattern;
pub mod set;

pub use document::{Effect, Policy, PolicyKind};
pub use eval::{evaluate, Caller, Decision, EvalContext};
pub use set::PolicySet;
