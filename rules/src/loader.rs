//! Falco rule files → a rule set: lists, macros and rules in file order, several files
//! amending each other (`append`, `override`), exceptions folded into conditions, and
//! every condition compiled. Problems become diagnostics with file, line and column; one
//! bad rule never hides another's errors.

use crate::compile::{compile, CompileError, Definitions, Filter};
use crate::condition::{self, Expr, ListItem, Pos};
use crate::output::Template;
use crate::yaml::{self, Mark, Node};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub fn parse(text: &str) -> Option<Priority> {
        Some(match text.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    /// The list, macro or rule concerned, when there is one.
    pub item: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: ",
            self.file.display(),
            self.line,
            self.col
        )?;
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub condition: String,
    pub output: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub source: String,
    pub enabled: bool,
    pub file: PathBuf,
    pub line: u32,
    /// `None` when the condition or the output did not compile (see the diagnostics).
    pub filter: Option<Filter>,
    pub template: Option<Template>,
}

/// Where a condition's text came from, to map its positions back into the file.
#[derive(Clone, Debug)]
struct Origin {
    file: PathBuf,
    mark: Mark,
    block: bool,
}

#[derive(Clone, Debug)]
struct Text {
    text: String,
    origin: Origin,
}

#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub lists: usize,
    pub macros: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Source text per file, for mapping condition positions to file columns.
    sources: HashMap<PathBuf, String>,
    /// The files' lists and macros, kept so that a condition typed later (an
    /// investigator's filter) can use them as the rules do.
    definitions: Definitions,
}

impl RuleSet {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    pub fn loaded_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.filter.is_some())
    }

    /// The files' lists and macros, for conditions compiled outside a rule
    /// ([`crate::compile::compile_condition`]).
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }
}

struct RawRule {
    name: String,
    desc: String,
    condition: Option<Text>,
    exceptions: Vec<Text>,
    output: String,
    priority: Option<Priority>,
    tags: Vec<String>,
    source: String,
    enabled: bool,
    origin: Origin,
}

#[derive(Default)]
struct Loading {
    lists: Vec<(String, Vec<ListItem>, Origin)>,
    macros: Vec<(String, Text)>,
    rules: Vec<RawRule>,
}

/// Loads rule files in order; later files amend earlier ones.
pub fn load_files(paths: &[PathBuf]) -> RuleSet {
    let mut set = RuleSet::default();
    let mut loading = Loading::default();
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                set.diagnostics.push(diag(
                    Severity::Error,
                    path,
                    Mark { line: 0, col: 0 },
                    None,
                    format!("cannot read the file: {e}"),
                ));
                continue;
            }
        };
        load_text(path, &text, &mut loading, &mut set);
        set.sources.insert(path.clone(), text);
    }
    finish(loading, set)
}

/// Loads one rule file's text (tests and embedded rule packs).
pub fn load_str(name: &str, text: &str) -> RuleSet {
    let mut set = RuleSet::default();
    let mut loading = Loading::default();
    let path = PathBuf::from(name);
    load_text(&path, text, &mut loading, &mut set);
    set.sources.insert(path, text.to_string());
    finish(loading, set)
}

fn diag(
    severity: Severity,
    file: &Path,
    mark: Mark,
    item: Option<&str>,
    message: impl Into<String>,
) -> Diagnostic {
    Diagnostic {
        severity,
        file: file.to_path_buf(),
        line: mark.line,
        col: mark.col,
        item: item.map(str::to_string),
        message: message.into(),
    }
}

fn str_list(node: &Node) -> Option<Vec<String>> {
    match node {
        Node::Seq { items, .. } => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn load_text(path: &Path, text: &str, loading: &mut Loading, set: &mut RuleSet) {
    let documents = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            set.diagnostics.push(diag(
                Severity::Error,
                path,
                e.mark,
                None,
                format!("not valid YAML: {}", e.message),
            ));
            return;
        }
    };
    for document in documents {
        let items = match document {
            Node::Seq { items, .. } => items,
            Node::Scalar { ref text, .. } if text.is_empty() => continue,
            other => {
                set.diagnostics.push(diag(
                    Severity::Error,
                    path,
                    other.mark(),
                    None,
                    format!(
                        "a rules file is a list of items (- rule:, - macro:, - list:), found {}",
                        other.kind_name()
                    ),
                ));
                continue;
            }
        };
        for item in &items {
            load_item(path, item, loading, set);
        }
    }
}

fn load_item(path: &Path, item: &Node, loading: &mut Loading, set: &mut RuleSet) {
    let origin = |node: &Node| {
        let block = matches!(node, Node::Scalar { block: true, .. });
        Origin {
            file: path.to_path_buf(),
            mark: node.mark(),
            block,
        }
    };
    let text_of = |node: &Node| {
        node.as_str().map(|t| Text {
            text: t.to_string(),
            origin: origin(node),
        })
    };
    let error = |set: &mut RuleSet, node: &Node, name: Option<&str>, message: String| {
        set.diagnostics
            .push(diag(Severity::Error, path, node.mark(), name, message));
    };
    let Node::Map { .. } = item else {
        error(
            set,
            item,
            None,
            format!(
                "expected an item (- rule:, - macro:, - list:), found {}",
                item.kind_name()
            ),
        );
        return;
    };
    let flag = |key: &str| item.get(key).and_then(Node::as_str) == Some("true");
    let override_of = |field: &str| {
        item.get("override")
            .and_then(|o| o.get(field))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    if let Some(name) = item.get("list").and_then(Node::as_str) {
        let Some(items_node) = item.get("items") else {
            error(set, item, Some(name), format!("list '{name}' has no items"));
            return;
        };
        let Node::Seq { items, .. } = items_node else {
            error(set, items_node, Some(name), "items must be a list".into());
            return;
        };
        let values: Vec<ListItem> = items
            .iter()
            .filter_map(|n| {
                let m = n.mark();
                let raw = n.as_str()?;
                // Falco substitutes list items into condition text, where a quoted item is
                // one string (e.g. '"10.0.0.0/8"'): keep that meaning.
                let unquoted = ['"', '\'']
                    .iter()
                    .find_map(|q| raw.strip_prefix(*q)?.strip_suffix(*q));
                Some(ListItem {
                    text: unquoted.unwrap_or(raw).to_string(),
                    quoted: unquoted.is_some(),
                    pos: Pos {
                        offset: 0,
                        line: m.line,
                        col: m.col,
                    },
                })
            })
            .collect();
        let appending = flag("append") || override_of("items").as_deref() == Some("append");
        match loading.lists.iter_mut().find(|(n, ..)| n == name) {
            Some((_, existing, _)) if appending => existing.extend(values),
            Some((_, existing, o)) => {
                *existing = values;
                *o = origin(item);
            }
            None if appending => error(
                set,
                item,
                Some(name),
                format!("appends to list '{name}', which no earlier file defines"),
            ),
            None => loading.lists.push((name.to_string(), values, origin(item))),
        }
    } else if let Some(name) = item.get("macro").and_then(Node::as_str) {
        let Some(condition) = item.get("condition").and_then(text_of) else {
            error(
                set,
                item,
                Some(name),
                format!("macro '{name}' has no condition"),
            );
            return;
        };
        let appending = flag("append") || override_of("condition").as_deref() == Some("append");
        match loading.macros.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) if appending => {
                existing.text = format!("{} {}", existing.text, condition.text)
            }
            Some((_, existing)) => *existing = condition,
            None if appending => error(
                set,
                item,
                Some(name),
                format!("appends to macro '{name}', which no earlier file defines"),
            ),
            None => loading.macros.push((name.to_string(), condition)),
        }
    } else if let Some(name) = item.get("rule").and_then(Node::as_str) {
        load_rule(path, item, name, loading, set);
    } else if item.get("required_engine_version").is_some()
        || item.get("required_plugin_versions").is_some()
    {
        // Accepted: casefile evaluates the syscall fields these files need.
    } else {
        set.diagnostics.push(diag(
            Severity::Warning,
            path,
            item.mark(),
            None,
            "unknown item ignored (expected rule, macro, list, or required_engine_version)",
        ));
    }
}

fn load_rule(path: &Path, item: &Node, name: &str, loading: &mut Loading, set: &mut RuleSet) {
    let origin = |node: &Node| Origin {
        file: path.to_path_buf(),
        mark: node.mark(),
        block: matches!(node, Node::Scalar { block: true, .. }),
    };
    let text = |key: &str| item.get(key).and_then(Node::as_str).map(str::to_string);
    let overrides = |field: &str| {
        item.get("override")
            .and_then(|o| o.get(field))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    let legacy_append = item.get("append").and_then(Node::as_str) == Some("true");
    let exceptions = item
        .get("exceptions")
        .map(|e| exceptions_text(path, name, e, set))
        .unwrap_or_default();
    let priority = match text("priority") {
        Some(p) => match Priority::parse(&p) {
            Some(p) => Some(p),
            None => {
                set.diagnostics.push(diag(Severity::Error, path, item.get("priority").map_or(item.mark(), Node::mark), Some(name), format!("unknown priority '{p}' (use EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL or DEBUG)")));
                None
            }
        },
        None => None,
    };
    if let Some(existing) = loading.rules.iter_mut().find(|r| r.name == name) {
        // An amendment of an earlier rule.
        if let Some(node) = item.get("condition") {
            if let Some(cond) = node.as_str() {
                let replace =
                    overrides("condition").as_deref() == Some("replace") && !legacy_append;
                existing.condition = Some(match (&existing.condition, replace) {
                    (Some(old), false) => Text {
                        text: format!("{} {}", old.text, cond),
                        origin: old.origin.clone(),
                    },
                    _ => Text {
                        text: cond.to_string(),
                        origin: origin(node),
                    },
                });
            }
        }
        if let Some(output) = text("output") {
            existing.output = if overrides("output").as_deref() == Some("append") {
                format!("{} {output}", existing.output)
            } else {
                output
            };
        }
        if let Some(desc) = text("desc") {
            existing.desc = desc;
        }
        if let Some(p) = priority {
            existing.priority = Some(p);
        }
        if let Some(enabled) = text("enabled") {
            existing.enabled = enabled == "true";
        }
        if let Some(tags) = item.get("tags").and_then(str_list) {
            existing.tags = tags;
        }
        existing.exceptions.extend(exceptions);
        return;
    }
    if legacy_append || item.get("override").is_some() {
        set.diagnostics.push(diag(
            Severity::Error,
            path,
            item.mark(),
            Some(name),
            format!("amends rule '{name}', which no earlier file defines"),
        ));
        return;
    }
    let condition = item.get("condition").and_then(|n| {
        n.as_str().map(|t| Text {
            text: t.to_string(),
            origin: origin(n),
        })
    });
    let mut missing = Vec::new();
    if condition.is_none() {
        missing.push("condition");
    }
    if text("output").is_none() {
        missing.push("output");
    }
    if priority.is_none() && item.get("priority").is_none() {
        missing.push("priority");
    }
    if !missing.is_empty() {
        set.diagnostics.push(diag(
            Severity::Error,
            path,
            item.mark(),
            Some(name),
            format!("rule '{name}' has no {}", missing.join(", ")),
        ));
    }
    loading.rules.push(RawRule {
        name: name.to_string(),
        desc: text("desc").unwrap_or_default(),
        condition,
        exceptions,
        output: text("output").unwrap_or_default(),
        priority,
        tags: item.get("tags").and_then(str_list).unwrap_or_default(),
        source: text("source").unwrap_or_else(|| "syscall".into()),
        enabled: text("enabled").is_none_or(|e| e == "true"),
        origin: origin(item),
    });
}

/// Exceptions as condition text: `not ((f1 cmp v1 and f2 cmp v2) or …)` per exception.
fn exceptions_text(path: &Path, rule: &str, node: &Node, set: &mut RuleSet) -> Vec<Text> {
    let Node::Seq { items, .. } = node else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for exception in items {
        let name = exception.get("name").and_then(Node::as_str).unwrap_or("?");
        let fields: Vec<String> = match exception.get("fields") {
            Some(Node::Seq { .. }) => exception
                .get("fields")
                .and_then(str_list)
                .unwrap_or_default(),
            Some(n) => n.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            None => Vec::new(),
        };
        let single = matches!(exception.get("fields"), Some(Node::Scalar { .. }));
        let comps: Vec<String> = match exception.get("comps") {
            Some(Node::Seq { .. }) => exception
                .get("comps")
                .and_then(str_list)
                .unwrap_or_default(),
            Some(n) => n.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            None => vec![if single { "in".into() } else { "=".into() }; fields.len()],
        };
        if fields.is_empty() || comps.len() != fields.len() {
            set.diagnostics.push(diag(
                Severity::Error,
                path,
                exception.mark(),
                Some(rule),
                format!("exception '{name}': fields and comps must be lists of the same length"),
            ));
            continue;
        }
        let Some(Node::Seq { items: values, .. }) = exception.get("values") else {
            continue;
        };
        let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        let mut alternatives = Vec::new();
        for value in values {
            let terms: Vec<String> = if single {
                match value {
                    Node::Scalar { text, .. } => {
                        vec![format!("{} {} ({})", fields[0], comps[0], quote(text))]
                    }
                    Node::Seq { .. } => vec![format!(
                        "{} {} ({})",
                        fields[0],
                        comps[0],
                        str_list(value)
                            .unwrap_or_default()
                            .iter()
                            .map(|v| quote(v))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                    _ => continue,
                }
            } else {
                let Node::Seq { items: parts, .. } = value else {
                    continue;
                };
                if parts.len() != fields.len() {
                    set.diagnostics.push(diag(
                        Severity::Error,
                        path,
                        value.mark(),
                        Some(rule),
                        format!(
                            "exception '{name}': a value has {} parts for {} fields",
                            parts.len(),
                            fields.len()
                        ),
                    ));
                    continue;
                }
                fields
                    .iter()
                    .zip(&comps)
                    .zip(parts)
                    .map(|((f, c), part)| match part {
                        Node::Seq { .. } => format!(
                            "{f} {c} ({})",
                            str_list(part)
                                .unwrap_or_default()
                                .iter()
                                .map(|v| quote(v))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        other => {
                            let v = other.as_str().unwrap_or_default();
                            if matches!(c.as_str(), "in" | "pmatch" | "intersects") {
                                format!("{f} {c} ({})", quote(v))
                            } else {
                                format!("{f} {c} {}", quote(v))
                            }
                        }
                    })
                    .collect()
            };
            alternatives.push(format!("({})", terms.join(" and ")));
        }
        if !alternatives.is_empty() {
            out.push(Text {
                text: format!("and not ({})", alternatives.join(" or ")),
                origin: Origin {
                    file: path.to_path_buf(),
                    mark: exception.mark(),
                    block: false,
                },
            });
        }
    }
    out
}

/// Maps a position inside a condition to the file.
fn file_position(set: &RuleSet, origin: &Origin, pos: Pos) -> Mark {
    if !origin.block {
        return Mark {
            line: origin.mark.line + pos.line - 1,
            col: if pos.line == 1 {
                origin.mark.col + pos.col - 1
            } else {
                pos.col
            },
        };
    }
    // Folded and literal blocks: one condition line per file line, after the indent.
    let line = origin.mark.line + pos.line - 1;
    let indent = set
        .sources
        .get(&origin.file)
        .and_then(|s| s.lines().nth(line as usize - 1))
        .map_or(0, |l| l.len() - l.trim_start().len()) as u32;
    Mark {
        line,
        col: indent + pos.col,
    }
}

fn finish(loading: Loading, mut set: RuleSet) -> RuleSet {
    let mut defs = Definitions::default();
    set.lists = loading.lists.len();
    for (name, items, _) in loading.lists {
        defs.lists.insert(name, items);
    }
    set.macros = loading.macros.len();
    let mut macro_errors = Vec::new();
    for (name, text) in &loading.macros {
        match condition::parse(&text.text) {
            Ok(expr) => {
                defs.macros.insert(name.clone(), expr);
            }
            Err(e) => macro_errors.push((name.clone(), text.origin.clone(), e.pos, e.message)),
        }
    }
    let macro_texts: HashMap<String, Text> = loading.macros.into_iter().collect();
    for (name, origin, pos, message) in macro_errors {
        let mark = file_position(&set, &origin, pos);
        set.diagnostics.push(diag(
            Severity::Error,
            &origin.file,
            mark,
            Some(&name),
            format!("macro '{name}': {message}"),
        ));
    }
    for raw in loading.rules {
        let mut filter = None;
        let mut template = None;
        if raw.source != "syscall" {
            set.diagnostics.push(diag(
                Severity::Warning,
                &raw.origin.file,
                raw.origin.mark,
                Some(&raw.name),
                format!(
                    "source '{}' is not loaded (casefile evaluates syscall rules)",
                    raw.source
                ),
            ));
        } else if let Some(condition) = &raw.condition {
            filter = compile_rule(&mut set, &defs, &macro_texts, &raw, condition);
            match Template::compile(&raw.output) {
                Ok(t) => template = Some(t),
                Err(e) => {
                    set.diagnostics.push(diag(
                        Severity::Error,
                        &raw.origin.file,
                        raw.origin.mark,
                        Some(&raw.name),
                        format!(
                            "output, column {} of the template: {}",
                            e.pos.col, e.message
                        ),
                    ));
                    filter = None;
                }
            }
        }
        set.rules.push(Rule {
            name: raw.name,
            desc: raw.desc,
            condition: raw.condition.map(|c| c.text).unwrap_or_default(),
            output: raw.output,
            priority: raw.priority.unwrap_or(Priority::Debug),
            tags: raw.tags,
            source: raw.source,
            enabled: raw.enabled,
            file: raw.origin.file.clone(),
            line: raw.origin.mark.line,
            filter,
            template,
        });
    }
    set.definitions = defs;
    set
}

fn compile_rule(
    set: &mut RuleSet,
    defs: &Definitions,
    macros: &HashMap<String, Text>,
    raw: &RawRule,
    condition: &Text,
) -> Option<Filter> {
    let report = |set: &mut RuleSet, origin: &Origin, pos: Pos, message: String| {
        let mark = file_position(set, origin, pos);
        set.diagnostics.push(diag(
            Severity::Error,
            &origin.file,
            mark,
            Some(&raw.name),
            message,
        ));
    };
    let mut expr = match condition::parse(&condition.text) {
        Ok(e) => e,
        Err(e) => {
            report(set, &condition.origin, e.pos, e.message);
            return None;
        }
    };
    for exception in &raw.exceptions {
        match condition::parse(&format!("x.y exists {}", exception.text)) {
            Ok(Expr::And(mut parts)) if parts.len() == 2 => {
                let extra = parts.pop()?;
                expr = Expr::And(vec![expr, extra]);
            }
            Ok(_) => {}
            Err(e) => {
                report(
                    set,
                    &exception.origin,
                    Pos {
                        offset: 0,
                        line: 1,
                        col: 1,
                    },
                    format!("exception: {}", e.message),
                );
                return None;
            }
        }
    }
    match compile(&expr, defs) {
        Ok(filter) => Some(filter),
        Err(CompileError {
            pos,
            message,
            in_macro,
        }) => {
            // Positions inside a macro point into the macro's own text.
            match in_macro
                .as_ref()
                .and_then(|m| macros.get(m).map(|t| (m, t)))
            {
                Some((name, text)) => report(
                    set,
                    &text.origin,
                    pos,
                    format!("in macro '{name}': {message}"),
                ),
                None => report(set, &condition.origin, pos, message),
            }
            None
        }
    }
}
