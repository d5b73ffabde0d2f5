//! Releases and settles of reservations in the model-based test: README's "a reservation is
//! settled or released at most once, and whichever comes first wins" — also when they race
//! in one batch, and however often they are sent again afterwards.

use super::model::records::{marker_key, RELEASED, SETTLED};
use super::once::feature_base;
use super::{owner, Checked, Counter, Kind, Outstanding, Running, World, WINDOWS};
use proptest::prelude::*;
use std::collections::BTreeMap;
use wasm_quota::core::Outcome;

/// What a release or settle of a reservation did to its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Effect {
    /// Not a release or settle of a reservation.
    #[default]
    Other,
    /// It applied: the first for its reservation.
    Applied,
    /// Nothing: the reservation was already settled or released.
    Nothing,
    /// Unknown: a call on the same reservation faulted, which may have applied first.
    Maybe,
    /// Nothing, though the reservation's marker has expired: a zoned policy of it was removed
    /// since the marker was written, and the engine, which knows that window's end only as a
    /// bound, cannot yet tell that the window after it has ended. A refund then writes the
    /// marker anew (its counters are gone) and its answer is not the model's to say.
    Late,
}

impl World {
    fn marker_of(&self, o: &Outstanding) -> String {
        marker_key(&feature_base(owner(o.p), o.f), o.nonce)
    }

    /// Whether `o` was settled or released before (ever: a marker's expiry does not let it
    /// apply twice).
    pub(super) fn finalized(&self, o: &Outstanding) -> bool {
        self.records.finalized(&self.marker_of(o))
    }

    /// Decides, from the batch's answers, which release or settle of each reservation applied
    /// (at most one: a settle answering `true`, else a release, when none was before) and
    /// updates the model's markers; a faulted one's marker is adopted from the store.
    pub(super) fn finalizers(&mut self, running: &mut [Running]) -> Checked {
        let now = self.now();
        let mut by_nonce: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, r) in running.iter().enumerate() {
            if let (Some(o), Kind::ReleaseToken(_) | Kind::Settle(..)) = (&r.token, r.req.kind) {
                by_nonce.entry(o.nonce).or_default().push(i);
            }
        }
        for calls in by_nonce.values() {
            let o = running[calls[0]].token.clone().unwrap();
            let key = self.marker_of(&o);
            // A settle too late to charge any window, or whose windows no current policy counts
            // in, counts nothing, writes nothing (not even the marker) and answers false. (A
            // refund or release with no counter to correct still finishes the reservation.)
            // So does any release or settle once the window after each of the reservation's
            // has ended: its marker may have expired, so it cannot tell whether it is the first.
            let charge = |r: &Running| matches!(r.req.kind, Kind::Settle(_, a) if a > r.req.amount);
            let too_late = o.counters.iter().all(|&c| self.marker_end(c, o.at) <= now);
            let (dropped, calls): (Vec<usize>, Vec<usize>) = calls
                .iter()
                .partition(|&&i| too_late || running[i].counters.is_empty() && charge(&running[i]));
            for &i in &dropped {
                running[i].effect = Effect::Nothing;
            }
            if calls.is_empty() {
                let stored = self.quota.store_mut().peek(&key);
                prop_assert_eq!(stored, self.records.marker(&key, now), "marker {}", key);
                continue;
            }
            let before = self.finalized(&o);
            // Its marker outlives the windows after the reservation's: while one runs, a call
            // sent again finds it.
            let late = before && self.records.marker(&key, now).is_none();
            let bounded = |&c: &Counter| WINDOWS[c.2].zone.is_some() && self.limit_of(c).is_none();
            prop_assert!(
                !late || o.counters.iter().any(bounded),
                "{:?}: marker gone",
                o
            );
            let settled = |r: &Running| matches!(r.result, Some(Ok(Outcome::Settled(true))));
            let winners: Vec<usize> = calls
                .iter()
                .copied()
                .filter(|&i| settled(&running[i]))
                .collect();
            prop_assert!(
                winners.len() <= 1 && (late || !(before && winners.len() == 1)),
                "{:?}",
                o
            );
            // A call that faulted (or failed) may have applied before it stopped.
            let unsure = |r: &Running| r.faulted || matches!(r.result, Some(Err(_)));
            let faulted = calls.iter().any(|&i| unsure(&running[i]));
            let release = calls.iter().copied().find(|&i| {
                !unsure(&running[i]) && matches!(running[i].req.kind, Kind::ReleaseToken(_))
            });
            // The marker can be written by this batch: none was, or it has expired.
            let fresh = !before || late;
            let winner = match (fresh, winners.first(), faulted) {
                (false, _, _) => None,
                (true, Some(&w), _) => Some(w),
                (true, None, false) => release,
                (true, None, true) => None,
            };
            for &i in &calls {
                running[i].effect = match (winner, before || !faulted) {
                    _ if late => Effect::Late,
                    (Some(w), _) if w == i => Effect::Applied,
                    (Some(_), _) | (None, true) => Effect::Nothing,
                    (None, false) => Effect::Maybe,
                };
            }
            if winner.is_none() && fresh && !faulted {
                return Err(TestCaseError::fail(format!(
                    "no release or settle of {o:?} applied"
                )));
            }
            match winner.map(|w| running[w].req.kind) {
                Some(Kind::Settle(..)) => self.mark(&o, key.clone(), SETTLED, now),
                Some(_) => self.mark(&o, key.clone(), RELEASED, now),
                None if fresh && faulted => {
                    if let Some(state) = self.quota.store_mut().peek(&key) {
                        self.mark(&o, key.clone(), state, now);
                    }
                }
                None => {}
            }
            let stored = self.quota.store_mut().peek(&key);
            prop_assert_eq!(stored, self.records.marker(&key, now), "marker {}", key);
        }
        Ok(())
    }

    /// Every reservation's marker is in the store exactly while the model says it lives.
    pub(super) fn check_markers(&mut self) -> Checked {
        let now = self.now();
        for o in self.outstanding.clone() {
            let key = self.marker_of(&o);
            let stored = self.quota.store_mut().peek(&key);
            prop_assert_eq!(stored, self.records.marker(&key, now), "marker {}", key);
        }
        Ok(())
    }

    /// A marker written now: it expires as a counter of the last window right after one of
    /// `o`'s (where a late charge counts) written now does, ten minutes after that window's
    /// end — also of a policy removed since, which may be back before then
    /// (`World::marker_end`).
    fn mark(&mut self, o: &Outstanding, key: String, state: i64, now: i64) {
        let next = o.counters.iter().map(|&c| self.marker_end(c, o.at));
        let expires = self.model.expiry(now, next.max().unwrap());
        self.records.set_marker(key, state, expires);
    }
}
