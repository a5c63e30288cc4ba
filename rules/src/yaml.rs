//! A YAML document as a tree of nodes that remember where they are in the file, built
//! from yaml-rust2's event parser (its own document type drops positions). Rule-file
//! errors point at these positions.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: u32,
    /// 1-based.
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Scalar {
        text: String,
        /// A block scalar (`>`, `|`): its mark is its first content line.
        block: bool,
        mark: Mark,
    },
    Seq {
        items: Vec<Node>,
        mark: Mark,
    },
    Map {
        entries: Vec<(Node, Node)>,
        mark: Mark,
    },
}

impl Node {
    pub fn mark(&self) -> Mark {
        match self {
            Node::Scalar { mark, .. } | Node::Seq { mark, .. } | Node::Map { mark, .. } => *mark,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a mapping",
        }
    }
}

#[derive(Debug)]
pub struct YamlError {
    pub mark: Mark,
    pub message: String,
}

fn mark(m: &Marker) -> Mark {
    Mark {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Node>,
    /// Pending keys of the mappings on the stack.
    keys: Vec<Option<Node>>,
    documents: Vec<Node>,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Node::Seq { items, .. }) => items.push(node),
            Some(Node::Map { entries, .. }) => {
                let slot = self.keys.last_mut().expect("a key slot per mapping");
                match slot.take() {
                    None => *slot = Some(node),
                    Some(key) => entries.push((key, node)),
                }
            }
            _ => self.documents.push(node),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, m: Marker) {
        match event {
            Event::Scalar(text, style, _, _) => self.push_value(Node::Scalar {
                text,
                block: matches!(style, TScalarStyle::Folded | TScalarStyle::Literal),
                mark: mark(&m),
            }),
            Event::SequenceStart(..) => self.stack.push(Node::Seq {
                items: Vec::new(),
                mark: mark(&m),
            }),
            Event::MappingStart(..) => {
                self.stack.push(Node::Map {
                    entries: Vec::new(),
                    mark: mark(&m),
                });
                self.keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(node) = self.stack.pop() {
                    if matches!(node, Node::Map { .. }) {
                        self.keys.pop();
                    }
                    self.push_value(node);
                }
            }
            _ => {}
        }
    }
}

/// Every document of a YAML text.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        mark: mark(e.marker()),
        message: e.info().to_string(),
    })?;
    Ok(builder.documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_positions() {
        let text =
            "- list: shells\n  items: [ash, bash]\n\n- rule: x\n  condition: >\n    a and\n    b\n";
        let docs = parse(text).unwrap();
        let Node::Seq { items, .. } = &docs[0] else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let list = &items[0];
        assert_eq!(list.get("list").unwrap().as_str(), Some("shells"));
        let Node::Seq { items: shells, .. } = list.get("items").unwrap() else {
            panic!()
        };
        assert_eq!(shells[1].as_str(), Some("bash"));
        assert_eq!(shells[1].mark(), Mark { line: 2, col: 16 });
        let condition = items[1].get("condition").unwrap();
        let Node::Scalar { text, block, mark } = condition else {
            panic!()
        };
        assert_eq!(text, "a and b\n");
        assert!(block);
        assert_eq!(
            mark.line, 6,
            "a block scalar's mark is its first content line"
        );
        assert_eq!(items[1].mark().line, 4);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("- rule: x\n  condition: [a\n- b").unwrap_err();
        assert!(err.mark.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }
}
