//! Reservation tokens: what `reserve` hands out so that `release` and `settle` can take back
//! exactly what was counted, from the window it was counted in — and nothing else.
//!
//! Format: `q3.{feature}.{reserved at, ms}.{amount}.{nonce}.{mac}`, nonce and MAC 16 lowercase
//! hex digits each. The `.` can never appear in a feature name, so `release` tells a token
//! from a feature name by looking at it. The nonce makes every reservation's token unique, so
//! that settling or releasing it can leave a marker in the store that a second attempt finds
//! (see `settle.rs`).
//!
//! The MAC is SipHash-2-4 under the engine's [`TokenKey`] over the key prefix, the profile id,
//! the feature, the instant, the amount and the nonce: a token edited in any part, presented
//! for another profile or feature, or made up, is refused before anything is read or written.

use super::clock::{MAX_MS, MIN_MS};
use super::error::{QuotaError, Result};
use super::key::ProfileId;
use super::limits::{is_feature_name, safe_from, MAX_FEATURE_LEN};
use siphasher::sip::SipHasher24;
use std::cell::Cell;
use std::hash::Hasher;
use std::rc::Rc;

/// Shortest accepted `tokenSecret`, in characters.
pub const MIN_SECRET_CHARS: usize = 16;

/// The 128-bit key of the tokens' MAC. Engines sharing a store must share it to accept each
/// other's tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenKey(u64, u64);

impl std::fmt::Debug for TokenKey {
    // Never printed: a key in a log would let its reader forge tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

impl TokenKey {
    /// The key derived from a secret of at least [`MIN_SECRET_CHARS`] characters: two
    /// SipHash-2-4 digests of its UTF-8 bytes under two fixed domain keys, so that all of the
    /// secret's entropy, up to 128 bits, reaches the key.
    pub fn from_secret(secret: &str) -> Result<TokenKey> {
        let n = secret.chars().count();
        if n < MIN_SECRET_CHARS {
            return Err(QuotaError::config(format!(
                "tokenSecret must be a string of at least {MIN_SECRET_CHARS} characters, got {n}"
            )));
        }
        let half = |domain: u64| {
            let mut h = SipHasher24::new_with_keys(0x7761_736d_2d71_756f, domain);
            h.write(secret.as_bytes());
            h.finish()
        };
        Ok(TokenKey(half(1), half(2)))
    }

    /// A key from 128 random bits (an engine without `tokenSecret`).
    pub fn from_random(k0: u64, k1: u64) -> TokenKey {
        TokenKey(k0, k1)
    }
}

/// Where an engine's reservations get their nonces and MAC key, shared with the calls it
/// builds, so that both are drawn only when a reservation is admitted: a denial costs no MAC
/// and draws no random value.
#[derive(Debug, Clone)]
pub struct Tokens(Rc<TokenSource>);

#[derive(Debug)]
struct TokenSource {
    /// Where randomness comes from (JS: `crypto.getRandomValues`). Drawn on first use only:
    /// workerd forbids random values while a module is being loaded, where engines are made.
    entropy: fn() -> u64,
    /// State of the generator of reservation nonces (splitmix64); `None` until first drawn.
    nonces: Cell<Option<u64>>,
    /// The MAC key: from `tokenSecret`, or random on first use.
    key: Cell<Option<TokenKey>>,
}

impl Tokens {
    pub fn new(entropy: fn() -> u64) -> Tokens {
        Tokens(Rc::new(TokenSource {
            entropy,
            nonces: Cell::new(None),
            key: Cell::new(None),
        }))
    }

    /// The same source drawing from `entropy` (what was drawn so far is kept).
    pub fn with_entropy(&self, entropy: fn() -> u64) -> Tokens {
        Tokens(Rc::new(TokenSource {
            entropy,
            nonces: self.0.nonces.clone(),
            key: self.0.key.clone(),
        }))
    }

    pub fn set_nonce_seed(&self, seed: u64) {
        self.0.nonces.set(Some(seed));
    }

    pub fn set_key(&self, key: TokenKey) {
        self.0.key.set(Some(key));
    }

    /// The MAC key, drawn now if no secret gave it and none was drawn yet.
    pub fn key(&self) -> TokenKey {
        let s = &self.0;
        s.key.get().unwrap_or_else(|| {
            let key = TokenKey::from_random((s.entropy)(), (s.entropy)());
            s.key.set(Some(key));
            key
        })
    }

    /// The next nonce (splitmix64: cheap, and every seed gives a full-period sequence).
    pub fn next_nonce(&self) -> u64 {
        let s = &self.0;
        let seed = s.nonces.get().unwrap_or_else(s.entropy);
        let state = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.nonces.set(Some(state));
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The reservation a reserve will hand out if admitted: its nonce is drawn and its MAC
/// computed only then ([`PendingToken::admit`]).
#[derive(Debug, Clone)]
pub struct PendingToken {
    pub tokens: Tokens,
    pub prefix: Rc<str>,
    pub id: ProfileId,
    pub at_ms: i64,
    pub amount: i64,
    /// Bits of the nonce kept (idempotency records hold 52).
    pub nonce_mask: u64,
}

impl PendingToken {
    /// The signed reservation of an admitted reserve of `feature`, with a fresh nonce.
    pub fn admit(&self, feature: &str) -> Reservation {
        let nonce = self.tokens.next_nonce() & self.nonce_mask;
        let key = self.tokens.key();
        Reservation::signed(
            &key,
            &self.prefix,
            &self.id,
            feature,
            self.at_ms,
            self.amount,
            nonce,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub feature: String,
    pub at_ms: i64,
    pub amount: i64,
    /// Random per reservation.
    pub nonce: u64,
    /// [`Reservation::mac`] of the fields above, for the profile it was made for.
    pub mac: u64,
}

impl Reservation {
    /// A reservation of `profile` under `prefix`, signed with `key`.
    pub fn signed(
        key: &TokenKey,
        prefix: &str,
        profile: &ProfileId,
        feature: &str,
        at_ms: i64,
        amount: i64,
        nonce: u64,
    ) -> Reservation {
        Reservation {
            feature: feature.to_owned(),
            at_ms,
            amount,
            nonce,
            mac: mac(key, (prefix, profile, feature), at_ms, amount, nonce),
        }
    }

    /// [`mac`] of this reservation's fields.
    pub fn mac(&self, key: &TokenKey, prefix: &str, profile: &ProfileId) -> u64 {
        let (at_ms, amount, nonce) = (self.at_ms, self.amount, self.nonce);
        mac(key, (prefix, profile, &self.feature), at_ms, amount, nonce)
    }

    /// Decodes `token` and checks that it was made by an engine holding `key` for `profile`
    /// under `prefix`; anything else is `INVALID_ARGUMENT`.
    pub fn verify(token: &str, key: &TokenKey, prefix: &str, profile: &ProfileId) -> Result<Self> {
        let r = Reservation::decode(token)?;
        // Compared as a whole word: no early exit that would time how many digits matched.
        if r.mac(key, prefix, profile) ^ r.mac != 0 {
            return Err(QuotaError::argument(
                "the reservation token was not issued by this engine for this profile (or was edited)",
            ));
        }
        Ok(r)
    }

    /// The token text (see [`write_token`]).
    pub fn encode(&self) -> String {
        let mut text = Vec::with_capacity(MAX_TOKEN_LEN);
        write_token(
            &mut text,
            &self.feature,
            self.at_ms,
            self.amount,
            self.nonce,
            self.mac,
        );
        // ASCII by construction: nothing is ever replaced.
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Does this string claim to be a token (rather than a feature name)?
    pub fn looks_like_token(s: &str) -> bool {
        s.contains('.')
    }

    /// The fields of a well-formed token, unverified (see [`Reservation::verify`]).
    pub fn decode(token: &str) -> Result<Reservation> {
        let bad = || QuotaError::argument(format!("\"{token}\" is not a reservation token"));
        let mut parts = token.split('.');
        if parts.next() != Some("q3") {
            return Err(bad());
        }
        let feature = parts
            .next()
            .filter(|f| is_feature_name(f))
            .ok_or_else(bad)?;
        let at_ms = parse_int(parts.next()).filter(|t| (MIN_MS..=MAX_MS).contains(t));
        let amount = parse_int(parts.next()).filter(|&a| safe_from(1, a));
        let nonce = parse_hex(parts.next());
        let mac = parse_hex(parts.next());
        match (at_ms, amount, nonce, mac, parts.next()) {
            (Some(at_ms), Some(amount), Some(nonce), Some(mac), None) => Ok(Reservation {
                feature: feature.to_owned(),
                at_ms,
                amount,
                nonce,
                mac,
            }),
            _ => Err(bad()),
        }
    }
}

/// SipHash-2-4 under `key` over every field that says what a token may undo — the key prefix,
/// the profile id, the feature, the instant, the amount and the nonce — each length-prefixed
/// so that no two different inputs feed the same bytes.
pub fn mac(
    key: &TokenKey,
    (prefix, profile, feature): (&str, &ProfileId, &str),
    at_ms: i64,
    amount: i64,
    nonce: u64,
) -> u64 {
    MacStart::new(key, prefix, profile).mac(feature, at_ms, amount, nonce)
}

/// The MAC's state once it has read the key prefix and the profile id (see [`mac`]): every
/// MAC of that profile under that key and prefix goes on from it. A host keeps one per
/// interned id, so that an admission hashes the id's bytes once, not once per token (an
/// engine's key and prefix never change once its first reservation is signed).
#[derive(Clone, Copy)]
pub struct MacStart(SipHasher24);

impl MacStart {
    pub fn new(key: &TokenKey, prefix: &str, profile: &ProfileId) -> MacStart {
        let mut hasher = SipHasher24::new_with_keys(key.0, key.1);
        let mut bytes = |b: &[u8]| {
            hasher.write(&(b.len() as u64).to_le_bytes());
            hasher.write(b);
        };
        bytes(prefix.as_bytes());
        match profile {
            ProfileId::Number(n) => bytes(&n.to_le_bytes()),
            ProfileId::Text(s) => {
                bytes(b"~");
                bytes(s.as_bytes());
            }
            ProfileId::Raw(s) => {
                bytes(b"=");
                bytes(s.as_bytes());
            }
        }
        MacStart(hasher)
    }

    /// The MAC of a reservation of `feature` by this state's profile.
    pub fn mac(&self, feature: &str, at_ms: i64, amount: i64, nonce: u64) -> u64 {
        let mut h = self.0;
        h.write(&(feature.len() as u64).to_le_bytes());
        h.write(feature.as_bytes());
        let mut fixed = [0u8; 24];
        fixed[..8].copy_from_slice(&at_ms.to_le_bytes());
        fixed[8..16].copy_from_slice(&amount.to_le_bytes());
        fixed[16..].copy_from_slice(&nonce.to_le_bytes());
        h.write(&fixed);
        h.finish()
    }
}

/// The longest token text, in bytes: `q3.` + a 64-byte feature + `.` + up to 16 digits twice
/// (ms before year 10000, an amount up to 2^53 − 1) + `.` + 16 hex digits twice.
pub const MAX_TOKEN_LEN: usize = 3 + MAX_FEATURE_LEN + 1 + 16 + 1 + 16 + 1 + 16 + 1 + 16;

/// Writes the token text `q3.{feature}.{at_ms}.{amount}.{nonce}.{mac}` into `out` (cleared
/// first; ASCII, as feature names are). The only place the format is written: `encode`, and
/// the WASM binding, which leaves each admitted reservation's token in WASM memory for JS to
/// decode — the JS half never spells a token.
pub fn write_token(
    out: &mut Vec<u8>,
    feature: &str,
    at_ms: i64,
    amount: i64,
    nonce: u64,
    mac: u64,
) {
    out.clear();
    out.extend_from_slice(b"q3.");
    out.extend_from_slice(feature.as_bytes());
    out.push(b'.');
    push_decimal(out, at_ms as u64);
    out.push(b'.');
    push_decimal(out, amount as u64);
    out.push(b'.');
    push_hex(out, nonce);
    out.push(b'.');
    push_hex(out, mac);
}

/// `n` in decimal (callers pass only non-negative values: instants and amounts are checked).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `n` as 16 lowercase hex digits.
fn push_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[(n >> (60 - 4 * i)) as usize & 15];
    }
    out.extend_from_slice(&digits);
}

/// Exactly 16 lowercase hex digits, so one value has one spelling.
fn parse_hex(s: Option<&str>) -> Option<u64> {
    s.filter(|n| n.len() == 16 && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|n| u64::from_str_radix(n, 16).ok())
}

/// Canonical decimal only (no sign, no leading zeros), so one reservation has one spelling.
fn parse_int(s: Option<&str>) -> Option<i64> {
    let s = s?;
    let canonical = !s.is_empty()
        && s.len() <= 16
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret("correct horse battery staple").unwrap()
    }

    fn r42() -> Reservation {
        let id = ProfileId::number(42).unwrap();
        Reservation::signed(&key(), "ai_quota", &id, "remix", 1_795_737_600_123, 3, 0xab)
    }

    #[test]
    fn round_trip() {
        let r = r42();
        let token = r.encode();
        assert!(token.starts_with("q3.remix.1795737600123.3.00000000000000ab."));
        let id = ProfileId::number(42).unwrap();
        assert_eq!(
            Reservation::verify(&token, &key(), "ai_quota", &id).unwrap(),
            r
        );
    }

    #[test]
    fn edited_moved_or_foreign_tokens_are_refused() {
        let token = r42().encode();
        let n42 = ProfileId::number(42).unwrap();
        let ok = |t: &str, k: &TokenKey, p: &str, id: &ProfileId| {
            Reservation::verify(t, k, p, id).is_ok()
        };
        assert!(ok(&token, &key(), "ai_quota", &n42));
        for other in [
            ProfileId::number(7).unwrap(),
            ProfileId::text("42").unwrap(),
        ] {
            assert!(!ok(&token, &key(), "ai_quota", &other), "{other:?}");
        }
        assert!(!ok(&token, &key(), "other", &n42), "another key prefix");
        let other_key = TokenKey::from_secret("another secret, 16+ chars").unwrap();
        assert!(
            !ok(&token, &other_key, "ai_quota", &n42),
            "another engine's key"
        );
        for edited in [
            token.replace(".remix.", ".tips."),
            token.replace(".3.", ".9007199254740991."),
            token.replace(".1795737600123.", ".1795737600124."),
            token.replace(".00000000000000ab.", ".00000000000000ac."),
        ] {
            assert!(Reservation::decode(&edited).is_ok(), "{edited}");
            assert!(!ok(&edited, &key(), "ai_quota", &n42), "{edited}");
        }
    }

    #[test]
    fn extreme_fields_round_trip_within_the_longest_length() {
        let feature = "f".repeat(MAX_FEATURE_LEN);
        for (at_ms, amount, nonce, mac) in [
            (MIN_MS, 1, 0, 0),
            (
                MAX_MS,
                crate::core::limits::MAX_SAFE_INTEGER,
                u64::MAX,
                u64::MAX,
            ),
            (
                1_795_737_600_123,
                10,
                0x0123_4567_89ab_cdef,
                0xfedc_ba98_7654_3210,
            ),
        ] {
            let r = Reservation {
                feature: feature.clone(),
                at_ms,
                amount,
                nonce,
                mac,
            };
            let token = r.encode();
            assert!(token.len() <= MAX_TOKEN_LEN, "{token}");
            assert_eq!(
                token,
                format!("q3.{feature}.{at_ms}.{amount}.{nonce:016x}.{mac:016x}")
            );
            assert_eq!(Reservation::decode(&token).unwrap(), r);
        }
    }

    #[test]
    fn secrets_shorter_than_16_characters_are_refused() {
        assert!(TokenKey::from_secret("0123456789abcde").is_err());
        assert!(TokenKey::from_secret("éééééééééééééééé").is_ok());
        assert_ne!(
            TokenKey::from_secret("0123456789abcdef").unwrap(),
            TokenKey::from_secret("0123456789abcdeg").unwrap()
        );
    }

    #[test]
    fn refuses_malformed_tokens() {
        let mac = "0123456789abcdef";
        for bad in [
            "".to_owned(),
            "remix".to_owned(),
            format!("q2.remix.1.1.0000000000000000.{mac}"),
            format!("q3.remix.1.0.0000000000000000.{mac}"),
            format!("q3.remix.1.-1.0000000000000000.{mac}"),
            format!("q3.remix.01.1.0000000000000000.{mac}"),
            "q3.remix.1.1.0000000000000000".to_owned(),
            format!("q3.remix.1.1.000000000000000.{mac}"),
            format!("q3.remix.1.1.000000000000000A.{mac}"),
            format!("q3.remix.1.1.+000000000000000.{mac}"),
            format!("q3.remix.1.1.0000000000000000.{mac}.1"),
            "q3.remix.1.1.0000000000000000.0123456789ABCDEF".to_owned(),
            format!("q3.re:mix.1.1.0000000000000000.{mac}"),
            format!("q3.remix.x.1.0000000000000000.{mac}"),
            format!("q3..1.1.0000000000000000.{mac}"),
            format!("q3.remix.99999999999999999.1.0000000000000000.{mac}"),
        ] {
            assert!(Reservation::decode(&bad).is_err(), "{bad:?}");
        }
    }
}
