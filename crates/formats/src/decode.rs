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
pub fn decode_error_of(err: &io::Error) -> Option<&DecodeError> {
    err.get_ref().and_then(|e| e.downcast_ref::<DecodeError>())
}

/// Decode `inner` strictly from `encoding` to UTF-8.
pub struct DecodingReader<R> {
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
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
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
    pub fn get_ref(&self) -> &R {
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

/// Pick the encoding for `choice`, scanning `reader` once when it is `Auto`:
/// a UTF-8 BOM or a wholly valid UTF-8 stream → UTF-8, else GB18030.
pub fn detect_encoding<R: Read>(
    choice: EncodingChoice,
    reader: R,
) -> io::Result<&'static Encoding> {
    match choice {
        EncodingChoice::Utf8 => Ok(UTF_8),
        EncodingChoice::Gb18030 => Ok(GB18030),
        EncodingChoice::Auto => {
            let mut probe = DecodingReader::new(reader, UTF_8);
            let mut sink = vec![0u8; BUF_BYTES];
            loop {
                match probe.read(&mut sink) {
                    Ok(0) => return Ok(UTF_8),
                    Ok(_) => {}
                    Err(e) if decode_error_of(&e).is_some() => return Ok(GB18030),
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// Decode a whole small reference file (division or project catalog) the
/// way data files are read: UTF-8 with or without BOM, else GB18030, strictly.
/// Reference tables are a few thousand rows, so reading them whole is fine.
pub fn decode_reference_text(bytes: &[u8]) -> Result<String, DecodeError> {
    let encoding = detect_encoding(EncodingChoice::Auto, bytes).expect("reading a slice");
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
            let enc = detect_encoding(EncodingChoice::Auto, bytes.as_slice()).unwrap();
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
