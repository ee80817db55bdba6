//! Encryption of SV2 frames with the transport cipher states (sv2-spec 4.6).
//!
//! A plaintext SV2 frame is a 6-byte header (`extension_type u16 LE`, `msg_type u8`,
//! `msg_length U24 LE`) followed by `msg_length` payload bytes. On the wire:
//! * the header is one Noise message: 6 bytes ciphertext + 16 bytes MAC = 22 bytes;
//! * the payload is split into chunks of at most 65519 plaintext bytes, each one Noise message
//!   of at most 65535 bytes (chunk + MAC). An empty payload produces no chunk at all.
//!
//! `msg_length` always counts plaintext, so the reader derives the ciphertext length from the
//! decrypted header. This matches SRI's `codec_sv2` `NoiseEncoder`/`NoiseDecoder`.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::cipher_state::{CipherError, CipherState};
use crate::primitives::MAC_LEN;

/// Size of a plaintext SV2 frame header.
pub const SV2_FRAME_HEADER_SIZE: usize = 6;
/// Size of an encrypted SV2 frame header on the wire.
pub const ENCRYPTED_HEADER_SIZE: usize = SV2_FRAME_HEADER_SIZE + MAC_LEN;
/// Largest Noise transport message (ciphertext + MAC).
pub const MAX_CIPHERTEXT_CHUNK: usize = 65535;
/// Largest plaintext carried by one Noise transport message.
pub const MAX_PLAINTEXT_CHUNK: usize = MAX_CIPHERTEXT_CHUNK - MAC_LEN;
/// Largest payload an SV2 header can describe (U24).
pub const MAX_PAYLOAD_LEN: usize = 0xFF_FFFF;
/// Default limit on received payloads: the protocol maximum. Roles that only expect small
/// messages (e.g. a pool facing miners) should lower it with
/// [`FrameDecryptor::set_max_payload_len`].
pub const DEFAULT_MAX_PAYLOAD_LEN: usize = MAX_PAYLOAD_LEN;
/// Buffer space reserved ahead of payload bytes actually arriving; larger frames grow the
/// buffer as data comes in, so a forged length alone cannot force a big allocation.
const MAX_RESERVE_AHEAD: usize = 64 * 1024;

/// Errors encrypting or decrypting transport frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The plaintext frame is shorter than its 6-byte header.
    #[error("frame of {0} bytes is shorter than the 6-byte header")]
    TooShort(usize),
    /// The header's `msg_length` does not match the bytes that follow it.
    #[error("header announces {header} payload bytes but the frame carries {actual}")]
    LengthMismatch {
        /// Payload length in the header.
        header: usize,
        /// Payload bytes present.
        actual: usize,
    },
    /// A received header announced a payload above the configured limit.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// Announced payload length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// AEAD failure (tampering, desynchronised nonces, exhausted nonce space).
    #[error("{0}")]
    Cipher(#[from] CipherError),
    /// An earlier error left the stream unusable.
    #[error("transport failed earlier; the stream is unusable")]
    Poisoned,
    /// Socket error (only from the tokio codec adapters).
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Ciphertext length of a payload of `pt_len` plaintext bytes (one MAC per chunk).
pub fn encrypted_payload_len(pt_len: usize) -> usize {
    pt_len + pt_len.div_ceil(MAX_PLAINTEXT_CHUNK) * MAC_LEN
}

/// On-the-wire length of an encrypted frame whose payload is `pt_len` bytes.
pub fn encrypted_frame_len(pt_len: usize) -> usize {
    ENCRYPTED_HEADER_SIZE + encrypted_payload_len(pt_len)
}

/// The payload length (`msg_length`, U24 LE at bytes 3..6) of a plaintext header.
pub fn header_payload_len(header: &[u8; SV2_FRAME_HEADER_SIZE]) -> usize {
    u32::from_le_bytes([header[3], header[4], header[5], 0]) as usize
}

/// Sending half of a transport: encrypts whole SV2 frames.
#[derive(Debug)]
pub struct FrameEncryptor {
    cipher: CipherState,
}

impl FrameEncryptor {
    /// Wraps the sending cipher state.
    pub fn new(cipher: CipherState) -> Self {
        Self { cipher }
    }

    /// Encrypts `frame` (header + payload, header `msg_length` must equal the payload length)
    /// and appends the wire bytes to `out`. On error `out` is left as it was.
    pub fn encrypt_frame(&mut self, frame: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        let Some((header, payload)) = frame.split_first_chunk::<SV2_FRAME_HEADER_SIZE>() else {
            return Err(FrameError::TooShort(frame.len()));
        };
        let announced = header_payload_len(header);
        if announced != payload.len() {
            return Err(FrameError::LengthMismatch {
                header: announced,
                actual: payload.len(),
            });
        }
        let start = out.len();
        out.reserve(encrypted_frame_len(payload.len()));
        let result = self.write_frame(header, payload, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write_frame(
        &mut self,
        header: &[u8; SV2_FRAME_HEADER_SIZE],
        payload: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), FrameError> {
        self.seal(header, out)?;
        for chunk in payload.chunks(MAX_PLAINTEXT_CHUNK) {
            self.seal(chunk, out)?;
        }
        Ok(())
    }

    fn seal(&mut self, plaintext: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        let at = out.len();
        out.extend_from_slice(plaintext);
        let tag = self.cipher.encrypt_detached(&mut out[at..])?;
        out.put_slice(&tag);
        Ok(())
    }

    /// Convenience: encrypts `frame` into a fresh buffer.
    pub fn encrypt_to_bytes(&mut self, frame: &[u8]) -> Result<Bytes, FrameError> {
        let mut out = BytesMut::new();
        self.encrypt_frame(frame, &mut out)?;
        Ok(out.freeze())
    }

    /// The nonce the next Noise message will use.
    pub fn nonce(&self) -> u64 {
        self.cipher.nonce()
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for FrameEncryptor {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encrypt_frame(item.as_ref(), dst)
    }
}

#[derive(Debug, Clone, Copy)]
enum DecodeState {
    /// Waiting for the 22-byte encrypted header.
    Header,
    /// Header decrypted in place at the front of the buffer; waiting for the payload.
    Payload { payload_len: usize },
    /// A previous error desynchronised the stream.
    Failed,
}

/// Receiving half of a transport: an incremental, sans-IO decoder of encrypted SV2 frames.
///
/// Feed it the bytes read from the socket in a [`BytesMut`]; each call consumes at most one
/// complete frame and returns its plaintext (header + payload). Always pass the same buffer:
/// once a header is decrypted it stays (in plaintext) at the front of that buffer until the
/// rest of its frame arrives. After any error it refuses
/// to continue ([`FrameError::Poisoned`]), since the nonces can no longer be trusted.
#[derive(Debug)]
pub struct FrameDecryptor {
    cipher: CipherState,
    state: DecodeState,
    max_payload_len: usize,
}

impl FrameDecryptor {
    /// Wraps the receiving cipher state, with [`DEFAULT_MAX_PAYLOAD_LEN`].
    pub fn new(cipher: CipherState) -> Self {
        Self {
            cipher,
            state: DecodeState::Header,
            max_payload_len: DEFAULT_MAX_PAYLOAD_LEN,
        }
    }

    /// Limits the payload size accepted from the peer (capped at [`MAX_PAYLOAD_LEN`]).
    pub fn set_max_payload_len(&mut self, max: usize) {
        self.max_payload_len = max.min(MAX_PAYLOAD_LEN);
    }

    /// The current payload size limit.
    pub fn max_payload_len(&self) -> usize {
        self.max_payload_len
    }

    /// How many buffered bytes the next frame needs in total, given what is known so far
    /// (22 until the header is decrypted, then the whole encrypted frame).
    pub fn needed(&self) -> usize {
        match self.state {
            DecodeState::Payload { payload_len } => encrypted_frame_len(payload_len),
            _ => ENCRYPTED_HEADER_SIZE,
        }
    }

    /// Decrypts the next complete frame at the front of `src`, consuming its bytes.
    /// Returns `Ok(None)` when more bytes are needed.
    pub fn decrypt_frame(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let result = self.step(src);
        if result.is_err() {
            self.state = DecodeState::Failed;
        }
        result
    }

    fn step(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if let DecodeState::Header = self.state {
            if src.len() < ENCRYPTED_HEADER_SIZE {
                return Ok(None);
            }
            let payload_len = self.open_header(src)?;
            self.state = DecodeState::Payload { payload_len };
        }
        let DecodeState::Payload { payload_len } = self.state else {
            return Err(FrameError::Poisoned);
        };
        let total = encrypted_frame_len(payload_len);
        if src.len() < total {
            src.reserve((total - src.len()).min(MAX_RESERVE_AHEAD));
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        self.open_payload(&mut frame, payload_len)?;
        self.state = DecodeState::Header;
        Ok(Some(frame.freeze()))
    }

    /// Decrypts the header in place at `src[..6]` and returns the announced payload length.
    fn open_header(&mut self, src: &mut BytesMut) -> Result<usize, FrameError> {
        let (header, rest) = src.split_at_mut(SV2_FRAME_HEADER_SIZE);
        let tag = rest.get(..MAC_LEN).ok_or(FrameError::TooShort(0))?;
        self.cipher.decrypt_detached(header, tag)?;
        let mut h = [0u8; SV2_FRAME_HEADER_SIZE];
        h.copy_from_slice(header);
        let payload_len = header_payload_len(&h);
        if payload_len > self.max_payload_len {
            return Err(FrameError::PayloadTooLarge {
                len: payload_len,
                max: self.max_payload_len,
            });
        }
        Ok(payload_len)
    }

    /// `frame` = decrypted header (6) || header MAC (16) || encrypted payload chunks.
    /// Decrypts each chunk in place and compacts the plaintext right after the header.
    fn open_payload(&mut self, frame: &mut BytesMut, payload_len: usize) -> Result<(), FrameError> {
        let mut read = ENCRYPTED_HEADER_SIZE;
        let mut write = SV2_FRAME_HEADER_SIZE;
        while read < frame.len() {
            let end = (read + MAX_CIPHERTEXT_CHUNK).min(frame.len());
            let body_end = end.checked_sub(MAC_LEN).filter(|&e| e > read).ok_or(
                FrameError::LengthMismatch {
                    header: payload_len,
                    actual: end - read,
                },
            )?;
            let (body, tag) = frame[read..end].split_at_mut(body_end - read);
            self.cipher.decrypt_detached(body, tag)?;
            frame.copy_within(read..body_end, write);
            write += body_end - read;
            read = end;
        }
        frame.truncate(write);
        Ok(())
    }
}

impl Decoder for FrameDecryptor {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        self.decrypt_frame(src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (FrameEncryptor, FrameDecryptor) {
        let key = [5u8; 32];
        (
            FrameEncryptor::new(CipherState::new(&key, 0)),
            FrameDecryptor::new(CipherState::new(&key, 0)),
        )
    }

    fn frame(payload_len: usize) -> Vec<u8> {
        let mut f = vec![0x00, 0x80, 0x1a];
        f.extend_from_slice(&(payload_len as u32).to_le_bytes()[..3]);
        f.extend((0..payload_len).map(|i| (i % 251) as u8));
        f
    }

    #[test]
    fn ciphertext_lengths_follow_the_spec() {
        assert_eq!(encrypted_payload_len(0), 0);
        assert_eq!(encrypted_payload_len(1), 17);
        assert_eq!(encrypted_payload_len(65519), 65535);
        assert_eq!(encrypted_payload_len(65520), 65535 + 17);
        assert_eq!(encrypted_payload_len(2 * 65519), 2 * 65535);
        assert_eq!(encrypted_frame_len(30), 22 + 46);
    }

    #[test]
    fn roundtrip_various_sizes_including_chunk_boundaries() {
        let (mut enc, mut dec) = pair();
        for len in [
            0,
            1,
            30,
            1024,
            65518,
            65519,
            65520,
            2 * 65519,
            2 * 65519 + 7,
        ] {
            let f = frame(len);
            let mut wire = BytesMut::new();
            enc.encrypt_frame(&f, &mut wire).unwrap();
            assert_eq!(wire.len(), encrypted_frame_len(len), "len {len}");
            let got = dec.decrypt_frame(&mut wire).unwrap().unwrap();
            assert_eq!(&got[..], &f[..], "len {len}");
            assert!(wire.is_empty());
        }
    }

    #[test]
    fn byte_by_byte_feeding_yields_each_frame_once() {
        let (mut enc, mut dec) = pair();
        let frames: Vec<_> = [3usize, 0, 70000, 12].iter().map(|&l| frame(l)).collect();
        let mut wire = BytesMut::new();
        for f in &frames {
            enc.encrypt_frame(f, &mut wire).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for (i, b) in wire.iter().enumerate() {
            buf.put_u8(*b);
            // Feed single bytes for the first frames, then bigger steps to keep it fast.
            if i < 200 || i % 997 == 0 || i + 1 == wire.len() {
                while let Some(f) = dec.decrypt_frame(&mut buf).unwrap() {
                    got.push(f);
                }
            }
        }
        assert_eq!(got.len(), frames.len());
        for (g, f) in got.iter().zip(&frames) {
            assert_eq!(&g[..], &f[..]);
        }
    }

    #[test]
    fn tampering_poisons_the_decoder() {
        let (mut enc, mut dec) = pair();
        let mut wire = BytesMut::new();
        enc.encrypt_frame(&frame(30), &mut wire).unwrap();
        enc.encrypt_frame(&frame(30), &mut wire).unwrap();
        wire[30] ^= 1; // inside the first payload ciphertext
        assert!(matches!(
            dec.decrypt_frame(&mut wire),
            Err(FrameError::Cipher(CipherError::Decrypt))
        ));
        assert!(matches!(
            dec.decrypt_frame(&mut wire),
            Err(FrameError::Poisoned)
        ));
    }

    #[test]
    fn tampered_header_is_rejected() {
        let (mut enc, mut dec) = pair();
        let mut wire = BytesMut::new();
        enc.encrypt_frame(&frame(30), &mut wire).unwrap();
        wire[3] ^= 0x10;
        assert!(matches!(
            dec.decrypt_frame(&mut wire),
            Err(FrameError::Cipher(CipherError::Decrypt))
        ));
    }

    #[test]
    fn oversized_payload_is_rejected_after_header() {
        let (mut enc, mut dec) = pair();
        dec.set_max_payload_len(100);
        let mut wire = BytesMut::new();
        enc.encrypt_frame(&frame(101), &mut wire).unwrap();
        let mut header_only = wire.split_to(ENCRYPTED_HEADER_SIZE);
        assert!(matches!(
            dec.decrypt_frame(&mut header_only),
            Err(FrameError::PayloadTooLarge { len: 101, max: 100 })
        ));
    }

    #[test]
    fn encoder_rejects_inconsistent_frames() {
        let (mut enc, _) = pair();
        let mut out = BytesMut::new();
        assert!(matches!(
            enc.encrypt_frame(&[0, 0, 1], &mut out),
            Err(FrameError::TooShort(3))
        ));
        let mut f = frame(10);
        f.pop();
        assert!(matches!(
            enc.encrypt_frame(&f, &mut out),
            Err(FrameError::LengthMismatch {
                header: 10,
                actual: 9
            })
        ));
        assert!(out.is_empty());
        assert_eq!(enc.nonce(), 0);
    }

    #[test]
    fn partial_header_waits_without_consuming() {
        let (mut enc, mut dec) = pair();
        let mut wire = BytesMut::new();
        enc.encrypt_frame(&frame(5), &mut wire).unwrap();
        let mut part = BytesMut::from(&wire[..21]);
        assert!(dec.decrypt_frame(&mut part).unwrap().is_none());
        assert_eq!(part.len(), 21);
        assert_eq!(dec.needed(), ENCRYPTED_HEADER_SIZE);
    }
}
