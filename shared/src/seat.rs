//! Seat tickets: what a matchmaker hands a player so that a server run with a join secret
//! lets it in. A ticket names the room, the player's name and when it expires, and carries an
//! HMAC-SHA256 over those three; the server (which holds the secret) checks it. This module
//! is the ticket's bytes only: no key, no clock, no crypto (see the server's `seat` module).
//!
//! Bytes: a MessagePack array `[room, name, expires, mac]`: `room` and `name` strings,
//! `expires` Unix seconds (uint), `mac` 32 bytes (bin 8). The MAC is computed over the
//! MessagePack array `[room, name, expires]` (the same fields, array header `0x93`). Text form
//! (in a join, or a URL): those bytes in base64url without padding.

use crate::codec::DecodeError;
use crate::wire::{Reader, write_array_len, write_bin, write_str, write_uint};

/// Bytes of the MAC a ticket carries (HMAC-SHA256).
pub const MAC_BYTES: usize = 32;
/// Longest ticket text a join may carry: a room and a name at their longest, in UTF-8 and
/// base64, fit well within it.
pub const MAX_TICKET_TEXT: usize = 512;

/// What a ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatClaims {
    /// The room the seat is in.
    pub room: String,
    /// The player's name.
    pub name: String,
    /// When the ticket stops admitting joins: Unix seconds.
    pub expires: u64,
}

impl SeatClaims {
    /// The bytes the MAC is computed over: `[room, name, expires]`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.room.len() + self.name.len() + 16);
        write_array_len(&mut out, 3);
        self.write_fields(&mut out);
        out
    }

    /// The ticket's bytes: `[room, name, expires, mac]`.
    pub fn ticket_bytes(&self, mac: &[u8; MAC_BYTES]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.room.len() + self.name.len() + 56);
        write_array_len(&mut out, 4);
        self.write_fields(&mut out);
        write_bin(&mut out, mac);
        out
    }

    fn write_fields(&self, out: &mut Vec<u8>) {
        write_str(out, &self.room);
        write_str(out, &self.name);
        write_uint(out, self.expires);
    }
}

/// A ticket read from its bytes, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTicket {
    /// What it claims.
    pub claims: SeatClaims,
    /// The MAC it carries.
    pub mac: [u8; MAC_BYTES],
}

/// Reads a ticket's bytes (never panics, allocates only the two strings).
pub fn parse_ticket(bytes: &[u8]) -> Result<ParsedTicket, DecodeError> {
    let mut r = Reader::new(bytes);
    let len = r.array_len()?;
    if len != 4 {
        return Err(DecodeError::Malformed("a seat ticket is an array of 4"));
    }
    let room = r.str()?.to_owned();
    let name = r.str()?.to_owned();
    let expires = r.int_as()?;
    let mac = r
        .bin()?
        .try_into()
        .map_err(|_| DecodeError::Malformed("a seat ticket's mac is 32 bytes"))?;
    r.finish()?;
    Ok(ParsedTicket { claims: SeatClaims { room, name, expires }, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SeatClaims {
        SeatClaims { room: "arena".into(), name: "ann".into(), expires: 1_800_000_000 }
    }

    #[test]
    fn a_ticket_round_trips() {
        let mac = [7; MAC_BYTES];
        let bytes = claims().ticket_bytes(&mac);
        assert_eq!(parse_ticket(&bytes), Ok(ParsedTicket { claims: claims(), mac }));
    }

    #[test]
    fn the_signed_bytes_are_the_ticket_without_its_mac() {
        let signed = claims().signed_bytes();
        let ticket = claims().ticket_bytes(&[0; MAC_BYTES]);
        assert_eq!(signed[0], 0x93);
        assert_eq!(ticket[0], 0x94);
        assert_eq!(signed[1..], ticket[1..signed.len()]);
        assert_eq!(ticket.len(), signed.len() + 2 + MAC_BYTES);
    }

    #[test]
    fn bad_tickets_are_errors() {
        let good = claims().ticket_bytes(&[1; MAC_BYTES]);
        for n in 0..good.len() {
            assert!(parse_ticket(&good[..n]).is_err(), "truncated at {n}");
        }
        let mut short_mac = claims().signed_bytes();
        short_mac[0] = 0x94;
        write_bin(&mut short_mac, &[1; 31]);
        assert!(parse_ticket(&short_mac).is_err());
        let mut extra = good.clone();
        extra.push(0xc0);
        assert!(parse_ticket(&extra).is_err());
        assert!(parse_ticket(&claims().signed_bytes()).is_err());
    }
}
