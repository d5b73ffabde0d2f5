//! Counter keys interned per (profile, feature, policy, window). Building a key's text means
//! formatting the window's date and the id; a busy profile asks for the same few keys over and
//! over, so each is built once per window and then shared. Every distinct key text also gets a
//! number that is never reused, so a host can cache its own form of the key (a JS string) by
//! that number instead of converting the text on every store call.
//!
//! A string id its host interned (`QuotaCore::intern_id`) comes with its handle, a number the
//! engine never gives another id: its keys are found by that number, as a numeric id's are,
//! and an entry holds no copy of the id's text. Other string ids are found by their text.

use super::key::ProfileId;
use super::memory::CellRef;
use std::borrow::Borrow;
use std::cell::Cell;
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

/// Whose counter a key is: the profile id and, for a string id its host interned, its handle.
/// The caller vouches that the handle names this id and that its engine never gives it to
/// another id (handles are handed out in sequence and never reused).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub id: &'a ProfileId,
    pub handle: Option<u64>,
}

impl<'a> From<&'a ProfileId> for Owner<'a> {
    /// A profile id without a handle: a string id's keys are found by its text.
    fn from(id: &'a ProfileId) -> Self {
        Owner { id, handle: None }
    }
}

/// A counter's key: its text, the number no other key text of this table ever gets, and
/// where its counter was last found in in-process counters (the direct path's shortcut, set
/// through a shared borrow of the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterKey {
    pub id: u64,
    pub text: Rc<str>,
    pub cell: Cell<CellRef>,
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

/// The slot of a counter of a numeric profile id, or of an interned string id by its handle,
/// packed into two words: a map entry of 16 bytes and its key of 32 make 48, and the fewer
/// bytes an entry spans, the fewer cache lines a lookup touches (60,000 keys are megabytes,
/// far from any cache). Slots whose parts do not fit go to the map by text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NumberSlot {
    /// The numeric id or the handle (below 2^53), and the policy's position above it.
    id_policy: u64,
    /// The window's start, offset by [`WINDOW_OFFSET_MS`], and the feature's position above.
    window_feature: u64,
}

/// Bits of the id (numeric ids and handles are below 2^53) and of the window's start.
const ID_BITS: u32 = 53;
const WINDOW_BITS: u32 = 49;
/// Window starts from 2^40 ms (about 35 years) before 1970: a zoned window holding an instant
/// of 1970 may start before it.
const WINDOW_OFFSET_MS: i64 = 1 << 40;

/// Which map holds a key found by numbers.
#[derive(Debug, Clone, Copy)]
enum Numbered {
    Id,
    Handle,
}

impl NumberSlot {
    /// The slot of a numeric id's counter, or of an interned string id's; `None` for a string
    /// id without a handle, or parts too large to pack (those go to `keys`).
    fn of(
        owner: Owner<'_>,
        feature: u32,
        policy: u32,
        window_start_ms: i64,
    ) -> Option<(Numbered, Self)> {
        let (map, id) = match (owner.id, owner.handle) {
            (ProfileId::Number(id), _) => (Numbered::Id, *id as u64),
            (_, Some(handle)) => (Numbered::Handle, handle),
            _ => return None,
        };
        let window = window_start_ms.checked_add(WINDOW_OFFSET_MS)? as u64;
        let fits = |n: u64, bits: u32| n >> bits == 0;
        let packed = fits(id, ID_BITS)
            && fits(policy.into(), 64 - ID_BITS)
            && fits(window, WINDOW_BITS)
            && fits(feature.into(), 64 - WINDOW_BITS);
        let slot = NumberSlot {
            id_policy: id | u64::from(policy) << ID_BITS,
            window_feature: window | u64::from(feature) << WINDOW_BITS,
        };
        packed.then_some((map, slot))
    }
}

// What the packing is for: a numeric key's map entry spans 48 bytes in the .wasm.
#[cfg(target_arch = "wasm32")]
const _: () = assert!(std::mem::size_of::<(NumberSlot, CounterKey)>() == 48);

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    /// Keys of numeric profile ids: no borrowed form, so no dynamic dispatch per lookup.
    numbers: FxMap<NumberSlot, CounterKey>,
    /// Keys of interned string ids, by handle: no id text is hashed, compared or kept.
    handles: FxMap<NumberSlot, CounterKey>,
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
        owner: Owner<'_>,
        feature: usize,
        policy: usize,
        window_start_ms: i64,
    ) -> Option<&CounterKey> {
        let (feature, policy) = (feature as u32, policy as u32);
        if let Some((map, wanted)) = NumberSlot::of(owner, feature, policy, window_start_ms) {
            return self.numbered(map).get(&wanted);
        }
        let wanted = SlotRef {
            profile: IdRef::of(owner.id),
            feature,
            policy,
            window_start_ms,
        };
        self.keys.get(&wanted as &dyn AsSlotRef)
    }

    /// The key of that counter; `text` builds it the first time.
    pub fn get(
        &mut self,
        owner: Owner<'_>,
        feature: usize,
        policy: usize,
        window_start_ms: i64,
        text: impl FnOnce() -> String,
    ) -> CounterKey {
        if let Some(key) = self.find(owner, feature, policy, window_start_ms) {
            return key.clone();
        }
        let key = CounterKey {
            id: self.next_id,
            text: text().into(),
            cell: Cell::default(),
        };
        let (feature, policy) = (feature as u32, policy as u32);
        let numbered = NumberSlot::of(owner, feature, policy, window_start_ms);
        // A slot by text keeps its own copy of the id; a slot by number keeps none.
        let id_copy = match numbered {
            Some(_) => 0,
            None => profile_bytes(owner.id),
        };
        let cost = key.text.len() + id_copy + ENTRY_OVERHEAD;
        if self.len() >= KEY_TABLE_CAPACITY || self.bytes + cost > KEY_TABLE_BYTES {
            self.clear();
        }
        self.bytes += cost;
        self.next_id += 1;
        if let Some((map, slot)) = numbered {
            self.numbered_mut(map).insert(slot, key.clone());
        } else {
            let slot = Slot {
                profile: owner.id.clone(),
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
        self.handles = HashMap::default();
        self.keys = HashMap::default();
        self.bytes = 0;
    }

    /// What the entries cost, as [`KEY_TABLE_BYTES`] counts it.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.numbers.len() + self.handles.len() + self.keys.len()
    }

    fn numbered(&self, map: Numbered) -> &FxMap<NumberSlot, CounterKey> {
        match map {
            Numbered::Id => &self.numbers,
            Numbered::Handle => &self.handles,
        }
    }

    fn numbered_mut(&mut self, map: Numbered) -> &mut FxMap<NumberSlot, CounterKey> {
        match map {
            Numbered::Id => &mut self.numbers,
            Numbered::Handle => &mut self.handles,
        }
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
        let a = t.get(Owner::from(&id(1)), 0, 0, 10, || {
            built += 1;
            "k1".into()
        });
        let again = t.get(Owner::from(&id(1)), 0, 0, 10, || {
            unreachable!("built twice")
        });
        assert_eq!(a, again);
        assert_eq!(built, 1);
        let others = [
            t.get(Owner::from(&id(2)), 0, 0, 10, || "k2".into()),
            t.get(Owner::from(&id(1)), 1, 0, 10, || "k3".into()),
            t.get(Owner::from(&id(1)), 0, 1, 10, || "k4".into()),
            t.get(Owner::from(&id(1)), 0, 0, 11, || "k5".into()),
            t.get(
                Owner::from(&ProfileId::text("1").unwrap()),
                0,
                0,
                10,
                || "k6".into(),
            ),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_eq!(&**k, format!("k{}", i + 2));
            assert_ne!(k.id, a.id);
        }
    }

    #[test]
    fn ids_are_never_reused_across_clears_and_overflow() {
        let mut t = KeyTable::default();
        let first = t.get(Owner::from(&id(1)), 0, 0, 0, || "a".into());
        t.clear();
        let rebuilt = t.get(Owner::from(&id(1)), 0, 0, 0, || "a".into());
        assert!(rebuilt.id > first.id);
        for n in 0..KEY_TABLE_CAPACITY as i64 + 5 {
            t.get(Owner::from(&id(n)), 0, 0, 0, || n.to_string());
            assert!(t.len() <= KEY_TABLE_CAPACITY, "{} keys", t.len());
        }
        let later = t.get(Owner::from(&id(1)), 0, 0, 0, || "a".into());
        assert!(later.id > rebuilt.id);
    }

    #[test]
    fn interned_ids_are_found_by_handle_never_as_a_number() {
        let mut t = KeyTable::default();
        let a = ProfileId::text("a").unwrap();
        let by_handle = Owner {
            id: &a,
            handle: Some(1),
        };
        let key = t.get(by_handle, 0, 0, 10, || "ka".into());
        assert_eq!(
            t.get(by_handle, 0, 0, 10, || unreachable!("built twice")),
            key
        );
        // The numeric id equal to the handle has a slot of its own.
        let one = t.get(Owner::from(&id(1)), 0, 0, 10, || "k1".into());
        assert_eq!(&*one, "k1");
        assert_eq!(t.find(by_handle, 0, 0, 10), Some(&key));
        // An entry by handle keeps no copy of the id: it costs its key text and the fixed part.
        assert_eq!(t.bytes(), "ka".len() + "k1".len() + 2 * ENTRY_OVERHEAD);
        // One by text keeps its own copy of the id, which counts towards KEY_TABLE_BYTES.
        let b = ProfileId::text("bb").unwrap();
        t.get(Owner::from(&b), 0, 0, 10, || "kbb".into());
        let by_text = "kbb".len() + "bb".len() + ENTRY_OVERHEAD;
        assert_eq!(
            t.bytes(),
            "ka".len() + "k1".len() + 2 * ENTRY_OVERHEAD + by_text
        );
    }

    #[test]
    fn ten_thousand_interned_uuid_ids_in_six_features_fit_without_starting_over() {
        // The bench's UUID working set: every key kept, none rebuilt.
        let features = [
            "remix",
            "remix_suggestions",
            "scale",
            "tips",
            "discover",
            "timer",
        ];
        let mut t = KeyTable::default();
        for h in 0..10_000u64 {
            let id = ProfileId::text(&format!("{h:0>8}-8b4d-4c6e-9f00-1a2b3c4d5e6f")).unwrap();
            let owner = Owner {
                id: &id,
                handle: Some(h),
            };
            for (f, name) in features.iter().enumerate() {
                t.get(owner, f, 0, 0, || {
                    crate::core::key::counter_key("ai_quota", &id, name, "2026-11-27")
                });
            }
        }
        assert_eq!(t.len(), 60_000, "started over at {} bytes", t.bytes());
    }

    #[test]
    fn parts_too_large_to_pack_keep_keys_of_their_own() {
        let mut t = KeyTable::default();
        let a = ProfileId::text("a").unwrap();
        for owner in [
            Owner::from(&id(1)),
            Owner {
                id: &a,
                handle: Some(1),
            },
        ] {
            let mut keys = vec![];
            // Each differs from the first only in a part that does not fit its bits.
            for (feature, policy, start) in [
                (0, 0, 10),
                (1, 0, 0),
                (1 << 15, 0, 10),
                (0, 1 << 11, 10),
                (0, 0, 10 - (1 << 49)),
                (0, 0, 1 << 49),
            ] {
                let text = format!("{feature}/{policy}/{start}");
                let key = t.get(owner, feature, policy, start, || text.clone());
                assert_eq!(&*key, text);
                assert_eq!(t.find(owner, feature, policy, start), Some(&key));
                keys.push(key);
            }
        }
    }

    #[test]
    fn long_ids_are_bounded_in_bytes() {
        let mut t = KeyTable::default();
        let mut peak = 0;
        for n in 0..40_000 {
            let long = ProfileId::text(&format!("{n:0>256}")).unwrap();
            t.get(Owner::from(&long), 0, 0, 0, || {
                format!("ai_quota:~{n:0>256}:remix:2026-11-27")
            });
            peak = peak.max(t.bytes());
        }
        assert!(peak <= KEY_TABLE_BYTES, "{peak}");
        assert!(t.len() < 40_000);
    }
}
