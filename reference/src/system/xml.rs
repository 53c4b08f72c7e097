//! A small XML element tree over quick-xml: what `artifactory.config.xml` needs (elements, text,
//! the root's namespace, `xsi:nil`), read with limits and no DTD, written with Artifactory's
//! four-space indentation.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::{Deserialize, Serialize};

/// One element: its local name, its text (elements with children have none) and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

/// Elements nested deeper than this are refused (no configuration needs a tenth of it).
const MAX_DEPTH: usize = 64;

impl Node {
    /// An element holding text.
    pub fn text(name: &str, text: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// An element holding children.
    pub fn parent(name: &str, children: Vec<Node>) -> Node {
        Node {
            name: name.into(),
            text: String::new(),
            children,
        }
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// A parsed document: the root element and the namespace it declared (`xmlns`).
#[derive(Debug)]
pub struct Document {
    pub root: Node,
    pub namespace: String,
}

fn local(name: &[u8]) -> String {
    let n = match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(n).into_owned()
}

/// The element's `xmlns`, once its attributes are known to be well formed. Other attributes
/// carry nothing the configuration holds (`xsi:nil="true"`, JAXB's null, reads as empty).
fn namespace_of(e: &BytesStart<'_>) -> Result<Option<String>, String> {
    let mut ns = None;
    for a in e.attributes() {
        let a = a.map_err(|e| format!("Malformed attribute: {e}"))?;
        let value = a
            .unescape_value()
            .map_err(|e| format!("Malformed attribute value: {e}"))?;
        if a.key.as_ref() == b"xmlns" {
            ns = Some(value.into_owned());
        }
    }
    Ok(ns)
}

/// Parses a whole document. Refuses a DOCTYPE (no entity can be declared, so none expands),
/// mixed content, unbalanced or unknown markup, and anything after the root element.
pub fn parse(bytes: &[u8]) -> Result<Document, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "The document is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut namespace = String::new();
    let at = |r: &quick_xml::Reader<&[u8]>| r.buffer_position();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("Malformed XML at byte {}: {e}", at(&reader)))?;
        match ev {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err("Content after the root element".into());
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("Elements nested deeper than {MAX_DEPTH} levels"));
                }
                let ns = namespace_of(&e)?;
                if stack.is_empty() {
                    namespace = ns.unwrap_or_default();
                }
                stack.push(Node::parent(&local(e.name().as_ref()), Vec::new()));
            }
            Event::Empty(e) => {
                let ns = namespace_of(&e)?;
                let node = Node::parent(&local(e.name().as_ref()), Vec::new());
                match stack.last_mut() {
                    Some(p) => add_child(p, node)?,
                    None => {
                        namespace = ns.unwrap_or_default();
                        root = Some(node);
                    }
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| format!("Malformed text at byte {}: {e}", at(&reader)))?;
                add_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c).into_owned();
                add_text(&mut stack, &s)?;
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("Unbalanced end tag")?;
                match stack.last_mut() {
                    Some(p) => add_child(p, node)?,
                    None => root = Some(node),
                }
            }
            Event::DocType(_) => return Err("DOCTYPE declarations are not allowed".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("The document ended before its elements were closed".into());
    }
    let root = root.ok_or("The document has no root element")?;
    Ok(Document { root, namespace })
}

fn add_text(stack: &mut [Node], s: &str) -> Result<(), String> {
    let top = stack.last_mut().ok_or("Text outside the root element")?;
    if !top.children.is_empty() {
        return Err(format!("Element '{}' mixes text and elements", top.name));
    }
    top.text.push_str(s);
    Ok(())
}

fn add_child(p: &mut Node, node: Node) -> Result<(), String> {
    if !p.text.is_empty() {
        return Err(format!("Element '{}' mixes text and elements", p.name));
    }
    p.children.push(node);
    Ok(())
}

/// Writes `root` as a document with an XML declaration; `attrs` go on the root element.
pub fn write(root: &Node, attrs: &[(&str, &str)]) -> String {
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 4);
    let ok = |r: std::io::Result<()>| r.expect("writing to memory cannot fail");
    ok(w.write_event(Event::Decl(BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        Some("yes"),
    ))));
    let mut start = BytesStart::new(root.name.as_str());
    for (k, v) in attrs {
        start.push_attribute((*k, *v));
    }
    ok(w.write_event(Event::Start(start)));
    for c in &root.children {
        node(&mut w, c);
    }
    ok(w.write_event(Event::End(BytesEnd::new(root.name.as_str()))));
    let mut out = String::from_utf8(w.into_inner()).expect("the writer wrote UTF-8");
    out.push('\n');
    out
}

fn node(w: &mut quick_xml::Writer<Vec<u8>>, n: &Node) {
    let ok = |r: std::io::Result<()>| r.expect("writing to memory cannot fail");
    if n.children.is_empty() && n.text.is_empty() {
        ok(w.write_event(Event::Empty(BytesStart::new(n.name.as_str()))));
        return;
    }
    ok(w.write_event(Event::Start(BytesStart::new(n.name.as_str()))));
    if n.children.is_empty() {
        ok(w.write_event(Event::Text(BytesText::new(&n.text))));
    } else {
        for c in &n.children {
            node(w, c);
        }
    }
    ok(w.write_event(Event::End(BytesEnd::new(n.name.as_str()))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_with_escaping() {
        let root = Node::parent(
            "config",
            vec![
                Node::text("urlBase", "http://h/a?x=1&y=<2>"),
                Node::parent("proxies", vec![]),
            ],
        );
        let text = write(&root, &[("xmlns", "urn:x")]);
        assert!(
            text.contains("<urlBase>http://h/a?x=1&amp;y=&lt;2&gt;</urlBase>"),
            "{text}"
        );
        assert!(text.contains("\n    <proxies/>\n"), "{text}");
        let doc = parse(text.as_bytes()).unwrap();
        assert_eq!(doc.root, root);
        assert_eq!(doc.namespace, "urn:x");
    }

    #[test]
    fn hostile_or_broken_documents_are_refused() {
        for bad in [
            "",
            "<config>",
            "<config><a></b></config>",
            "<config>text<a/></config>",
            "<config/><other/>",
            "<!DOCTYPE config [<!ENTITY x \"y\">]><config>&x;</config>",
            "<config>&unknown;</config>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} parsed");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
        assert!(parse(b"<config><x xsi:nil=\"true\"/></config>").is_ok());
    }
}
