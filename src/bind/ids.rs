//! String profile ids by handle: JS interns an id once (`QuotaCore::intern_id`) and then hands
//! the core a number per call instead of the string.
//!
//! The table holds at most [`IdTable::Slots`] ids; JS bounds their characters too. When JS
//! needs room it asks for a slot to be emptied (`QuotaCore::evict_id`), and the table empties
//! one that no call has used since the clock's hand last passed it (a second-chance clock), so
//! the ids an app keeps using keep their handles, and their keys in the key table, however many
//! other ids pass through. (Forgetting every id at once, as an earlier release did, made an app
//! with more active ids than slots intern most calls' ids again and build their keys again.)
//!
//! A handle is `generation × Slots + slot`, and a slot's generation only grows, so a handle
//! names one id or, once its slot was emptied, none: never another id.

use crate::core::reservation::MacStart;
use crate::core::ProfileId;
use wasm_bindgen::prelude::*;

/// The id table's size, defined here for both halves: JS counts the ids it holds against it,
/// and finds an id's slot from its handle.
///
/// ```js
/// const slot = handle % IdTable.Slots;
/// ```
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum IdTable {
    Slots = 16384,
}

const SLOTS: u64 = IdTable::Slots as u64;

/// Largest handle: a safe integer, as JS holds it.
const MAX_HANDLE: u64 = (1 << 53) - 1;

/// The interned ids, each in its slot.
#[derive(Default)]
pub struct IdHandles {
    slots: Vec<Interned>,
    /// Emptied slots, for the next ids.
    free: Vec<usize>,
    /// The clock's hand: the next slot it looks at for one to empty.
    hand: usize,
    /// Slots holding an id (a slot out of handles is neither held nor free).
    held: usize,
}

/// An interned id and the MAC's state after it (`None` until a reservation of it is signed):
/// a call by handle reads both from one entry (with 10,000 ids, an entry in each of two
/// vectors was a cache miss of its own).
struct Interned {
    /// The slot's last handle: its id's while `held`.
    handle: u64,
    held: bool,
    /// Used by a call since the clock's hand last passed.
    used: bool,
    mac_start: Option<MacStart>,
    id: ProfileId,
}

impl IdHandles {
    /// Interns `id` in an emptied slot or a fresh one: its handle. `None` when every slot is
    /// held (JS empties one first), or when the emptied slot has used up every handle a safe
    /// integer can spell (then it is never used again).
    pub fn intern(&mut self, id: ProfileId) -> Option<f64> {
        let (slot, handle) = match self.free.pop() {
            Some(slot) => (slot, self.slots[slot].handle + SLOTS),
            None if (self.slots.len() as u64) < SLOTS => {
                (self.slots.len(), self.slots.len() as u64)
            }
            None => return None,
        };
        if handle > MAX_HANDLE {
            return None;
        }
        let entry = Interned {
            handle,
            held: true,
            used: true,
            mac_start: None,
            id,
        };
        match self.slots.get_mut(slot) {
            Some(old) => *old = entry,
            None => self.slots.push(entry),
        }
        self.held += 1;
        Some(handle as f64)
    }

    /// Empties the slot the clock's hand stops at, the first held one not used since the hand
    /// last passed (those it passes lose their mark), and returns it; `None` when no slot is
    /// held. At most one turn and a slot: the turn clears every mark.
    pub fn evict(&mut self) -> Option<usize> {
        if self.held == 0 {
            return None;
        }
        loop {
            let slot = self.hand;
            self.hand = (slot + 1) % self.slots.len();
            let entry = &mut self.slots[slot];
            if entry.held && !std::mem::take(&mut entry.used) {
                entry.held = false;
                entry.mac_start = None;
                entry.id = ProfileId::Number(0);
                self.held -= 1;
                self.free.push(slot);
                return Some(slot);
            }
        }
    }

    /// Where the id of `handle` is held, if it still is.
    pub fn index(&self, handle: f64) -> Option<usize> {
        if !(0.0..=MAX_HANDLE as f64).contains(&handle) || handle.fract() != 0.0 {
            return None;
        }
        let handle = handle as u64;
        let slot = (handle % SLOTS) as usize;
        let entry = self.slots.get(slot)?;
        (entry.held && entry.handle == handle).then_some(slot)
    }

    /// The handle of the id held at `i`.
    pub fn handle(&self, i: usize) -> u64 {
        self.slots[i].handle
    }

    /// The id held at `i` and its MAC state, moved out for a call (see `put_back`); the call
    /// marks the slot used.
    pub fn take(&mut self, i: usize) -> (ProfileId, Option<MacStart>) {
        let entry = &mut self.slots[i];
        entry.used = true;
        let id = std::mem::replace(&mut entry.id, ProfileId::Number(0));
        (id, entry.mac_start.take())
    }

    pub fn put_back(&mut self, i: usize, (id, mac_start): (ProfileId, Option<MacStart>)) {
        if let Some(entry) = self.slots.get_mut(i) {
            entry.id = id;
            entry.mac_start = mac_start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ProfileId {
        ProfileId::text(&format!("p{n}")).unwrap()
    }

    /// The id `handle` names, read as a call reads it.
    fn named(t: &mut IdHandles, handle: f64) -> Option<ProfileId> {
        let i = t.index(handle)?;
        let (id, mac) = t.take(i);
        t.put_back(i, (id.clone(), mac));
        Some(id)
    }

    /// Interns `id` as JS does: a slot emptied first when every one is held.
    fn intern(t: &mut IdHandles, id: ProfileId) -> f64 {
        if t.slots.len() as u64 == SLOTS && t.free.is_empty() {
            t.evict().unwrap();
        }
        t.intern(id).unwrap()
    }

    #[test]
    fn a_full_table_empties_an_unused_slot_and_keeps_the_used_ones() {
        let mut t = IdHandles::default();
        let handles: Vec<f64> = (0..SLOTS).map(|n| t.intern(id(n)).unwrap()).collect();
        assert_eq!(t.intern(id(SLOTS)), None, "full: JS empties a slot first");
        // The clock's first turn clears every mark; then the ids used since keep their slots.
        assert_eq!(t.evict(), Some(0));
        assert_eq!(
            t.index(handles[0]),
            None,
            "an emptied slot's handle names nothing"
        );
        let first = t.intern(id(SLOTS)).unwrap();
        assert_eq!(first as u64, SLOTS, "slot 0's next generation");
        let hot = handles[5];
        for n in 1..100 {
            assert_eq!(named(&mut t, hot), Some(id(5)));
            let h = intern(&mut t, id(SLOTS + n));
            assert_ne!(
                h as u64 % SLOTS,
                5,
                "the hot id's slot is never the one emptied"
            );
        }
        assert_eq!(named(&mut t, hot), Some(id(5)));
    }

    #[test]
    fn a_handle_names_one_id_or_none_across_reuses() {
        let mut t = IdHandles::default();
        let mut issued = Vec::new();
        for n in 0..SLOTS * 3 {
            issued.push((intern(&mut t, id(n)), n));
            if n % 7 == 0 {
                t.evict().unwrap(); // emptied slots beside full ones
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (h, n) in issued {
            assert!(seen.insert(h as u64), "handle {h} issued twice");
            if let Some(held) = named(&mut t, h) {
                assert_eq!(held, id(n));
            }
        }
        assert_eq!(t.index(0.5), None);
        assert_eq!(t.index(-1.0), None);
        assert_eq!(t.index(f64::NAN), None);
    }

    #[test]
    fn a_slot_out_of_handles_is_never_used_again_and_the_clock_still_stops() {
        let mut t = IdHandles::default();
        t.intern(id(1)).unwrap();
        t.slots[0].handle = MAX_HANDLE - SLOTS + 1; // its last generation
        assert_eq!(t.evict(), Some(0));
        assert_eq!(t.intern(id(2)), None, "no handle left for slot 0");
        // Nothing held, one slot neither held nor free: nothing to evict (it looped before).
        assert_eq!(t.evict(), None);
        let h = t.intern(id(3)).unwrap();
        assert_eq!(h as u64, 1, "the next fresh slot");
    }

    #[test]
    fn an_empty_table_has_nothing_to_evict() {
        let mut t = IdHandles::default();
        assert_eq!(t.evict(), None);
        t.intern(id(1)).unwrap();
        assert_eq!(t.evict(), Some(0));
        assert_eq!(t.evict(), None);
    }
}
