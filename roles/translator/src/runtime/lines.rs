//! Reading one miner's socket: every complete line a read delivered is parsed and returned
//! together, so a burst of requests costs one read and one event to the bridge task.
//!
//! The buffer starts at [`MINER_READ_BUFFER`] bytes; while reads keep filling it, it grows to
//! [`MINER_BURST_BUFFER`] (a miner submitting in bursts), and it goes back to the small size
//! once the miner is quiet, so idle miners keep costing a few hundred bytes.

use bytes::BytesMut;
use sv1::{ClientRequest, Sv1Error, Sv1ServerCodec};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::codec::Decoder;

use super::MINER_READ_BUFFER;

/// Read buffer of a miner whose reads fill the small buffer.
pub const MINER_BURST_BUFFER: usize = 8 * 1024;

/// One parsed line: a request or the reason it could not be parsed.
pub type Line = Result<ClientRequest, Sv1Error>;

/// Lines of one read, and why the connection ends (if it does) after them.
pub type ReadOutcome = (Vec<Line>, Option<&'static str>);

/// Line-splitting reader of one miner connection.
pub struct LineReader {
    codec: Sv1ServerCodec,
    buf: BytesMut,
    last_read_filled: bool,
}

impl LineReader {
    /// A reader enforcing `max_line` bytes per line.
    pub fn new(max_line: usize) -> Self {
        LineReader {
            codec: Sv1ServerCodec::new(max_line),
            buf: BytesMut::with_capacity(MINER_READ_BUFFER),
            last_read_filled: false,
        }
    }

    /// Reads once and returns every complete line (cancel safe: the only await is the
    /// read). The reason is `eof`, `line_too_long` or `io_error` when the connection must end
    /// after the returned lines.
    pub async fn read<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> std::io::Result<ReadOutcome> {
        self.make_room();
        let spare = self.buf.capacity() - self.buf.len();
        let n = r.read_buf(&mut self.buf).await?;
        self.last_read_filled = n > 0 && n >= spare;
        Ok(self.decode(n == 0))
    }

    fn make_room(&mut self) {
        if self.buf.is_empty() && !self.last_read_filled && self.buf.capacity() > MINER_READ_BUFFER
        {
            self.buf = BytesMut::with_capacity(MINER_READ_BUFFER);
        }
        if self.buf.capacity() == self.buf.len() {
            let want = if self.last_read_filled {
                MINER_BURST_BUFFER
            } else {
                MINER_READ_BUFFER
            };
            self.buf.reserve(want);
        }
    }

    fn decode(&mut self, eof: bool) -> ReadOutcome {
        let mut lines = Vec::new();
        loop {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(e) => return (lines, Some(end_reason(&e))),
            }
        }
        if !eof {
            return (lines, None);
        }
        loop {
            match self.codec.decode_eof(&mut self.buf) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => return (lines, Some("eof")),
                Err(e) => return (lines, Some(end_reason(&e))),
            }
        }
    }
}

fn end_reason(e: &Sv1Error) -> &'static str {
    match e {
        Sv1Error::LineTooLong { .. } => "line_too_long",
        _ => "io_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv1::ClientMethod;

    #[tokio::test]
    async fn a_read_yields_every_complete_line_in_order() {
        let submit = r#"{"id":7,"method":"mining.submit","params":["w","1","00000000","6553f100","00000001"]}"#;
        let input = format!("{submit}\n{submit}\r\n\n{{\"id\":8,\"method\":\"mining.subscribe\",\"params\":[]}}\n{{\"id\":9,\"met");
        let mut r = LineReader::new(1024);
        let mut src: &[u8] = input.as_bytes();
        let mut all = Vec::new();
        loop {
            let (lines, end) = r.read(&mut src).await.unwrap();
            all.extend(lines);
            if let Some(end) = end {
                assert_eq!(end, "eof");
                break;
            }
        }
        assert_eq!(all.len(), 4);
        assert!(matches!(
            all[0].as_ref().unwrap().method,
            ClientMethod::Submit(_)
        ));
        assert!(matches!(
            all[2].as_ref().unwrap().method,
            ClientMethod::Subscribe(_)
        ));
        // The unterminated tail is still a line at EOF (and not valid JSON).
        assert!(all[3].is_err());
    }

    #[tokio::test]
    async fn an_oversized_line_ends_the_connection_after_the_lines_before_it() {
        let input = format!(
            "{}\n{}\n",
            r#"{"id":1,"method":"mining.subscribe","params":[]}"#,
            "x".repeat(300)
        );
        let mut r = LineReader::new(100);
        let mut src: &[u8] = input.as_bytes();
        let mut all = Vec::new();
        let end = loop {
            let (lines, end) = r.read(&mut src).await.unwrap();
            all.extend(lines);
            if let Some(end) = end {
                break end;
            }
        };
        assert_eq!(end, "line_too_long");
        assert_eq!(all.len(), 1);
    }

    #[tokio::test]
    async fn the_buffer_grows_for_bursts_and_shrinks_when_quiet() {
        let line = format!(
            "{}\n",
            r#"{"id":1,"method":"mining.extranonce.subscribe","params":[]}"#
        );
        let burst = line.repeat(100);
        let mut r = LineReader::new(1024);
        let mut src: &[u8] = burst.as_bytes();
        let (mut got, mut reads) = (0, 0);
        while got < 100 {
            got += r.read(&mut src).await.unwrap().0.len();
            reads += 1;
        }
        // 6 KB: one small read, then the burst buffer (instead of a dozen 512-byte reads).
        assert!(reads <= 3, "{reads} reads");
        let mut quiet: &[u8] = line.as_bytes();
        assert_eq!(r.read(&mut quiet).await.unwrap().0.len(), 1);
        let mut quiet: &[u8] = line.as_bytes();
        assert_eq!(r.read(&mut quiet).await.unwrap().0.len(), 1);
        assert!(r.buf.capacity() <= 2 * MINER_READ_BUFFER);
    }
}
