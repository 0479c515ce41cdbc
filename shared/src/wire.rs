//! MessagePack primitives: a small writer that always picks the shortest encoding, and a
//! bounds-checked reader over a byte slice that never allocates from a length prefix.
//!
//! The writer exists because frames are mostly flat integer arrays and the generic `rmp`
//! writer costs about 10 ns per integer; its output is plain MessagePack, and the tests check
//! that `rmp-serde` decodes it to the same values. The reader is what the server runs on
//! every client byte: every length is checked against the bytes that remain before it is
//! trusted, nothing recurses, and every failure is a small `Copy` error.

use rmp::Marker;

use crate::codec::DecodeError;

/// Appends an unsigned integer in its shortest MessagePack form.
#[inline]
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends a signed integer in its shortest MessagePack form (non-negative values use the
/// unsigned encodings, as every MessagePack encoder does).
#[inline]
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// A byte buffer written with MessagePack integers on the hot path (a frame's changes and
/// events): each integer is encoded into a fixed 9-byte chunk and copied whole, the length
/// then advanced by what the encoding used, so the copy is two moves instead of a `memcpy`
/// call (the buffer keeps 9 spare bytes past the length for that). Same bytes as
/// [`write_uint`] / [`write_int`] (a proptest holds them to it). The marker choice is written
/// out here again on purpose: one shared `fn(v) -> ([u8; 9], usize)` under both made the
/// tick's change encoding 60% dearer (callgrind, 10k players: 8.94 -> 9.28 M per tick).
#[derive(Debug, Default, Clone)]
pub struct Sink {
    buf: Vec<u8>,
    len: usize,
}

impl Sink {
    /// An empty sink with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Self { buf: vec![0; bytes], len: 0 }
    }

    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Makes room for `ints` more integers.
    #[inline]
    fn reserve(&mut self, ints: usize) {
        let need = self.len + 9 * ints;
        if need > self.buf.len() {
            self.buf.resize(need.max(self.buf.len() * 2).max(64), 0);
        }
    }

    #[inline(always)]
    fn put(&mut self, chunk: [u8; 9], used: usize) {
        self.reserve(1);
        self.buf[self.len..self.len + 9].copy_from_slice(&chunk);
        self.len += used;
    }

    /// Appends an unsigned integer in its shortest form.
    #[inline(always)]
    pub fn uint(&mut self, v: u64) {
        let (chunk, used) = if v < 0x80 {
            ([v as u8, 0, 0, 0, 0, 0, 0, 0, 0], 1)
        } else if v <= u64::from(u8::MAX) {
            ([0xcc, v as u8, 0, 0, 0, 0, 0, 0, 0], 2)
        } else if v <= u64::from(u16::MAX) {
            let [a, b] = (v as u16).to_be_bytes();
            ([0xcd, a, b, 0, 0, 0, 0, 0, 0], 3)
        } else if v <= u64::from(u32::MAX) {
            let [a, b, c, d] = (v as u32).to_be_bytes();
            ([0xce, a, b, c, d, 0, 0, 0, 0], 5)
        } else {
            let [a, b, c, d, e, f, g, h] = v.to_be_bytes();
            ([0xcf, a, b, c, d, e, f, g, h], 9)
        };
        self.put(chunk, used);
    }

    /// Appends a signed integer in its shortest form.
    #[inline(always)]
    pub fn int(&mut self, v: i64) {
        if v >= 0 {
            return self.uint(v as u64);
        }
        let (chunk, used) = if v >= -32 {
            ([v as i8 as u8, 0, 0, 0, 0, 0, 0, 0, 0], 1)
        } else if v >= i64::from(i8::MIN) {
            ([0xd0, v as i8 as u8, 0, 0, 0, 0, 0, 0, 0], 2)
        } else if v >= i64::from(i16::MIN) {
            let [a, b] = (v as i16).to_be_bytes();
            ([0xd1, a, b, 0, 0, 0, 0, 0, 0], 3)
        } else if v >= i64::from(i32::MIN) {
            let [a, b, c, d] = (v as i32).to_be_bytes();
            ([0xd2, a, b, c, d, 0, 0, 0, 0], 5)
        } else {
            let [a, b, c, d, e, f, g, h] = v.to_be_bytes();
            ([0xd3, a, b, c, d, e, f, g, h], 9)
        };
        self.put(chunk, used);
    }

    /// Appends bytes as they are (already encoded values).
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        let need = self.len + bytes.len() + 9;
        if need > self.buf.len() {
            self.buf.resize(need.max(self.buf.len() * 2).max(64), 0);
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends a UTF-8 string (the same bytes as [`write_str`]).
    #[inline]
    pub fn str(&mut self, s: &str) {
        let len = s.len();
        if len < 32 {
            self.raw(&[0xa0 | len as u8]);
        } else if len <= usize::from(u8::MAX) {
            self.raw(&[0xd9, len as u8]);
        } else if len <= usize::from(u16::MAX) {
            let [a, b] = (len as u16).to_be_bytes();
            self.raw(&[0xda, a, b]);
        } else {
            let [a, b, c, d] = (len as u32).to_be_bytes();
            self.raw(&[0xdb, a, b, c, d]);
        }
        self.raw(s.as_bytes());
    }

    /// The bytes written, as a `Vec` (the sink is used up).
    pub fn into_vec(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }

    /// What was written.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Appends an array header for `len` elements.
#[inline]
pub fn write_array_len(out: &mut Vec<u8>, len: u32) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if len <= u32::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a UTF-8 string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= usize::from(u16::MAX) {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends nil.
#[inline]
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

/// Appends a boolean.
#[inline]
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// Appends a 32-bit float.
#[inline]
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    out.push(0xca);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a byte string (MessagePack `bin`).
pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let len = b.len();
    if len <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xc4, len as u8]);
    } else if len <= usize::from(u16::MAX) {
        out.push(0xc5);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

/// A cursor over one MessagePack message. Every read checks the remaining length first.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Moves the cursor to the given unread tail (used after a nested `rmp-serde` read).
    pub fn set_rest(&mut self, rest: &'a [u8]) {
        self.buf = rest;
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Looks at the next marker without consuming it.
    pub fn peek_marker(&self) -> Result<Marker, DecodeError> {
        self.buf.first().map(|&b| Marker::from_u8(b)).ok_or(DecodeError::Truncated)
    }

    /// Reads an array header. The length is checked against the bytes left (each element
    /// takes at least one byte), so a forged `dd ff ff ff ff` can't make a caller allocate.
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        let len = match Marker::from_u8(self.byte()?) {
            Marker::FixArray(n) => usize::from(n),
            Marker::Array16 => usize::from(u16::from_be_bytes(self.be()?)),
            Marker::Array32 => u32::from_be_bytes(self.be()?) as usize,
            _ => return Err(DecodeError::Type("array")),
        };
        if len > self.buf.len() {
            return Err(DecodeError::LengthTooLarge);
        }
        Ok(len)
    }

    /// Reads any integer that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let m = Marker::from_u8(self.byte()?);
        Ok(match m {
            Marker::FixPos(v) => i64::from(v),
            Marker::FixNeg(v) => i64::from(v),
            Marker::U8 => i64::from(self.byte()?),
            Marker::U16 => i64::from(u16::from_be_bytes(self.be()?)),
            Marker::U32 => i64::from(u32::from_be_bytes(self.be()?)),
            Marker::U64 => {
                i64::try_from(u64::from_be_bytes(self.be()?)).map_err(|_| DecodeError::Range)?
            }
            Marker::I8 => i64::from(i8::from_be_bytes(self.be()?)),
            Marker::I16 => i64::from(i16::from_be_bytes(self.be()?)),
            Marker::I32 => i64::from(i32::from_be_bytes(self.be()?)),
            Marker::I64 => i64::from_be_bytes(self.be()?),
            _ => return Err(DecodeError::Type("integer")),
        })
    }

    /// Reads an integer and converts it to `T`, failing with [`DecodeError::Range`].
    pub fn int_as<T: TryFrom<i64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.int()?).map_err(|_| DecodeError::Range)
    }

    /// Reads a number (float32, float64 or integer) as `f64`. JavaScript encoders write
    /// whole numbers as integers and others as float64, so all three are accepted.
    pub fn number(&mut self) -> Result<f64, DecodeError> {
        match self.peek_marker()? {
            Marker::F32 => {
                self.byte()?;
                Ok(f64::from(f32::from_be_bytes(self.be()?)))
            }
            Marker::F64 => {
                self.byte()?;
                Ok(f64::from_be_bytes(self.be()?))
            }
            _ => self.int().map(|v| v as f64),
        }
    }

    /// Reads a boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match Marker::from_u8(self.byte()?) {
            Marker::True => Ok(true),
            Marker::False => Ok(false),
            _ => Err(DecodeError::Type("bool")),
        }
    }

    /// Reads nil, returning `true`, or leaves the cursor alone and returns `false`.
    pub fn nil(&mut self) -> Result<bool, DecodeError> {
        if self.peek_marker()? == Marker::Null {
            self.byte()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Reads a byte string (MessagePack `bin`), borrowed from the message.
    pub fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = match Marker::from_u8(self.byte()?) {
            Marker::Bin8 => usize::from(self.byte()?),
            Marker::Bin16 => usize::from(u16::from_be_bytes(self.be()?)),
            Marker::Bin32 => u32::from_be_bytes(self.be()?) as usize,
            _ => return Err(DecodeError::Type("bin")),
        };
        if len > self.buf.len() {
            return Err(DecodeError::LengthTooLarge);
        }
        self.take(len)
    }

    /// Reads a 16-byte `bin`.
    pub fn bin16(&mut self) -> Result<[u8; 16], DecodeError> {
        self.bin()?.try_into().map_err(|_| DecodeError::Range)
    }

    /// Reads a UTF-8 string, borrowed from the message.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = match Marker::from_u8(self.byte()?) {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 => usize::from(self.byte()?),
            Marker::Str16 => usize::from(u16::from_be_bytes(self.be()?)),
            Marker::Str32 => u32::from_be_bytes(self.be()?) as usize,
            _ => return Err(DecodeError::Type("string")),
        };
        if len > self.buf.len() {
            return Err(DecodeError::LengthTooLarge);
        }
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ints_round_trip_through_rmp_serde(v in any::<i64>()) {
            let mut out = Vec::new();
            write_int(&mut out, v);
            let back: i64 = rmp_serde::from_slice(&out).expect("rmp-serde decodes our bytes");
            prop_assert_eq!(back, v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.int().expect("reader decodes"), v);
            r.finish().expect("no trailing bytes");
            // rmp's own writer picks an encoding of the same length.
            let mut theirs = Vec::new();
            rmp::encode::write_sint(&mut theirs, v).expect("vec write");
            prop_assert_eq!(out.len(), theirs.len());
        }

        #[test]
        fn uints_round_trip(v in any::<u64>()) {
            let mut out = Vec::new();
            write_uint(&mut out, v);
            let back: u64 = rmp_serde::from_slice(&out).expect("rmp-serde decodes our bytes");
            prop_assert_eq!(back, v);
        }

        #[test]
        fn sink_writes_the_same_bytes(vals in proptest::collection::vec((any::<bool>(), any::<i64>()), 0..40)) {
            let mut out = Vec::new();
            let mut sink = Sink::default();
            for _round in 0..2 {
                out.clear();
                sink.clear();
                for &(unsigned, v) in &vals {
                    if unsigned {
                        write_uint(&mut out, v as u64);
                        sink.uint(v as u64);
                    } else {
                        write_int(&mut out, v);
                        sink.int(v);
                    }
                }
                prop_assert_eq!(sink.bytes(), &out[..]);
                prop_assert_eq!(sink.len(), out.len());
            }
        }

        #[test]
        fn strings_and_arrays_round_trip(s in ".{0,300}", n in 0u32..70_000) {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            let back: String = rmp_serde::from_slice(&out).expect("string");
            prop_assert_eq!(&back, &s);
            let mut hdr = Vec::new();
            write_array_len(&mut hdr, n);
            let mut theirs = Vec::new();
            rmp::encode::write_array_len(&mut theirs, n).expect("vec write");
            prop_assert_eq!(hdr, theirs);
        }
    }

    #[test]
    fn forged_lengths_are_rejected_without_allocating() {
        for bytes in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xdb, 0xff, 0xff, 0xff, 0xff],
            &[0xdc, 0xff, 0xff],
        ] {
            let mut r = Reader::new(bytes);
            let res = if bytes[0] == 0xdb { r.str().map(|_| 0) } else { r.array_len() };
            assert_eq!(res, Err(DecodeError::LengthTooLarge), "{bytes:02x?}");
        }
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut r = Reader::new(&[0xa2, 0xc3, 0x28]);
        assert_eq!(r.str(), Err(DecodeError::Utf8));
    }

    #[test]
    fn numbers_accept_floats_and_ints() {
        let mut out = Vec::new();
        write_f32(&mut out, 0.5);
        write_int(&mut out, -1);
        out.push(0xcb);
        out.extend_from_slice(&0.25f64.to_be_bytes());
        let mut r = Reader::new(&out);
        assert_eq!(r.number(), Ok(0.5));
        assert_eq!(r.number(), Ok(-1.0));
        assert_eq!(r.number(), Ok(0.25));
        assert_eq!(r.finish(), Ok(()));
    }
}
