//! Strict streaming text decoding: UTF-8 (with or without BOM) or GB18030.
//!
//! An invalid byte is an error naming its line and byte offset; nothing is
//! ever replaced by U+FFFD. The decoder is a `Read` adapter with fixed-size
//! buffers, so memory does not grow with the file. Auto-detection scans the
//! file once (also with a fixed buffer) before decoding it.

use crate::context::EncodingChoice;
use encoding_rs::{DecoderResult, Encoding, GB18030, UTF_8};
use std::fmt;
use std::io::{self, Read};

const BUF_BYTES: usize = 8 * 1024;

/// An invalid byte sequence for the encoding in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub encoding: &'static str,
    /// 1-based physical line of the bad bytes.
    pub line: u64,
    /// 0-based offset of the first bad byte from the start of the file.
    pub byte_offset: u64,
    /// The offending bytes (at most a few).
    pub bytes: Vec<u8>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("0x{b:02X}")).collect();
        let shown = if hex.is_empty() {
            " (truncated)".to_string()
        } else {
            format!(" [{}]", hex.join(" "))
        };
        write!(
            f,
            "invalid {} byte sequence{} at line {}, byte offset {}",
            self.encoding, shown, self.line, self.byte_offset
        )
    }
}

impl std::error::Error for DecodeError {}

/// The `DecodeError` inside an I/O error produced by `DecodingReader`, if any.
pub(crate) fn decode_error_of(err: &io::Error) -> Option<&DecodeError> {
    err.get_ref().and_then(|e| e.downcast_ref::<DecodeError>())
}

/// Decode `inner` strictly from `encoding` to UTF-8.
pub(crate) struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    encoding_name: &'static str,
    input: Box<[u8]>,
    input_start: usize,
    input_end: usize,
    input_eof: bool,
    output: Box<[u8]>,
    output_start: usize,
    output_end: usize,
    /// Bytes of `inner` consumed by the decoder so far.
    consumed_bytes: u64,
    /// Newlines among the consumed bytes (0x0A is never a trail byte in UTF-8 or GB18030).
    consumed_newlines: u64,
    finished: bool,
}

impl<R: Read> DecodingReader<R> {
    /// A leading UTF-8 BOM is removed when decoding UTF-8.
    pub(crate) fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            encoding_name: encoding.name(),
            input: vec![0; BUF_BYTES].into_boxed_slice(),
            input_start: 0,
            input_end: 0,
            input_eof: false,
            output: vec![0; BUF_BYTES].into_boxed_slice(),
            output_start: 0,
            output_end: 0,
            consumed_bytes: 0,
            consumed_newlines: 0,
            finished: false,
        }
    }

    /// The reader being decoded.
    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    fn fill_input(&mut self) -> io::Result<()> {
        if self.input_start < self.input_end || self.input_eof {
            return Ok(());
        }
        self.input_start = 0;
        self.input_end = 0;
        loop {
            match self.inner.read(&mut self.input) {
                Ok(0) => self.input_eof = true,
                Ok(n) => self.input_end = n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    fn consume(&mut self, count: usize) {
        let slice = &self.input[self.input_start..self.input_start + count];
        self.consumed_newlines += slice.iter().filter(|&&b| b == b'\n').count() as u64;
        self.consumed_bytes += count as u64;
        self.input_start += count;
    }

    /// Decode one more chunk into `output`. Returns false at the end.
    fn decode_chunk(&mut self) -> io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        self.fill_input()?;
        let last = self.input_eof;
        let src = &self.input[self.input_start..self.input_end];
        let (result, read, written) =
            self.decoder
                .decode_to_utf8_without_replacement(src, &mut self.output, last);
        self.output_start = 0;
        self.output_end = written;
        match result {
            DecoderResult::InputEmpty => {
                self.consume(read);
                if last {
                    self.finished = true;
                }
            }
            DecoderResult::OutputFull => self.consume(read),
            DecoderResult::Malformed(bad_len, extra) => {
                // The bad sequence ends `extra` bytes before `read`; it may have
                // started in an earlier chunk (the decoder keeps a partial
                // sequence between calls), so its offset can reach back.
                let bad_end = read - extra as usize;
                let bad_start_in_chunk = bad_end.saturating_sub(bad_len as usize);
                let reach_back = (bad_len as usize).saturating_sub(bad_end) as u64;
                let bytes = src[bad_start_in_chunk..bad_end].to_vec();
                self.consume(bad_start_in_chunk);
                let err = DecodeError {
                    encoding: self.encoding_name,
                    line: self.consumed_newlines + 1,
                    byte_offset: self.consumed_bytes.saturating_sub(reach_back),
                    bytes,
                };
                self.finished = true;
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        }
        Ok(written > 0 || !self.finished)
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.output_start == self.output_end {
            if !self.decode_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.output_end - self.output_start);
        buf[..n].copy_from_slice(&self.output[self.output_start..self.output_start + n]);
        self.output_start += n;
        Ok(n)
    }
}

/// Pick the encoding for `choice`. `Auto` scans the input (reopened through
/// `open` for each scan, fixed buffers): a UTF-8 BOM or a wholly valid UTF-8
/// stream → UTF-8; else a wholly valid GB18030 stream → GB18030. When it is
/// neither, the file is called UTF-8 if the bytes before the first invalid
/// UTF-8 byte held non-ASCII UTF-8 text (a UTF-8 file with one broken byte:
/// its error then names the broken byte's own line), else GB18030.
pub(crate) fn detect_encoding<R: Read>(
    choice: EncodingChoice,
    mut open: impl FnMut() -> io::Result<R>,
) -> io::Result<&'static Encoding> {
    match choice {
        EncodingChoice::Utf8 => Ok(UTF_8),
        EncodingChoice::Gb18030 => Ok(GB18030),
        EncodingChoice::Auto => {
            let utf8_prefix_non_ascii = match scan(open()?, UTF_8)? {
                None => return Ok(UTF_8),
                Some(non_ascii) => non_ascii,
            };
            if scan(open()?, GB18030)?.is_none() || !utf8_prefix_non_ascii {
                return Ok(GB18030);
            }
            Ok(UTF_8)
        }
    }
}

/// Decodes the whole stream: `None` when valid, else whether a line holding
/// non-ASCII text ended before the first invalid byte.
fn scan<R: Read>(reader: R, encoding: &'static Encoding) -> io::Result<Option<bool>> {
    let mut tracker = FirstNonAscii {
        inner: reader,
        pos: 0,
        first: None,
        newline_after_first: None,
    };
    let mut probe = DecodingReader::new(&mut tracker, encoding);
    let mut sink = vec![0u8; BUF_BYTES];
    loop {
        match probe.read(&mut sink) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => {
                let Some(bad) = decode_error_of(&e).map(|d| d.byte_offset) else {
                    return Err(e);
                };
                drop(probe);
                // Text on an earlier line than the bad byte decoded as
                // UTF-8: GBK text never stays valid UTF-8 for a whole line.
                let earlier_line = tracker.newline_after_first.is_some_and(|n| n < bad);
                return Ok(Some(earlier_line));
            }
        }
    }
}

/// Passes bytes through, noting the offset of the first non-ASCII byte and
/// of the first newline after it.
struct FirstNonAscii<R> {
    inner: R,
    pos: u64,
    first: Option<u64>,
    newline_after_first: Option<u64>,
}

impl<R: Read> Read for FirstNonAscii<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            if self.newline_after_first.is_some() {
                break;
            }
            let at = self.pos + i as u64;
            if self.first.is_none() && !b.is_ascii() {
                self.first = Some(at);
            } else if self.first.is_some() && *b == b'\n' {
                self.newline_after_first = Some(at);
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Decode a whole small reference file (division or project catalog) the
/// way data files are read: UTF-8 with or without BOM, else GB18030, strictly.
/// Reference tables are a few thousand rows, so reading them whole is fine.
pub fn decode_reference_text(bytes: &[u8]) -> Result<String, DecodeError> {
    let encoding = detect_encoding(EncodingChoice::Auto, || Ok(bytes)).expect("reading a slice");
    let mut text = String::new();
    match DecodingReader::new(bytes, encoding).read_to_string(&mut text) {
        Ok(_) => Ok(text),
        Err(e) => Err(decode_error_of(&e)
            .expect("a slice only fails by decoding")
            .clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], encoding: &'static Encoding) -> Result<String, DecodeError> {
        let mut out = String::new();
        let mut reader = DecodingReader::new(bytes, encoding);
        match reader.read_to_string(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(decode_error_of(&e).expect("a decode error").clone()),
        }
    }

    fn gb(text: &str) -> Vec<u8> {
        GB18030.encode(text).0.into_owned()
    }

    #[test]
    fn decodes_and_detects() {
        let text = "指标文号,金额（元）\n粤财社〔2021〕40号,\"100,000.00\"\n";
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (text.as_bytes().to_vec(), "UTF-8"),
            (bom.clone(), "UTF-8"),
            (gb(text), "gb18030"),
            (Vec::new(), "UTF-8"),
        ];
        for (bytes, want) in cases {
            let enc = detect_encoding(EncodingChoice::Auto, || Ok(bytes.as_slice())).unwrap();
            assert_eq!(enc.name(), want);
            let decoded = decode_all(&bytes, enc).unwrap();
            assert_eq!(decoded, if bytes.is_empty() { "" } else { text });
        }
    }

    #[test]
    fn reference_text_in_every_encoding_decodes_the_same() {
        let text = "code,name,aliases\nJS08,托育服务示范点,托育示范\n";
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        for bytes in [text.as_bytes().to_vec(), bom, gb(text)] {
            assert_eq!(decode_reference_text(&bytes).unwrap(), text);
        }
        // Not UTF-8 and not GB18030 either: a lone lead byte at the end.
        let mut bad = gb(text);
        bad.push(0x81);
        let err = decode_reference_text(&bad).unwrap_err();
        assert_eq!(err.encoding, "gb18030");
        assert_eq!(err.line, 3);
    }

    /// Issue 11 §5: a UTF-8 file with one bad byte on line 3 was guessed
    /// GB18030, and the error named line 1.
    #[test]
    fn broken_utf8_file_names_the_line_of_its_bad_byte() {
        let mut bytes = "指标文号,金额（元）\n粤财社〔2021〕40号,100.00\n"
            .as_bytes()
            .to_vec();
        bytes.extend(b"x,\xFF\n");
        let enc = detect_encoding(EncodingChoice::Auto, || Ok(bytes.as_slice())).unwrap();
        assert_eq!(enc.name(), "UTF-8");
        let err = decode_all(&bytes, enc).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        // ASCII up to a GBK byte is still GBK.
        let mut gbk = b"doc_no,amount\n".to_vec();
        gbk.extend(gb("粤财社〔2021〕40号,100.00\n"));
        let enc = detect_encoding(EncodingChoice::Auto, || Ok(gbk.as_slice())).unwrap();
        assert_eq!(enc.name(), "gb18030");
    }

    #[test]
    fn long_input_crosses_buffer_boundaries() {
        let line = "广州市,计生三结合帮扶,12345.67\n";
        let text = line.repeat(3000);
        for enc in [UTF_8, GB18030] {
            let bytes = enc.encode(&text).0.into_owned();
            assert_eq!(decode_all(&bytes, enc).unwrap(), text);
        }
    }

    fn check_bad(bytes: &[u8], encoding: &'static Encoding, line: u64, offset: u64) {
        let err = decode_all(bytes, encoding).unwrap_err();
        assert_eq!((err.line, err.byte_offset), (line, offset), "{err}");
        assert!(err
            .to_string()
            .contains(&format!("line {line}, byte offset {offset}")));
    }

    #[test]
    fn invalid_bytes_name_line_and_offset() {
        // UTF-8 forced on GB18030 text: first Chinese byte on line 2.
        let mut bytes = b"a,b\nc,".to_vec();
        bytes.extend(gb("广州"));
        check_bad(&bytes, UTF_8, 2, 6);
        // GB18030 with a lone lead byte before a newline.
        check_bad(b"ab\ncd\n\x81\nx", GB18030, 3, 6);
        // Invalid byte far past the first buffer.
        let mut long = "x,y\n".repeat(5000).into_bytes();
        long.push(0xFF);
        check_bad(&long, UTF_8, 5001, 20000);
        // Truncated sequence at the very end.
        check_bad(b"abc\xE5\xB9", UTF_8, 1, 3);
    }
}
