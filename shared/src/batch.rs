//! The HTTP long-polling transport's batch: the messages of one HTTP body, each behind its
//! length, and optionally, last, the close of the session.
//!
//! ```text
//! batch  = *record [close]
//! record = length:u32 big-endian (1 or more)   message (that many bytes: one MessagePack message)
//! close  = 00 00 00 00   code:u16 big-endian   reason (UTF-8, to the end of the body)
//! ```
//! An empty body is an empty batch. The messages are exactly the bytes a WebSocket binary
//! message would carry, so both transports share one codec; `docs/protocol.md` has examples.

/// Bytes a close reason may take at most (as in a WebSocket close frame).
pub const MAX_REASON_BYTES: usize = 123;

/// One entry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// One message's bytes.
    Message(&'a [u8]),
    /// The session is over: the close code and reason (always the last record).
    Close {
        /// The close code, as WebSocket's.
        code: u16,
        /// Why.
        reason: &'a str,
    },
}

/// Why a batch can't be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// A length prefix, a record or a close code runs past the end of the body.
    #[error("batch truncated: a record runs past the end of the body")]
    Truncated,
    /// A close record's reason is not UTF-8.
    #[error("close reason is not UTF-8")]
    Reason,
}

/// Appends one message to a batch.
pub fn push_message(out: &mut Vec<u8>, msg: &[u8]) {
    push_message_parts(out, &[msg]);
}

/// Appends one message given in parts (e.g. a client's header and a shared body).
pub fn push_message_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    debug_assert!(len > 0, "an empty message would read as a close");
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Appends the close record; the reason is cut to [`MAX_REASON_BYTES`] at a character
/// boundary. Nothing may follow it.
pub fn push_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
}

/// The records of `body`, in order; a close is always the last.
pub fn records(body: &[u8]) -> Records<'_> {
    Records { rest: body }
}

/// Iterator over a batch's records (see [`records`]); yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.read();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl<'a> Records<'a> {
    fn read(&mut self) -> Result<Record<'a>, BatchError> {
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or(BatchError::Truncated)?;
        let len = u32::from_be_bytes(*len) as usize;
        if len == 0 {
            let (code, reason) = rest.split_first_chunk::<2>().ok_or(BatchError::Truncated)?;
            let reason = std::str::from_utf8(reason).map_err(|_| BatchError::Reason)?;
            self.rest = &[];
            return Ok(Record::Close { code: u16::from_be_bytes(*code), reason });
        }
        if rest.len() < len {
            return Err(BatchError::Truncated);
        }
        let (msg, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(Record::Message(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_a_close_round_trip() {
        let mut out = Vec::new();
        push_message(&mut out, &[0x92, 0x03, 0x05]);
        push_message_parts(&mut out, &[&[0x91], &[0x03]]);
        push_close(&mut out, 4002, "taken over");
        let got: Vec<_> = records(&out).collect::<Result<_, _>>().expect("valid");
        assert_eq!(
            got,
            vec![
                Record::Message(&[0x92, 0x03, 0x05]),
                Record::Message(&[0x91, 0x03]),
                Record::Close { code: 4002, reason: "taken over" },
            ]
        );
        assert_eq!(records(&[]).count(), 0, "an empty body is an empty batch");
    }

    #[test]
    fn truncated_batches_are_errors_not_panics() {
        let mut out = Vec::new();
        push_message(&mut out, &[1, 2, 3]);
        for cut in 1..out.len() {
            let got: Vec<_> = records(&out[..cut]).collect();
            assert_eq!(got, vec![Err(BatchError::Truncated)], "cut at {cut}");
        }
        assert_eq!(records(&[0, 0, 0, 0, 3]).next(), Some(Err(BatchError::Truncated)));
        assert_eq!(records(&[0, 0, 0, 0, 3, 232, 0xff]).next(), Some(Err(BatchError::Reason)));
        let huge = [0xff, 0xff, 0xff, 0xff, 1];
        assert_eq!(records(&huge).next(), Some(Err(BatchError::Truncated)));
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let mut out = Vec::new();
        push_close(&mut out, 1000, &"é".repeat(100));
        let Some(Ok(Record::Close { reason, .. })) = records(&out).next() else { panic!() };
        assert_eq!(reason.len(), 122);
    }
}
