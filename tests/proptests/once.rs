//! Reserves under idempotency keys in the model-based test: what README's Idempotency
//! paragraph promises, per (profile, feature, amount, key) — a replay counts nothing and
//! carries no reservation; the work runs (admitted, not replayed) once per key and window, and
//! once more after each release, 16 times, then IDEMPOTENCY_KEY_EXHAUSTED; of attempts racing in one
//! batch at most one is admitted.

use super::model::records::{marker_key, Lookup, RELEASED};
use super::{owner, profile, Checked, Kind, Req, Running, World, FEATURES, KEYS};
use proptest::prelude::*;
use wasm_quota::core::Decision;

/// One request, as its records know it: retries of it share them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ident {
    owner: usize,
    f: usize,
    amount: i64,
    key: usize,
}

/// A batch's attempts of one request.
#[derive(Debug)]
pub struct Keyed {
    /// What the model said before the batch.
    before: Lookup,
    /// Nonces of the attempts admitted (not replayed).
    admitted: Vec<u64>,
    pub faulted: bool,
    /// An attempt was refused with IDEMPOTENCY_KEY_EXHAUSTED.
    pub invalid: bool,
}

fn ident(req: &Req) -> Option<Ident> {
    match req.kind {
        Kind::ReserveOnce(key) if !profile(req.p).unlimited => Some(Ident {
            owner: owner(req.p),
            f: req.f,
            amount: req.amount,
            key,
        }),
        _ => None,
    }
}

/// `{prefix}:{id}:{feature}:`, where a feature's markers and records are.
pub(super) fn feature_base(owner: usize, f: usize) -> String {
    let id = ["0", "7", "~a%3Ab"][owner];
    format!("ai_quota:{id}:{}:", FEATURES[f])
}

impl World {
    /// The keys the request's record may be under now: one per policy's current window, the
    /// one that ends last first.
    fn roots(&self, i: Ident, now: i64) -> Vec<String> {
        let mut policies: Vec<_> = self.policies(i.f).into_iter().enumerate().collect();
        policies.sort_by_key(|(j, (w, _))| (std::cmp::Reverse(w.span(now).1), *j));
        let key = KEYS[i.key].replace('%', "%25").replace(':', "%3A");
        policies
            .iter()
            .map(|(_, (w, _))| {
                let label = w.label(w.span(now).0);
                format!("{}i{label}.{}:{key}", feature_base(i.owner, i.f), i.amount)
            })
            .collect()
    }

    fn lookup(&self, i: Ident, now: i64) -> Lookup {
        let base = feature_base(i.owner, i.f);
        self.records.lookup(&self.roots(i, now), &base, now)
    }

    /// When a record written now expires: at the end of the window that ends last.
    fn record_expiry(&self, f: usize, now: i64) -> i64 {
        let end = self.policies(f).iter().map(|(w, _)| w.span(now).1).max();
        self.model.expiry(now, end.unwrap())
    }

    /// Notes what the model says of a request before its batch runs.
    pub(super) fn expect_keyed(&mut self, req: &Req, now: i64) {
        if let Kind::ReserveOnce(_) = req.kind {
            let fresh = Req {
                fault: None,
                ..req.clone()
            };
            if !self.sent.contains(&fresh) {
                self.sent.push(fresh);
            }
        }
        if let Some(i) = ident(req) {
            let before = self.lookup(i, now);
            self.keyed.entry(i).or_insert(Keyed {
                before,
                admitted: Vec::new(),
                faulted: false,
                invalid: false,
            });
        }
    }

    pub(super) fn keyed_mut(&mut self, req: &Req) -> Option<&mut Keyed> {
        ident(req).and_then(|i| self.keyed.get_mut(&i))
    }

    /// An attempt under a key was admitted with the reservation `nonce`; alone, it is what
    /// the model said, and the model records it.
    pub(super) fn admitted(&mut self, req: &Req, nonce: u64, alone: bool) -> Checked {
        let Some(i) = ident(req) else { return Ok(()) };
        let now = self.now();
        let keyed = self.keyed.get_mut(&i).unwrap();
        keyed.admitted.push(nonce);
        if alone {
            let Lookup::Reserve(at) = keyed.before.clone() else {
                return Err(TestCaseError::fail(format!(
                    "{req:?} admitted where the model says {:?}",
                    keyed.before
                )));
            };
            let expires = self.record_expiry(i.f, now);
            self.records.set_record(at, nonce, expires);
        }
        Ok(())
    }

    /// A replayed decision: nothing counted, the counters' current figures. Alone, the model
    /// has a record of an attempt not released, and the figures are the tightest policy's.
    pub(super) fn replayed(&mut self, d: &Decision, r: &Running, alone: bool) -> Checked {
        let now = self.now();
        let i = ident(&r.req).expect("only a reserve under a key replays");
        let before = &self.keyed[&i].before;
        if alone {
            prop_assert!(
                matches!(before, Lookup::Replay(_)),
                "replayed: {:?}",
                before
            );
            let limits: Vec<i64> = self.policies(i.f).iter().map(|p| p.1).collect();
            let counts: Vec<i64> = r
                .counters
                .iter()
                .map(|&c| self.model.count(c, now))
                .collect();
            let p = (0..counts.len())
                .min_by_key(|&j| limits[j] - counts[j])
                .unwrap();
            prop_assert_eq!((d.policy, d.used), (p, counts[p]), "a replay's figures");
        }
        Ok(())
    }

    /// After a batch: each request's chain
    /// of records, against the store; what the model said of each request against what its
    /// attempts did. A record the model could not know (a faulted attempt's, or the one
    /// admitted attempt of a batch) is adopted from the store.
    pub(super) fn check_records(&mut self, alone: bool) -> Checked {
        let now = self.now();
        for (i, keyed) in std::mem::take(&mut self.keyed) {
            let base = feature_base(i.owner, i.f);
            let mut new = Vec::new();
            for root in self.roots(i, now) {
                let mut at = root;
                while let Some(v) = self.quota.store_mut().peek(&at) {
                    prop_assert!(v > 0 && v % 2 == 1, "record {} holds {}", at, v);
                    let nonce = (v / 2) as u64;
                    match self.records.record(&at, now) {
                        Some(known) => prop_assert_eq!(known, nonce, "record {}", at),
                        None => {
                            new.push(nonce);
                            let expires = self.record_expiry(i.f, now);
                            self.records.set_record(at.clone(), nonce, expires);
                        }
                    }
                    at = format!("{at}:{nonce:016x}");
                }
                prop_assert!(self.records.record(&at, now).is_none(), "{} vanished", at);
            }
            // The work runs once: at most one attempt admitted, and none while the record
            // names an attempt not released (unless this batch released it).
            prop_assert!(keyed.admitted.len() <= 1, "{:?}: {:?}", i, keyed);
            match &keyed.before {
                Lookup::Replay(n)
                    if self.records.marker(&marker_key(&base, *n), now) != Some(RELEASED) =>
                {
                    prop_assert!(keyed.admitted.is_empty(), "{:?}: {:?}", i, keyed)
                }
                Lookup::Full => prop_assert!(keyed.admitted.is_empty(), "{:?}", keyed),
                _ => {}
            }
            // Alone, the model recorded the admitted attempt itself; in a batch it adopts it.
            if !keyed.faulted {
                let want = if alone { &[][..] } else { &keyed.admitted[..] };
                prop_assert_eq!(&new[..], want, "new records of {:?}", i);
            }
            if keyed.invalid {
                prop_assert_eq!(self.lookup(i, now), Lookup::Full);
            }
        }
        Ok(())
    }

    /// `copies` of the `i`-th request sent under a key, concurrently.
    pub(super) fn retry(&mut self, i: usize, copies: usize, schedule: &[u8]) -> Checked {
        if self.sent.is_empty() {
            return Ok(());
        }
        let req = self.sent[i % self.sent.len()].clone();
        self.batch(&vec![req; copies], schedule)
    }

    /// `req` alone, then `rounds` times: release the reservation it was admitted with (if it
    /// was), and send it again.
    pub(super) fn churn(&mut self, req: &Req, rounds: usize) -> Checked {
        for _ in 0..=rounds {
            let before = self.outstanding.len();
            self.batch(std::slice::from_ref(req), &[])?;
            if self.outstanding.len() == before {
                return Ok(());
            }
            let release = Req {
                kind: Kind::ReleaseToken(before),
                ..req.clone()
            };
            self.batch(&[release], &[])?;
        }
        Ok(())
    }
}
