//! The features' policies in the model-based test, and `setLimits` calls that change their
//! shape (`Event::Reshape`): a feature gains or loses a policy, a window moves (an hour, a
//! day, a week, a Kolkata hour or day), a policy is renamed, a feature is removed or added.
//! What README says of each, as the model holds it:
//! - calls count in the current policies' counters; a removed feature is UNKNOWN_FEATURE, for
//!   every call, a release or settle of its reservations included (nothing written: they can be
//!   finished once it is back);
//! - a counter is its window and zone, not its policy's place, limit or name: renamed or
//!   re-limited, a policy counts on in the same counter;
//! - a release or settle corrects the counters that counted the reservation and that a current
//!   policy still counts in, no other: not a policy added since, not one removed (a charge no
//!   current policy counted writes nothing and answers false; a refund or release of one
//!   still finishes the reservation);
//! - the marker outlives the window after each of the reservation's windows, whatever the
//!   policies are when it is written (`World::marker_end`): a second attempt changes nothing,
//!   also after a removed policy is back.

use super::model::{Counter, HOUR_MS};
use super::{Win, World, FEATURES, KOLKATA, UTC_DAY, UTC_HOUR, WEEK_MS};
use proptest::prelude::*;
use wasm_quota::core::{Limits, Policy, WindowUnit};

/// Every window a policy may have; a counter names its window by its index here. The months
/// come last: the tests that came before them draw from the first [`WITHOUT_MONTHS`], so that
/// their kept regressions replay the cases they were found in.
pub const WINDOWS: [Win; 7] = [
    UTC_HOUR,
    UTC_DAY,
    Win {
        unit: WindowUnit::Hour,
        len: HOUR_MS,
        zone: KOLKATA,
    },
    Win {
        unit: WindowUnit::Day,
        len: super::model::DAY_MS,
        zone: KOLKATA,
    },
    Win {
        unit: WindowUnit::Week,
        len: WEEK_MS,
        zone: None,
    },
    Win {
        unit: WindowUnit::Month,
        len: 0,
        zone: None,
    },
    Win {
        unit: WindowUnit::Month,
        len: 0,
        zone: KOLKATA,
    },
];
pub const WITHOUT_MONTHS: usize = 5;
pub const DAY: usize = 1;
pub const MONTH: usize = 5;

/// The two policies of "scale" in each shape a case may draw (indices into `WINDOWS`):
/// windows of different lengths, the longer first or second, zoned windows that start at
/// other instants than UTC's (an hour at :30, a day that ends at 18:30 UTC), and a week
/// against an hour; then (drawn by the month test only, as [`WINDOWS`]' months) a UTC month
/// and a day, a Kolkata month (ending at 18:30 UTC) and a UTC hour.
pub const SHAPES: [[usize; 2]; 7] = [[0, 1], [1, 0], [2, 1], [3, 1], [4, 2], [5, 1], [6, 0]];
pub const SHAPES_WITHOUT_MONTHS: usize = 5;

/// One policy of a feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Pol {
    /// Its window, in `WINDOWS`.
    pub win: usize,
    pub limit: i64,
    /// `None`: a plain number (a UTC day, decisions that name no policy).
    pub name: Option<String>,
}

impl Pol {
    fn policy(&self) -> Policy {
        let w = WINDOWS[self.win];
        match &self.name {
            None => Policy::daily(self.limit).unwrap(),
            Some(name) => Policy::new(Some(name), self.limit, w.unit, w.zone.map(|z| z.0)).unwrap(),
        }
    }
}

/// A change of one feature's policies by `setLimits`.
#[derive(Debug, Clone)]
pub enum Change {
    /// A policy over `WINDOWS[w]` with this limit joins (a removed feature comes back with it).
    Add(usize, i64),
    /// The policy at this index (modulo their number) leaves; the last one takes the feature.
    Drop(usize),
    /// The policy at this index moves to `WINDOWS[w]`.
    Move(usize, usize),
    /// The policy at this index gets a new name (a plain number becomes a named UTC day).
    Rename(usize),
    /// The feature becomes a plain number per UTC day with this limit.
    Plain(i64),
}

/// A change among the first `windows` of [`WINDOWS`].
pub fn change(windows: usize) -> impl Strategy<Value = (usize, Change)> {
    let change = prop_oneof![
        (0..windows, 0..=6i64).prop_map(|(w, l)| Change::Add(w, l)),
        any::<usize>().prop_map(Change::Drop),
        (any::<usize>(), 0..windows).prop_map(|(i, w)| Change::Move(i, w)),
        any::<usize>().prop_map(Change::Rename),
        (0..=6i64).prop_map(Change::Plain),
    ];
    (0..FEATURES.len(), change)
}

/// The first configuration: each feature a plain number per UTC day, or with `hourly`, "scale"
/// with the two policies of `SHAPES[shape]` (the first's limit `hourly`).
pub fn config(l: [i64; 3], (hourly, shape): (Option<i64>, usize)) -> Vec<Option<Vec<Pol>>> {
    (0..FEATURES.len())
        .map(|f| {
            Some(match hourly {
                Some(h) if f == 2 => {
                    let [a, b] = SHAPES[shape];
                    let named = |win, limit, i| Pol {
                        win,
                        limit,
                        name: Some(format!("p{i}")),
                    };
                    vec![named(a, h, 0), named(b, l[f], 1)]
                }
                _ => vec![Pol {
                    win: DAY,
                    limit: l[f],
                    name: None,
                }],
            })
        })
        .collect()
}

impl World {
    /// The engine's limits for the model's configuration (features in `FEATURES`' order).
    pub(super) fn engine_limits(&self) -> Limits {
        let mut limits = Limits::default();
        for (f, pols) in self.config.iter().enumerate() {
            if let Some(pols) = pols {
                limits
                    .insert(FEATURES[f], pols.iter().map(Pol::policy).collect())
                    .unwrap();
            }
        }
        limits
    }

    /// The current policies of feature `f` (none when it is not configured).
    pub(super) fn pols(&self, f: usize) -> &[Pol] {
        self.config[f].as_deref().unwrap_or(&[])
    }

    /// The limit of the current policy counting in counter `c`'s window, if one does.
    pub(super) fn limit_of(&self, c: Counter) -> Option<i64> {
        self.pols(c.1)
            .iter()
            .find(|p| p.win == c.2)
            .map(|p| p.limit)
    }

    /// `setLimits` with every feature's last policy's limit set to `l[f]`, shapes kept.
    pub(super) fn set_numbers(&mut self, l: [i64; 3]) {
        for (f, pols) in self.config.iter_mut().enumerate() {
            if let Some(last) = pols.as_mut().and_then(|p| p.last_mut()) {
                last.limit = l[f];
            }
        }
        let limits = self.engine_limits();
        self.quota.engine_mut().set_limits(limits);
    }

    /// `setLimits` with feature `f` changed; a change the configuration would refuse (two
    /// policies over one window) is not made.
    pub(super) fn reshape(&mut self, f: usize, change: &Change) {
        self.names += 1;
        let fresh = Some(format!("n{}", self.names));
        let mut pols = self.config[f].clone().unwrap_or_default();
        let n = pols.len().max(1);
        match *change {
            Change::Add(win, limit) => pols.push(Pol {
                win,
                limit,
                name: fresh,
            }),
            Change::Drop(i) if !pols.is_empty() => {
                pols.remove(i % n);
            }
            Change::Move(i, win) if !pols.is_empty() => {
                let p = &mut pols[i % n];
                p.win = win;
                if p.name.is_none() {
                    p.name = fresh;
                }
            }
            Change::Rename(i) if !pols.is_empty() => pols[i % n].name = fresh,
            Change::Plain(limit) => {
                pols = vec![Pol {
                    win: DAY,
                    limit,
                    name: None,
                }]
            }
            _ => return,
        }
        let wins: Vec<usize> = pols.iter().map(|p| p.win).collect();
        if (1..wins.len()).any(|i| wins[..i].contains(&wins[i])) {
            return;
        }
        self.config[f] = (!pols.is_empty()).then_some(pols);
        let limits = self.engine_limits();
        self.quota.engine_mut().set_limits(limits);
    }

    /// When the window right after counter `c`'s ends, as the marker of a reservation made at
    /// `at` and counted in `c` reckons it at `now`: exactly, when a current policy of the
    /// feature has `c`'s window; else (the engine knows a zone only by a digest then) for a
    /// zoned window, the UTC one's at `at` + 24 h, plus 24 h — zone offsets lie within ±24 h
    /// (`Intl` takes fixed offsets up to `"+23:59"`), so no zone's window after the one
    /// holding `at` ends later.
    pub(super) fn marker_end(&self, c: Counter, at: i64) -> i64 {
        let w = WINDOWS[c.2];
        if w.zone.is_none() || self.limit_of(c).is_some() {
            return self.next_window(c).4;
        }
        let utc = Win { zone: None, ..w };
        let (_, end) = utc.span(at + 24 * HOUR_MS);
        utc.span(end).1 + 24 * HOUR_MS
    }
}
