//! Reading text files safely: what every text importer (CSV, Polisen JSON, GeoJSON) reads
//! through before it parses a byte.
//!
//! - **Binary input** is refused: a NUL byte in the first block means the file is not text (or is
//!   UTF-16 without a byte order mark), and the whole file fails.
//! - **Encodings**: UTF-8 (with or without a BOM) by default, checked strictly as it streams: the
//!   first invalid byte fails the file with its line and a guess at the real encoding ("it looks
//!   like Windows-1252: try --encoding windows-1252"). UTF-16 with a BOM (LE or BE) is decoded
//!   without being asked. `--encoding LABEL` (any WHATWG label: `windows-1252`, `latin1`,
//!   `iso-8859-15`, `utf-16le`, …) decodes the file as that encoding, streaming.
//! - **Memory**: a physical line longer than [`MAX_LINE_BYTES`] fails the file with its line
//!   number (optional: minified JSON is one line), and a CSV record longer than
//!   [`MAX_RECORD_BYTES`] (a stray quote turns the rest of a file into one record) too, so no
//!   file makes the importer hold more than about a megabyte of one record.
//!
//! Errors from these layers travel through `std::io::Read` as [`TextError`] inside an
//! `io::Error`; [`text_error`] finds them again so importers can fail the file with the message.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use encoding_rs::Encoding;

/// The longest physical line a line-oriented (CSV) file may have.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The longest CSV record (which may span lines inside quotes).
pub const MAX_RECORD_BYTES: u64 = 1 << 20;
/// How much of the file is looked at for NUL bytes and byte order marks.
pub const SNIFF_BYTES: usize = 64 * 1024;
/// Bytes the parsers above this reader may have buffered beyond the record they are reading.
const READ_AHEAD_SLACK: u64 = 256 * 1024;

/// Why a file cannot be read as text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error(
        "not a text file: NUL byte at byte {offset} (a binary file, or UTF-16 without a byte order mark: then give --encoding utf-16le or utf-16be)"
    )]
    Binary { offset: u64 },
    #[error("line {line}: the file is not UTF-8 (byte {bytes} at byte offset {offset}); {hint}")]
    NotUtf8 {
        line: u64,
        offset: u64,
        bytes: String,
        hint: String,
    },
    #[error(
        "line {line} is longer than {limit} bytes (a binary file, or lines that end in CR only?)"
    )]
    LineTooLong { line: u64, limit: usize },
    #[error(
        "the record that starts on line {line} is longer than {limit} bytes (an unclosed quote?)"
    )]
    RecordTooLong { line: u64, limit: u64 },
    #[error("lines end in CR only (an old Mac export): save the file with LF or CRLF line ends")]
    CrOnly,
}

impl From<TextError> for io::Error {
    fn from(e: TextError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The [`TextError`] inside an I/O error, if it is one of ours.
pub fn text_error(e: &io::Error) -> Option<&TextError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TextError>())
}

/// Parses an `--encoding` label (WHATWG names: `windows-1252`, `latin1`, `utf-16le`, …).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        format!(
            "unknown encoding {:?}: use e.g. utf-8, windows-1252, iso-8859-1, iso-8859-15, utf-16le, utf-16be",
            super::truncate(label, 40)
        )
    })
}

/// How a text stream is opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// `--encoding`; `None`: UTF-8 unless a UTF-16 byte order mark says otherwise.
    pub encoding: Option<&'static Encoding>,
    /// Refuse physical lines longer than [`MAX_LINE_BYTES`] (CSV; not for JSON).
    pub line_limit: bool,
}

/// Where a CSV parser is: the byte offset (in the decoded text) and line of the record it reads
/// now. The parser moves it after every record; the reader refuses to run far past it. The
/// reader also notes where each line ends, so that the parser can tell the physical line of any
/// byte offset it reports (csv's own count skips blank lines).
#[derive(Debug, Default)]
pub struct RecordMark {
    byte: AtomicU64,
    line: AtomicU64,
    /// Offsets of the `\n` bytes read but not yet passed by [`RecordMark::line_at`].
    newlines: Mutex<VecDeque<u64>>,
    /// Lines ended before the first offset in `newlines`, and where the last of them ended.
    passed: AtomicU64,
    last_newline: AtomicU64,
}

impl RecordMark {
    pub fn set(&self, byte: u64, line: u64) {
        self.byte.store(byte, Ordering::Relaxed);
        self.line.store(line, Ordering::Relaxed);
    }

    /// The 1-based physical line of the last byte before offset `end` (a record that ends at
    /// `end` ends on this line, its terminating `\n` included); offsets must not go backwards.
    pub fn last_line_before(&self, end: u64) -> u64 {
        let mut q = self.newlines.lock().unwrap_or_else(|p| p.into_inner());
        let mut passed = self.passed.load(Ordering::Relaxed);
        let mut last = self.last_newline.load(Ordering::Relaxed);
        while let Some(&at) = q.front() {
            if at >= end {
                break;
            }
            q.pop_front();
            passed += 1;
            last = at;
        }
        self.passed.store(passed, Ordering::Relaxed);
        self.last_newline.store(last, Ordering::Relaxed);
        let ends_with_newline = passed > 0 && end > 0 && last == end - 1;
        passed + 1 - u64::from(ends_with_newline)
    }
}

/// A decoded, checked UTF-8 text stream.
pub type TextReader = BufReader<Box<dyn Read + Send>>;

/// Wraps `source` (a file, or any bytes) in the checks above. Fails at once on binary input;
/// later problems surface as read errors carrying a [`TextError`].
pub fn open<R: Read + Send + 'static>(
    source: R,
    opts: TextOptions,
    mark: Option<Arc<RecordMark>>,
) -> io::Result<TextReader> {
    let mut source = source;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut source)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    let bom = Encoding::for_bom(&head).map(|(e, _)| e);
    // A byte order mark wins over --encoding: a file that starts with one is surely that.
    let encoding = bom.or(opts.encoding).unwrap_or(encoding_rs::UTF_8);
    let utf16 = encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE;
    if !utf16 && let Some(at) = head.iter().position(|&b| b == 0) {
        return Err(TextError::Binary { offset: at as u64 }.into());
    }
    if opts.line_limit && !utf16 && head.len() == SNIFF_BYTES && !head.contains(&b'\n') {
        if head.contains(&b'\r') {
            return Err(TextError::CrOnly.into());
        }
        return Err(TextError::LineTooLong {
            line: 1,
            limit: MAX_LINE_BYTES,
        }
        .into());
    }
    let all = io::Cursor::new(head).chain(source);
    let decoded: Box<dyn Read + Send> = if encoding == encoding_rs::UTF_8 {
        Box::new(Utf8Check::new(all, bom.is_some()))
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(all),
        )
    };
    let limited = Limits {
        inner: decoded,
        line_limit: opts.line_limit.then_some(MAX_LINE_BYTES),
        line: 1,
        in_line: 0,
        consumed: 0,
        mark,
    };
    Ok(BufReader::with_capacity(
        64 * 1024,
        Box::new(limited) as Box<dyn Read + Send>,
    ))
}

/// Opens a file with [`open`]; the error is worded for people and names the file.
pub fn open_file(
    path: &std::path::Path,
    opts: TextOptions,
    mark: Option<Arc<RecordMark>>,
) -> Result<TextReader, super::ImportError> {
    let file = std::fs::File::open(path).map_err(|e| super::ImportError::io(path, e))?;
    open(file, opts, mark).map_err(|e| read_failure(path, &e))
}

/// A read error as the file-level import error: our own checks speak for themselves.
pub fn read_failure(path: &std::path::Path, e: &io::Error) -> super::ImportError {
    match text_error(e) {
        Some(t) => super::ImportError::format(path, t.to_string()),
        None => super::ImportError::format(path, format!("read error: {e}")),
    }
}

/// Passes UTF-8 through unchanged (less a leading BOM) and fails at the first invalid byte.
struct Utf8Check<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[start..valid]` is checked and not yet handed out; `buf[valid..end]` is an
    /// incomplete sequence waiting for its next bytes.
    start: usize,
    valid: usize,
    end: usize,
    strip_bom: bool,
    /// Lines and bytes handed out so far.
    line: u64,
    offset: u64,
}

impl<R: Read> Utf8Check<R> {
    fn new(inner: R, strip_bom: bool) -> Self {
        Self {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            valid: 0,
            end: 0,
            strip_bom,
            line: 1,
            offset: 0,
        }
    }

    fn invalid(&self, at: usize, len: usize) -> TextError {
        let bad = &self.buf[at..(at + len.min(4)).min(self.end)];
        let bytes = bad
            .iter()
            .map(|b| format!("0x{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ");
        // The bytes around the error, read as Windows-1252: a Swedish letter there is the tell.
        let around = &self.buf[at..self.end.min(at + 64)];
        let text = encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(around)
            .0;
        let first = text.chars().next().unwrap_or('?');
        let undefined_in_1252 = around
            .iter()
            .any(|b| matches!(b, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D));
        let hint = if !undefined_in_1252 {
            format!(
                "it looks like Windows-1252 (Excel's default in Sweden; {bytes} is {first:?} there): try --encoding windows-1252"
            )
        } else {
            "give its encoding with --encoding (e.g. windows-1252, iso-8859-15, utf-16le)".into()
        };
        TextError::NotUtf8 {
            line: self.line,
            offset: self.offset,
            bytes,
            hint,
        }
    }
}

impl<R: Read> Utf8Check<R> {
    /// Checks `buf[start..end]`: sets `valid`, or fails at an invalid byte at `start`.
    fn check(&mut self) -> io::Result<()> {
        match std::str::from_utf8(&self.buf[self.start..self.end]) {
            Ok(_) => self.valid = self.end,
            Err(e) => {
                self.valid = self.start + e.valid_up_to();
                if let Some(len) = e.error_len()
                    && self.valid == self.start
                {
                    return Err(self.invalid(self.start, len).into());
                }
                // Otherwise the valid part goes out first; an invalid byte after it fails the
                // next check, an incomplete sequence at the end waits for more bytes.
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf8Check<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start < self.valid {
                let n = out.len().min(self.valid - self.start);
                let chunk = &self.buf[self.start..self.start + n];
                out[..n].copy_from_slice(chunk);
                self.line += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.offset += n as u64;
                self.start += n;
                return Ok(n);
            }
            // What is left unchecked goes to the front.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.valid = 0;
            if self.end >= 4 || (self.end > 0 && !self.strip_bom) {
                self.check()?;
                if self.valid > 0 {
                    continue;
                }
                if self.end >= 4 {
                    // Four bytes that neither make a character nor start one.
                    return Err(self.invalid(0, self.end).into());
                }
            }
            let n = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                if self.end > 0 {
                    // The file ends inside a multi-byte sequence.
                    return Err(self.invalid(0, self.end).into());
                }
                return Ok(0);
            }
            self.end += n;
            if self.strip_bom {
                if self.end < 3 {
                    continue;
                }
                if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    self.start = 3;
                }
                self.strip_bom = false;
            }
            self.check()?;
        }
    }
}

/// Counts lines and refuses overlong lines and records.
struct Limits {
    inner: Box<dyn Read + Send>,
    line_limit: Option<usize>,
    line: u64,
    in_line: usize,
    consumed: u64,
    mark: Option<Arc<RecordMark>>,
}

impl Read for Limits {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(mark) = &self.mark {
            let start = mark.byte.load(Ordering::Relaxed);
            if self.consumed.saturating_sub(start) > MAX_RECORD_BYTES + READ_AHEAD_SLACK {
                return Err(TextError::RecordTooLong {
                    line: mark.line.load(Ordering::Relaxed).max(1),
                    limit: MAX_RECORD_BYTES,
                }
                .into());
            }
        }
        // Small reads keep the checks close to the bytes that break them.
        let want = out.len().min(64 * 1024);
        let n = self.inner.read(&mut out[..want])?;
        if self.line_limit.is_none() && self.mark.is_none() {
            self.consumed += n as u64;
            return Ok(n);
        }
        let mut newlines = self
            .mark
            .as_ref()
            .map(|m| m.newlines.lock().unwrap_or_else(|p| p.into_inner()));
        let limit = self.line_limit.unwrap_or(usize::MAX);
        for (i, &b) in out[..n].iter().enumerate() {
            if b == b'\n' {
                if let Some(q) = newlines.as_mut() {
                    q.push_back(self.consumed + i as u64);
                }
                self.line += 1;
                self.in_line = 0;
            } else {
                self.in_line += 1;
                if self.in_line > limit {
                    return Err(TextError::LineTooLong {
                        line: self.line,
                        limit,
                    }
                    .into());
                }
            }
        }
        self.consumed += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], opts: TextOptions) -> io::Result<String> {
        let mut r = open(io::Cursor::new(bytes.to_vec()), opts, None)?;
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        Ok(s)
    }

    fn err(bytes: &[u8], opts: TextOptions) -> TextError {
        let e = read_all(bytes, opts).unwrap_err();
        text_error(&e).cloned().unwrap_or_else(|| panic!("{e}"))
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let o = TextOptions::default();
        assert_eq!(read_all("Täby;1\n".as_bytes(), o).unwrap(), "Täby;1\n");
        assert_eq!(
            read_all(b"\xEF\xBB\xBFKommun\n", o).unwrap(),
            "Kommun\n".to_string()
        );
        assert_eq!(read_all(b"", o).unwrap(), "");
        assert_eq!(
            read_all(b"\xEF\xBB", o).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn windows_1252_is_named_with_its_line() {
        // "Täby" in Windows-1252 on line 3.
        let e = err(b"a\nb\nT\xE4by\n", TextOptions::default());
        match &e {
            TextError::NotUtf8 {
                line, offset, hint, ..
            } => {
                assert_eq!((*line, *offset), (3, 5));
                assert!(hint.contains("--encoding windows-1252"), "{hint}");
                assert!(hint.contains("'ä'"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        let o = TextOptions {
            encoding: Some(encoding_rs::WINDOWS_1252),
            line_limit: true,
        };
        assert_eq!(read_all(b"a\nT\xE4by\n", o).unwrap(), "a\nTäby\n");
    }

    #[test]
    fn a_sequence_split_across_reads_is_fine() {
        // ä (C3 A4) across the 64 KiB boundary of the checker's buffer.
        let mut s = "x".repeat(64 * 1024 - 1);
        s.push_str("ä\n");
        assert_eq!(read_all(s.as_bytes(), TextOptions::default()).unwrap(), s);
    }

    #[test]
    fn utf16_with_a_bom_is_decoded() {
        let text = "Kommun;Antal\nTäby;5 031\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        let o = TextOptions {
            encoding: None,
            line_limit: true,
        };
        assert_eq!(read_all(&le, o).unwrap(), text);
        assert_eq!(read_all(&be, o).unwrap(), text);
    }

    #[test]
    fn nul_bytes_and_long_lines_fail() {
        let o = TextOptions {
            encoding: None,
            line_limit: true,
        };
        assert_eq!(err(b"id,x\n\0\0\0", o), TextError::Binary { offset: 5 });
        let mut long = b"id\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES + 10));
        assert_eq!(
            err(&long, o),
            TextError::LineTooLong {
                line: 2,
                limit: MAX_LINE_BYTES
            }
        );
        let cr = b"a\rb\r".repeat(SNIFF_BYTES);
        assert_eq!(err(&cr, o), TextError::CrOnly);
        // Without the line limit (JSON) a long line is fine.
        let json = vec![b' '; MAX_LINE_BYTES + 10];
        assert!(read_all(&json, TextOptions::default()).is_ok());
    }

    #[test]
    fn parse_encoding_labels() {
        assert_eq!(
            parse_encoding("Windows-1252").unwrap(),
            encoding_rs::WINDOWS_1252
        );
        assert_eq!(parse_encoding("latin1").unwrap(), encoding_rs::WINDOWS_1252);
        assert!(parse_encoding("klingon").is_err());
    }
}
