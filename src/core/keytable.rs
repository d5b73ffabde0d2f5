//! Counter keys interned per (profile, feature, policy, window). Building a key's text means
//! formatting the window's date and the id; a busy profile asks for the same few keys over and
//! over, so each is built once per window and then shared. Every distinct key text also gets a
//! number that is never reused, so a host can cache its own form of the key (a JS string) by
//! that number instead of converting the text on every store call.

use super::key::ProfileId;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;

/// Keys kept before the table starts over (a window's keys are rebuilt on their next use).
pub const KEY_TABLE_CAPACITY: usize = 1 << 16;
/// Bytes of key and id text (plus a fixed cost per entry) kept before the table starts over:
/// 256-character ids (1 KiB in UTF-8 when astral) would otherwise make 65,536 entries cost
/// tens of MiB of WASM memory, near a Worker's 128 MB.
pub const KEY_TABLE_BYTES: usize = 8 << 20;
/// What an entry costs beyond its texts: the slot, the key's `Rc` header, the map's bucket.
const ENTRY_OVERHEAD: usize = 64;

/// A counter's key: its text, and the number no other key text of this table ever gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterKey {
    pub id: u64,
    pub text: Rc<str>,
}

impl Deref for CounterKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

/// What identifies a counter: whose, which feature and policy (by position in the limits),
/// and which window (by its start).
#[derive(Debug, Clone)]
struct Slot {
    profile: ProfileId,
    feature: u32,
    policy: u32,
    window_start_ms: i64,
}

/// A [`Slot`] made of borrowed parts: what a lookup hashes, so that finding a key built
/// before clones no string id (no allocation on the hot path).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SlotRef<'a> {
    profile: IdRef<'a>,
    feature: u32,
    policy: u32,
    window_start_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IdRef<'a> {
    Number(i64),
    Text(&'a str),
    Raw(&'a str),
}

impl IdRef<'_> {
    fn of(id: &ProfileId) -> IdRef<'_> {
        match id {
            ProfileId::Number(n) => IdRef::Number(*n),
            ProfileId::Text(s) => IdRef::Text(s),
            ProfileId::Raw(s) => IdRef::Raw(s),
        }
    }
}

/// Both [`Slot`] and [`SlotRef`] seen as a `SlotRef`: the map's keys are `Slot`s and are
/// looked up by `&dyn AsSlotRef` (std's way to borrow a key as another type).
trait AsSlotRef {
    fn slot_ref(&self) -> SlotRef<'_>;
}

impl AsSlotRef for Slot {
    fn slot_ref(&self) -> SlotRef<'_> {
        SlotRef {
            profile: IdRef::of(&self.profile),
            feature: self.feature,
            policy: self.policy,
            window_start_ms: self.window_start_ms,
        }
    }
}

impl AsSlotRef for SlotRef<'_> {
    fn slot_ref(&self) -> SlotRef<'_> {
        *self
    }
}

impl<'a> Borrow<dyn AsSlotRef + 'a> for Slot {
    fn borrow(&self) -> &(dyn AsSlotRef + 'a) {
        self
    }
}

impl Hash for dyn AsSlotRef + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.slot_ref().hash(state);
    }
}

impl PartialEq for dyn AsSlotRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.slot_ref() == other.slot_ref()
    }
}

impl Eq for dyn AsSlotRef + '_ {}

impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.slot_ref().hash(state);
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.slot_ref() == other.slot_ref()
    }
}

impl Eq for Slot {}

/// The slot of a counter of a numeric profile id: plain numbers, hashed and compared inline
/// (the common case, and the hot path of a reserve over `MemoryStore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NumberSlot {
    id: i64,
    feature: u32,
    policy: u32,
    window_start_ms: i64,
}

impl NumberSlot {
    /// The slot of a numeric id's counter; `None` for a string id (those go to `keys`).
    fn of(profile: &ProfileId, feature: u32, policy: u32, window_start_ms: i64) -> Option<Self> {
        match *profile {
            ProfileId::Number(id) => Some(NumberSlot {
                id,
                feature,
                policy,
                window_start_ms,
            }),
            _ => None,
        }
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    /// Keys of numeric profile ids: no borrowed form, so no dynamic dispatch per lookup.
    numbers: FxMap<NumberSlot, CounterKey>,
    /// Keys of string profile ids, looked up by a borrowed [`SlotRef`] (no id is cloned).
    keys: FxMap<Slot, CounterKey>,
    next_id: u64,
    /// What the entries cost, as [`KEY_TABLE_BYTES`] counts it.
    bytes: usize,
}

impl KeyTable {
    /// The key of that counter, if built.
    pub fn find(
        &self,
        profile: &ProfileId,
        feature: usize,
        policy: usize,
        window_start_ms: i64,
    ) -> Option<CounterKey> {
        let (feature, policy) = (feature as u32, policy as u32);
        if let Some(wanted) = NumberSlot::of(profile, feature, policy, window_start_ms) {
            return self.numbers.get(&wanted).cloned();
        }
        let wanted = SlotRef {
            profile: IdRef::of(profile),
            feature,
            policy,
            window_start_ms,
        };
        self.keys.get(&wanted as &dyn AsSlotRef).cloned()
    }

    /// The key of that counter; `text` builds it the first time.
    pub fn get(
        &mut self,
        profile: &ProfileId,
        feature: usize,
        policy: usize,
        window_start_ms: i64,
        text: impl FnOnce() -> String,
    ) -> CounterKey {
        if let Some(key) = self.find(profile, feature, policy, window_start_ms) {
            return key;
        }
        let key = CounterKey {
            id: self.next_id,
            text: text().into(),
        };
        let cost = key.text.len() + profile_bytes(profile) + ENTRY_OVERHEAD;
        if self.len() >= KEY_TABLE_CAPACITY || self.bytes + cost > KEY_TABLE_BYTES {
            self.clear();
        }
        self.bytes += cost;
        self.next_id += 1;
        let (feature, policy) = (feature as u32, policy as u32);
        if let Some(slot) = NumberSlot::of(profile, feature, policy, window_start_ms) {
            self.numbers.insert(slot, key.clone());
        } else {
            let slot = Slot {
                profile: profile.clone(),
                feature,
                policy,
                window_start_ms,
            };
            self.keys.insert(slot, key.clone());
        }
        key
    }

    /// Forgets every key (the limits changed, so positions name other features now). Ids
    /// keep counting up: a host's cache by id stays right.
    pub fn clear(&mut self) {
        // Fresh maps: `clear` would keep the buckets sized for the largest the table was.
        self.numbers = HashMap::default();
        self.keys = HashMap::default();
        self.bytes = 0;
    }

    /// What the entries cost, as [`KEY_TABLE_BYTES`] counts it.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.numbers.len() + self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn profile_bytes(id: &ProfileId) -> usize {
    match id {
        ProfileId::Number(_) => 0,
        ProfileId::Text(s) | ProfileId::Raw(s) => s.len(),
    }
}

/// FxHash as rustc-hash 2 has it (add, multiply, and a final rotation that brings the
/// well-mixed high bits down to where the table takes its bucket index): far cheaper than
/// SipHash on these short keys. It does not resist chosen collisions; a caller picking string
/// ids to collide could only slow lookups in a table bounded by [`KEY_TABLE_CAPACITY`], never
/// produce a wrong key.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(n).wrapping_mul(FX_K);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n.into());
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: i64) -> ProfileId {
        ProfileId::number(n).unwrap()
    }

    #[test]
    fn one_key_per_counter_built_once() {
        let mut t = KeyTable::default();
        let mut built = 0;
        let a = t.get(&id(1), 0, 0, 10, || {
            built += 1;
            "k1".into()
        });
        let again = t.get(&id(1), 0, 0, 10, || unreachable!("built twice"));
        assert_eq!(a, again);
        assert_eq!(built, 1);
        let others = [
            t.get(&id(2), 0, 0, 10, || "k2".into()),
            t.get(&id(1), 1, 0, 10, || "k3".into()),
            t.get(&id(1), 0, 1, 10, || "k4".into()),
            t.get(&id(1), 0, 0, 11, || "k5".into()),
            t.get(&ProfileId::text("1").unwrap(), 0, 0, 10, || "k6".into()),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_eq!(&**k, format!("k{}", i + 2));
            assert_ne!(k.id, a.id);
        }
    }

    #[test]
    fn ids_are_never_reused_across_clears_and_overflow() {
        let mut t = KeyTable::default();
        let first = t.get(&id(1), 0, 0, 0, || "a".into());
        t.clear();
        let rebuilt = t.get(&id(1), 0, 0, 0, || "a".into());
        assert!(rebuilt.id > first.id);
        for n in 0..KEY_TABLE_CAPACITY as i64 + 5 {
            t.get(&id(n), 0, 0, 0, || n.to_string());
        }
        assert!(t.len() <= KEY_TABLE_CAPACITY);
        let later = t.get(&id(1), 0, 0, 0, || "a".into());
        assert!(later.id > rebuilt.id);
    }

    #[test]
    fn long_ids_are_bounded_in_bytes() {
        let mut t = KeyTable::default();
        let mut peak = 0;
        for n in 0..40_000 {
            let long = ProfileId::text(&format!("{n:0>256}")).unwrap();
            t.get(&long, 0, 0, 0, || {
                format!("ai_quota:~{n:0>256}:remix:2026-11-27")
            });
            peak = peak.max(t.bytes());
        }
        assert!(peak <= KEY_TABLE_BYTES, "{peak}");
        assert!(t.len() < 40_000);
    }
}
