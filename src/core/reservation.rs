//! Reservation tokens: what `reserve` hands out so that `release` and `settle` can take back
//! exactly what was counted, from the window it was counted in — and nothing else.
//!
//! Format: `q4.{feature}.{reserved at, ms}.{amount}.{counted in}.{nonce}.{mac}`, nonce and MAC
//! 16 lowercase hex digits each, and "counted in" the [`CounterTag`] of each policy that
//! counted the reservation (`hd`: a UTC hour and a UTC day), so that `release` and `settle`
//! correct those counters and no other: a policy added by `setLimits` since never counted the
//! reservation, and refunding it would let its window admit that much more than its limit.
//! The `.` can never appear in a feature name, so `release` tells a token from a feature name
//! by looking at it. The nonce makes every reservation's token unique, so that settling or
//! releasing it can leave a marker in the store that a second attempt finds (see `settle.rs`).
//!
//! The MAC is SipHash-2-4 under the engine's [`TokenKey`] over the key prefix, the profile id,
//! the feature, the counters, the instant, the amount and the nonce: a token edited in any
//! part, presented for another profile or feature, or made up, is refused before anything is
//! read or written.
//!
//! Tokens of the format before (`q3.{feature}.{ms}.{amount}.{nonce}.{mac}`, without the
//! counters), made by an engine of an earlier release sharing the store, are still accepted:
//! their MAC is checked as it was made. They do not say which policies counted them, so what
//! they may undo is limited to what cannot give a count away (see `Reservation::counted`).

use super::clock::{MAX_MS, MIN_MS};
use super::direct::MAX_DIRECT_POLICIES;
use super::error::{QuotaError, Result};
use super::key::ProfileId;
use super::limits::{is_feature_name, safe_from, MAX_FEATURE_LEN};
use super::window::{WindowUnit, MS_PER_HOUR};
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

    /// The same source drawing from `entropy`: a key drawn so far is kept (its tokens stay
    /// valid), but the nonces start again from a seed `entropy` gives. Kept, their state would
    /// be shared with an engine cloned before (`Engine` is `Clone`), which would then draw the
    /// same nonces as this one: one's settle would pass for the other's.
    pub fn with_entropy(&self, entropy: fn() -> u64) -> Tokens {
        Tokens(Rc::new(TokenSource {
            entropy,
            nonces: Cell::new(None),
            key: self.0.key.clone(),
        }))
    }

    pub fn set_key(&self, key: TokenKey) {
        self.0.key.set(Some(key));
    }

    /// A source of its own for an engine's clone: the same MAC key (drawn now if none was
    /// yet, so that each accepts the other's tokens) and nonces from a seed of its own.
    pub fn fork(&self) -> Tokens {
        let tokens = Tokens::new(self.0.entropy);
        tokens.set_key(self.key());
        tokens
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

/// The counter a policy counts in, as a token names it: its window and its zone (a 32-bit
/// digest of the zone's name). A policy's limit and name are not part of it: a policy whose
/// limit changed (or that was renamed) still counts in the same counter, and is corrected.
/// Written `h`, `d`, `w`, `m` for a UTC hour, day, week, month; a zoned window's letter is
/// upper-case and followed by the digest in 8 lowercase hex digits (`D1a2b3c4d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterTag {
    window: WindowUnit,
    zone: Option<u32>,
}

impl CounterTag {
    pub fn new(window: WindowUnit, zone: Option<&str>) -> CounterTag {
        let digest = |zone: &str| {
            // Fixed keys: a digest of configuration, not a secret (the MAC covers the tag).
            let mut h = SipHasher24::new_with_keys(0x7a6f_6e65, 0x7461_6773);
            h.write(zone.as_bytes());
            h.finish() as u32
        };
        CounterTag {
            window,
            zone: zone.map(digest),
        }
    }

    fn letter(self) -> u8 {
        let letter = match self.window {
            WindowUnit::Hour => b'h',
            WindowUnit::Day => b'd',
            WindowUnit::Week => b'w',
            WindowUnit::Month => b'm',
        };
        match self.zone {
            None => letter,
            Some(_) => letter.to_ascii_uppercase(),
        }
    }

    /// The tag's text, in the first `len` bytes.
    fn text(self) -> ([u8; 9], usize) {
        let mut text = [self.letter(), 0, 0, 0, 0, 0, 0, 0, 0];
        match self.zone {
            None => (text, 1),
            Some(zone) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (i, digit) in text[1..].iter_mut().enumerate() {
                    *digit = HEX[(zone >> (28 - 4 * i)) as usize & 15];
                }
                (text, 9)
            }
        }
    }

    /// The latest instant at which the window right after the one holding `at_ms` ends, for
    /// a policy counting in this tag: exact for a UTC window; for a zoned one, whose zone the
    /// tag knows only by its digest, the UTC window's at `at_ms` + 24 h, plus 24 h. IANA zones'
    /// offsets lie within −12 h and +14 h; `Intl` in workerd and browsers also takes a fixed
    /// offset (`"+20:00"`, `"-23:59"`), anything strictly within ±24 h, which limits no longer
    /// take as a zone but an earlier release's reservations may still name.
    pub fn latest_next_end(self, at_ms: i64) -> i64 {
        let margin = if self.zone.is_some() {
            24 * MS_PER_HOUR
        } else {
            0
        };
        let made_in = self.window.bounds_at((at_ms + margin).min(MAX_MS));
        self.window.bounds_at(made_in.end_ms.min(MAX_MS)).end_ms + margin
    }

    /// The tags' text, one after another.
    pub fn spell(tags: impl IntoIterator<Item = CounterTag>) -> String {
        let mut out = Vec::new();
        for tag in tags {
            let (text, len) = tag.text();
            out.extend_from_slice(&text[..len]);
        }
        // ASCII by construction.
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The tags `text` spells, each as its text; `None` at the first byte that starts none
/// (a letter other than `hdwm`/`HDWM`, or an upper-case one without 8 lowercase hex digits).
fn tags_in(text: &str) -> impl Iterator<Item = Option<&[u8]>> {
    let mut rest = text.as_bytes();
    std::iter::from_fn(move || {
        let &letter = rest.first()?;
        let len = if letter.is_ascii_uppercase() { 9 } else { 1 };
        let tag = rest.get(..len).filter(|tag| {
            matches!(letter.to_ascii_lowercase(), b'h' | b'd' | b'w' | b'm')
                && tag[1..]
                    .iter()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        rest = if tag.is_some() { &rest[len..] } else { &[] };
        Some(tag)
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub feature: String,
    pub at_ms: i64,
    pub amount: i64,
    /// The counters the reservation was counted in, one per policy of the feature when it
    /// was made, as the token spells them ([`CounterTag::spell`]); `None` for a token of the
    /// earlier format, which does not say.
    pub counted: Option<String>,
    /// Random per reservation.
    pub nonce: u64,
    /// [`Reservation::mac`] of the fields above, for the profile it was made for.
    pub mac: u64,
}

impl Reservation {
    /// A reservation of `profile` under `prefix`, counted in `counted`, signed with `key`.
    pub fn signed(
        key: &TokenKey,
        (prefix, profile, feature): (&str, &ProfileId, &str),
        counted: &[CounterTag],
        (at_ms, amount, nonce): (i64, i64, u64),
    ) -> Reservation {
        let start = MacStart::new(key, prefix, profile);
        Reservation {
            feature: feature.to_owned(),
            at_ms,
            amount,
            counted: Some(CounterTag::spell(counted.iter().copied())),
            nonce,
            mac: start.mac(feature, counted.iter().copied(), at_ms, amount, nonce),
        }
    }

    /// The MAC of this reservation's fields for `profile` under `prefix` (see [`MacStart`]).
    pub fn mac(&self, key: &TokenKey, prefix: &str, profile: &ProfileId) -> u64 {
        let start = MacStart::new(key, prefix, profile);
        let (feature, at_ms, amount, nonce) = (&self.feature, self.at_ms, self.amount, self.nonce);
        let fields = (at_ms, amount, nonce);
        match &self.counted {
            Some(counted) => start.mac_spelled(feature, counted.as_bytes(), fields),
            None => start.mac_unnamed(feature, at_ms, amount, nonce),
        }
    }

    /// Whether the policy counting in `tag` counted this reservation. A token of the earlier
    /// format does not say: every policy of the feature may have.
    pub fn counted_in(&self, tag: CounterTag) -> bool {
        let (text, len) = tag.text();
        let Some(counted) = &self.counted else {
            return true;
        };
        tags_in(counted).any(|t| t == Some(&text[..len]))
    }

    /// The counters the token names (none for a token of the earlier format).
    pub fn tags(&self) -> impl Iterator<Item = CounterTag> + '_ {
        let counted = self.counted.as_deref().unwrap_or("");
        // Well formed: `decode` refused any other.
        tags_in(counted).flatten().map(|text| CounterTag {
            window: match text[0].to_ascii_lowercase() {
                b'h' => WindowUnit::Hour,
                b'd' => WindowUnit::Day,
                b'w' => WindowUnit::Week,
                _ => WindowUnit::Month,
            },
            // Lowercase hex digits (`decode` refused any other).
            zone: (text.len() == 9).then(|| {
                let digit = |b: u8| u32::from(b - if b >= b'a' { b'a' - 10 } else { b'0' });
                text[1..].iter().fold(0, |zone, &b| zone << 4 | digit(b))
            }),
        })
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

    /// The token text (see [`write_token`]; a token of the earlier format as it was written).
    pub fn encode(&self) -> String {
        let mut text = Vec::with_capacity(MAX_TOKEN_LEN);
        let (at_ms, amount, nonce, mac) = (self.at_ms, self.amount, self.nonce, self.mac);
        let counters = match &self.counted {
            Some(counted) => Counters::Spelled(counted),
            None => Counters::Unnamed,
        };
        write_token_of(
            &mut text,
            &self.feature,
            counters,
            (at_ms, amount, nonce, mac),
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
        let named = match parts.next() {
            Some("q4") => true,
            Some("q3") => false,
            _ => return Err(bad()),
        };
        let feature = parts
            .next()
            .filter(|f| is_feature_name(f))
            .ok_or_else(bad)?;
        let at_ms = parse_int(parts.next()).filter(|t| (MIN_MS..=MAX_MS).contains(t));
        let amount = parse_int(parts.next()).filter(|&a| safe_from(1, a));
        let counted = match named {
            true => {
                let text = parts.next().filter(|t| !t.is_empty()).ok_or_else(bad)?;
                if tags_in(text).any(|t| t.is_none()) {
                    return Err(bad());
                }
                Some(text.to_owned())
            }
            false => None,
        };
        let nonce = parse_hex(parts.next(), 16);
        let mac = parse_hex(parts.next(), 16);
        match (at_ms, amount, nonce, mac, parts.next()) {
            (Some(at_ms), Some(amount), Some(nonce), Some(mac), None) => Ok(Reservation {
                feature: feature.to_owned(),
                at_ms,
                amount,
                counted,
                nonce,
                mac,
            }),
            _ => Err(bad()),
        }
    }
}

/// The MAC's state once it has read the key prefix and the profile id (see [`MacStart::mac`]):
/// every MAC of that profile under that key and prefix goes on from it. A host keeps one per
/// interned id, so that an admission hashes the id's bytes once, not once per token (an engine's
/// key and prefix never change once its first reservation is signed).
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

    /// The MAC of a reservation of `feature` by this state's profile, counted in `counted`:
    /// SipHash-2-4 under the engine's key over every field that says what a token may undo,
    /// each length-prefixed or self-delimiting, so that no two different tokens feed the same
    /// bytes (the counters are fed as the token spells them, then a `.`, which is in none).
    pub fn mac(
        &self,
        feature: &str,
        counted: impl IntoIterator<Item = CounterTag>,
        at_ms: i64,
        amount: i64,
        nonce: u64,
    ) -> u64 {
        self.mac_of(feature, &mut counted.into_iter(), (at_ms, amount, nonce))
    }

    /// [`MacStart::mac`], one body for every kind of list of counters (the .wasm's size).
    #[inline(never)]
    fn mac_of(
        &self,
        feature: &str,
        counted: &mut dyn Iterator<Item = CounterTag>,
        (at_ms, amount, nonce): (i64, i64, u64),
    ) -> u64 {
        let mut h = self.feature(feature);
        for tag in counted {
            let (text, len) = tag.text();
            h.write(&text[..len]);
        }
        h.write_u8(b'.');
        Self::fixed(h, at_ms, amount, nonce)
    }

    /// [`MacStart::mac`] of counters as a token spells them.
    fn mac_spelled(
        &self,
        feature: &str,
        counted: &[u8],
        (at_ms, amount, nonce): (i64, i64, u64),
    ) -> u64 {
        let mut h = self.feature(feature);
        h.write(counted);
        h.write_u8(b'.');
        Self::fixed(h, at_ms, amount, nonce)
    }

    /// The MAC of a token of the earlier format, which names no counters.
    fn mac_unnamed(&self, feature: &str, at_ms: i64, amount: i64, nonce: u64) -> u64 {
        Self::fixed(self.feature(feature), at_ms, amount, nonce)
    }

    fn feature(&self, feature: &str) -> SipHasher24 {
        let mut h = self.0;
        h.write(&(feature.len() as u64).to_le_bytes());
        h.write(feature.as_bytes());
        h
    }

    fn fixed(mut h: SipHasher24, at_ms: i64, amount: i64, nonce: u64) -> u64 {
        let mut fixed = [0u8; 24];
        fixed[..8].copy_from_slice(&at_ms.to_le_bytes());
        fixed[8..16].copy_from_slice(&amount.to_le_bytes());
        fixed[16..].copy_from_slice(&nonce.to_le_bytes());
        h.write(&fixed);
        h.finish()
    }
}

/// The longest token text of a feature of up to [`MAX_DIRECT_POLICIES`] zoned policies, in
/// bytes (a capacity: more policies make longer tokens): `q4.` + a 64-byte feature + `.` + up
/// to 16 digits twice (ms before year 10000, an amount up to 2^53 − 1) + `.` + 9 bytes per
/// counter + `.` + 16 hex digits twice.
pub const MAX_TOKEN_LEN: usize =
    3 + MAX_FEATURE_LEN + 1 + 16 + 1 + 16 + 1 + 9 * MAX_DIRECT_POLICIES + 1 + 16 + 1 + 16;

/// Writes the token text `q4.{feature}.{at_ms}.{amount}.{counted}.{nonce}.{mac}` into `out`
/// (cleared first; ASCII, as feature names are). The only place the format is written:
/// `encode`, and the WASM binding, which leaves each admitted reservation's token in WASM
/// memory for JS to decode — the JS half never spells a token.
pub fn write_token(
    out: &mut Vec<u8>,
    feature: &str,
    counted: impl IntoIterator<Item = CounterTag>,
    fields: (i64, i64, u64, u64),
) {
    write_token_of(
        out,
        feature,
        Counters::Tags(&mut counted.into_iter()),
        fields,
    );
}

/// The counters a token names, as [`write_token_of`] is given them.
enum Counters<'a> {
    Tags(&'a mut dyn Iterator<Item = CounterTag>),
    Spelled(&'a str),
    /// A token of the earlier format (`q3`), which names none.
    Unnamed,
}

/// [`write_token`], one body for every kind of list of counters (the .wasm's size).
#[inline(never)]
fn write_token_of(
    out: &mut Vec<u8>,
    feature: &str,
    counted: Counters,
    (at_ms, amount, nonce, mac): (i64, i64, u64, u64),
) {
    out.clear();
    let unnamed = matches!(counted, Counters::Unnamed);
    out.extend_from_slice(if unnamed { b"q3." } else { b"q4." });
    out.extend_from_slice(feature.as_bytes());
    out.push(b'.');
    push_decimal(out, at_ms as u64);
    out.push(b'.');
    push_decimal(out, amount as u64);
    out.push(b'.');
    match counted {
        Counters::Tags(tags) => {
            for tag in tags {
                let (text, len) = tag.text();
                out.extend_from_slice(&text[..len]);
            }
            out.push(b'.');
        }
        Counters::Spelled(text) => {
            out.extend_from_slice(text.as_bytes());
            out.push(b'.');
        }
        Counters::Unnamed => {}
    }
    let mut hex = [b'.'; 33];
    hex[..16].copy_from_slice(&hex_digits(nonce));
    hex[17..].copy_from_slice(&hex_digits(mac));
    out.extend_from_slice(&hex);
}

/// `n` in decimal (callers pass only non-negative values: instants and amounts are checked).
/// In 32-bit arithmetic once it fits: an instant takes three 64-bit divisions, not thirteen.
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n;
    while rest > u64::from(u32::MAX) {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut small = rest as u32;
    loop {
        i -= 1;
        digits[i] = b'0' + (small % 10) as u8;
        small /= 10;
        if small == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The 16 lowercase hex digits of `n`.
fn hex_digits(n: u64) -> [u8; 16] {
    let mut digits = [0u8; 16];
    digits[..8].copy_from_slice(&eight_hex_digits((n >> 32) as u32));
    digits[8..].copy_from_slice(&eight_hex_digits(n as u32));
    digits
}

/// The 8 lowercase hex digits of `n` in one 64-bit word (each nibble spread to a byte of its
/// own, then made a digit): a few word operations instead of a table lookup and a store per
/// digit.
#[inline(never)]
fn eight_hex_digits(n: u32) -> [u8; 8] {
    let mut x = u64::from(n);
    x = (x & 0xffff_0000) << 16 | (x & 0xffff);
    x = (x & 0x0000_ff00_0000_ff00) << 8 | (x & 0x0000_00ff_0000_00ff);
    x = (x & 0x00f0_00f0_00f0_00f0) << 4 | (x & 0x000f_000f_000f_000f);
    // 1 in each byte whose nibble is 10 or more: those become 'a'..'f', not ':'..'?'.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Exactly `width` lowercase hex digits, so one value has one spelling.
fn parse_hex(s: Option<&str>, width: usize) -> Option<u64> {
    let hex = |n: &&str| n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    s.filter(|n| n.len() == width && hex(n))
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

    /// A UTC hour, a UTC day and a Paris day.
    fn counters() -> [CounterTag; 3] {
        [
            CounterTag::new(WindowUnit::Hour, None),
            CounterTag::new(WindowUnit::Day, None),
            CounterTag::new(WindowUnit::Day, Some("Europe/Paris")),
        ]
    }

    fn r42() -> Reservation {
        let id = ProfileId::number(42).unwrap();
        let fields = (1_795_737_600_123, 3, 0xab);
        Reservation::signed(&key(), ("ai_quota", &id, "remix"), &counters(), fields)
    }

    #[test]
    fn round_trip() {
        let r = r42();
        let token = r.encode();
        let paris = format!("{:08x}", counters()[2].zone.unwrap());
        let start = format!("q4.remix.1795737600123.3.hdD{paris}.00000000000000ab.");
        assert!(token.starts_with(&start), "{token}");
        let id = ProfileId::number(42).unwrap();
        assert_eq!(
            Reservation::verify(&token, &key(), "ai_quota", &id).unwrap(),
            r
        );
        let hour_only = Reservation::signed(
            &key(),
            ("ai_quota", &id, "remix"),
            &counters()[..1],
            (1_795_737_600_123, 3, 0xab),
        );
        assert!(hour_only.encode().contains(".3.h.00000000000000ab."));
        assert!(r.counted_in(counters()[2]) && !hour_only.counted_in(counters()[1]));
        assert_eq!(r.tags().collect::<Vec<_>>(), counters());
        assert_eq!(hour_only.tags().collect::<Vec<_>>(), counters()[..1]);
        let zones = [None, Some("Europe/Paris"), Some("Europe/Berlin")];
        let tags: Vec<_> = zones.map(|z| CounterTag::new(WindowUnit::Day, z)).into();
        assert!(tags[0] != tags[1] && tags[1] != tags[2], "{tags:?}");
    }

    #[test]
    fn the_window_after_a_reservations_ends_no_later_than_its_tag_says() {
        let day = 86_400_000;
        let monday_23h = 1_767_654_000_000; // 2026-01-05T23:00:00Z
        let [hour, utc_day, paris_day] = counters();
        assert_eq!(
            hour.latest_next_end(monday_23h),
            monday_23h + 2 * MS_PER_HOUR
        );
        assert_eq!(
            utc_day.latest_next_end(monday_23h),
            monday_23h + MS_PER_HOUR + day
        );
        // A zone 14 h ahead is in Tuesday, its next day ends Wednesday 10:00 UTC; 12 h behind,
        // in Monday, its next day ends Wednesday 12:00 UTC.
        let bound = paris_day.latest_next_end(monday_23h);
        assert!(bound >= monday_23h + 37 * MS_PER_HOUR, "{bound}");
        // Kiritimati (+14 h) is in the week of Monday 5 January from Sunday 10:00 UTC on: at
        // Sunday 23:00 UTC its next week ends on Sunday the 18th, 10:00 UTC, a week after the
        // UTC one's.
        let sunday_23h = monday_23h - day;
        let kiritimati_next_end = monday_23h - 23 * MS_PER_HOUR + 13 * day + 10 * MS_PER_HOUR;
        let utc_week = CounterTag::new(WindowUnit::Week, None);
        assert!(utc_week.latest_next_end(sunday_23h) < kiritimati_next_end);
        let week = CounterTag::new(WindowUnit::Week, Some("Pacific/Kiritimati"));
        assert!(week.latest_next_end(sunday_23h) >= kiritimati_next_end);
    }

    /// A zone at a fixed offset, as workerd's and Chromium's `Intl` take `timeZone: "+20:00"`:
    /// ECMA-402 allows any offset strictly within ±24 h, wider than the IANA zones' −12 h to +14 h.
    #[derive(Debug)]
    struct FixedOffset(i64);

    impl crate::core::TimeZones for FixedOffset {
        fn offset_ms(&self, _: &str, _: i64) -> Result<i64> {
            Ok(self.0)
        }
    }

    #[test]
    fn the_bound_holds_for_every_offset_intl_takes() {
        let minute = 60_000;
        let offsets = [
            -24 * 60 + 1,
            -20 * 60,
            -12 * 60,
            0,
            330,
            14 * 60,
            20 * 60,
            24 * 60 - 1,
        ];
        let monday = 1_767_571_200_000; // 2026-01-05T00:00:00Z
        for unit in [
            WindowUnit::Hour,
            WindowUnit::Day,
            WindowUnit::Week,
            WindowUnit::Month,
        ] {
            let tag = CounterTag::new(unit, Some("+20:00"));
            for offset in offsets.map(|m| m * minute) {
                let zones = FixedOffset(offset);
                // Every hour of eight weeks, across a month's end.
                for at_ms in (0..8 * 7 * 24).map(|h| monday + h * MS_PER_HOUR + 7 * minute) {
                    let made_in = unit.span_in(Some("z"), &zones, at_ms).unwrap();
                    let next = unit.span_in(Some("z"), &zones, made_in.end_ms).unwrap();
                    let bound = tag.latest_next_end(at_ms);
                    assert!(
                        next.end_ms <= bound,
                        "{unit:?} {offset} {at_ms}: {} > {bound}",
                        next.end_ms
                    );
                }
            }
        }
    }

    #[test]
    fn a_token_of_the_earlier_format_still_verifies_and_names_no_counters() {
        // Made by the release before counters were named, with this key.
        let old = "q3.remix.1795737600123.3.00000000000000ab.22112d2d899f5864";
        let id = ProfileId::number(42).unwrap();
        let r = Reservation::verify(old, &key(), "ai_quota", &id).unwrap();
        assert_eq!((r.at_ms, r.amount, r.nonce), (1_795_737_600_123, 3, 0xab));
        assert_eq!(r.counted, None);
        assert!(counters().into_iter().all(|tag| r.counted_in(tag)));
        assert_eq!(r.encode(), old);
        // Neither format can be turned into the other: the MAC covers the counters' field.
        let new = r42().encode();
        let fields: Vec<&str> = new.split('.').collect();
        let as_old = format!(
            "q3.{}.{}.{}.{}.{}",
            fields[1], fields[2], fields[3], fields[5], fields[6]
        );
        assert!(Reservation::verify(&as_old, &key(), "ai_quota", &id).is_err());
        let (head, tail) = old.split_at("q3.remix.1795737600123.3.".len());
        let as_new = format!("q4{}hd.{tail}", &head[2..]);
        assert!(Reservation::decode(&as_new).is_ok(), "{as_new}");
        assert!(Reservation::verify(&as_new, &key(), "ai_quota", &id).is_err());
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
            token.replace(".hdD", ".hD"),
            token.replace(".hdD", ".dhD"),
            token.replace(".hdD", ".hdwD"),
            token.replace(".hdD", ".D"),
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
            let counted = "M00000000".repeat(MAX_DIRECT_POLICIES - 1) + "Mffffffff";
            let r = Reservation {
                feature: feature.clone(),
                at_ms,
                amount,
                counted: Some(counted.clone()),
                nonce,
                mac,
            };
            let token = r.encode();
            assert!(token.len() <= MAX_TOKEN_LEN, "{token}");
            assert_eq!(
                token,
                format!("q4.{feature}.{at_ms}.{amount}.{counted}.{nonce:016x}.{mac:016x}")
            );
            assert_eq!(Reservation::decode(&token).unwrap(), r);
        }
    }

    #[test]
    fn decimals_and_hex_digits_are_spelled_as_format_spells_them() {
        let mut out = Vec::new();
        let above = u64::from(u32::MAX);
        for n in [
            0,
            7,
            10,
            above - 1,
            above,
            above + 1,
            above * 10 + 5,
            1_795_737_600_123,
            (1 << 53) - 1,
            0x0123_4567_89ab_cdef,
            0xfedc_ba98_7654_3210,
            u64::MAX,
        ] {
            let hex = hex_digits(n);
            assert_eq!(String::from_utf8_lossy(&hex), format!("{n:016x}"));
            out.clear();
            push_decimal(&mut out, n);
            assert_eq!(String::from_utf8_lossy(&out), n.to_string());
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
            format!("q4.remix.1.1.0000000000000000.{mac}"),
            format!("q4.remix.1.1..0000000000000000.{mac}"),
            format!("q4.remix.1.1.x.0000000000000000.{mac}"),
            format!("q4.remix.1.1.hD1234567.0000000000000000.{mac}"),
            format!("q4.remix.1.1.D1234567A.0000000000000000.{mac}"),
            format!("q4.remix.1.1.d12345678.0000000000000000.{mac}"),
        ] {
            assert!(Reservation::decode(&bad).is_err(), "{bad:?}");
        }
    }
}
