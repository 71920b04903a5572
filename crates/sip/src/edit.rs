//! Rewriting a received message: change the start line, add, remove or replace header
//! lines, or swap the body, while every other line is copied byte for byte (folding,
//! compact names, odd spacing and unknown headers included). This is what a B2BUA or a
//! proxy does to a message it relays.

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::Message;
use bytes::Bytes;
use std::fmt::Display;

#[derive(Debug, Clone)]
enum Target {
    Known(HeaderName),
    Ext(String),
}

impl Target {
    fn matches(&self, id: HeaderName, name: &[u8]) -> bool {
        match self {
            Target::Known(h) => *h == id,
            Target::Ext(n) => id == HeaderName::Other && name.eq_ignore_ascii_case(n.as_bytes()),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    RemoveAll(Target),
    ReplaceFirst(Target, String),
}

/// Collects edits to a message; [`Editor::finish`] writes the new one.
#[derive(Debug)]
pub struct Editor<'m> {
    msg: &'m Message,
    start_line: Option<String>,
    top: Vec<(String, String)>,
    bottom: Vec<(String, String)>,
    ops: Vec<Op>,
    body: Option<(Option<String>, Bytes)>,
}

impl Message {
    /// Starts editing a copy of this message.
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            msg: self,
            start_line: None,
            top: Vec::new(),
            bottom: Vec::new(),
            ops: Vec::new(),
            body: None,
        }
    }
}

impl<'m> Editor<'m> {
    /// Replaces the Request-URI (requests only; ignored on responses).
    pub fn set_request_uri(mut self, uri: impl Display) -> Self {
        if let Some(m) = self.msg.method() {
            self.start_line = Some(format!("{m} {uri} SIP/2.0"));
        }
        self
    }

    /// Replaces the whole start line.
    pub fn set_start_line(mut self, line: impl Into<String>) -> Self {
        self.start_line = Some(line.into());
        self
    }

    /// Adds a header line above all others (a proxy's Via).
    pub fn insert_top(mut self, name: HeaderName, value: impl Display) -> Self {
        self.top.push((name.as_str().to_owned(), value.to_string()));
        self
    }

    /// Adds a header line after all others.
    pub fn append(mut self, name: &str, value: impl Display) -> Self {
        self.bottom.push((name.to_owned(), value.to_string()));
        self
    }

    /// Removes every line of a known header.
    pub fn remove(mut self, name: HeaderName) -> Self {
        self.ops.push(Op::RemoveAll(Target::Known(name)));
        self
    }

    /// Removes every line of an extension header.
    pub fn remove_ext(mut self, name: &str) -> Self {
        self.ops.push(Op::RemoveAll(Target::Ext(name.to_owned())));
        self
    }

    /// Replaces the value of the first line of `name`, keeping its position and the name
    /// as written; appends the header when absent.
    pub fn replace(mut self, name: HeaderName, value: impl Display) -> Self {
        self.ops
            .push(Op::ReplaceFirst(Target::Known(name), value.to_string()));
        self
    }

    /// Replaces the first line of an extension header, or appends it.
    pub fn replace_ext(mut self, name: &str, value: impl Display) -> Self {
        self.ops.push(Op::ReplaceFirst(
            Target::Ext(name.to_owned()),
            value.to_string(),
        ));
        self
    }

    /// Replaces the body (Content-Type too when given); Content-Length follows.
    pub fn set_body(mut self, content_type: Option<&str>, body: Bytes) -> Self {
        self.body = Some((content_type.map(str::to_owned), body));
        self
    }

    /// Writes the edited message and parses it.
    pub fn finish(self) -> Result<Message, ParseError> {
        let m = self.msg;
        let buf = m.buffer();
        let mut out: Vec<u8> = Vec::with_capacity(m.as_bytes().len() + 128);
        match &self.start_line {
            Some(l) => out.extend_from_slice(l.as_bytes()),
            None => out.extend_from_slice(&buf[m.start_line_span().range()]),
        }
        out.extend_from_slice(b"\r\n");
        let line = |out: &mut Vec<u8>, n: &[u8], v: &[u8]| {
            out.extend_from_slice(n);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        };
        for (n, v) in &self.top {
            line(&mut out, n.as_bytes(), v.as_bytes());
        }
        let (new_ct, new_body) = match self.body {
            Some((ct, b)) => (ct, Some(b)),
            None => (None, None),
        };
        let mut done = vec![false; self.ops.len()];
        let mut wrote_cl = false;
        let mut wrote_ct = false;
        for f in m.fields() {
            let name = &buf[f.name.range()];
            if new_body.is_some() && f.id == HeaderName::ContentLength {
                if !wrote_cl {
                    let len = new_body.as_ref().map_or(0, |b| b.len()).to_string();
                    line(&mut out, name, len.as_bytes());
                    wrote_cl = true;
                }
                continue;
            }
            if new_ct.is_some() && f.id == HeaderName::ContentType {
                if !wrote_ct {
                    line(&mut out, name, new_ct.as_deref().unwrap_or("").as_bytes());
                    wrote_ct = true;
                }
                continue;
            }
            let mut action: Option<Option<&str>> = None; // Some(None) = drop, Some(Some(v)) = replace
            for (i, op) in self.ops.iter().enumerate() {
                match op {
                    Op::RemoveAll(t) if t.matches(f.id, name) => action = Some(None),
                    Op::ReplaceFirst(t, v) if !done[i] && t.matches(f.id, name) => {
                        done[i] = true;
                        action = Some(Some(v.as_str()));
                    }
                    _ => {}
                }
            }
            match action {
                Some(None) => {}
                Some(Some(v)) => line(&mut out, name, v.as_bytes()),
                None => {
                    out.extend_from_slice(&buf[f.name.start as usize..f.line_end as usize]);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        for (i, op) in self.ops.iter().enumerate() {
            if let (Op::ReplaceFirst(t, v), false) = (op, done[i]) {
                let n = match t {
                    Target::Known(h) => h.as_str(),
                    Target::Ext(n) => n.as_str(),
                };
                line(&mut out, n.as_bytes(), v.as_bytes());
            }
        }
        for (n, v) in &self.bottom {
            line(&mut out, n.as_bytes(), v.as_bytes());
        }
        if let (Some(ct), false) = (&new_ct, wrote_ct) {
            line(&mut out, b"Content-Type", ct.as_bytes());
        }
        let body = match new_body {
            Some(b) => {
                if !wrote_cl {
                    line(&mut out, b"Content-Length", b.len().to_string().as_bytes());
                }
                b
            }
            None => {
                if !m.has(HeaderName::ContentLength) {
                    line(
                        &mut out,
                        b"Content-Length",
                        m.body().len().to_string().as_bytes(),
                    );
                }
                m.body_bytes()
            }
        };
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        Message::parse(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "INVITE sip:a@b SIP/2.0\r\n\
v:  SIP/2.0/UDP h1;branch=z9hG4bK1\r\n\
X-Odd :  keep   me\r\n continued\r\n\
f: <sip:x@y>;tag=1\r\n\
t: <sip:a@b>\r\n\
i: c1\r\n\
CSeq: 1 INVITE\r\n\
l: 3\r\n\
\r\n\
abc";

    #[test]
    fn untouched_lines_stay_byte_for_byte() {
        let m = Message::parse(Bytes::from_static(MSG.as_bytes())).unwrap();
        let e = m
            .edit()
            .insert_top(HeaderName::Via, "SIP/2.0/UDP proxy;branch=z9hG4bK2")
            .set_request_uri("sip:a@10.0.0.1")
            .finish()
            .unwrap();
        let s = String::from_utf8(e.as_bytes().to_vec()).unwrap();
        assert!(s.starts_with("INVITE sip:a@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bK2\r\nv:  SIP/2.0/UDP h1"));
        assert!(s.contains("X-Odd :  keep   me\r\n continued\r\n"));
        assert_eq!(e.top_via().unwrap().host.to_string(), "proxy");
        assert_eq!(e.body(), b"abc");
    }

    #[test]
    fn replace_remove_and_body() {
        let m = Message::parse(Bytes::from_static(MSG.as_bytes())).unwrap();
        let e = m
            .edit()
            .replace(HeaderName::To, "<sip:a@b>;tag=9")
            .remove_ext("x-odd")
            .set_body(Some("application/sdp"), Bytes::from_static(b"v=0\r\n"))
            .finish()
            .unwrap();
        assert_eq!(e.to_header().unwrap().tag(), Some("9"));
        assert!(e.get_ext("X-Odd").next().is_none());
        assert_eq!(e.body(), b"v=0\r\n");
        assert_eq!(e.get(HeaderName::ContentLength), Some("5"));
        assert_eq!(e.get(HeaderName::ContentType), Some("application/sdp"));
        let s = String::from_utf8(e.as_bytes().to_vec()).unwrap();
        assert!(s.contains("\r\nt: <sip:a@b>;tag=9\r\n"), "{s}");
    }
}
