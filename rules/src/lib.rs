//! Falco-compatible rules: the condition language, the state engine (what the events
//! mean: processes, their ancestry and their file descriptors), then fields and the
//! evaluator that `record --rules` and `replay` share.

pub mod compile;
pub mod condition;
pub mod engine;
pub mod fields;
pub mod loader;
pub mod output;
pub mod state;
pub mod yaml;
