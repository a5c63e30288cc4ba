//! The syntax tree of a condition, with the position of every node so that errors can
//! point into the rule file.

use std::fmt;

/// A place in the condition text: byte offset, and 1-based line and column (columns
/// count characters, not bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A field compared with a value (`proc.name = bash`), or tested (`fd.name exists`).
    Check {
        field: FieldRef,
        op: CmpOp,
        /// `None` only for unary operators (`exists`).
        value: Option<Value>,
        pos: Pos,
    },
    /// A bare name: a macro (or, after expansion, an error if none is defined).
    Identifier {
        name: String,
        pos: Pos,
    },
}

/// A field, possibly with an argument and wrapped in transformers:
/// `tolower(proc.aname[2])` is `proc.aname` with argument `2` and transformer `tolower`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    pub name: String,
    pub arg: Option<String>,
    /// Applied innermost first.
    pub transformers: Vec<Transformer>,
    pub pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
}

impl Transformer {
    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }

    pub const ALL: [Transformer; 5] = [
        Transformer::ToLower,
        Transformer::ToUpper,
        Transformer::B64,
        Transformer::Basename,
        Transformer::Len,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
    Exists,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "contains",
            CmpOp::IContains => "icontains",
            CmpOp::BContains => "bcontains",
            CmpOp::StartsWith => "startswith",
            CmpOp::BStartsWith => "bstartswith",
            CmpOp::EndsWith => "endswith",
            CmpOp::Glob => "glob",
            CmpOp::IGlob => "iglob",
            CmpOp::Regex => "regex",
            CmpOp::In => "in",
            CmpOp::Intersects => "intersects",
            CmpOp::PMatch => "pmatch",
            CmpOp::Exists => "exists",
        }
    }

    /// Operators whose right side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, CmpOp::In | CmpOp::Intersects | CmpOp::PMatch)
    }
}

/// The right side of a check.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A bare or quoted string (numbers are strings until the field's type is known).
    Str { text: String, pos: Pos },
    /// `(a, b, "c")`; items may name lists, expanded when rules load.
    List { items: Vec<ListItem>, pos: Pos },
    /// A list given by name without parentheses (`proc.name in shell_binaries`).
    ListName { name: String, pos: Pos },
    /// Another field of the same event: `val(proc.pname)`, or a transformed field.
    Field(FieldRef),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListItem {
    pub text: String,
    /// Quoted items are never list names.
    pub quoted: bool,
    pub pos: Pos,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in self.transformers.iter().rev() {
            write!(f, "{}(", t.name())?;
        }
        f.write_str(&self.name)?;
        if let Some(arg) = &self.arg {
            write!(f, "[{arg}]")?;
        }
        for _ in &self.transformers {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A compact, unambiguous rendering used by tests and `rules check` diagnostics.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(items) | Expr::Or(items) => {
                let word = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(word)?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Expr::Not(inner) => write!(f, "not {inner}"),
            Expr::Identifier { name, .. } => f.write_str(name),
            Expr::Check {
                field, op, value, ..
            } => {
                write!(f, "{field} {}", op.as_str())?;
                match value {
                    None => Ok(()),
                    Some(Value::Str { text, .. }) => write!(f, " {text:?}"),
                    Some(Value::ListName { name, .. }) => write!(f, " {name}"),
                    Some(Value::Field(field)) => write!(f, " val({field})"),
                    Some(Value::List { items, .. }) => {
                        f.write_str(" (")?;
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            if item.quoted {
                                write!(f, "{:?}", item.text)?;
                            } else {
                                f.write_str(&item.text)?;
                            }
                        }
                        f.write_str(")")
                    }
                }
            }
        }
    }
}
