//! The frames a WebSocket client sends (RFC 6455 §5), read straight off the socket into whole
//! messages, with the server's rules: masked frames only, no extensions (reserved bits clear),
//! control frames whole and at most 125 bytes, messages (however fragmented) and frames at
//! most the size limit, a close frame's code valid and its reason UTF-8.
//!
//! It keeps no buffer between messages: a read lands on the stack, and only the bytes of a
//! frame not yet whole (or of frames after the message returned) are kept, in a buffer freed
//! as soon as they are used. An idle connection holds two empty `Vec`s. (tungstenite, which
//! this replaces on the reading side, keeps its read buffer and a 300-byte state in every
//! connection: BENCHMARKS.md, "Memory at rest".)

use std::io;

/// Largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Bytes one read takes off the socket at most (on the stack): a few inputs.
const READ_CHUNK: usize = 512;
/// Reads one call makes at most before it lets the task do something else
/// ([`ReadError::Busy`]): far more than the largest message takes.
const READS_PER_CALL: usize = 8;
/// Frames one message may come in at most: empty fragments would otherwise cost work without
/// ever adding up to the size limit or making a message the flood limit counts.
pub const MAX_FRAGMENTS: u8 = 16;

/// A whole message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A binary message (its fragments joined).
    Binary(Vec<u8>),
    /// The first frame of a text message (the protocol is binary: the connection ends).
    Text,
    /// A ping, with its payload (answered with a pong carrying it).
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// The client closes, with its code if it gave one.
    Close(Option<u16>),
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing whole to return, and the socket has nothing more now.
    #[error("nothing to read now")]
    WouldBlock,
    /// Nothing whole yet after [`READS_PER_CALL`] reads: call again after letting others run.
    #[error("reading on after a pause")]
    Busy,
    /// A message in more than [`MAX_FRAGMENTS`] frames (close 1008).
    #[error("message in more than {MAX_FRAGMENTS} frames")]
    Fragments,
    /// The client closed its end of the connection.
    #[error("connection closed")]
    Eof,
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(io::Error),
    /// The client broke the WebSocket protocol (close 1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A message or frame over the size limit (close 1009).
    #[error("message of {size} bytes or more, over the limit of {limit}")]
    TooBig {
        /// The size announced (or reached, for a fragmented message).
        size: u64,
        /// The limit.
        limit: u32,
    },
    /// A close frame whose reason is not UTF-8 (close 1007).
    #[error("close reason not UTF-8")]
    Utf8,
}

/// One client connection's reading state.
#[derive(Debug)]
pub struct FrameReader {
    /// Bytes read and not yet used: the start of a frame, or frames after the last message
    /// returned. Empty and unallocated between messages.
    pending: Vec<u8>,
    /// A binary message arriving in fragments: its bytes so far.
    fragments: Option<Vec<u8>>,
    /// Largest message (and frame) accepted, in bytes.
    max_message: u32,
    /// Frames of the message being assembled (binary, or text being skipped).
    frames_in_message: u8,
    /// A text message's later fragments are being skipped (its first frame was returned as
    /// [`Incoming::Text`]; the connection is closing).
    skipping_text: bool,
    /// Nothing more is read ([`read_until_closed`](Self::read_until_closed)): reading
    /// failed, or the peer sent its close.
    done: bool,
}

/// A frame header, parsed.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header bytes, mask included.
    len: usize,
    payload: usize,
}

impl FrameReader {
    /// A reader accepting messages up to `max_message` bytes, starting with `prefix` (bytes
    /// read off the socket already, past the upgrade request).
    pub fn new(max_message: u32, prefix: &[u8]) -> Self {
        Self {
            pending: prefix.to_vec(),
            fragments: None,
            max_message,
            frames_in_message: 0,
            skipping_text: false,
            done: false,
        }
    }

    /// As [`read`](Self::read), but after the peer's close, or any error but `WouldBlock`
    /// and `Busy`, nothing more is read: every later call says `Eof`. (Reading on past an
    /// error is not meant to work: the stream's place in its frames is lost.)
    pub fn read_until_closed(
        &mut self,
        read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> Result<Incoming, ReadError> {
        if self.done {
            return Err(ReadError::Eof);
        }
        let res = self.read(read);
        self.done = match &res {
            Ok(msg) => matches!(msg, Incoming::Close(_)),
            Err(e) => !matches!(e, ReadError::WouldBlock | ReadError::Busy),
        };
        res
    }

    /// The next message: from bytes already read, else from `read` (a socket's non-blocking
    /// read: `WouldBlock` when it has nothing, `Ok(0)` at its end) until one is whole.
    pub fn read(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> Result<Incoming, ReadError> {
        if let Some(msg) = self.next_in_pending()? {
            return Ok(msg);
        }
        for _ in 0..READS_PER_CALL {
            let mut chunk = [0u8; READ_CHUNK];
            let n = match read(&mut chunk) {
                Ok(0) => return Err(ReadError::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(ReadError::WouldBlock);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            };
            let msg = if self.pending.is_empty() {
                // The usual case, one input in one read: parsed where it was read, and only
                // what follows its message kept.
                let (msg, used) = self.parse(&chunk[..n])?;
                self.pending = chunk[used..n].to_vec();
                msg
            } else {
                self.pending.extend_from_slice(&chunk[..n]);
                self.next_in_pending()?
            };
            if let Some(msg) = msg {
                return Ok(msg);
            }
        }
        Err(ReadError::Busy)
    }

    /// The next whole message in `pending`, if there is one; what it used is dropped (and the
    /// buffer freed once empty).
    fn next_in_pending(&mut self) -> Result<Option<Incoming>, ReadError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut pending = std::mem::take(&mut self.pending);
        let (msg, used) = self.parse(&pending)?;
        if used < pending.len() {
            pending.drain(..used);
            self.pending = pending;
        }
        Ok(msg)
    }

    /// Parses the whole frames at the start of `buf` until one makes a message: that message,
    /// if there is one yet, and the bytes of the frames parsed.
    fn parse(&mut self, buf: &[u8]) -> Result<(Option<Incoming>, usize), ReadError> {
        let mut at = 0;
        loop {
            let Some(header) = self.header(&buf[at..])? else { return Ok((None, at)) };
            let start = at + header.len;
            let end = start + header.payload;
            if buf.len() < end {
                return Ok((None, at));
            }
            let mut payload = buf[start..end].to_vec();
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= header.mask[i & 3];
            }
            at = end;
            if let Some(msg) = self.frame(&header, payload)? {
                return Ok((Some(msg), at));
            }
        }
    }

    /// The header at the start of `p`, checked; `None` until it is all there.
    fn header(&self, p: &[u8]) -> Result<Option<Header>, ReadError> {
        let (Some(&b0), Some(&b1)) = (p.first(), p.get(1)) else { return Ok(None) };
        if b0 & 0x70 != 0 {
            return Err(ReadError::Protocol("reserved bits set"));
        }
        let opcode = b0 & 0x0f;
        if !matches!(opcode, 0x0..=0x2 | 0x8..=0xa) {
            return Err(ReadError::Protocol("unknown opcode"));
        }
        if b1 & 0x80 == 0 {
            return Err(ReadError::Protocol("unmasked client frame"));
        }
        let (len_bytes, short) = match b1 & 0x7f {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(u64::from(n))),
        };
        let len = 2 + len_bytes + 4;
        if p.len() < len {
            return Ok(None);
        }
        if len_bytes == 8 && p[2] & 0x80 != 0 {
            return Err(ReadError::Protocol("64-bit length with its top bit set"));
        }
        let payload = match short {
            Some(n) => n,
            None => p[2..2 + len_bytes].iter().fold(0u64, |n, &b| n << 8 | u64::from(b)),
        };
        let fin = b0 & 0x80 != 0;
        if opcode & 0x8 != 0 {
            if !fin {
                return Err(ReadError::Protocol("fragmented control frame"));
            }
            if payload > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ReadError::Protocol("control frame over 125 bytes"));
            }
        }
        // A message's size counts its fragments so far: checked before any of this frame is
        // kept, so nothing over the limit is ever buffered.
        let so_far = self.fragments.as_ref().map_or(0, Vec::len) as u64;
        let size = payload.saturating_add(if opcode == 0 { so_far } else { 0 });
        if opcode == 0 && self.frames_in_message >= MAX_FRAGMENTS {
            return Err(ReadError::Fragments);
        }
        if size > u64::from(self.max_message) {
            return Err(ReadError::TooBig { size, limit: self.max_message });
        }
        let mut mask = [0; 4];
        mask.copy_from_slice(&p[len - 4..len]);
        // Below the limit, so it fits a usize.
        Ok(Some(Header { fin, opcode, mask, len, payload: payload as usize }))
    }

    /// What a whole frame makes: a message, or `None` for a fragment that is not the last.
    fn frame(&mut self, h: &Header, payload: Vec<u8>) -> Result<Option<Incoming>, ReadError> {
        let in_message = self.fragments.is_some() || self.skipping_text;
        match h.opcode {
            0x0 if !in_message => Err(ReadError::Protocol("continuation frame without a message")),
            0x0 => {
                self.frames_in_message += 1;
                if self.skipping_text {
                    self.skipping_text = !h.fin;
                    return Ok(None);
                }
                let so_far = self.fragments.get_or_insert_with(Vec::new);
                so_far.extend_from_slice(&payload);
                Ok(if h.fin { self.fragments.take().map(Incoming::Binary) } else { None })
            }
            0x1 | 0x2 if in_message => {
                Err(ReadError::Protocol("new message inside a fragmented one"))
            }
            0x1 => {
                self.frames_in_message = 1;
                self.skipping_text = !h.fin;
                Ok(Some(Incoming::Text))
            }
            0x2 if h.fin => Ok(Some(Incoming::Binary(payload))),
            0x2 => {
                self.frames_in_message = 1;
                self.fragments = Some(payload);
                Ok(None)
            }
            0x8 => close(&payload).map(|code| Some(Incoming::Close(code))),
            0x9 => Ok(Some(Incoming::Ping(payload))),
            _ => Ok(Some(Incoming::Pong)),
        }
    }
}

/// A close frame's code (RFC 6455 §5.5.1, §7.4), checked.
fn close(payload: &[u8]) -> Result<Option<u16>, ReadError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ReadError::Protocol("close frame of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            // Codes a peer may send: the defined ones (not 1004-1006 or 1015, which are never
            // sent), and the ranges for libraries and applications.
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(ReadError::Protocol("invalid close code"));
            }
            std::str::from_utf8(reason).map_err(|_| ReadError::Utf8)?;
            Ok(Some(code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: `b0` (FIN, opcode), masked with `mask`.
    fn frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut f = vec![b0];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        f
    }

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// Reads everything `bytes` holds, `chunk` bytes a read, into messages and the error
    /// that ended it.
    fn read_all(bytes: &[u8], chunk: usize) -> (Vec<Incoming>, ReadError) {
        let (got, end, _) = read_all_watched(bytes, chunk);
        (got, end)
    }

    /// As [`read_all`], also giving the most bytes the reader held after any call: pending,
    /// and a fragmented message's so far.
    fn read_all_watched(bytes: &[u8], chunk: usize) -> (Vec<Incoming>, ReadError, (usize, usize)) {
        let mut reader = FrameReader::new(1024, &[]);
        let mut at = 0;
        let mut got = Vec::new();
        let mut peak = (0, 0);
        loop {
            let res = reader.read(|buf| {
                let n = chunk.min(buf.len()).min(bytes.len() - at);
                if n == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                buf[..n].copy_from_slice(&bytes[at..at + n]);
                at += n;
                Ok(n)
            });
            let fragments = reader.fragments.as_ref().map_or(0, Vec::len);
            peak = (peak.0.max(reader.pending.len()), peak.1.max(fragments));
            match res {
                Ok(msg) => got.push(msg),
                Err(ReadError::Busy) => {}
                Err(e) => return (got, e, peak),
            }
        }
    }

    #[test]
    fn messages_come_whole_however_the_bytes_are_split() {
        let mut bytes = frame(0x82, &[0x95, 0x01, 0x07], MASK);
        bytes.extend(frame(0x89, b"hi", MASK));
        bytes.extend(frame(0x02, b"ab", MASK)); // fragmented: "ab" + ping + "cd" + "e"
        bytes.extend(frame(0x89, b"", MASK)); // a control frame between fragments
        bytes.extend(frame(0x00, b"cd", MASK));
        bytes.extend(frame(0x80, b"e", MASK));
        bytes.extend(frame(0x8a, b"", MASK));
        bytes.extend(frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e'], MASK));
        let want = vec![
            Incoming::Binary(vec![0x95, 0x01, 0x07]),
            Incoming::Ping(b"hi".to_vec()),
            Incoming::Ping(Vec::new()),
            Incoming::Binary(b"abcde".to_vec()),
            Incoming::Pong,
            Incoming::Close(Some(1000)),
        ];
        for chunk in [1, 2, 3, 7, 512] {
            let (got, end) = read_all(&bytes, chunk);
            assert_eq!(got, want, "{chunk} bytes a read");
            assert!(matches!(end, ReadError::WouldBlock), "{chunk}: {end:?}");
        }
    }

    #[test]
    fn lengths_of_16_and_64_bits_are_read() {
        let big = vec![7u8; 300];
        let (got, _) = read_all(&frame(0x82, &big, MASK), 64);
        assert_eq!(got, vec![Incoming::Binary(big.clone())]);
        let mut f = vec![0x82, 0x80 | 127];
        f.extend_from_slice(&300u64.to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&big);
        assert_eq!(read_all(&f, 512).0, vec![Incoming::Binary(big)]);
    }

    #[test]
    fn the_rules_are_enforced() {
        let protocol = |bytes: Vec<u8>, why: &str| {
            let (got, end) = read_all(&bytes, 512);
            assert!(got.is_empty() || matches!(got[..], [Incoming::Binary(_)]), "{why}");
            match end {
                ReadError::Protocol(_) => {}
                e => panic!("{why}: {e:?}"),
            }
        };
        let mut unmasked = frame(0x82, &[0x90], MASK);
        unmasked[1] &= 0x7f;
        protocol(unmasked, "unmasked");
        protocol(frame(0xc2, &[0x90], MASK), "reserved bit");
        protocol(frame(0x83, &[0x90], MASK), "unknown opcode");
        protocol(frame(0x09, b"x", MASK), "fragmented ping");
        protocol(frame(0x89, &[0; 126], MASK), "long ping");
        protocol(frame(0x80, b"x", MASK), "continuation without a message");
        let mut inside = frame(0x02, b"a", MASK);
        inside.extend(frame(0x82, b"b", MASK));
        protocol(inside, "binary inside a fragmented message");
        protocol(frame(0x88, &[0x03], MASK), "close of one byte");
        protocol(frame(0x88, &[0x03, 0xed], MASK), "close code 1005");
        protocol(frame(0x88, &[0x00, 0x10], MASK), "close code 16");
        let mut top_bit = vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
        top_bit.extend_from_slice(&MASK);
        protocol(top_bit, "64-bit length with its top bit set");
        let (_, end) = read_all(&frame(0x88, &[0x03, 0xe8, 0xff], MASK), 512);
        assert!(matches!(end, ReadError::Utf8), "{end:?}");
        assert_eq!(read_all(&frame(0x81, b"hi", MASK), 512).0, vec![Incoming::Text]);
        assert_eq!(read_all(&frame(0x88, &[], MASK), 512).0, vec![Incoming::Close(None)]);
        assert_eq!(
            read_all(&frame(0x88, &[0x0f, 0xa0], MASK), 512).0,
            vec![Incoming::Close(Some(4000))]
        );
    }

    #[test]
    fn after_the_peers_close_or_an_error_nothing_more_is_read() {
        let mut bytes = frame(0x88, &[], MASK);
        bytes.extend(frame(0x82, b"late", MASK));
        let mut reader = FrameReader::new(1024, &bytes);
        let nothing = |_: &mut [u8]| Err(io::ErrorKind::WouldBlock.into());
        assert_eq!(reader.read_until_closed(nothing).expect("close"), Incoming::Close(None));
        assert!(matches!(reader.read_until_closed(nothing), Err(ReadError::Eof)));
        let mut reader = FrameReader::new(1024, &frame(0x83, b"", MASK));
        assert!(matches!(reader.read_until_closed(nothing), Err(ReadError::Protocol(_))));
        assert!(matches!(reader.read_until_closed(nothing), Err(ReadError::Eof)));
    }

    #[test]
    fn a_message_comes_in_at_most_16_frames() {
        let mut bytes = frame(0x02, b"", MASK);
        for _ in 0..14 {
            bytes.extend(frame(0x00, b"", MASK));
        }
        let mut ok = bytes.clone();
        ok.extend(frame(0x80, b"x", MASK));
        assert_eq!(read_all(&ok, 512).0, vec![Incoming::Binary(b"x".to_vec())], "16 frames");
        bytes.extend(frame(0x00, b"", MASK));
        bytes.extend(frame(0x80, b"x", MASK));
        let (got, end) = read_all(&bytes, 512);
        assert!(got.is_empty() && matches!(end, ReadError::Fragments), "17 frames: {end:?}");
    }

    #[test]
    fn a_fragmented_text_message_is_returned_once_and_its_rest_skipped() {
        let mut bytes = frame(0x01, b"he", MASK);
        bytes.extend(frame(0x89, b"p", MASK));
        bytes.extend(frame(0x00, b"ll", MASK));
        bytes.extend(frame(0x80, b"o", MASK));
        bytes.extend(frame(0x88, &[0x03, 0xe8], MASK));
        let (got, end) = read_all(&bytes, 512);
        let want = vec![Incoming::Text, Incoming::Ping(b"p".to_vec()), Incoming::Close(Some(1000))];
        assert_eq!(got, want);
        assert!(matches!(end, ReadError::WouldBlock), "{end:?}");
    }

    #[test]
    fn a_call_gives_way_after_a_few_reads_without_a_message() {
        let bytes = frame(0x82, &[5; 20], MASK);
        let mut reader = FrameReader::new(1024, &[]);
        let mut at = 0;
        let mut one_byte = |buf: &mut [u8]| {
            if at == bytes.len() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            buf[0] = bytes[at];
            at += 1;
            Ok(1)
        };
        assert!(matches!(reader.read(&mut one_byte), Err(ReadError::Busy)));
        let msg = loop {
            match reader.read(&mut one_byte) {
                Err(ReadError::Busy) => {}
                other => break other.expect("the message"),
            }
        };
        assert_eq!(msg, Incoming::Binary(vec![5; 20]));
    }

    #[test]
    fn nothing_over_the_limit_is_buffered() {
        // Refused from the header alone, before its payload arrives.
        let mut header = vec![0x82, 0x80 | 126];
        header.extend_from_slice(&1025u16.to_be_bytes());
        header.extend_from_slice(&MASK);
        let (_, end) = read_all(&header, 512);
        assert!(matches!(end, ReadError::TooBig { size: 1025, limit: 1024 }), "{end:?}");
        // A fragmented message is refused once its fragments add up to more.
        let mut bytes = frame(0x02, &[1; 1000], MASK);
        bytes.extend(frame(0x80, &[1; 25], MASK));
        let (_, end) = read_all(&bytes, 512);
        assert!(matches!(end, ReadError::TooBig { size: 1025, .. }), "{end:?}");
        let mut bytes = frame(0x02, &[1; 1000], MASK);
        bytes.extend(frame(0x80, &[1; 24], MASK));
        assert_eq!(read_all(&bytes, 512).0, vec![Incoming::Binary(vec![1; 1024])]);
    }

    #[test]
    fn an_idle_reader_keeps_no_buffer() {
        let mut reader = FrameReader::new(1024, &frame(0x82, &[1, 2], MASK));
        let eof = |_: &mut [u8]| Ok(0);
        assert_eq!(reader.read(eof).expect("the prefix's message"), Incoming::Binary(vec![1, 2]));
        assert_eq!(reader.pending.capacity(), 0, "the prefix's buffer kept");
        assert!(matches!(reader.read(eof), Err(ReadError::Eof)));
        // Two messages in one read: the second waits, then nothing is kept.
        let mut two = frame(0x82, &[3], MASK);
        two.extend(frame(0x82, &[4], MASK));
        let mut once = Some(two);
        let mut read = |buf: &mut [u8]| match once.take() {
            Some(b) => {
                buf[..b.len()].copy_from_slice(&b);
                Ok(b.len())
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        };
        assert_eq!(reader.read(&mut read).expect("first"), Incoming::Binary(vec![3]));
        assert!(reader.pending.capacity() > 0, "the second message waits");
        assert_eq!(reader.read(&mut read).expect("second"), Incoming::Binary(vec![4]));
        assert_eq!(reader.pending.capacity(), 0, "a buffer kept after its bytes were used");
        assert!(matches!(reader.read(&mut read), Err(ReadError::WouldBlock)));
        assert_eq!(std::mem::size_of::<FrameReader>(), 56);
    }

    /// One message as a client may send it: fragments (each with its own mask), with control
    /// frames between them; and what the reader must make of it.
    fn arb_message() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, Vec<Incoming>)> {
        use proptest::prelude::*;
        // At most 3 × 300 bytes: within the 1 KiB limit.
        let payload = proptest::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            (proptest::collection::vec(payload, 1..4), any::<[u8; 4]>(), any::<bool>()).prop_map(
                |(parts, mask, ping_between)| {
                    let mut bytes = Vec::new();
                    let mut want = Vec::new();
                    let last = parts.len() - 1;
                    for (i, part) in parts.iter().enumerate() {
                        let opcode = if i == 0 { 0x2 } else { 0x0 };
                        let fin = if i == last { 0x80 } else { 0 };
                        bytes.extend(frame(fin | opcode, part, mask));
                        if ping_between && i < last {
                            bytes.extend(frame(0x89, &part[..part.len().min(125)], mask));
                            want.push(Incoming::Ping(part[..part.len().min(125)].to_vec()));
                        }
                    }
                    want.push(Incoming::Binary(parts.concat()));
                    (bytes, want)
                }
            ),
            (proptest::collection::vec(any::<u8>(), 0..126), any::<[u8; 4]>())
                .prop_map(|(p, mask)| (frame(0x89, &p, mask), vec![Incoming::Ping(p)])),
            any::<[u8; 4]>().prop_map(|mask| (frame(0x8a, b"", mask), vec![Incoming::Pong])),
        ]
    }

    proptest::proptest! {
        #[test]
        fn valid_streams_read_back_whatever_the_reads(
            messages in proptest::collection::vec(arb_message(), 1..6),
            chunk in 1usize..600,
        ) {
            let bytes: Vec<u8> = messages.iter().flat_map(|(b, _)| b.clone()).collect();
            let want: Vec<Incoming> = messages.into_iter().flat_map(|(_, w)| w).collect();
            let (got, end) = read_all(&bytes, chunk);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert!(matches!(end, ReadError::WouldBlock), "{:?}", end);
        }

        #[test]
        fn any_bytes_are_read_without_panic_in_bounded_memory_the_same_way_however_split(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            chunk in 1usize..600,
        ) {
            let (got, end, (pending, fragments)) = read_all_watched(&bytes, chunk);
            // Never more than an unfinished frame's header and limit, plus one read.
            proptest::prop_assert!(pending <= 14 + 1024 + READ_CHUNK);
            proptest::prop_assert!(fragments <= 1024);
            let (whole, whole_end) = read_all(&bytes, 512);
            proptest::prop_assert_eq!(got, whole);
            proptest::prop_assert_eq!(format!("{end:?}"), format!("{whole_end:?}"));
        }
    }
}
