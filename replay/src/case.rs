//! Rule regression cases: a directory with capture files and a `case.yaml` that names
//! the rule files and the alerts replaying them must give. `casefile test` runs them.
//!
//! ```yaml
//! captures: [attack.case]                 # relative to case.yaml
//! rules: [rules/attack.yaml, {path: ../falco_rules.yaml, optional: true}]
//! strict: false                           # true: any rule not listed below fails
//! expect:
//!   - rule: Shell Spawned by Web Server
//!     count: 1                            # exactly; or min_count: N
//!     match: {proc.name: sh}              # output fields the counted alerts have
//! must_not_fire: [Some Other Rule]
//! ```
//!
//! The format is documented in `docs/CASES.md`.

use crate::run::{replay, ReplayOptions, ReplayReport};
use crate::set::CaptureSet;
use casefile_rules::engine::{Alert, CompiledRules};
use casefile_rules::loader::load_files;
use casefile_rules::yaml::{self, Mark, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The file name that makes a directory a case.
pub const CASE_FILE: &str = "case.yaml";

/// A malformed case file, with the position of the problem.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", file.display())]
pub struct CaseError {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFile {
    pub path: PathBuf,
    /// A missing optional file skips the case (visibly) instead of failing it.
    pub optional: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Exactly(u64),
    AtLeast(u64),
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, n) = match self {
            Count::Exactly(n) => ("", *n),
            Count::AtLeast(n) => ("at least ", *n),
        };
        let noun = if n == 1 { "alert" } else { "alerts" };
        write!(f, "{prefix}{n} {noun}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub rule: String,
    pub count: Count,
    /// Output fields (`proc.name`) and the values the counted alerts must have.
    pub matches: Vec<(String, String)>,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The case file.
    pub file: PathBuf,
    pub captures: Vec<PathBuf>,
    pub rules: Vec<RuleFile>,
    pub strict: bool,
    pub expect: Vec<Expectation>,
    pub must_not_fire: Vec<(String, u32)>,
}

impl Case {
    /// The case's name in reports: its directory.
    pub fn name(&self) -> String {
        self.file.parent().map_or_else(
            || self.file.display().to_string(),
            |d| d.display().to_string(),
        )
    }
}

struct Parser<'a> {
    file: &'a Path,
    dir: PathBuf,
}

impl Parser<'_> {
    fn error(&self, mark: Mark, message: impl Into<String>) -> CaseError {
        CaseError {
            file: self.file.to_path_buf(),
            line: mark.line,
            col: mark.col,
            message: message.into(),
        }
    }

    fn string<'n>(&self, node: &'n Node, what: &str) -> Result<&'n str, CaseError> {
        node.as_str().ok_or_else(|| {
            self.error(
                node.mark(),
                format!("{what} must be a string, not {}", node.kind_name()),
            )
        })
    }

    fn count(&self, node: &Node, key: &str) -> Result<u64, CaseError> {
        let text = self.string(node, key)?;
        text.trim().parse().map_err(|_| {
            self.error(
                node.mark(),
                format!("{key} must be a whole number, not {text:?}"),
            )
        })
    }

    fn list<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [Node], CaseError> {
        match node {
            Node::Seq { items, .. } => Ok(items),
            other => Err(self.error(
                other.mark(),
                format!("{key} must be a list, not {}", other.kind_name()),
            )),
        }
    }

    fn check_keys(&self, node: &Node, allowed: &[&str], what: &str) -> Result<(), CaseError> {
        let Node::Map { entries, .. } = node else {
            return Err(self.error(
                node.mark(),
                format!("{what} must be a mapping, not {}", node.kind_name()),
            ));
        };
        for (key, _) in entries {
            let name = key.as_str().unwrap_or("");
            if !allowed.contains(&name) {
                return Err(self.error(
                    key.mark(),
                    format!(
                        "unknown key {name:?} in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn rule_file(&self, node: &Node) -> Result<RuleFile, CaseError> {
        if let Some(path) = node.as_str() {
            return Ok(RuleFile {
                path: self.dir.join(path),
                optional: false,
            });
        }
        self.check_keys(node, &["path", "optional"], "a rules entry")?;
        let path = node
            .get("path")
            .ok_or_else(|| self.error(node.mark(), "a rules entry needs a path"))?;
        let optional = match node.get("optional") {
            None => false,
            Some(v) => self.boolean(v, "optional")?,
        };
        Ok(RuleFile {
            path: self.dir.join(self.string(path, "path")?),
            optional,
        })
    }

    fn boolean(&self, node: &Node, key: &str) -> Result<bool, CaseError> {
        match self.string(node, key)? {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(self.error(
                node.mark(),
                format!("{key} must be true or false, not {other:?}"),
            )),
        }
    }

    fn expectation(&self, node: &Node) -> Result<Expectation, CaseError> {
        self.check_keys(
            node,
            &["rule", "count", "min_count", "match"],
            "an expect entry",
        )?;
        let rule = node.get("rule").ok_or_else(|| {
            self.error(
                node.mark(),
                "an expect entry needs a rule name (rule: NAME)",
            )
        })?;
        let count = match (node.get("count"), node.get("min_count")) {
            (Some(n), None) => Count::Exactly(self.count(n, "count")?),
            (None, Some(n)) => Count::AtLeast(self.count(n, "min_count")?),
            (None, None) => Count::AtLeast(1),
            (Some(_), Some(n)) => {
                return Err(self.error(n.mark(), "give count or min_count, not both"))
            }
        };
        let mut matches = Vec::new();
        if let Some(m) = node.get("match") {
            let Node::Map { entries, .. } = m else {
                return Err(self.error(
                    m.mark(),
                    format!(
                        "match must be a mapping of field: value, not {}",
                        m.kind_name()
                    ),
                ));
            };
            for (key, value) in entries {
                matches.push((
                    self.string(key, "a match field")?.to_string(),
                    self.string(value, "a match value")?.to_string(),
                ));
            }
        }
        Ok(Expectation {
            rule: self.string(rule, "rule")?.to_string(),
            count,
            matches,
            line: node.mark().line,
        })
    }
}

/// Reads and checks a case file.
pub fn parse_case(file: &Path) -> Result<Case, CaseError> {
    let text = std::fs::read_to_string(file).map_err(|e| CaseError {
        file: file.into(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_case_str(file, &text)
}

/// [`parse_case`] on text already read; `file` locates relative paths and errors.
pub fn parse_case_str(file: &Path, text: &str) -> Result<Case, CaseError> {
    let parser = Parser {
        file,
        dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let documents = yaml::parse(text).map_err(|e| parser.error(e.mark, e.message))?;
    let Some(root) = documents.first() else {
        return Err(parser.error(Mark { line: 1, col: 1 }, "empty case file"));
    };
    parser.check_keys(
        root,
        &[
            "captures",
            "rules",
            "strict",
            "expect",
            "must_not_fire",
            "description",
        ],
        "a case file",
    )?;
    let captures = match root.get("captures") {
        Some(node) => parser
            .list(node, "captures")?
            .iter()
            .map(|n| parser.string(n, "a capture").map(|p| parser.dir.join(p)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let rules_node = root
        .get("rules")
        .ok_or_else(|| parser.error(root.mark(), "a case needs rules: [FILE, ...]"))?;
    let rules = parser
        .list(rules_node, "rules")?
        .iter()
        .map(|n| parser.rule_file(n))
        .collect::<Result<Vec<_>, _>>()?;
    if rules.is_empty() {
        return Err(parser.error(rules_node.mark(), "rules is empty"));
    }
    let strict = match root.get("strict") {
        Some(node) => parser.boolean(node, "strict")?,
        None => false,
    };
    let expect = match root.get("expect") {
        Some(node) => parser
            .list(node, "expect")?
            .iter()
            .map(|n| parser.expectation(n))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let must_not_fire = match root.get("must_not_fire") {
        Some(node) => parser
            .list(node, "must_not_fire")?
            .iter()
            .map(|n| Ok((parser.string(n, "a rule name")?.to_string(), n.mark().line)))
            .collect::<Result<Vec<_>, CaseError>>()?,
        None => Vec::new(),
    };
    if expect.is_empty() && must_not_fire.is_empty() {
        return Err(parser.error(root.mark(), "a case needs expect or must_not_fire entries"));
    }
    Ok(Case {
        file: file.to_path_buf(),
        captures,
        rules,
        strict,
        expect,
        must_not_fire,
    })
}

/// Case files under `paths`: a path is a case file itself, or a directory searched
/// (recursively, in name order) for `case.yaml` files.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found)?;
            } else if path.file_name().is_some_and(|n| n == CASE_FILE) {
                found.push(path);
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

/// One line of a case's diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    /// `file:line` of the expectation it checks.
    pub at: String,
    pub text: String,
}

#[derive(Debug)]
pub enum Outcome {
    /// Every check ran; the case passed when all of them did.
    Ran {
        checks: Vec<Check>,
        /// Rules that fired without being listed (they fail the case when it is strict).
        unlisted: BTreeMap<String, u64>,
        report: Box<ReplayReport>,
    },
    /// An optional rule file is absent.
    Skipped(String),
    /// The case could not run: bad case file, rules with errors, unreadable capture.
    Error(String),
}

#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        matches!(&self.outcome, Outcome::Ran { checks, .. } if checks.iter().all(|c| c.passed))
    }

    pub fn skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped(_))
    }
}

fn quote_matches(matches: &[(String, String)]) -> String {
    if matches.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = matches.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!(" with {}", parts.join(", "))
}

/// Compares the alerts of a replay with the case's expectations.
pub fn check_alerts(
    case: &Case,
    known_rules: &BTreeSet<String>,
    alerts: &[Alert],
) -> (Vec<Check>, BTreeMap<String, u64>) {
    let file = case.file.display();
    let mut checks = Vec::new();
    let mut fired: BTreeMap<String, u64> = BTreeMap::new();
    for alert in alerts {
        *fired.entry(alert.rule.clone()).or_default() += 1;
    }
    for expectation in &case.expect {
        let at = format!("{file}:{}", expectation.line);
        let rule = &expectation.rule;
        if !known_rules.contains(rule) {
            checks.push(Check {
                passed: false,
                at,
                text: format!("rule {rule:?}: no enabled rule of that name in the rule files"),
            });
            continue;
        }
        let of_rule: Vec<&Alert> = alerts.iter().filter(|a| &a.rule == rule).collect();
        let missing_fields: Vec<&str> = expectation
            .matches
            .iter()
            .filter(|(field, _)| of_rule.iter().any(|a| !a.output_fields.contains_key(field)))
            .map(|(field, _)| field.as_str())
            .collect();
        if !missing_fields.is_empty() {
            checks.push(Check {
                passed: false,
                at,
                text: format!(
                    "rule {rule:?}: {} not in the rule's output fields; match can only use fields the output shows",
                    missing_fields.join(", ")
                ),
            });
            continue;
        }
        let matching = of_rule
            .iter()
            .filter(|a| {
                expectation
                    .matches
                    .iter()
                    .all(|(field, value)| a.output_fields.get(field) == Some(value))
            })
            .count() as u64;
        let passed = match expectation.count {
            Count::Exactly(n) => matching == n,
            Count::AtLeast(n) => matching >= n,
        };
        let mut text = format!(
            "rule {rule:?}: expected {}{}, got {matching}",
            expectation.count,
            quote_matches(&expectation.matches)
        );
        if !passed && !expectation.matches.is_empty() && of_rule.len() as u64 > matching {
            // Show what the alerts that did not match had instead.
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            for alert in &of_rule {
                let shown: Vec<String> = expectation
                    .matches
                    .iter()
                    .map(|(f, _)| {
                        format!(
                            "{f}={:?}",
                            alert.output_fields.get(f).map_or("", String::as_str)
                        )
                    })
                    .collect();
                *seen.entry(shown.join(", ")).or_default() += 1;
            }
            let others: Vec<String> = seen.iter().map(|(k, n)| format!("{k} ({n})")).collect();
            text.push_str(&format!("; the rule's alerts had {}", others.join("; ")));
        }
        checks.push(Check { passed, at, text });
    }
    for (rule, line) in &case.must_not_fire {
        let n = fired.get(rule).copied().unwrap_or(0);
        let at = format!("{file}:{line}");
        let text = if !known_rules.contains(rule) {
            checks.push(Check {
                passed: false,
                at,
                text: format!(
                    "rule {rule:?} (must not fire): no enabled rule of that name in the rule files"
                ),
            });
            continue;
        } else if n == 0 {
            format!("rule {rule:?}: must not fire, did not")
        } else {
            let first = alerts
                .iter()
                .find(|a| &a.rule == rule)
                .map(Alert::to_text)
                .unwrap_or_default();
            format!("rule {rule:?}: must not fire, fired {n} times; first: {first}")
        };
        checks.push(Check {
            passed: n == 0,
            at,
            text,
        });
    }
    let listed: BTreeSet<&str> = case
        .expect
        .iter()
        .map(|e| e.rule.as_str())
        .chain(case.must_not_fire.iter().map(|(r, _)| r.as_str()))
        .collect();
    let unlisted: BTreeMap<String, u64> = fired
        .into_iter()
        .filter(|(rule, _)| !listed.contains(rule.as_str()))
        .collect();
    if case.strict {
        for (rule, n) in &unlisted {
            checks.push(Check {
                passed: false,
                at: format!("{file}"),
                text: format!(
                    "rule {rule:?}: fired {n} times but is not listed (the case is strict)"
                ),
            });
        }
    }
    (checks, unlisted)
}

/// Runs one case file: loads its rules, replays its captures, checks the alerts.
pub fn run_case(file: &Path, threads: usize) -> CaseResult {
    let started = Instant::now();
    let outcome = match parse_case(file) {
        Err(e) => Outcome::Error(e.to_string()),
        Ok(case) => run_parsed(&case, threads),
    };
    CaseResult {
        name: file.parent().unwrap_or(file).display().to_string(),
        outcome,
        elapsed: started.elapsed(),
    }
}

fn run_parsed(case: &Case, threads: usize) -> Outcome {
    for rule_file in &case.rules {
        if !rule_file.path.exists() {
            let message = format!("rule file {} is absent", rule_file.path.display());
            return if rule_file.optional {
                Outcome::Skipped(format!("{message} (optional)"))
            } else {
                Outcome::Error(message)
            };
        }
    }
    let paths: Vec<PathBuf> = case.rules.iter().map(|r| r.path.clone()).collect();
    let set = load_files(&paths);
    let errors: Vec<String> = set.errors().map(|d| d.to_string()).collect();
    if !errors.is_empty() {
        return Outcome::Error(format!(
            "the rule files have errors:\n{}",
            errors.join("\n")
        ));
    }
    let known: BTreeSet<String> = set
        .loaded_rules()
        .filter(|r| r.enabled)
        .map(|r| r.name.clone())
        .collect();
    let captures = if case.captures.is_empty() {
        let dir = case.file.parent().unwrap_or(Path::new("."));
        let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "case"))
                .collect(),
            Err(e) => return Outcome::Error(format!("{}: {e}", dir.display())),
        };
        found.sort();
        found
    } else {
        case.captures.clone()
    };
    if captures.is_empty() {
        return Outcome::Error(format!(
            "{}: no captures listed and no *.case file beside it",
            case.file.display()
        ));
    }
    let capture_set = match CaptureSet::open(&captures) {
        Ok(s) => s,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let mut alerts = Vec::new();
    let options = ReplayOptions {
        threads,
        ..ReplayOptions::default()
    };
    let report = replay(
        &capture_set,
        Arc::new(CompiledRules::new(set)),
        &options,
        |a| alerts.push(a.clone()),
        |_, _| {},
    );
    let (checks, unlisted) = check_alerts(case, &known, &alerts);
    Outcome::Ran {
        checks,
        unlisted,
        report: Box::new(report),
    }
}

/// JUnit XML for CI systems: one test suite, one test case per case file.
pub fn junit(results: &[CaseResult]) -> String {
    fn xml(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                // XML 1.0 cannot carry most control characters, even escaped.
                c if c.is_control() && c != '\n' && c != '\t' => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32))
                }
                c => out.push(c),
            }
        }
        out
    }
    let failures = results
        .iter()
        .filter(|r| !r.passed() && !r.skipped() && !matches!(r.outcome, Outcome::Error(_)))
        .count();
    let errors = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let total: f64 = results.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\">\n  <testsuite name=\"casefile test\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\">\n",
        results.len(),
        results.len()
    ));
    for result in results {
        out.push_str(&format!(
            "    <testcase classname=\"casefile.rules\" name=\"{}\" time=\"{:.3}\"",
            xml(&result.name),
            result.elapsed.as_secs_f64()
        ));
        match &result.outcome {
            Outcome::Ran { checks, .. } => {
                let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
                if failed.is_empty() {
                    out.push_str("/>\n");
                } else {
                    let body: Vec<String> = failed
                        .iter()
                        .map(|c| format!("{}: {}", c.at, c.text))
                        .collect();
                    out.push_str(&format!(
                        ">\n      <failure message=\"{} of {} checks failed\">{}</failure>\n    </testcase>\n",
                        failed.len(),
                        checks.len(),
                        xml(&body.join("\n"))
                    ));
                }
            }
            Outcome::Skipped(why) => out.push_str(&format!(
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml(why)
            )),
            Outcome::Error(why) => out.push_str(&format!(
                ">\n      <error message=\"the case could not run\">{}</error>\n    </testcase>\n",
                xml(why)
            )),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
