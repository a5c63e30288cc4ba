//! A recursive-descent parser for Falco conditions, following the grammar libsinsp
//! documents (`userspace/libsinsp/filter/parser.h`): `or` binds loosest, then `and`,
//! then `not`; a check is a field, an operator and a value; a bare name is a macro.
//! Errors say what was expected where, in words a rule author knows.

use super::ast::{CmpOp, Expr, FieldRef, ListItem, Pos, Transformer, Value};
use thiserror::Error;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: u32 = 100;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {}, column {}: {message}", pos.line, pos.col)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

/// Parses a whole condition.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        src: input,
        at: 0,
        depth: 0,
    };
    parser.blank();
    if parser.at_end() {
        return Err(parser.error_here("the condition is empty"));
    }
    let expr = parser.or()?;
    parser.blank();
    if !parser.at_end() {
        let message = if parser.peek() == Some(')') {
            "unbalanced parenthesis: this ')' closes nothing".to_string()
        } else {
            format!(
                "unexpected {} after a complete condition (a missing 'and' or 'or'?)",
                parser.describe_here()
            )
        };
        return Err(parser.error_here(&message));
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    at: usize,
    depth: u32,
}

const STRING_OPS: &[(&str, CmpOp)] = &[
    ("contains", CmpOp::Contains),
    ("icontains", CmpOp::IContains),
    ("bcontains", CmpOp::BContains),
    ("startswith", CmpOp::StartsWith),
    ("bstartswith", CmpOp::BStartsWith),
    ("endswith", CmpOp::EndsWith),
    ("glob", CmpOp::Glob),
    ("iglob", CmpOp::IGlob),
    ("regex", CmpOp::Regex),
];
const LIST_OPS: &[(&str, CmpOp)] = &[
    ("in", CmpOp::In),
    ("intersects", CmpOp::Intersects),
    ("pmatch", CmpOp::PMatch),
];

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.at >= self.src.len()
    }

    fn pos_of(&self, offset: usize) -> Pos {
        let before = &self.src[..offset.min(self.src.len())];
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            offset,
            line,
            col: before[line_start..].chars().count() as u32 + 1,
        }
    }

    fn error_at(&self, offset: usize, message: &str) -> ParseError {
        ParseError {
            pos: self.pos_of(offset),
            message: message.to_string(),
        }
    }

    fn error_here(&self, message: &str) -> ParseError {
        self.error_at(self.at, message)
    }

    /// What is at the cursor, for messages: "the end of the condition" or `'word'`.
    fn describe_here(&self) -> String {
        let word: String = self
            .rest()
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(30)
            .collect();
        if word.is_empty() {
            "the end of the condition".into()
        } else {
            format!("'{word}'")
        }
    }

    fn blank(&mut self) {
        let skipped = self.rest().len() - self.rest().trim_start().len();
        self.at += skipped;
    }

    /// Consumes `word` if it is next and ends there (followed by a blank, `(`, or the end).
    fn keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if !rest.starts_with(word) {
            return false;
        }
        match rest[word.len()..].chars().next() {
            None => {}
            Some(c) if c.is_whitespace() || c == '(' => {}
            Some(_) => return false,
        }
        self.at += word.len();
        true
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(&format!(
                "the condition nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut items = vec![self.and()?];
        loop {
            self.blank();
            if !self.keyword("or") {
                break;
            }
            self.blank();
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.not()?];
        loop {
            self.blank();
            if !self.keyword("and") {
                break;
            }
            self.blank();
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.blank();
        if self.keyword("not") {
            self.enter()?;
            self.blank();
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.check()
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.blank();
        let start = self.at;
        if self.peek() == Some('(') {
            self.at += 1;
            let inner = self.or()?;
            self.blank();
            if self.peek() != Some(')') {
                return Err(self.error_here(&format!(
                    "unbalanced parenthesis: expected ')' to close the '(' at column {}, found {}",
                    self.pos_of(start).col,
                    self.describe_here()
                )));
            }
            self.at += 1;
            return Ok(inner);
        }
        if let Some(field) = self.transformed_field()? {
            return self.condition(field, start);
        }
        let name = self.name();
        if name.is_empty() {
            return Err(self.error_here(&format!(
                "expected a field, a macro name, 'not' or '(' but found {}",
                self.describe_here()
            )));
        }
        if ["and", "or"].contains(&name) {
            return Err(self.error_at(start, &format!("'{name}' needs a condition before it")));
        }
        if !name.contains('.') {
            return Ok(Expr::Identifier {
                name: name.to_string(),
                pos: self.pos_of(start),
            });
        }
        if !valid_field_name(name) {
            return Err(self.error_at(start, &format!("'{name}' is not a valid field name")));
        }
        let field = self.field_rest(name, start)?;
        self.condition(field, start)
    }

    /// Letters, digits, `_` and `.`: a field or macro name.
    fn name(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// `tolower(`…`)` and friends around a field; `None` when no transformer is next.
    fn transformed_field(&mut self) -> Result<Option<FieldRef>, ParseError> {
        let start = self.at;
        for transformer in Transformer::ALL {
            let opener = format!("{}(", transformer.name());
            if !self.rest().starts_with(&opener) {
                continue;
            }
            self.at += opener.len();
            self.blank();
            let inner_start = self.at;
            let mut field = match self.transformed_field()? {
                Some(field) => field,
                None => {
                    let name = self.name();
                    if !valid_field_name(name) {
                        self.at = inner_start;
                        let found = self.describe_here();
                        return Err(self.error_here(&format!(
                            "{}() takes a field, found {found}",
                            transformer.name()
                        )));
                    }
                    self.field_rest(name, inner_start)?
                }
            };
            self.blank();
            if self.peek() != Some(')') {
                return Err(
                    self.error_here(&format!("expected ')' to close {}(", transformer.name()))
                );
            }
            self.at += 1;
            field.transformers.push(transformer);
            field.pos = self.pos_of(start);
            return Ok(Some(field));
        }
        Ok(None)
    }

    /// The optional `[argument]` after a field name.
    fn field_rest(&mut self, name: &str, start: usize) -> Result<FieldRef, ParseError> {
        let mut arg = None;
        if self.peek() == Some('[') {
            self.at += 1;
            let arg_start = self.at;
            let text = if matches!(self.peek(), Some('"') | Some('\'')) {
                self.quoted()?
            } else {
                let rest = self.rest();
                let len = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '"' | '\''))
                    .unwrap_or(rest.len());
                self.at += len;
                rest[..len].to_string()
            };
            if text.is_empty() {
                return Err(self.error_at(arg_start, &format!("{name}[] needs an argument")));
            }
            if self.peek() != Some(']') {
                return Err(
                    self.error_here(&format!("expected ']' to close the argument of {name}"))
                );
            }
            self.at += 1;
            arg = Some(text);
        }
        Ok(FieldRef {
            name: name.to_string(),
            arg,
            transformers: Vec::new(),
            pos: self.pos_of(start),
        })
    }

    fn condition(&mut self, field: FieldRef, start: usize) -> Result<Expr, ParseError> {
        self.blank();
        let op_start = self.at;
        let pos = self.pos_of(start);
        let op = self.operator().ok_or_else(|| {
            self.error_at(
                op_start,
                &format!(
                    "expected an operator after {field} (=, !=, <, <=, >, >=, contains, \
                     icontains, startswith, endswith, glob, regex, in, intersects, pmatch, \
                     exists…) but found {}",
                    self.describe_here()
                ),
            )
        })?;
        if op == CmpOp::Exists {
            return Ok(Expr::Check {
                field,
                op,
                value: None,
                pos,
            });
        }
        self.blank();
        let value = if op.takes_list() {
            self.list_value(op)?
        } else {
            self.scalar_value(op)?
        };
        Ok(Expr::Check {
            field,
            op,
            value: Some(value),
            pos,
        })
    }

    fn operator(&mut self) -> Option<CmpOp> {
        let rest = self.rest();
        for (symbol, op) in [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=", CmpOp::Eq),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ] {
            if rest.starts_with(symbol) {
                self.at += symbol.len();
                return Some(op);
            }
        }
        if self.keyword("exists") {
            return Some(CmpOp::Exists);
        }
        for (word, op) in STRING_OPS.iter().chain(LIST_OPS) {
            if self.keyword(word) {
                return Some(*op);
            }
        }
        None
    }

    fn scalar_value(&mut self, op: CmpOp) -> Result<Value, ParseError> {
        let start = self.at;
        if self.rest().starts_with("val(") {
            self.at += "val(".len();
            self.blank();
            let inner = self.at;
            let field = match self.transformed_field()? {
                Some(field) => field,
                None => {
                    let name = self.name();
                    if !valid_field_name(name) {
                        return Err(self.error_at(inner, "val() takes a field"));
                    }
                    self.field_rest(name, inner)?
                }
            };
            self.blank();
            if self.peek() != Some(')') {
                return Err(self.error_here("expected ')' to close val("));
            }
            self.at += 1;
            return Ok(Value::Field(field));
        }
        if let Some(field) = self.transformed_field()? {
            return Ok(Value::Field(field));
        }
        let text = self.string_value()?.ok_or_else(|| {
            self.error_at(
                start,
                &format!(
                    "'{}' needs a value after it, found {}",
                    op.as_str(),
                    self.describe_here()
                ),
            )
        })?;
        Ok(Value::Str {
            text,
            pos: self.pos_of(start),
        })
    }

    /// A quoted string or a bare word; `None` when neither is next.
    fn string_value(&mut self) -> Result<Option<String>, ParseError> {
        if matches!(self.peek(), Some('"') | Some('\'')) {
            return self.quoted().map(Some);
        }
        let rest = self.rest();
        let len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '=' | '"' | '\''))
            .unwrap_or(rest.len());
        if len == 0 {
            return Ok(None);
        }
        self.at += len;
        Ok(Some(rest[..len].to_string()))
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.at;
        let Some(quote) = self.peek() else {
            return Err(self.error_here("expected a quoted string"));
        };
        self.at += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.at += i + 1;
                return Ok(out);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, 'b')) => out.push('\u{8}'),
                    Some((_, 'f')) => out.push('\u{c}'),
                    Some((_, e @ ('\\' | '"' | '\''))) => out.push(e),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        Err(self.error_at(start, "this quoted string is never closed"))
    }

    fn list_value(&mut self, op: CmpOp) -> Result<Value, ParseError> {
        let start = self.at;
        if self.peek() != Some('(') {
            if let Some(field) = self.transformed_field()? {
                return Ok(Value::Field(field));
            }
            let name = self.name();
            if name.is_empty() || name.contains('.') {
                self.at = start;
                let found = self.describe_here();
                return Err(self.error_here(&format!(
                    "'{}' needs a list: (a, b, c) or the name of a list, found {found}",
                    op.as_str()
                )));
            }
            return Ok(Value::ListName {
                name: name.to_string(),
                pos: self.pos_of(start),
            });
        }
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.blank();
            if self.peek() == Some(')') {
                self.at += 1;
                break;
            }
            if self.at_end() {
                return Err(self.error_at(
                    start,
                    "unbalanced parenthesis: this list is never closed with ')'",
                ));
            }
            if !items.is_empty() {
                if self.peek() != Some(',') {
                    return Err(self.error_here(&format!(
                        "expected ',' or ')' in the list that starts at column {}, found {}",
                        self.pos_of(start).col,
                        self.describe_here()
                    )));
                }
                self.at += 1;
                self.blank();
            }
            let item_start = self.at;
            let quoted = matches!(self.peek(), Some('"') | Some('\''));
            match self.string_value()? {
                Some(text) => items.push(ListItem {
                    text,
                    quoted,
                    pos: self.pos_of(item_start),
                }),
                None if self.at_end() => {
                    return Err(self.error_at(
                        start,
                        "unbalanced parenthesis: this list is never closed with ')'",
                    ))
                }
                None => {
                    return Err(self.error_here(&format!(
                        "expected a list item, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
        Ok(Value::List {
            items,
            pos: self.pos_of(start),
        })
    }
}

/// `[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+`
fn valid_field_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}
