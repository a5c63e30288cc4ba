//! Output templates (`Shell spawned (user=%user.name %proc.cmdline)`), compiled once:
//! literal text and fields, rendered per alert with Falco's `<NA>` for missing values.

use crate::compile::{compile_field, CompileError, Field};
use crate::fields::{Ctx, Value};
use std::fmt::Write;

#[derive(Debug)]
enum Part {
    Text(String),
    Field { name: String, field: Field },
}

#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
}

/// A field name after `%`: letters, digits, `_`, `.`, and an optional `[argument]`.
fn field_end(text: &str) -> usize {
    let mut end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    // A trailing dot is punctuation, not part of the name.
    while end > 0 && text.as_bytes()[end - 1] == b'.' {
        end -= 1;
    }
    if text[end..].starts_with('[') {
        if let Some(close) = text[end..].find(']') {
            end += close + 1;
        }
    }
    end
}

impl Template {
    /// Compiles a template; an unknown field is an error (with the column in the text).
    pub fn compile(text: &str) -> Result<Template, CompileError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('%') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let end = field_end(after);
            let name = &after[..end];
            if !name.contains('.') {
                literal.push('%');
                rest = after;
                continue;
            }
            let field = compile_field(name).map_err(|mut e| {
                e.pos.col = (text.len() - rest.len() + at + 2) as u32;
                e.pos.line = 1;
                e
            })?;
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field {
                name: name.to_string(),
                field,
            });
            rest = &after[end..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The rendered output and each field's value, as Falco's `output_fields`.
    pub fn render(&self, ctx: &Ctx<'_>) -> (String, Vec<(String, String)>) {
        let mut out = String::new();
        let mut fields = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field { name, field } => {
                    let value = value_text(&field.extract(ctx));
                    out.push_str(&value);
                    fields.push((name.clone(), value));
                }
            }
        }
        (out, fields)
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }
}

/// A value as alert text. Bytes from the host are kept as they are (lossy UTF-8):
/// whoever prints an alert to a terminal escapes it.
pub fn value_text(value: &Value<'_>) -> String {
    match value {
        Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Ip(ip) => ip.to_string(),
        Value::Many(items) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}", value_text(item));
            }
            out
        }
        Value::Missing => "<NA>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_fields() {
        let t = Template::compile(
            "Shell (user=%user.name cmd=%proc.cmdline parent=%proc.aname[1]). 100% sure",
        )
        .unwrap();
        let names: Vec<&str> = t.field_names().collect();
        assert_eq!(names, ["user.name", "proc.cmdline", "proc.aname[1]"]);
        let err = Template::compile("x=%proc.nmae").unwrap_err();
        assert!(err.message.contains("unknown field 'proc.nmae'"));
        assert_eq!(err.pos.col, 4);
    }
}
