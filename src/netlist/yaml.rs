//! A small ordered YAML tree built from saphyr-parser's events: maps keep their key order and
//! refuse duplicate keys, every node keeps its 1-based line, and scalars stay text until the
//! schema reader decides what they mean (netlists write DRAM addresses as `0x...`, booleans as
//! `true` or `False`, names that look like numbers).

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::error::NetlistError;

/// Deepest nesting of sequences and maps accepted. Netlists nest about six levels (a program's
/// execute instruction: programs, program, instruction, execute, queue_settings, queue); the
/// bound keeps every later recursive walk of the tree far from the stack's end.
pub const MAX_DEPTH: usize = 64;

/// One YAML node and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: u32,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A scalar as written. `plain` is false for quoted and block scalars, which are always
    /// strings (`"0x10"` is text, `0x10` a number).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in file order; keys are scalars (complex keys are refused while building).
    Map(Vec<(Key, Node)>),
}

/// A map key: its text and line.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub line: u32,
}

impl Node {
    /// Whether the node is YAML's null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        match &self.kind {
            Kind::Scalar { text, plain: true } => {
                matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    /// A short name of the node's kind, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Scalar { .. } if self.is_null() => "nothing (null)".to_string(),
            Kind::Scalar { text, .. } => {
                let mut shown: String = text.chars().take(40).collect();
                if shown.len() < text.len() {
                    shown.push_str("...");
                }
                format!("`{shown}`")
            }
            Kind::Seq(items) => format!("a list of {}", items.len()),
            Kind::Map(entries) => format!("a map of {} keys", entries.len()),
        }
    }
}

/// A container being filled while its events arrive.
enum Open {
    Seq {
        line: u32,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: u32,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        /// The key read, waiting for its value.
        key: Option<Key>,
        /// Every key so far, once the map outgrows a linear scan.
        seen: Keys,
    },
}

/// Maps with at most this many keys are checked for duplicates by scanning them: most netlist
/// maps are a queue's or an op's dozen attributes, where a scan beats any index.
const SCANNED_KEYS: usize = 16;

/// The keys of a large map, for the duplicate check. An ordered set rather than a hash map:
/// no dependency and no hasher to seed, and a file written to collide cannot make it slower
/// than log n per key (`queues:` of a large model holds tens of thousands of keys).
#[derive(Default)]
struct Keys(BTreeSet<String>);

impl Keys {
    /// Records `text` as the next key of `entries`' map (the keys before it); false when it was
    /// already there.
    fn insert(&mut self, entries: &[(Key, Node)], text: &str) -> bool {
        if entries.len() < SCANNED_KEYS {
            return !entries.iter().any(|(k, _)| k.text == text);
        }
        if self.0.is_empty() {
            self.0.extend(entries.iter().map(|(k, _)| k.text.clone()));
        }
        self.0.insert(text.to_string())
    }
}

/// Builds the tree of the first document of `text`. An empty stream (nothing but comments)
/// gives `None`. YAML aliases are expanded; `node_budget` bounds the nodes they may create so a
/// chain of aliases cannot blow up memory.
pub fn parse_tree(text: &str, file: &str) -> Result<Option<Node>, NetlistError> {
    match build(text, file) {
        // yaml-cpp, which reads netlists upstream, accepts flow collections continued on lines
        // indented no deeper than their key (`execute: {graph_name: g, queue_settings: {` then
        // `q0: {...}` under `execute`); YAML requires more indentation. Such files are read again
        // with those continuation lines indented, which changes no value and no line number.
        Err(e) if e.message.contains("invalid indentation in flow construct") => {
            match indent_flow_continuations(text) {
                Some(fixed) => build(&fixed, file),
                None => Err(e),
            }
        }
        other => other,
    }
}

/// The text with every line that starts inside a flow collection (`[...]`, `{...}`) indented by
/// one more than the column of the bracket that opened it; `None` when no line needs it.
fn indent_flow_continuations(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut depth = 0usize;
    // Beyond the column of the outermost opening bracket is always deeper than the key that
    // owns the collection.
    let mut opener_column = 0usize;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        if depth > 0 {
            for _ in 0..=opener_column {
                out.push(' ');
            }
            changed = true;
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        // The last character that is not a space tells a quote that opens a scalar from an
        // apostrophe inside a plain one; a `#` starts a comment only after a space.
        let mut last = ' ';
        let mut after_space = true;
        let mut at_start = true;
        for (col, ch) in line.chars().enumerate() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if q == '"' && ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
                continue;
            }
            match ch {
                '#' if after_space => break,
                '"' | '\'' if at_start || matches!(last, '[' | '{' | ',' | ':' | '-' | '?') => {
                    quote = Some(ch);
                }
                '[' | '{' => {
                    if depth == 0 {
                        opener_column = col;
                    }
                    depth += 1;
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            after_space = ch == ' ' || ch == '\t';
            if !after_space {
                at_start = false;
                last = ch;
            }
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

fn build(text: &str, file: &str) -> Result<Option<Node>, NetlistError> {
    let err = |line: u32, message: String| NetlistError {
        file: file.to_string(),
        line: Some(line),
        path: String::new(),
        message,
    };
    // Every node of the input costs at least one byte of text; aliases may copy nodes, but not
    // beyond a small multiple of the input.
    let mut node_budget = text.len().saturating_mul(4).saturating_add(1024);
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let line = u32::try_from(e.marker().line()).unwrap_or(u32::MAX);
                return Err(err(line, format!("YAML syntax error: {}", e.info())));
            }
        };
        let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(err(
                        line,
                        "a netlist is one YAML document, found a second one".to_string(),
                    ));
                }
                None
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                Some((
                    Node {
                        line,
                        kind: Kind::Scalar {
                            text: value.into_owned(),
                            plain,
                        },
                    },
                    anchor,
                ))
            }
            Event::Alias(id) => {
                let Some((_, target)) = anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(err(line, "YAML alias to an unknown anchor".to_string()));
                };
                let cost = count_nodes(target);
                if cost > node_budget {
                    return Err(err(
                        line,
                        "YAML aliases expand to more nodes than the netlist could hold".to_string(),
                    ));
                }
                node_budget -= cost;
                let mut copy = target.clone();
                copy.line = line;
                Some((copy, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        line,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                if matches!(stack.last(), Some(Open::Map { key: None, .. })) {
                    return Err(err(
                        line,
                        "a map key must be a plain value, found a list or map".to_string(),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq {
                        line,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Open::Map {
                        line,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: Keys::default(),
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq {
                    line,
                    anchor,
                    items,
                }) => Some((
                    Node {
                        line,
                        kind: Kind::Seq(items),
                    },
                    anchor,
                )),
                Some(Open::Map {
                    line,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        line,
                        kind: Kind::Map(entries),
                    },
                    anchor,
                )),
                None => None,
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        node_budget = node_budget.saturating_sub(1);
        if anchor != 0 {
            anchors.push((anchor, node.clone()));
        }
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => {
                    let Kind::Scalar { text, .. } = node.kind else {
                        return Err(err(
                            node.line,
                            "a map key must be a plain value".to_string(),
                        ));
                    };
                    if !seen.insert(entries, &text) {
                        return Err(err(node.line, format!("duplicate key `{text}`")));
                    }
                    *key = Some(Key {
                        text,
                        line: node.line,
                    });
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root.filter(|n| !n.is_null()))
}

/// Nodes in the tree under `node`, itself included (iterative: trees may be deep).
fn count_nodes(node: &Node) -> usize {
    let mut count = 0usize;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => todo.extend(items.iter()),
            Kind::Map(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
        }
    }
    count
}
