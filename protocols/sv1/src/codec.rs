//! `tokio_util` codecs: newline-delimited lines with a length limit, plus
//! typed server-side and client-side wrappers.
//!
//! Framing errors ([`Sv1Error::LineTooLong`], I/O) are returned as decoder
//! errors, which end a `FramedRead` stream: the connection should be closed.
//! Per-message errors (bad JSON, bad params, invalid UTF-8) are returned by
//! the typed codecs *inside* the item, so one bad line does not end the stream.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::client::{parse_client_line, ClientRequest};
use crate::error::Sv1Error;
use crate::serialize::OutgoingMessage;
use crate::server::{parse_server_line, ServerMessage};

/// Default maximum line length: far above the largest real `mining.notify`
/// (a few KiB) while bounding per-connection buffering.
pub const DEFAULT_MAX_LINE_LEN: usize = 32 * 1024;

/// Splits a byte stream into lines terminated by `\n` (a preceding `\r` and
/// other surrounding ASCII whitespace are trimmed; blank lines are skipped).
///
/// A line longer than `max_line_len` bytes (counted before the `\n`) yields
/// [`Sv1Error::LineTooLong`] as soon as that many bytes are buffered; the
/// codec then discards input up to the next newline, so buffering never
/// exceeds the limit. A line that is not UTF-8 yields [`Sv1Error::InvalidUtf8`]
/// after being consumed (as a decoder error this ends a `FramedRead`; the
/// typed codecs report it inside the item instead). Encodes any
/// [`OutgoingMessage`] as one JSON line.
#[derive(Debug, Clone)]
pub struct Sv1LineCodec {
    max_line_len: usize,
    /// Bytes already searched for a newline.
    next_index: usize,
    /// Skipping the rest of an oversized line.
    discarding: bool,
}

impl Sv1LineCodec {
    /// A codec enforcing `max_line_len` bytes per line.
    pub fn new(max_line_len: usize) -> Self {
        Sv1LineCodec {
            max_line_len,
            next_index: 0,
            discarding: false,
        }
    }

    /// The configured maximum line length.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// Takes the next non-blank raw line (terminator and surrounding whitespace removed).
    fn next_raw(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, Sv1Error> {
        loop {
            if self.discarding {
                match buf.iter().position(|b| *b == b'\n') {
                    Some(pos) => {
                        buf.advance(pos + 1);
                        self.discarding = false;
                        self.next_index = 0;
                        continue;
                    }
                    None => {
                        buf.clear();
                        self.next_index = 0;
                        return Ok(None);
                    }
                }
            }
            let limit = self.max_line_len.saturating_add(1).min(buf.len());
            let start = self.next_index.min(limit);
            let found = buf
                .get(start..limit)
                .and_then(|window| window.iter().position(|b| *b == b'\n'));
            match found {
                Some(offset) => {
                    let end = start + offset;
                    self.next_index = 0;
                    let mut line = buf.split_to(end + 1);
                    line.truncate(end);
                    if let Some(trimmed) = trim(line) {
                        return Ok(Some(trimmed));
                    }
                }
                None if buf.len() > self.max_line_len => {
                    self.discarding = true;
                    self.next_index = 0;
                    return Err(Sv1Error::LineTooLong {
                        limit: self.max_line_len,
                    });
                }
                None => {
                    self.next_index = buf.len();
                    return Ok(None);
                }
            }
        }
    }

    /// At end of input, a final unterminated line is still a line.
    fn last_raw(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, Sv1Error> {
        if let Some(line) = self.next_raw(buf)? {
            return Ok(Some(line));
        }
        self.next_index = 0;
        if self.discarding {
            self.discarding = false;
            buf.clear();
            return Ok(None);
        }
        let rest = buf.split();
        Ok(trim(rest))
    }
}

impl Default for Sv1LineCodec {
    fn default() -> Self {
        Sv1LineCodec::new(DEFAULT_MAX_LINE_LEN)
    }
}

/// Removes surrounding ASCII whitespace; `None` for a blank line.
fn trim(mut line: BytesMut) -> Option<BytesMut> {
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    line.truncate(end);
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    line.advance(start);
    Some(line)
}

fn encode_message<T: OutgoingMessage>(item: T, dst: &mut BytesMut) -> Result<(), Sv1Error> {
    serde_json::to_writer(dst.writer(), &item)?;
    dst.put_u8(b'\n');
    Ok(())
}

impl Decoder for Sv1LineCodec {
    type Item = String;
    type Error = Sv1Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, Sv1Error> {
        match self.next_raw(buf)? {
            Some(line) => String::from_utf8(line.to_vec())
                .map(Some)
                .map_err(|_| Sv1Error::InvalidUtf8),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<String>, Sv1Error> {
        match self.last_raw(buf)? {
            Some(line) => String::from_utf8(line.to_vec())
                .map(Some)
                .map_err(|_| Sv1Error::InvalidUtf8),
            None => Ok(None),
        }
    }
}

impl<T: OutgoingMessage> Encoder<T> for Sv1LineCodec {
    type Error = Sv1Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Sv1Error> {
        encode_message(item, dst)
    }
}

macro_rules! typed_codec {
    ($(#[$doc:meta])* $name:ident, $item:ty, $parse:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            lines: Sv1LineCodec,
        }

        impl $name {
            /// A codec enforcing `max_line_len` bytes per line.
            pub fn new(max_line_len: usize) -> Self {
                $name {
                    lines: Sv1LineCodec::new(max_line_len),
                }
            }

            /// The configured maximum line length.
            pub fn max_line_len(&self) -> usize {
                self.lines.max_line_len()
            }
        }

        impl Decoder for $name {
            type Item = Result<$item, Sv1Error>;
            type Error = Sv1Error;

            fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Sv1Error> {
                Ok(self.lines.next_raw(buf)?.map(|line| {
                    std::str::from_utf8(&line)
                        .map_err(|_| Sv1Error::InvalidUtf8)
                        .and_then($parse)
                }))
            }

            fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Sv1Error> {
                Ok(self.lines.last_raw(buf)?.map(|line| {
                    std::str::from_utf8(&line)
                        .map_err(|_| Sv1Error::InvalidUtf8)
                        .and_then($parse)
                }))
            }
        }

        impl<T: OutgoingMessage> Encoder<T> for $name {
            type Error = Sv1Error;

            fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Sv1Error> {
                encode_message(item, dst)
            }
        }
    };
}

typed_codec!(
    /// Pool / translator side: decodes miner requests, encodes responses and
    /// notifications. Each item is `Ok(request)` or the per-line error to
    /// answer (see [`Sv1Error::request_id`]).
    Sv1ServerCodec,
    ClientRequest,
    parse_client_line
);

typed_codec!(
    /// Miner side: decodes pool responses and notifications, encodes requests.
    Sv1ClientCodec,
    ServerMessage,
    parse_server_line
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientMethod;
    use crate::server::Notification;

    fn lines(codec: &mut Sv1LineCodec, input: &[u8]) -> Vec<Result<String, String>> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(l)) => out.push(Ok(l)),
                Ok(None) => break,
                Err(e) => out.push(Err(e.to_string())),
            }
        }
        while let Ok(Some(l)) = codec.decode_eof(&mut buf) {
            out.push(Ok(l));
        }
        out
    }

    #[test]
    fn splits_trims_and_skips_blank_lines() {
        let mut c = Sv1LineCodec::new(64);
        let got = lines(&mut c, b"{\"a\":1}\r\n\r\n  \n{\"b\":2}\n{\"c\":3}");
        assert_eq!(
            got,
            vec![
                Ok("{\"a\":1}".to_string()),
                Ok("{\"b\":2}".to_string()),
                Ok("{\"c\":3}".to_string())
            ]
        );
    }

    #[test]
    fn byte_by_byte_feeding() {
        let mut c = Sv1LineCodec::new(64);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in b"abc\ndef\r\n" {
            buf.put_u8(b);
            if let Some(l) = c.decode(&mut buf).unwrap() {
                out.push(l);
            }
        }
        assert_eq!(out, vec!["abc", "def"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn too_long_line_is_an_error_then_skipped() {
        let mut c = Sv1LineCodec::new(8);
        // Exactly 8 bytes of content is fine.
        let got = lines(&mut c, b"12345678\n");
        assert_eq!(got, vec![Ok("12345678".to_string())]);
        let mut buf = BytesMut::from(&b"123456789"[..]);
        assert!(matches!(
            c.decode(&mut buf),
            Err(Sv1Error::LineTooLong { limit: 8 })
        ));
        // Rest of the oversized line keeps being discarded, buffer stays bounded.
        buf.extend_from_slice(b"0000000000000000");
        assert!(matches!(c.decode(&mut buf), Ok(None)));
        assert!(buf.is_empty());
        buf.extend_from_slice(b"tail\nok\n");
        assert_eq!(c.decode(&mut buf).unwrap().as_deref(), Some("ok"));
    }

    #[test]
    fn invalid_utf8() {
        let mut c = Sv1LineCodec::new(64);
        let mut buf = BytesMut::from(&b"\xff\xfe\nok\n"[..]);
        assert!(matches!(c.decode(&mut buf), Err(Sv1Error::InvalidUtf8)));
        assert_eq!(c.decode(&mut buf).unwrap().as_deref(), Some("ok"));

        let mut s = Sv1ServerCodec::new(64);
        let mut buf = BytesMut::from(&b"\xff\n"[..]);
        assert!(matches!(
            s.decode(&mut buf),
            Ok(Some(Err(Sv1Error::InvalidUtf8)))
        ));
    }

    #[test]
    fn typed_codecs() {
        let mut s = Sv1ServerCodec::default();
        assert_eq!(s.max_line_len(), DEFAULT_MAX_LINE_LEN);
        let mut buf = BytesMut::from(
            &b"{\"id\":1,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\r\nnot json\n"[..],
        );
        let first = s.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(first.method, ClientMethod::ExtranonceSubscribe);
        assert!(matches!(
            s.decode(&mut buf),
            Ok(Some(Err(Sv1Error::NotAnObject)))
        ));
        assert!(matches!(s.decode(&mut buf), Ok(None)));

        let mut out = BytesMut::new();
        s.encode(Notification::SetDifficulty { difficulty: 8.0 }, &mut out)
            .unwrap();
        let mut c = Sv1ClientCodec::new(1024);
        let msg = c.decode(&mut out).unwrap().unwrap().unwrap();
        assert_eq!(
            msg,
            ServerMessage::Notification(Notification::SetDifficulty { difficulty: 8.0 })
        );
        let mut out = BytesMut::new();
        c.encode(&first, &mut out).unwrap();
        assert_eq!(
            &out[..],
            &b"{\"id\":1,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n"[..]
        );
    }

    #[test]
    fn eof_handling() {
        let mut c = Sv1ClientCodec::new(16);
        let mut buf = BytesMut::from(&b"   "[..]);
        assert!(matches!(c.decode_eof(&mut buf), Ok(None)));
        let mut buf = BytesMut::from(&b"{\"id\":1}"[..]);
        assert!(matches!(
            c.decode_eof(&mut buf),
            Ok(Some(Err(Sv1Error::NotAMessage { .. })))
        ));
        assert!(matches!(c.decode_eof(&mut buf), Ok(None)));
    }
}
