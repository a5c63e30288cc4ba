//! Conditions → filters: macros and lists expanded, field names resolved, values parsed
//! for the field's type, regexes built — all once, when rules load. A [`Filter`] then
//! evaluates an event without looking at any string of the rule again, and says which
//! event types it can match so that rules are indexed by type.

use crate::condition::{CmpOp, Expr, FieldRef, ListItem, Pos, Transformer, Value as Rhs};
use crate::fields::{self, ArgKind, Ctx, FieldArg, FieldId, FieldType, Value};
use casefile_formats::schema::kind_by_name;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {}, column {}: {message}", pos.line, pos.col)]
pub struct CompileError {
    pub pos: Pos,
    pub message: String,
    /// The macro whose text `pos` points into, when the error is inside one.
    pub in_macro: Option<String>,
}

fn error(pos: Pos, message: impl Into<String>) -> CompileError {
    CompileError {
        pos,
        message: message.into(),
        in_macro: None,
    }
}

/// Lists and macros, by name, as rule files define them.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    pub macros: HashMap<String, Expr>,
    pub lists: HashMap<String, Vec<ListItem>>,
}

#[derive(Debug)]
pub struct Filter {
    root: Node,
    /// Event type numbers the filter can match; `None` when any.
    pub event_types: Option<BTreeSet<u16>>,
}

/// A field reference with its argument and transformers resolved.
#[derive(Debug)]
pub struct Field {
    id: FieldId,
    ty: FieldType,
    arg: Option<FieldArg>,
    transformers: Vec<Transformer>,
}

#[derive(Debug)]
enum Operand {
    None,
    Bytes(Vec<u8>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    Net(IpAddr, u8),
    /// Keys come from the rules, so a fast hash cannot be flooded by observed strings.
    Set(foldhash::HashSet<Vec<u8>>),
    Items(Vec<Operand>),
    Regex(regex::bytes::Regex),
    Field(Field),
}

#[derive(Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    /// `evt.type = x`, `!= x` or `in (…)`, resolved to the event kinds it matches when the
    /// rules load, instead of a string comparison per event.
    EvtType {
        /// Bit `k` says whether kind `k` matches, for kinds below [`KIND_BITS`].
        kinds: Box<[u64; KIND_BITS / 64]>,
        /// The check itself, for kinds past the bitmap.
        check: Box<Node>,
    },
    Check {
        field: Field,
        op: CmpOp,
        operand: Operand,
    },
}

/// Resolves a field as written in an output template (`proc.aname[2]`, `evt.arg.flags`).
pub fn compile_field(text: &str) -> Result<Field, CompileError> {
    let expr =
        crate::condition::parse(&format!("{text} exists")).map_err(|e| error(e.pos, e.message))?;
    let Expr::Check { field, .. } = expr else {
        return Err(error(Pos::default(), format!("'{text}' is not a field")));
    };
    let defs = Definitions::default();
    Compiler {
        defs: &defs,
        expanding: Vec::new(),
    }
    .field(&field)
}

impl Field {
    /// The field's value for an event.
    #[inline]
    pub fn extract<'a>(&self, ctx: &Ctx<'a>) -> Value<'a> {
        let value = ctx.extract(self.id, self.arg.as_ref());
        if self.transformers.is_empty() {
            value
        } else {
            transform(value, &self.transformers)
        }
    }
}

/// Compiles a condition that is not part of a rule file (a filter typed by a user)
/// exactly as a rule's condition compiles, with the lists and macros of `defs`.
/// Positions in the error point into `text`; an error inside a macro names it.
pub fn compile_condition(text: &str, defs: &Definitions) -> Result<Filter, CompileError> {
    let expr = crate::condition::parse(text).map_err(|e| error(e.pos, e.message))?;
    compile(&expr, defs)
}

pub fn compile(expr: &Expr, defs: &Definitions) -> Result<Filter, CompileError> {
    let mut compiler = Compiler {
        defs,
        expanding: Vec::new(),
    };
    let root = compiler.node(expr)?;
    let event_types = event_types(&root);
    Ok(Filter { root, event_types })
}

struct Compiler<'d> {
    defs: &'d Definitions,
    expanding: Vec<String>,
}

impl Compiler<'_> {
    fn node(&mut self, expr: &Expr) -> Result<Node, CompileError> {
        Ok(match expr {
            Expr::And(items) => Node::All(
                items
                    .iter()
                    .map(|e| self.node(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Node::Any(
                items
                    .iter()
                    .map(|e| self.node(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Node::Not(Box::new(self.node(inner)?)),
            Expr::Identifier { name, pos } => {
                let Some(body) = self.defs.macros.get(name) else {
                    return Err(error(*pos, format!("unknown macro '{name}' (no macro of this name is defined, and a check needs an operator)")));
                };
                if self.expanding.contains(name) {
                    return Err(error(
                        *pos,
                        format!(
                            "macro '{name}' uses itself ({} → {name})",
                            self.expanding.join(" → ")
                        ),
                    ));
                }
                self.expanding.push(name.clone());
                let node = self.node(body).map_err(|mut e| {
                    e.in_macro.get_or_insert_with(|| name.clone());
                    e
                });
                self.expanding.pop();
                node?
            }
            Expr::Check {
                field,
                op,
                value,
                pos,
            } => {
                let field = self.field(field)?;
                let operand = self.operand(&field, *op, value.as_ref(), *pos)?;
                evt_type_node(Node::Check {
                    field,
                    op: *op,
                    operand,
                })
            }
        })
    }

    fn field(&mut self, field: &FieldRef) -> Result<Field, CompileError> {
        let (name, mut arg) = (field.name.as_str(), field.arg.clone());
        // `evt.arg.flags` is `evt.arg` with the argument `flags`.
        let (name, dotted_arg) = match name
            .strip_prefix("evt.arg.")
            .or(name.strip_prefix("evt.rawarg."))
        {
            Some(param) if !param.is_empty() => (
                if name.starts_with("evt.arg.") {
                    "evt.arg"
                } else {
                    "evt.rawarg"
                },
                Some(param.to_string()),
            ),
            _ => (name, None),
        };
        if dotted_arg.is_some() {
            arg = dotted_arg;
        }
        let (id, mut ty, arg_kind) = fields::lookup(name).ok_or_else(|| {
            error(field.pos, format!("unknown field '{}' (casefile does not know this field; see `casefile rules fields`)", field.name))
        })?;
        let arg = match (arg_kind, arg) {
            (ArgKind::None, Some(a)) => {
                return Err(error(
                    field.pos,
                    format!("{name} takes no argument, found [{a}]"),
                ))
            }
            (ArgKind::None, None) | (ArgKind::Index, None) => None,
            (ArgKind::Index, Some(a)) => Some(FieldArg::Index(a.parse().map_err(|_| {
                error(
                    field.pos,
                    format!("{name}[{a}]: the argument must be a number (ancestor level)"),
                )
            })?)),
            (ArgKind::Param, None) => {
                return Err(error(
                    field.pos,
                    format!("{name} needs an argument: {name}.NAME or {name}[N]"),
                ))
            }
            (ArgKind::Param, Some(a)) => Some(match a.parse() {
                Ok(n) => FieldArg::Index(n),
                Err(_) => FieldArg::Name(a),
            }),
        };
        for t in &field.transformers {
            match t {
                Transformer::Len => ty = FieldType::Int,
                _ if ty != FieldType::Str => {
                    return Err(error(
                        field.pos,
                        format!("{}() works on strings; {name} is a {}", t.name(), ty.name()),
                    ))
                }
                _ => {}
            }
        }
        Ok(Field {
            id,
            ty,
            arg,
            transformers: field.transformers.clone(),
        })
    }

    fn operand(
        &mut self,
        field: &Field,
        op: CmpOp,
        value: Option<&Rhs>,
        pos: Pos,
    ) -> Result<Operand, CompileError> {
        let Some(value) = value else {
            return Ok(Operand::None);
        };
        if let Rhs::Field(other) = value {
            let other = self.field(other)?;
            if other.ty != field.ty {
                return Err(error(
                    pos,
                    format!(
                        "type mismatch: comparing a {} with a {}",
                        field.ty.name(),
                        other.ty.name()
                    ),
                ));
            }
            return Ok(Operand::Field(other));
        }
        if op.takes_list() {
            let items = self.list_items(value)?;
            if field.ty == FieldType::Str && matches!(op, CmpOp::In | CmpOp::Intersects) {
                return Ok(Operand::Set(
                    items.into_iter().map(|i| i.text.into_bytes()).collect(),
                ));
            }
            let parsed = items
                .iter()
                .map(|item| self.scalar(field, op, &item.text, item.pos))
                .collect::<Result<_, _>>()?;
            return Ok(Operand::Items(parsed));
        }
        let Rhs::Str { text, pos } = value else {
            return Err(error(
                pos,
                format!("'{}' compares with one value, not a list", op.as_str()),
            ));
        };
        self.scalar(field, op, text, *pos)
    }

    fn list_items(&mut self, value: &Rhs) -> Result<Vec<ListItem>, CompileError> {
        let mut out = Vec::new();
        match value {
            Rhs::List { items, .. } => {
                for item in items {
                    self.expand_item(item, &mut out, 0)?;
                }
            }
            Rhs::ListName { name, pos } => {
                let item = ListItem {
                    text: name.clone(),
                    quoted: false,
                    pos: *pos,
                };
                if !self.defs.lists.contains_key(name) {
                    return Err(error(*pos, format!("undefined list '{name}'")));
                }
                self.expand_item(&item, &mut out, 0)?;
            }
            Rhs::Str { pos, .. } => return Err(error(*pos, "expected a list")),
            Rhs::Field(f) => return Err(error(f.pos, "expected a list")),
        }
        Ok(out)
    }

    fn expand_item(
        &self,
        item: &ListItem,
        out: &mut Vec<ListItem>,
        depth: u32,
    ) -> Result<(), CompileError> {
        if depth > 32 {
            return Err(error(
                item.pos,
                format!("list '{}' contains itself", item.text),
            ));
        }
        match self.defs.lists.get(&item.text) {
            Some(items) if !item.quoted => {
                for inner in items {
                    self.expand_item(inner, out, depth + 1)?;
                }
            }
            _ => out.push(item.clone()),
        }
        Ok(())
    }

    fn scalar(
        &self,
        field: &Field,
        op: CmpOp,
        text: &str,
        pos: Pos,
    ) -> Result<Operand, CompileError> {
        let mismatch = |what: &str| error(pos, format!("type mismatch: {what}"));
        match field.ty {
            FieldType::Str => match op {
                CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => Err(mismatch(&format!(
                    "'{}' compares numbers, and the field is a string",
                    op.as_str()
                ))),
                CmpOp::Regex => regex::bytes::Regex::new(text)
                    .map(Operand::Regex)
                    .map_err(|e| error(pos, format!("invalid regex: {e}"))),
                CmpOp::IContains | CmpOp::IGlob => {
                    Ok(Operand::Bytes(text.to_lowercase().into_bytes()))
                }
                CmpOp::BContains | CmpOp::BStartsWith => {
                    hex(text).map(Operand::Bytes).ok_or_else(|| {
                        error(
                            pos,
                            format!("'{}' takes hex bytes, '{text}' is not", op.as_str()),
                        )
                    })
                }
                _ => Ok(Operand::Bytes(text.as_bytes().to_vec())),
            },
            FieldType::Int => match op {
                CmpOp::Eq
                | CmpOp::Ne
                | CmpOp::Lt
                | CmpOp::Le
                | CmpOp::Gt
                | CmpOp::Ge
                | CmpOp::In => number(text)
                    .map(Operand::Int)
                    .ok_or_else(|| mismatch(&format!("the field is a number and '{text}' is not"))),
                _ => Err(mismatch(&format!(
                    "'{}' works on strings, and the field is a number",
                    op.as_str()
                ))),
            },
            FieldType::Bool => match (op, text) {
                (CmpOp::Eq | CmpOp::Ne, "true") => Ok(Operand::Bool(true)),
                (CmpOp::Eq | CmpOp::Ne, "false") => Ok(Operand::Bool(false)),
                _ => Err(mismatch(&format!(
                    "the field is a boolean: use = true or = false, not '{} {text}'",
                    op.as_str()
                ))),
            },
            FieldType::Ip => match text.split_once('/') {
                Some((addr, bits)) => {
                    let addr: IpAddr = addr
                        .parse()
                        .map_err(|_| mismatch(&format!("'{text}' is not a network")))?;
                    let bits: u8 = bits
                        .parse()
                        .map_err(|_| mismatch(&format!("'{text}' is not a network")))?;
                    Ok(Operand::Net(addr, bits))
                }
                None => text.parse().map(Operand::Ip).map_err(|_| {
                    mismatch(&format!("the field is an IP address and '{text}' is not"))
                }),
            },
        }
    }
}

fn number(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(if negative { -value } else { value })
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Kinds covered by an [`Node::EvtType`] bitmap: every syscall and the other kinds.
const KIND_BITS: usize = 2048;

/// `node` as an [`Node::EvtType`] when it is an event type check, which a bitmap answers
/// exactly: the type is always a string that depends on the kind alone.
fn evt_type_node(node: Node) -> Node {
    let Node::Check { field, op, operand } = &node else {
        return node;
    };
    if field.id != FieldId::EvtType || !field.transformers.is_empty() {
        return node;
    }
    if matches!(operand, Operand::Field(_)) || *op == CmpOp::Exists {
        return node;
    }
    let mut kinds = Box::new([0u64; KIND_BITS / 64]);
    for kind in 0..KIND_BITS {
        let name = casefile_formats::event::EventKind(kind as u16).name();
        if check_bytes(name.as_bytes(), *op, operand) {
            kinds[kind / 64] |= 1 << (kind % 64);
        }
    }
    Node::EvtType {
        kinds,
        check: Box::new(node),
    }
}

fn event_types(node: &Node) -> Option<BTreeSet<u16>> {
    match node {
        Node::EvtType { check, .. } => event_types(check),
        Node::All(items) => {
            let sets: Vec<BTreeSet<u16>> = items.iter().filter_map(event_types).collect();
            let mut iter = sets.into_iter();
            let first = iter.next()?;
            Some(iter.fold(first, |acc, s| acc.intersection(&s).copied().collect()))
        }
        Node::Any(items) => {
            let mut all = BTreeSet::new();
            for item in items {
                all.extend(event_types(item)?);
            }
            Some(all)
        }
        Node::Not(_) => None,
        Node::Check { field, op, operand }
            if field.id == FieldId::EvtType && field.transformers.is_empty() =>
        {
            let names: Vec<&[u8]> = match (op, operand) {
                (CmpOp::Eq, Operand::Bytes(b)) => vec![b],
                (CmpOp::In, Operand::Set(set)) => set.iter().map(Vec::as_slice).collect(),
                _ => return None,
            };
            Some(
                names
                    .iter()
                    .filter_map(|n| kind_by_name(std::str::from_utf8(n).ok()?))
                    .map(|k| k.0)
                    .collect(),
            )
        }
        Node::Check { .. } => None,
    }
}

fn transform<'a>(value: Value<'a>, transformers: &[Transformer]) -> Value<'a> {
    let mut value = value;
    for t in transformers {
        value = match value {
            Value::Many(items) => {
                Value::Many(items.into_iter().map(|v| transform(v, &[*t])).collect())
            }
            Value::Str(s) => match t {
                Transformer::ToLower => Value::Str(Cow::Owned(s.to_ascii_lowercase())),
                Transformer::ToUpper => Value::Str(Cow::Owned(s.to_ascii_uppercase())),
                Transformer::Basename => Value::Str(Cow::Owned(
                    s.rsplit(|b| *b == b'/').next().unwrap_or(&s).to_vec(),
                )),
                Transformer::Len => Value::Int(s.len() as i64),
                Transformer::B64 => Value::Str(Cow::Owned(base64_decode(&s).unwrap_or_default())),
            },
            other => other,
        };
    }
    value
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// `*`, `?` and `[…]` as fnmatch matches them, on bytes.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some(p);
                    mark = t;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some(end) = pattern[p + 1..].iter().position(|c| *c == b']') {
                        let class = &pattern[p + 1..p + 1 + end];
                        let (negate, class) = match class.first() {
                            Some(b'!') | Some(b'^') => (true, &class[1..]),
                            _ => (false, class),
                        };
                        let mut hit = false;
                        let mut i = 0;
                        while i < class.len() {
                            if i + 2 < class.len() && class[i + 1] == b'-' {
                                hit |= (class[i]..=class[i + 2]).contains(&text[t]);
                                i += 3;
                            } else {
                                hit |= class[i] == text[t];
                                i += 1;
                            }
                        }
                        if hit != negate {
                            p += end + 2;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some(s) => {
                p = s + 1;
                mark += 1;
                t = mark;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

impl Filter {
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        eval(&self.root, ctx)
    }
}

fn eval(node: &Node, ctx: &Ctx<'_>) -> bool {
    match node {
        Node::All(items) => items.iter().all(|n| eval(n, ctx)),
        Node::Any(items) => items.iter().any(|n| eval(n, ctx)),
        Node::Not(inner) => !eval(inner, ctx),
        Node::EvtType { kinds, check } => {
            let kind = usize::from(ctx.event.kind.0);
            match kinds.get(kind / 64) {
                Some(word) => word >> (kind % 64) & 1 != 0,
                None => eval(check, ctx),
            }
        }
        Node::Check { field, op, operand } => {
            let value = std::mem::ManuallyDrop::new(field.extract(ctx));
            let matched = check_value(&value, *op, operand, ctx);
            // Nearly every value borrows from the event or the state; only owned ones
            // go through the (out-of-line, recursive) drop glue.
            if matches!(*value, Value::Str(Cow::Owned(_)) | Value::Many(_)) {
                drop(std::mem::ManuallyDrop::into_inner(value));
            }
            matched
        }
    }
}

fn check_value(value: &Value<'_>, op: CmpOp, operand: &Operand, ctx: &Ctx<'_>) -> bool {
    if op == CmpOp::Exists {
        return !matches!(value, Value::Missing);
    }
    let other;
    let operand = match operand {
        Operand::Field(f) => {
            other = value_operand(f.extract(ctx));
            match &other {
                Some(o) => o,
                None => return false,
            }
        }
        o => o,
    };
    check(value, op, operand)
}

fn value_operand(value: Value<'_>) -> Option<Operand> {
    Some(match value {
        Value::Str(s) => Operand::Bytes(s.into_owned()),
        Value::Int(i) => Operand::Int(i),
        Value::Bool(b) => Operand::Bool(b),
        Value::Ip(ip) => Operand::Ip(ip),
        Value::Many(_) | Value::Missing => return None,
    })
}

fn in_net(ip: &IpAddr, net: &IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits.min(32)))
            };
            u32::from(*a) & mask == u32::from(*n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits.min(128)))
            };
            u128::from(*a) & mask == u128::from(*n) & mask
        }
        _ => false,
    }
}

fn check(value: &Value<'_>, op: CmpOp, operand: &Operand) -> bool {
    match value {
        Value::Missing => false,
        Value::Many(items) => items.iter().any(|v| check(v, op, operand)),
        Value::Str(s) => check_bytes(s, op, operand),
        Value::Int(i) => match operand {
            Operand::Int(o) => match op {
                CmpOp::Eq => i == o,
                CmpOp::Ne => i != o,
                CmpOp::Lt => i < o,
                CmpOp::Le => i <= o,
                CmpOp::Gt => i > o,
                CmpOp::Ge => i >= o,
                _ => false,
            },
            Operand::Items(items) => items.iter().any(|o| matches!(o, Operand::Int(o) if o == i)),
            _ => false,
        },
        Value::Bool(b) => match (op, operand) {
            (CmpOp::Eq, Operand::Bool(o)) => b == o,
            (CmpOp::Ne, Operand::Bool(o)) => b != o,
            _ => false,
        },
        Value::Ip(ip) => {
            let one = |o: &Operand| match o {
                Operand::Ip(x) => x == ip,
                Operand::Net(n, bits) => in_net(ip, n, *bits),
                _ => false,
            };
            match (op, operand) {
                (CmpOp::Eq, o) => one(o),
                (CmpOp::Ne, o) => !one(o),
                (_, Operand::Items(items)) => items.iter().any(one),
                _ => false,
            }
        }
    }
}

/// Whether `needle` occurs in `hay`. Candidates are found by their first byte and only
/// those are compared: comparing every window called memcmp for each byte of the field.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    hay[..=last_start]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && hay[i + 1..i + needle.len()] == *rest)
}

fn check_bytes(s: &[u8], op: CmpOp, operand: &Operand) -> bool {
    match (op, operand) {
        (CmpOp::Eq, Operand::Bytes(o)) => s == o.as_slice(),
        (CmpOp::Ne, Operand::Bytes(o)) => s != o.as_slice(),
        (CmpOp::Contains | CmpOp::BContains, Operand::Bytes(o)) => contains(s, o),
        (CmpOp::IContains, Operand::Bytes(o)) => contains(&s.to_ascii_lowercase(), o),
        (CmpOp::StartsWith | CmpOp::BStartsWith, Operand::Bytes(o)) => s.starts_with(o),
        (CmpOp::EndsWith, Operand::Bytes(o)) => s.ends_with(o),
        (CmpOp::Glob, Operand::Bytes(o)) => glob(o, s),
        (CmpOp::IGlob, Operand::Bytes(o)) => glob(o, &s.to_ascii_lowercase()),
        (CmpOp::Regex, Operand::Regex(r)) => r.is_match(s),
        (CmpOp::In | CmpOp::Intersects, Operand::Set(set)) => set.contains(s),
        (CmpOp::PMatch, Operand::Items(items)) => items.iter().any(|o| match o {
            Operand::Bytes(prefix) => {
                s == prefix.as_slice()
                    || (s.starts_with(prefix)
                        && (prefix.ends_with(b"/") || s.get(prefix.len()) == Some(&b'/')))
            }
            _ => false,
        }),
        (CmpOp::In, Operand::Items(items)) => items
            .iter()
            .any(|o| matches!(o, Operand::Bytes(b) if b.as_slice() == s)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_fnmatch() {
        assert!(glob(b"/var/log/*.log", b"/var/log/syslog.log"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"/bin/[bd]ash", b"/bin/dash"));
        assert!(!glob(b"/bin/[!bd]ash", b"/bin/bash"));
        assert!(glob(b"*/etc/*", b"/host/etc/shadow"));
        assert!(!glob(b"/etc/*.conf", b"/etc/hosts"));
    }

    #[test]
    fn contains_finds_substrings() {
        for (hay, needle, found) in [
            (&b"/home/a/.ssh/id_rsa"[..], &b"id_rsa"[..], true),
            (b"/home/a/.ssh/id_rsa", b"/.ssh/", true),
            (b"id_rs", b"id_rsa", false),
            (b"", b"", true),
            (b"abc", b"", true),
            (b"", b"a", false),
            (b"aab", b"ab", true),
            (b"abab", b"ba", true),
            (b"abc", b"abd", false),
        ] {
            assert_eq!(contains(hay, needle), found, "{hay:?} {needle:?}");
        }
    }

    #[test]
    fn numbers_hex_and_base64_parse() {
        assert_eq!(number("0x10"), Some(16));
        assert_eq!(number("-1"), Some(-1));
        assert_eq!(number("abc"), None);
        assert_eq!(hex("7f454c46"), Some(b"\x7fELF".to_vec()));
        assert_eq!(hex("7f4"), None);
        assert_eq!(base64_decode(b"Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode(b"Zm9vYg==").unwrap(), b"foob");
    }
}
