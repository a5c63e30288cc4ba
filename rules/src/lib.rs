//! Falco-compatible rules: the condition language (this first part), then fields, the
//! state engine and the evaluator that `record --rules` and `replay` share.

pub mod condition;
