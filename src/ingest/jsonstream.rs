//! Streams the elements of a JSON array without reading the whole document: Polisen's event
//! array, or the `features` array of a GeoJSON FeatureCollection. Each element comes out as its
//! own bytes with the line it starts on, to be parsed alone: one bad element is one skipped
//! record, and a truncated file yields every complete element before the cut.

use std::io::{BufRead, ErrorKind};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StreamError {
    #[error("line {line}: the file ends inside the record that starts here (truncated?)")]
    Truncated { line: u64 },
    #[error("line {line}: {message}")]
    Syntax { line: u64, message: String },
    #[error("line {line}: the record that starts here is longer than {limit} bytes")]
    TooLarge { line: u64, limit: usize },
    #[error("{0}")]
    Io(String),
}

/// Elements nested deeper than this are refused (and end the file): no real event or feature
/// comes close, and `[[[[…` must not cost more than reading it.
pub const MAX_DEPTH: usize = 64;

pub struct ArrayElements<R> {
    rdr: R,
    line: u64,
    done: bool,
    first: bool,
    /// Longest element kept; longer ones are read past and reported as [`StreamError::TooLarge`].
    limit: usize,
    overflow: bool,
    /// Top-level members captured before the array (e.g. a GeoJSON `crs`).
    pub captured: Vec<(String, Vec<u8>)>,
}

impl<R: BufRead> ArrayElements<R> {
    /// The document is an array.
    pub fn top_level(rdr: R) -> Result<Self, StreamError> {
        let mut s = Self::new(rdr);
        s.skip_ws()?;
        match s.next_byte()? {
            Some(b'[') => Ok(s),
            Some(c) => Err(s.syntax(format!("expected a JSON array, found {:?}", c as char))),
            None => Err(StreamError::Syntax {
                line: 1,
                message: "the file is empty".into(),
            }),
        }
    }

    /// The document is an object; the elements of its member `key` are streamed. Members listed
    /// in `capture` that come before it are kept in [`Self::captured`].
    pub fn member(rdr: R, key: &str, capture: &[&str]) -> Result<Self, StreamError> {
        let mut s = Self::new(rdr);
        s.skip_ws()?;
        match s.next_byte()? {
            Some(b'{') => {}
            Some(c) => {
                return Err(s.syntax(format!("expected a JSON object, found {:?}", c as char)));
            }
            None => {
                return Err(StreamError::Syntax {
                    line: 1,
                    message: "the file is empty".into(),
                });
            }
        }
        // Members before the array are read past, and kept only when asked for and small.
        s.limit = 1 << 20;
        loop {
            s.skip_ws()?;
            match s.next_byte()? {
                Some(b'"') => {}
                Some(b'}') => {
                    return Err(s.syntax(format!("the object has no member {key:?}")));
                }
                Some(c) => {
                    return Err(s.syntax(format!("expected a member name, found {:?}", c as char)));
                }
                None => return Err(StreamError::Truncated { line: s.line }),
            }
            let mut name = Vec::new();
            s.read_string_body(&mut name)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            s.skip_ws()?;
            if s.next_byte()? != Some(b':') {
                return Err(s.syntax(format!("expected ':' after {name:?}")));
            }
            s.skip_ws()?;
            if name == key {
                match s.next_byte()? {
                    Some(b'[') => {
                        s.limit = usize::MAX;
                        return Ok(s);
                    }
                    _ => return Err(s.syntax(format!("member {key:?} is not an array"))),
                }
            }
            let mut value = Vec::new();
            s.overflow = false;
            s.read_value(&mut value)?;
            if capture.contains(&name.as_str()) && !s.overflow {
                s.captured.push((name, value));
            }
            s.skip_ws()?;
            match s.next_byte()? {
                Some(b',') => continue,
                Some(b'}') => return Err(s.syntax(format!("the object has no member {key:?}"))),
                _ => return Err(StreamError::Truncated { line: s.line }),
            }
        }
    }

    fn new(rdr: R) -> Self {
        Self {
            rdr,
            line: 1,
            done: false,
            first: true,
            limit: usize::MAX,
            overflow: false,
            captured: Vec::new(),
        }
    }

    /// Elements longer than `bytes` are skipped (each reported once) instead of held in memory.
    pub fn with_limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    fn put(&mut self, out: &mut Vec<u8>, c: u8) {
        if out.len() < self.limit {
            out.push(c);
        } else {
            self.overflow = true;
        }
    }

    fn syntax(&self, message: String) -> StreamError {
        StreamError::Syntax {
            line: self.line,
            message,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, StreamError> {
        loop {
            match self.rdr.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Io(e.to_string())),
            }
        }
    }

    fn next_byte(&mut self) -> Result<Option<u8>, StreamError> {
        let b = self.peek()?;
        if let Some(c) = b {
            self.rdr.consume(1);
            if c == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<(), StreamError> {
        while let Some(c) = self.peek()? {
            if c.is_ascii_whitespace() {
                self.next_byte()?;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// After an opening quote: copies the string up to and including the closing quote.
    fn read_string_body(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        loop {
            match self.next_byte()? {
                None => return Err(StreamError::Truncated { line: self.line }),
                Some(b'"') => return Ok(()),
                Some(b'\\') => {
                    self.put(out, b'\\');
                    match self.next_byte()? {
                        Some(c) => self.put(out, c),
                        None => return Err(StreamError::Truncated { line: self.line }),
                    }
                }
                Some(c) => self.put(out, c),
            }
        }
    }

    /// Copies one complete JSON value.
    fn read_value(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let mut depth = 0usize;
        loop {
            let Some(c) = self.peek()? else {
                if depth == 0 && !out.is_empty() {
                    return Ok(());
                }
                return Err(StreamError::Truncated { line: self.line });
            };
            match c {
                b'"' => {
                    self.next_byte()?;
                    self.put(out, b'"');
                    self.read_string_body(out)?;
                    self.put(out, b'"');
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'{' | b'[' => {
                    self.next_byte()?;
                    self.put(out, c);
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(self.syntax(format!("nested deeper than {MAX_DEPTH} levels")));
                    }
                }
                b'}' | b']' => {
                    if depth == 0 {
                        // End of the enclosing container: a scalar value ended.
                        return if out.is_empty() {
                            Err(self.syntax(format!("unexpected {:?}", c as char)))
                        } else {
                            Ok(())
                        };
                    }
                    self.next_byte()?;
                    self.put(out, c);
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b',' if depth == 0 => {
                    return if out.is_empty() {
                        Err(self.syntax("unexpected ','".into()))
                    } else {
                        Ok(())
                    };
                }
                c if depth == 0 && c.is_ascii_whitespace() && !out.is_empty() => return Ok(()),
                _ => {
                    self.next_byte()?;
                    self.put(out, c);
                }
            }
        }
    }

    /// The next element: the line it starts on and its bytes.
    pub fn next_element(&mut self) -> Option<Result<(u64, Vec<u8>), StreamError>> {
        if self.done {
            return None;
        }
        let r = self.step();
        if !matches!(r, Some(Ok(_)) | Some(Err(StreamError::TooLarge { .. }))) {
            self.done = true;
        }
        r
    }

    fn step(&mut self) -> Option<Result<(u64, Vec<u8>), StreamError>> {
        let res = (|| {
            self.skip_ws()?;
            if !self.first {
                match self.next_byte()? {
                    Some(b',') => self.skip_ws()?,
                    Some(b']') => return Ok(None),
                    Some(c) => {
                        return Err(self.syntax(format!(
                            "expected ',' or ']' between array elements, found {:?}",
                            c as char
                        )));
                    }
                    None => return Err(StreamError::Truncated { line: self.line }),
                }
            } else if self.peek()? == Some(b']') {
                self.next_byte()?;
                return Ok(None);
            }
            self.first = false;
            let line = self.line;
            let mut out = Vec::new();
            self.overflow = false;
            match self.read_value(&mut out) {
                Err(StreamError::Truncated { .. }) => Err(StreamError::Truncated { line }),
                Ok(()) if self.overflow => Err(StreamError::TooLarge {
                    line,
                    limit: self.limit,
                }),
                other => other.map(|()| Some((line, out))),
            }
        })();
        res.transpose()
    }
}

impl<R: BufRead> Iterator for ArrayElements<R> {
    type Item = Result<(u64, Vec<u8>), StreamError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_element()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(doc: &str) -> Vec<Result<(u64, String), StreamError>> {
        ArrayElements::top_level(doc.as_bytes())
            .unwrap()
            .map(|r| r.map(|(l, b)| (l, String::from_utf8(b).unwrap())))
            .collect()
    }

    #[test]
    fn splits_elements_with_their_lines() {
        let doc = "[\n {\"a\": \"x]\\\"}\"},\n 2,\n [1,[2]], \"s\"\n]";
        assert_eq!(
            elements(doc),
            vec![
                Ok((2, "{\"a\": \"x]\\\"}\"}".to_string())),
                Ok((3, "2".to_string())),
                Ok((4, "[1,[2]]".to_string())),
                Ok((4, "\"s\"".to_string())),
            ]
        );
    }

    #[test]
    fn truncation_yields_complete_elements_then_an_error() {
        let doc = "[{\"id\":1},\n{\"id\":2},\n{\"id\":";
        let got = elements(doc);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Ok((1, "{\"id\":1}".into())));
        assert_eq!(got[1], Ok((2, "{\"id\":2}".into())));
        assert!(matches!(got[2], Err(StreamError::Truncated { line: 3 })));
    }

    #[test]
    fn finds_the_features_member() {
        let doc = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:3006"}},
"features":[{"type":"Feature"},{"type":"Feature","x":[1,2]}]}"#;
        let s = ArrayElements::member(doc.as_bytes(), "features", &["crs"]).unwrap();
        assert_eq!(s.captured.len(), 1);
        assert_eq!(s.captured[0].0, "crs");
        let els: Vec<_> = s.map(|r| r.unwrap().1).collect();
        assert_eq!(els.len(), 2);
        assert_eq!(els[1], br#"{"type":"Feature","x":[1,2]}"#.to_vec());
    }

    #[test]
    fn oversized_elements_are_skipped_and_deep_nesting_refused() {
        let doc = "[{\"a\": \"short\"},\n{\"a\": \"a much longer string\"},\n3]";
        let got: Vec<_> = ArrayElements::top_level(doc.as_bytes())
            .unwrap()
            .with_limit(14)
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], Ok((1, b"{\"a\": \"short\"}".to_vec())));
        assert_eq!(got[1], Err(StreamError::TooLarge { line: 2, limit: 14 }));
        assert_eq!(got[2], Ok((3, b"3".to_vec())));
        let deep = "[".repeat(100_000);
        let got: Vec<_> = ArrayElements::top_level(deep.as_bytes()).unwrap().collect();
        assert_eq!(got.len(), 1);
        assert!(
            matches!(&got[0], Err(StreamError::Syntax { message, .. }) if message.contains("deeper")),
            "{got:?}"
        );
    }

    #[test]
    fn empty_array_and_empty_file() {
        assert!(elements("[ ]").is_empty());
        assert!(ArrayElements::top_level("".as_bytes()).is_err());
    }
}
