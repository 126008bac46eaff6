//! The deploy engine: plan (graph + diff), provision in dependency order,
//! roll back on failure, persist the stack.

pub mod graph;
