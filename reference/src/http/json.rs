//! JSON the way Artifactory's Jackson writes it: pretty printed with `" : "`, two-space indents, arrays
//! inline (`[ "a", "b" ]`, `[ ]`), empty objects as `{ }`.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A serde_json formatter reproducing Jackson's `DefaultPrettyPrinter`.
#[derive(Default)]
pub struct Jackson {
    nesting: usize,
    has_value: Vec<bool>,
}

impl Jackson {
    fn indent<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.nesting {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for Jackson {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.has_value.push(false);
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.has_value.pop();
        w.write_all(b" ]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if let Some(h) = self.has_value.last_mut() {
            *h = true;
        }
        w.write_all(if first { b" " } else { b", " })
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.nesting += 1;
        self.has_value.push(false);
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.nesting -= 1;
        if self.has_value.pop().unwrap_or(false) {
            self.indent(w)?;
        } else {
            w.write_all(b" ")?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if let Some(h) = self.has_value.last_mut() {
            *h = true;
        }
        if !first {
            w.write_all(b",")?;
        }
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b" : ")
    }
}

/// Serialises `v` in Jackson's pretty style.
pub fn pretty<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Jackson::default());
    v.serialize(&mut ser)
        .expect("serialising to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_shape_matches_the_document() {
        let v = json!({"errors": [{"status": 404, "message": "File not found."}]});
        assert_eq!(
            pretty(&v),
            "{\n  \"errors\" : [ {\n    \"status\" : 404,\n    \"message\" : \"File not found.\"\n  } ]\n}"
        );
    }

    #[test]
    fn arrays_inline_and_empty_containers() {
        let v = json!({"a": ["x", "y"], "b": [], "c": {}, "d": {"e": 1}});
        assert_eq!(
            pretty(&v),
            "{\n  \"a\" : [ \"x\", \"y\" ],\n  \"b\" : [ ],\n  \"c\" : { },\n  \"d\" : {\n    \"e\" : 1\n  }\n}"
        );
        assert_eq!(pretty(&json!([])), "[ ]");
    }
}
