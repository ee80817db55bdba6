//! SV2 data types (spec section 3.1) as zero-sized markers that encode and decode plain Rust
//! values, byte-compatible with `binary_sv2` 7.
//!
//! | marker        | Rust value      | wire                                   |
//! |---------------|-----------------|----------------------------------------|
//! | [`Bool`]      | `bool`          | 1 byte, only the least significant bit is read |
//! | [`U16`], [`U32`], [`U64`] | `u16`, `u32`, `u64` | little-endian        |
//! | [`F32`]       | `f32`           | IEEE-754 LE                            |
//! | [`U256`]      | `[u8; 32]`      | 32 raw bytes                           |
//! | [`B032`]      | `Vec<u8>`       | U8 length (max 32) + bytes             |
//! | [`B0255`]     | `Vec<u8>`       | U8 length + bytes                      |
//! | [`B064K`]     | `Vec<u8>`       | U16 length + bytes                     |
//! | [`B016M`]     | `Vec<u8>`       | U24 length + bytes                     |
//! | [`Str0255`]   | `String`        | U8 length + UTF-8 bytes                |
//! | [`Seq0255`]   | `Vec<T>`        | U8 count + elements                    |
//! | [`Seq064K`]   | `Vec<T>`        | U16 count + elements                   |
//! | [`Sv2Option`] | `Option<T>`     | U8 count (0 or 1) + element            |

use core::marker::PhantomData;

use bytes::BufMut;

use crate::CodecError;

/// Length problem found while sizing a value for encoding; turned into
/// [`CodecError::FieldTooLong`] by the caller, who knows the
/// message and field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// Length or count above the type's maximum.
    TooLong { len: usize, max: usize },
}

impl SizeError {
    /// Attaches message and field names.
    pub(crate) fn at(self, message: &'static str, field: &'static str) -> CodecError {
        match self {
            SizeError::TooLong { len, max } => CodecError::FieldTooLong {
                message,
                field,
                len,
                max,
            },
        }
    }
}

/// Bounds-checked cursor over a message payload.
pub(crate) struct Reader<'a> {
    message: &'static str,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `payload` of message `message`.
    #[inline]
    pub(crate) fn new(message: &'static str, payload: &'a [u8]) -> Self {
        Reader {
            message,
            rest: payload,
        }
    }

    /// Takes the next `n` bytes or fails with [`CodecError::Truncated`].
    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(self.truncated(field)),
        }
    }

    /// Takes the next `N` bytes as an array.
    #[inline]
    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], CodecError> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(*head)
            }
            None => Err(self.truncated(field)),
        }
    }

    /// Bytes not read yet.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Name of the message being read.
    #[inline]
    pub(crate) fn message(&self) -> &'static str {
        self.message
    }

    /// Error for a read past the end.
    #[inline]
    pub(crate) fn truncated(&self, field: &'static str) -> CodecError {
        CodecError::Truncated {
            message: self.message,
            field,
        }
    }

    /// Succeeds only if every byte was consumed.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), CodecError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                message: self.message,
                extra: self.rest.len(),
            })
        }
    }
}

/// An SV2 data type: how a Rust value of type [`Wire::Value`] is sized, written and read.
pub(crate) trait Wire {
    /// Rust representation.
    type Value;
    /// Smallest possible encoding, used to bound sequence pre-allocation.
    const MIN_LEN: usize;
    /// Encoded length, or why the value cannot be encoded.
    fn size(v: &Self::Value) -> Result<usize, SizeError>;
    /// Writes the value. Callers must have validated it with [`Wire::size`] first; an invalid
    /// value is written truncated, never panics.
    fn write<B: BufMut>(v: &Self::Value, dst: &mut B);
    /// Reads one value.
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self::Value, CodecError>;
}

macro_rules! int_wire {
    ($(#[$m:meta])* $name:ident, $t:ty, $put:ident) => {
        $(#[$m])*
        pub(crate) struct $name;
        impl Wire for $name {
            type Value = $t;
            const MIN_LEN: usize = core::mem::size_of::<$t>();
            #[inline]
            fn size(_: &$t) -> Result<usize, SizeError> {
                Ok(core::mem::size_of::<$t>())
            }
            #[inline]
            fn write<B: BufMut>(v: &$t, dst: &mut B) {
                dst.$put(*v);
            }
            #[inline]
            fn read(r: &mut Reader<'_>, field: &'static str) -> Result<$t, CodecError> {
                Ok(<$t>::from_le_bytes(r.array(field)?))
            }
        }
    };
}

int_wire!(
    /// `U16`, little-endian.
    U16, u16, put_u16_le
);
int_wire!(
    /// `U32`, little-endian.
    U32, u32, put_u32_le
);
int_wire!(
    /// `U64`, little-endian.
    U64, u64, put_u64_le
);
int_wire!(
    /// `F32` (not in the spec's table but used by channel messages), little-endian IEEE-754.
    F32, f32, put_f32_le
);

/// `BOOL`: written as 0/1, read from the least significant bit only (spec 3.1).
pub(crate) struct Bool;
impl Wire for Bool {
    type Value = bool;
    const MIN_LEN: usize = 1;
    #[inline]
    fn size(_: &bool) -> Result<usize, SizeError> {
        Ok(1)
    }
    #[inline]
    fn write<B: BufMut>(v: &bool, dst: &mut B) {
        dst.put_u8(u8::from(*v));
    }
    #[inline]
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<bool, CodecError> {
        let [b] = r.array::<1>(field)?;
        Ok(b & 1 == 1)
    }
}

/// `U256`: 32 raw bytes (little-endian integer, usually a hash).
pub(crate) struct U256;
impl Wire for U256 {
    type Value = [u8; 32];
    const MIN_LEN: usize = 32;
    #[inline]
    fn size(_: &[u8; 32]) -> Result<usize, SizeError> {
        Ok(32)
    }
    #[inline]
    fn write<B: BufMut>(v: &[u8; 32], dst: &mut B) {
        dst.put_slice(v);
    }
    #[inline]
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<[u8; 32], CodecError> {
        r.array::<32>(field)
    }
}

/// Writes a length prefix of `prefix` bytes (1, 2 or 3), little-endian.
#[inline]
fn put_len<B: BufMut>(dst: &mut B, prefix: usize, len: usize) {
    let bytes = (len as u32).to_le_bytes();
    dst.put_slice(bytes.get(..prefix).unwrap_or(&bytes));
}

/// Reads a little-endian length prefix of `prefix` bytes (1, 2 or 3).
#[inline]
fn read_len(r: &mut Reader<'_>, prefix: usize, field: &'static str) -> Result<usize, CodecError> {
    let raw = r.take(prefix, field)?;
    let mut le = [0u8; 4];
    for (dst, src) in le.iter_mut().zip(raw) {
        *dst = *src;
    }
    Ok(u32::from_le_bytes(le) as usize)
}

macro_rules! bytes_wire {
    ($(#[$m:meta])* $name:ident, prefix = $prefix:expr, max = $max:expr) => {
        $(#[$m])*
        pub(crate) struct $name;
        impl $name {
            /// Maximum content length.
            pub(crate) const MAX: usize = $max;
        }
        impl Wire for $name {
            type Value = Vec<u8>;
            const MIN_LEN: usize = $prefix;
            #[inline]
            fn size(v: &Vec<u8>) -> Result<usize, SizeError> {
                if v.len() > Self::MAX {
                    Err(SizeError::TooLong { len: v.len(), max: Self::MAX })
                } else {
                    Ok($prefix + v.len())
                }
            }
            #[inline]
            fn write<B: BufMut>(v: &Vec<u8>, dst: &mut B) {
                let n = v.len().min(Self::MAX);
                put_len(dst, $prefix, n);
                dst.put_slice(v.get(..n).unwrap_or(v));
            }
            #[inline]
            fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<u8>, CodecError> {
                let len = read_len(r, $prefix, field)?;
                if len > Self::MAX {
                    return Err(CodecError::FieldTooLong {
                        message: r.message(),
                        field,
                        len,
                        max: Self::MAX,
                    });
                }
                Ok(r.take(len, field)?.to_vec())
            }
        }
    };
}

bytes_wire!(
    /// `B0_32`: up to 32 bytes with a U8 length prefix.
    B032, prefix = 1, max = 32
);
bytes_wire!(
    /// `B0_255`: up to 255 bytes with a U8 length prefix.
    B0255, prefix = 1, max = 255
);
bytes_wire!(
    /// `B0_64K`: up to 65535 bytes with a U16 length prefix.
    B064K, prefix = 2, max = 0xFFFF
);
bytes_wire!(
    /// `B0_16M`: up to 2^24-1 bytes with a U24 length prefix.
    B016M, prefix = 3, max = 0x00FF_FFFF
);

/// `STR0_255`: up to 255 bytes of UTF-8 with a U8 length prefix.
pub(crate) struct Str0255;
impl Wire for Str0255 {
    type Value = String;
    const MIN_LEN: usize = 1;
    #[inline]
    fn size(v: &String) -> Result<usize, SizeError> {
        if v.len() > 255 {
            Err(SizeError::TooLong {
                len: v.len(),
                max: 255,
            })
        } else {
            Ok(1 + v.len())
        }
    }
    #[inline]
    fn write<B: BufMut>(v: &String, dst: &mut B) {
        B0255::write_slice(v.as_bytes(), dst);
    }
    #[inline]
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<String, CodecError> {
        let len = usize::from(r.array::<1>(field)?[0]);
        let raw = r.take(len, field)?;
        match core::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(CodecError::InvalidUtf8 {
                message: r.message(),
                field,
            }),
        }
    }
}

impl B0255 {
    /// Writes a slice with a U8 length prefix (truncated to 255 bytes if longer).
    #[inline]
    fn write_slice<B: BufMut>(v: &[u8], dst: &mut B) {
        let n = v.len().min(Self::MAX);
        dst.put_u8(n as u8);
        dst.put_slice(v.get(..n).unwrap_or(v));
    }
}

macro_rules! seq_wire {
    ($(#[$m:meta])* $name:ident, prefix = $prefix:expr, max = $max:expr) => {
        $(#[$m])*
        pub(crate) struct $name<T>(PhantomData<T>);
        impl<T: Wire> Wire for $name<T> {
            type Value = Vec<T::Value>;
            const MIN_LEN: usize = $prefix;
            #[inline]
            fn size(v: &Vec<T::Value>) -> Result<usize, SizeError> {
                if v.len() > $max {
                    return Err(SizeError::TooLong { len: v.len(), max: $max });
                }
                let mut total: usize = $prefix;
                for item in v {
                    total = total.saturating_add(T::size(item)?);
                }
                Ok(total)
            }
            #[inline]
            fn write<B: BufMut>(v: &Vec<T::Value>, dst: &mut B) {
                let n = v.len().min($max);
                put_len(dst, $prefix, n);
                for item in v.iter().take(n) {
                    T::write(item, dst);
                }
            }
            #[inline]
            fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<T::Value>, CodecError> {
                let count = read_len(r, $prefix, field)?;
                // A hostile count cannot make us reserve more than the payload could hold.
                let fits = r.remaining() / T::MIN_LEN.max(1);
                if count > fits {
                    return Err(r.truncated(field));
                }
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    out.push(T::read(r, field)?);
                }
                Ok(out)
            }
        }
    };
}

seq_wire!(
    /// `SEQ0_255[T]`: U8 element count followed by the elements.
    Seq0255, prefix = 1, max = 255
);
seq_wire!(
    /// `SEQ0_64K[T]`: U16 element count followed by the elements.
    Seq064K, prefix = 2, max = 0xFFFF
);

/// `OPTION[T]` (= `SEQ0_1[T]`): U8 count 0 or 1, then the element if present.
pub(crate) struct Sv2Option<T>(PhantomData<T>);
impl<T: Wire> Wire for Sv2Option<T> {
    type Value = Option<T::Value>;
    const MIN_LEN: usize = 1;
    #[inline]
    fn size(v: &Option<T::Value>) -> Result<usize, SizeError> {
        match v {
            None => Ok(1),
            Some(x) => Ok(1 + T::size(x)?),
        }
    }
    #[inline]
    fn write<B: BufMut>(v: &Option<T::Value>, dst: &mut B) {
        match v {
            None => dst.put_u8(0),
            Some(x) => {
                dst.put_u8(1);
                T::write(x, dst);
            }
        }
    }
    #[inline]
    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Option<T::Value>, CodecError> {
        match r.array::<1>(field)?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::read(r, field)?)),
            n => Err(CodecError::FieldTooLong {
                message: r.message(),
                field,
                len: usize::from(n),
                max: 1,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<W: Wire>(v: &W::Value) -> Vec<u8> {
        let n = W::size(v).unwrap();
        let mut out = Vec::new();
        W::write(v, &mut out);
        assert_eq!(out.len(), n);
        out
    }

    fn dec<W: Wire>(b: &[u8]) -> Result<W::Value, CodecError> {
        let mut r = Reader::new("T", b);
        let v = W::read(&mut r, "f")?;
        r.finish()?;
        Ok(v)
    }

    #[test]
    fn integers_are_little_endian() {
        assert_eq!(enc::<U16>(&0x0102), [2, 1]);
        assert_eq!(enc::<U32>(&0x01020304), [4, 3, 2, 1]);
        assert_eq!(enc::<U64>(&1), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc::<F32>(&1.0), 1.0f32.to_le_bytes());
        assert_eq!(dec::<B016M>(&[3, 0, 0, 1, 2, 3]).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn bool_reads_only_lsb() {
        assert!(dec::<Bool>(&[1]).unwrap());
        assert!(dec::<Bool>(&[0xFF]).unwrap());
        assert!(!dec::<Bool>(&[0xFE]).unwrap());
        assert_eq!(enc::<Bool>(&true), [1]);
    }

    #[test]
    fn byte_arrays_have_their_prefixes_and_limits() {
        assert_eq!(enc::<B032>(&vec![9, 8]), [2, 9, 8]);
        assert_eq!(enc::<B064K>(&vec![9]), [1, 0, 9]);
        assert_eq!(enc::<B016M>(&vec![9]), [1, 0, 0, 9]);
        assert!(B032::size(&vec![0; 33]).is_err());
        assert!(B0255::size(&vec![0; 256]).is_err());
        assert!(matches!(
            dec::<B032>(&[33]),
            Err(CodecError::FieldTooLong {
                len: 33,
                max: 32,
                ..
            })
        ));
        assert!(matches!(
            dec::<B064K>(&[5, 0, 1]),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn strings_must_be_utf8() {
        assert_eq!(enc::<Str0255>(&"ab".to_string()), [2, b'a', b'b']);
        assert!(matches!(
            dec::<Str0255>(&[1, 0xFF]),
            Err(CodecError::InvalidUtf8 { .. })
        ));
    }

    #[test]
    fn sequences_and_options() {
        let v = vec![[1u8; 32], [2u8; 32]];
        let b = enc::<Seq0255<U256>>(&v);
        assert_eq!(b.len(), 1 + 64);
        assert_eq!(b[0], 2);
        assert_eq!(dec::<Seq0255<U256>>(&b).unwrap(), v);
        assert_eq!(enc::<Seq064K<U16>>(&vec![1, 2]), [2, 0, 1, 0, 2, 0]);
        assert_eq!(enc::<Sv2Option<U32>>(&Some(5)), [1, 5, 0, 0, 0]);
        assert_eq!(enc::<Sv2Option<U32>>(&None), [0]);
        assert!(matches!(
            dec::<Sv2Option<U32>>(&[2, 0, 0, 0, 0]),
            Err(CodecError::FieldTooLong { max: 1, .. })
        ));
        // A huge declared count is rejected without allocating.
        assert!(matches!(
            dec::<Seq064K<B016M>>(&[0xFF, 0xFF, 0, 0, 0]),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        assert!(matches!(
            dec::<Bool>(&[1, 2]),
            Err(CodecError::TrailingBytes { extra: 1, .. })
        ));
    }
}
