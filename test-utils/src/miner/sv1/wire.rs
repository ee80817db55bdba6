//! The load mode's cheap wire path: `mining.submit` lines written straight into the write
//! buffer, and a line decoder that recognises the usual share acknowledgement
//! `{"id":N,"result":true,"error":null}` without a JSON parser (anything else is parsed as
//! usual).

use std::fmt::Write as _;

use bytes::{Buf, BufMut, BytesMut};
use sv1::{ServerMessage, Sv1Error};
use tokio_util::codec::Decoder;

/// Longest line accepted from the server (as [`sv1::Sv1ClientCodec`]'s default).
pub(crate) const MAX_LINE: usize = sv1::DEFAULT_MAX_LINE_LEN;

/// One line from the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `{"id":N,"result":true,"error":null}`.
    Ack(u64),
    /// Any other line, parsed (or why it could not be).
    Message(Result<ServerMessage, Sv1Error>),
}

/// Splits server lines (see the module docs). Blank lines are skipped; a line longer than
/// [`MAX_LINE`] is a framing error, as in the `sv1` codecs.
#[derive(Debug, Default)]
pub(crate) struct AckCodec {
    /// Bytes already searched for a newline.
    scanned: usize,
}

const ACK_HEAD: &[u8] = b"{\"id\":";
const ACK_TAIL: &[u8] = b",\"result\":true,\"error\":null}";

/// The id of an acknowledgement line written exactly as the translator and most pools do.
pub(crate) fn fast_ack(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(ACK_HEAD)?.strip_suffix(ACK_TAIL)?;
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits.first() == Some(&b'0'))
    {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}

impl Decoder for AckCodec {
    type Item = Incoming;
    type Error = Sv1Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, Sv1Error> {
        loop {
            let start = self.scanned.min(buf.len());
            let Some(pos) = buf
                .get(start..)
                .and_then(|w| w.iter().position(|b| *b == b'\n'))
            else {
                if buf.len() > MAX_LINE {
                    return Err(Sv1Error::LineTooLong { limit: MAX_LINE });
                }
                self.scanned = buf.len();
                return Ok(None);
            };
            let end = start + pos;
            self.scanned = 0;
            if end > MAX_LINE {
                return Err(Sv1Error::LineTooLong { limit: MAX_LINE });
            }
            let line = buf.split_to(end + 1);
            let text = line.get(..end).unwrap_or_default().trim_ascii();
            if text.is_empty() {
                continue;
            }
            if let Some(id) = fast_ack(text) {
                return Ok(Some(Incoming::Ack(id)));
            }
            let parsed = std::str::from_utf8(text)
                .map_err(|_| Sv1Error::InvalidUtf8)
                .and_then(sv1::parse_server_line);
            return Ok(Some(Incoming::Message(parsed)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, Sv1Error> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        // A last unterminated line is dropped (the connection is gone anyway).
        buf.advance(buf.len());
        self.scanned = 0;
        Ok(None)
    }
}

/// The fields of one `mining.submit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubmitLine<'a> {
    /// Request id.
    pub(crate) id: u64,
    /// Worker name, already a JSON string (quoted and escaped).
    pub(crate) user_json: &'a str,
    /// Job id, already a JSON string.
    pub(crate) job_json: &'a str,
    /// Extranonce2.
    pub(crate) extranonce2: &'a [u8],
    /// Header time.
    pub(crate) ntime: u32,
    /// Nonce.
    pub(crate) nonce: u32,
    /// Rolled version bits (sixth parameter) when version rolling was negotiated.
    pub(crate) version_bits: Option<u32>,
}

impl SubmitLine<'_> {
    /// Appends the request line (with its `\n`) to `buf`.
    pub(crate) fn write(&self, buf: &mut BytesMut) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let _ = write!(
            buf,
            "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[{},{},\"",
            self.id, self.user_json, self.job_json
        );
        for b in self.extranonce2 {
            buf.put_u8(HEX[usize::from(b >> 4)]);
            buf.put_u8(HEX[usize::from(b & 15)]);
        }
        let _ = write!(buf, "\",\"{:08x}\",\"{:08x}\"", self.ntime, self.nonce);
        if let Some(v) = self.version_bits {
            let _ = write!(buf, ",\"{v:08x}\"");
        }
        buf.put_slice(b"]}\n");
    }
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::sv1::job::submit_request;
    use crate::miner::work::Found;
    use sv1::{Id, OutgoingMessage, Response};

    #[test]
    fn submit_lines_parse_as_the_serde_request() {
        for (user, job, bits) in [
            ("site.worker-1", "1a", Some(0x0e59_6000)),
            ("we\"ird\\name", "j\"ob", None),
        ] {
            let found = Found {
                version: 0x2e59_6000,
                ntime: 0x679a_c169,
                nonce: 0xff05_fb02,
                hash: [0; 32],
            };
            let mut buf = BytesMut::new();
            SubmitLine {
                id: 4183,
                user_json: &json_string(user),
                job_json: &json_string(job),
                extranonce2: &[0x22, 0x0c, 0xf1, 0xad],
                ntime: found.ntime,
                nonce: found.nonce,
                version_bits: bits.map(|_| found.version & 0x1fff_e000),
            }
            .write(&mut buf);
            let line = std::str::from_utf8(&buf).unwrap();
            assert!(line.ends_with('\n'));
            let parsed = sv1::parse_client_line(line).unwrap();
            let expected = submit_request(
                4183,
                user,
                job,
                &[0x22, 0x0c, 0xf1, 0xad],
                &found,
                bits.map(|_| 0x1fff_e000),
            );
            assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn acks_are_recognised_and_everything_else_is_parsed() {
        let ack = Response::bool(Id::from(77u64), true).to_line().unwrap();
        let err = Response::error(
            Id::from(78u64),
            sv1::StratumError::new(sv1::ErrorCode::Duplicate, "duplicate share"),
        )
        .to_line()
        .unwrap();
        let input =
            format!("{ack}\r\n{err}{{\"id\":\"5\",\"result\":true,\"error\":null}}\n{{\"id\":1");
        let mut buf = BytesMut::from(input.as_bytes());
        let mut c = AckCodec::default();
        assert!(matches!(
            c.decode(&mut buf).unwrap(),
            Some(Incoming::Ack(77))
        ));
        match c.decode(&mut buf).unwrap() {
            Some(Incoming::Message(Ok(ServerMessage::Response(r)))) => {
                assert_eq!(r.id, Id::from(78u64));
                assert!(!r.is_success());
            }
            other => panic!("{other:?}"),
        }
        match c.decode(&mut buf).unwrap() {
            Some(Incoming::Message(Ok(ServerMessage::Response(r)))) => assert!(r.is_success()),
            other => panic!("{other:?}"),
        }
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"2,\"result\":true,\"error\":null}\n");
        assert!(matches!(
            c.decode(&mut buf).unwrap(),
            Some(Incoming::Ack(12))
        ));
        for not_fast in [
            "{\"id\":01,\"result\":true,\"error\":null}",
            "{\"id\":1,\"result\":false,\"error\":null}",
        ] {
            assert_eq!(fast_ack(not_fast.as_bytes()), None);
        }
        assert_eq!(
            fast_ack(b"{\"id\":0,\"result\":true,\"error\":null}"),
            Some(0)
        );
        let mut long = BytesMut::from(vec![b'x'; MAX_LINE + 2].as_slice());
        assert!(matches!(
            AckCodec::default().decode(&mut long),
            Err(Sv1Error::LineTooLong { .. })
        ));
    }
}
