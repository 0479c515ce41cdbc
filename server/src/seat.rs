//! Signed seats: with a join secret (`--join-secret`), the server admits a join only if it
//! carries a seat ticket a matchmaker signed with the same secret, for this room, not
//! expired. The ticket's bytes are `skirmish_shared::seat`; here is the key that signs and
//! checks them (HMAC-SHA256, compared in constant time) and the text form (base64url).
//!
//! A ticket may be used more than once until it expires (a page reload joins again with it);
//! the matchmaker picks the expiry. Without a secret the server is open and ignores seats.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use skirmish_shared::seat::{MAC_BYTES, MAX_TICKET_TEXT, SeatClaims, parse_ticket};

/// The shortest join secret accepted: 128 bits.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a join secret can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Too short to resist guessing.
    #[error("the join secret must be at least {MIN_SECRET_BYTES} bytes")]
    TooShort,
}

/// Why a seat did not admit a join; the close reason says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    /// The server needs a seat and the join carried none.
    #[error("seat required")]
    Missing,
    /// Not a ticket (not base64url, not the ticket's MessagePack, too long).
    #[error("seat malformed")]
    Malformed,
    /// Its MAC is not this server's secret's over what it says.
    #[error("seat forged")]
    Forged,
    /// Its expiry has passed.
    #[error("seat expired")]
    Expired,
    /// It is for another room than the join asked for.
    #[error("seat is for another room")]
    WrongRoom,
}

impl SeatError {
    /// One word for it, as the `reason` label of `skirmish_seats_refused_total`.
    pub fn label(&self) -> &'static str {
        match self {
            SeatError::Missing => "missing",
            SeatError::Malformed => "malformed",
            SeatError::Forged => "forged",
            SeatError::Expired => "expired",
            SeatError::WrongRoom => "wrong_room",
        }
    }
}

/// The key seats are signed and checked with. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct SeatKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SeatKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeatKey(..)")
    }
}

impl SeatKey {
    /// A key from the join secret's bytes (at least [`MIN_SECRET_BYTES`]).
    pub fn new(secret: &[u8]) -> Result<Self, SecretError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort);
        }
        // HMAC takes a key of any length.
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SecretError::TooShort)?;
        Ok(Self { mac })
    }

    fn mac_of(&self, claims: &SeatClaims) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(&claims.signed_bytes());
        mac
    }

    /// A ticket's text for these claims.
    pub fn mint(&self, claims: &SeatClaims) -> String {
        let tag: [u8; MAC_BYTES] = self.mac_of(claims).finalize().into_bytes().into();
        URL_SAFE_NO_PAD.encode(claims.ticket_bytes(&tag))
    }

    /// What a ticket says, if this key signed it and it has not expired at `now` (Unix
    /// seconds). The room is the caller's to compare.
    pub fn check(&self, ticket: &str, now: u64) -> Result<SeatClaims, SeatError> {
        if ticket.len() > MAX_TICKET_TEXT {
            return Err(SeatError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(ticket).map_err(|_| SeatError::Malformed)?;
        let parsed = parse_ticket(&bytes).map_err(|_| SeatError::Malformed)?;
        // Constant-time comparison (`verify_slice`), before anything the ticket says is used.
        self.mac_of(&parsed.claims).verify_slice(&parsed.mac).map_err(|_| SeatError::Forged)?;
        if now >= parsed.claims.expires {
            return Err(SeatError::Expired);
        }
        Ok(parsed.claims)
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn key() -> SeatKey {
        SeatKey::new(b"0123456789abcdef-test-secret").expect("long enough")
    }

    fn claims(expires: u64) -> SeatClaims {
        SeatClaims { room: "arena".into(), name: "ann".into(), expires }
    }

    #[test]
    fn a_minted_ticket_checks_until_it_expires() {
        let ticket = key().mint(&claims(NOW + 60));
        assert_eq!(key().check(&ticket, NOW), Ok(claims(NOW + 60)));
        assert_eq!(key().check(&ticket, NOW + 59), Ok(claims(NOW + 60)));
        assert_eq!(key().check(&ticket, NOW + 60), Err(SeatError::Expired));
    }

    #[test]
    fn another_secret_or_a_changed_claim_is_forged() {
        let ticket = key().mint(&claims(NOW + 60));
        let other = SeatKey::new(b"another secret, also 16+ bytes").expect("long enough");
        assert_eq!(other.check(&ticket, NOW), Err(SeatError::Forged));
        // The same MAC on a ticket that says another room.
        let bytes = URL_SAFE_NO_PAD.decode(&ticket).expect("base64");
        let parsed = parse_ticket(&bytes).expect("ticket");
        let moved = SeatClaims { room: "other".into(), ..parsed.claims };
        let forged = URL_SAFE_NO_PAD.encode(moved.ticket_bytes(&parsed.mac));
        assert_eq!(key().check(&forged, NOW), Err(SeatError::Forged));
        // An expired ticket with a bumped expiry is forged, not "expired".
        let later = SeatClaims { expires: NOW + 3600, ..claims(NOW + 60) };
        let bumped = URL_SAFE_NO_PAD.encode(later.ticket_bytes(&parsed.mac));
        assert_eq!(key().check(&bumped, NOW), Err(SeatError::Forged));
    }

    #[test]
    fn junk_is_malformed() {
        for junk in ["", "not base64!", "kwXhcmVuYQ", &"A".repeat(MAX_TICKET_TEXT + 1)] {
            assert_eq!(key().check(junk, NOW), Err(SeatError::Malformed), "{junk}");
        }
    }

    /// `docs/protocol.md` "Seat tickets" shows these bytes (worked out independently).
    #[test]
    fn the_documented_example_is_what_the_server_signs() {
        let doc = include_str!("../../docs/protocol.md");
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        let key = SeatKey::new(b"0123456789abcdef").expect("16 bytes");
        let claims =
            SeatClaims { room: "arena".into(), name: "ann".into(), expires: 1_800_000_000 };
        let text = key.mint(&claims);
        let ticket = URL_SAFE_NO_PAD.decode(&text).expect("base64");
        for shown in [hex(&claims.signed_bytes()), hex(&ticket), text.clone()] {
            assert!(doc.contains(&format!("`{shown}`")), "docs/protocol.md lacks `{shown}`");
        }
        assert_eq!(key.check(&text, 1_700_000_000), Ok(claims));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(SeatKey::new(b"short").err(), Some(SecretError::TooShort));
        assert_eq!(format!("{:?}", key()), "SeatKey(..)");
    }
}
