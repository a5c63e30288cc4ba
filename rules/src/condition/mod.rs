//! Falco's condition language: the syntax tree and its parser. Conditions are parsed
//! once, when rules load; nothing here runs per event.

pub mod ast;
pub mod parser;

pub use ast::{CmpOp, Expr, FieldRef, ListItem, Pos, Transformer, Value};
pub use parser::{parse, ParseError};
