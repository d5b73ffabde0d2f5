//! The quota engine: configuration plus one loader per operation. Each loads a
//! [`Machine`] (see `calls.rs`) — or builds a boxed [`Call`] for native hosts; nothing here
//! performs I/O or reads a clock.

use super::calls::{BoxedCall, CountStep, Finished, Kind, Machine, Reserving, Signer, Target};
use super::clock::{MAX_MS, MIN_MS};
use super::direct::Counting;
use super::error::{QuotaError, Result};
use super::fault::FaultPolicy;
use super::idempotency::{check_key, write_record_key, Once, RECORD_NONCE_MASK};
use super::key::{counter_key, push_feature_key_base, Profile, ProfileId};
use super::keytable::{CounterKey, KeyTable, Owner};
use super::limits::{self, Limits, Policy};
use super::reservation::{MacStart, Reservation, TokenKey, Tokens};
use super::settle::{write_marker_key, Settling, State as SettleState};
use super::store::{Call, CountingOps};
use super::window::{Bounds, SpanCache, WindowSpan};
use super::zone::{TimeZones, UtcOnly};
use std::cell::{Ref, RefCell};
use std::rc::Rc;

/// The Django service's key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "ai_quota";
/// Longest accepted key prefix, in bytes.
pub const MAX_KEY_PREFIX_LEN: usize = 128;

/// A feature by name (as callers give it) or by its position in the limits (as the JS binding
/// passes it).
#[derive(Debug, Clone, Copy)]
pub enum FeatureRef<'a> {
    Name(&'a str),
    Index(usize),
}

/// Per-profile, per-feature quotas over a host-supplied store.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    enabled: bool,
    key_prefix: Rc<str>,
    fault_policy: FaultPolicy,
    /// Whether the store counts with one `incrOrCreate` or the incr → add → incr → set dance.
    counting: CountingOps,
    /// Where zoned policies get their UTC offsets (the host's `Intl` in JS).
    zones: Rc<dyn TimeZones>,
    /// Zoned windows computed so far: offsets are asked for once per window, not per call.
    spans: RefCell<SpanCache>,
    /// Nonces and the MAC key of reservation tokens, drawn when a reservation is admitted.
    tokens: Tokens,
    /// Keys built so far (an engine call only reads the configuration; this is its memo).
    keys: RefCell<KeyTable>,
}

/// A clone has a token source of its own (see [`Tokens::fork`]): sharing one, a secret or
/// entropy source given to one of them later would be the other's too, and of two clones
/// each given its own secret, both would sign with the last one.
impl Clone for Engine {
    fn clone(&self) -> Engine {
        Engine {
            limits: self.limits.clone(),
            enabled: self.enabled,
            key_prefix: Rc::clone(&self.key_prefix),
            fault_policy: self.fault_policy,
            counting: self.counting,
            zones: Rc::clone(&self.zones),
            spans: self.spans.clone(),
            tokens: self.tokens.fork(),
            keys: self.keys.clone(),
        }
    }
}

impl Engine {
    /// An enabled engine with the Django service's key prefix.
    pub fn new(limits: Limits) -> Engine {
        Engine {
            limits,
            enabled: true,
            key_prefix: DEFAULT_KEY_PREFIX.into(),
            fault_policy: FaultPolicy::Throw,
            counting: CountingOps::IncrAddSet,
            zones: Rc::new(UtcOnly),
            spans: RefCell::default(),
            tokens: Tokens::new(os_random),
            keys: RefCell::default(),
        }
    }

    /// The source of the random nonce seed and of the token key when no secret is given
    /// (by default std's random hash keys; the WASM binding uses `crypto.getRandomValues`).
    /// Called lazily, on the first reserve, release or settle. It must be random: a settle
    /// or release marks a reservation done by its nonce, so two engines over one store whose
    /// sources repeat draw the same nonces, and one's settle makes the other's answer `false`
    /// and drop its charge. (There is no fixed nonce seed for that reason.)
    ///
    /// ```compile_fail
    /// # use wasm_quota::core::{Engine, Limits};
    /// let engine = Engine::new(Limits::daily([("remix", 2)]).unwrap()).with_nonce_seed(7);
    /// ```
    pub fn with_entropy(self, entropy: fn() -> u64) -> Engine {
        let tokens = self.tokens.with_entropy(entropy);
        Engine { tokens, ..self }
    }

    /// The key of the tokens' MAC comes from `secret` (at least 16 characters). Engines that
    /// share a store and release each other's reservations must share it; without it an
    /// engine draws a random key, and only that engine accepts its tokens. It is this
    /// engine's alone: an engine it was cloned from keeps its own key.
    pub fn with_token_secret(self, secret: &str) -> Result<Engine> {
        self.tokens.set_key(TokenKey::from_secret(secret)?);
        Ok(self)
    }

    /// The `(at_ms, amount, nonce, mac)` of a reservation admitted on the direct path, counted
    /// in every one of `policies`, with a fresh nonce (no feature text is copied: the caller
    /// writes the token). `start` is the MAC's state after `id` that the caller keeps between
    /// calls of this engine (made now if it is `None`), or `&mut None`.
    pub(crate) fn admit(
        &self,
        (id, feature, policies): (&ProfileId, &str, &[Policy]),
        at_ms: i64,
        amount: i64,
        start: &mut Option<MacStart>,
    ) -> (i64, i64, u64, u64) {
        let nonce = self.tokens.next_nonce();
        let key = self.tokens.key();
        let start = start.get_or_insert_with(|| MacStart::new(&key, &self.key_prefix, id));
        let counted = policies.iter().map(|p| p.counter_tag);
        (
            at_ms,
            amount,
            nonce,
            start.mac(feature, counted, at_ms, amount, nonce),
        )
    }

    /// The source of UTC offsets for policies with a `time_zone` (by default none is known).
    pub fn with_time_zones(mut self, zones: Rc<dyn TimeZones>) -> Engine {
        self.zones = zones;
        self.spans = RefCell::default();
        self
    }

    /// `false` is the Django service's home mode: everything allowed, nothing counted.
    pub fn with_enabled(mut self, enabled: bool) -> Engine {
        self.enabled = enabled;
        self
    }

    pub fn with_key_prefix(mut self, prefix: &str) -> Result<Engine> {
        if prefix.is_empty() || prefix.len() > MAX_KEY_PREFIX_LEN {
            return Err(QuotaError::config(format!(
                "keyPrefix must be 1 to {MAX_KEY_PREFIX_LEN} bytes"
            )));
        }
        self.key_prefix = prefix.into();
        self.keys.get_mut().clear();
        Ok(self)
    }

    /// What `check`, `reserve` and `increment` answer when the store fails.
    pub fn with_fault_policy(mut self, policy: FaultPolicy) -> Engine {
        self.fault_policy = policy;
        self
    }

    pub fn fault_policy(&self) -> FaultPolicy {
        self.fault_policy
    }

    /// How reserves and increments count: [`CountingOps::IncrOrCreate`] for a store that has
    /// the atomic upsert (one operation per counter, even when a window starts),
    /// [`CountingOps::IncrOrCreateWithin`] for one that also has the upsert within a limit (a
    /// reserve's denial is then one operation and no write), else the Django service's dance
    /// (the default). Decided once, for the store the engine runs over.
    pub fn with_counting(mut self, counting: CountingOps) -> Engine {
        self.counting = counting;
        self
    }

    /// [`Engine::with_counting`] on an engine already built.
    pub fn set_counting(&mut self, counting: CountingOps) {
        self.counting = counting;
    }

    pub fn counting_ops(&self) -> CountingOps {
        self.counting
    }

    /// Replaces the limits; the next call uses them. (Validation happened when `limits` was built.)
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.keys.get_mut().clear();
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Read-only: would `amount` more be allowed now? Counts nothing.
    pub fn check(
        &self,
        profile: &Profile,
        feature: &str,
        amount: i64,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        let call = (Counting::Check, profile, amount, None);
        self.boxed(|m| self.load_count(m, call, FeatureRef::Name(feature), now_ms))
    }

    /// Atomically counts `amount` in every policy of `feature`, or in none if any would go
    /// over its limit (the Django service's incr → add → incr → set dance, rolled back over the limit).
    pub fn reserve(
        &self,
        profile: &Profile,
        feature: &str,
        amount: i64,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        let call = (Counting::Reserve, profile, amount, None);
        self.boxed(|m| self.load_count(m, call, FeatureRef::Name(feature), now_ms))
    }

    /// [`Engine::reserve`] under an idempotency key: a retry with the same key and amount in
    /// the same window (the feature's longest) gets the original decision, marked
    /// `replayed`, and is counted once — also across engines sharing the store (see
    /// `idempotency.rs`).
    pub fn reserve_once(
        &self,
        profile: &Profile,
        feature: &str,
        amount: i64,
        idempotency_key: &str,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        let call = (Counting::Reserve, profile, amount, Some(idempotency_key));
        self.boxed(|m| self.load_count(m, call, FeatureRef::Name(feature), now_ms))
    }

    /// The Django service's post-hoc count after a successful operation: no limit check.
    pub fn increment(
        &self,
        profile: &Profile,
        feature: &str,
        amount: i64,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        let call = (Counting::Increment, profile, amount, None);
        self.boxed(|m| self.load_count(m, call, FeatureRef::Name(feature), now_ms))
    }

    /// Takes back a reservation (from the window it was counted in) or, given a feature name,
    /// `amount` from the current window as the Django service does. A counter driven below zero is set
    /// back to 0; a missing counter is a quiet no-op. `amount` must be `None` or equal to the
    /// reservation's amount when a token is given. A reservation is released at most once,
    /// and not at all once settled: it is settling at 0 (see `settle.rs`).
    pub fn release(
        &self,
        profile: &Profile,
        feature_or_token: &str,
        amount: Option<i64>,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        self.boxed(|m| self.load_release(m, profile, feature_or_token, amount, now_ms))
    }

    /// Corrects a reservation to the amount actually used (0 ..= MAX_SAFE_INTEGER), in the
    /// windows it was counted in: refunds `reserved − actual`, or charges the extra (in the
    /// window right after one that has ended; not at all after that). Finishes with
    /// `Outcome::Settled(false)` and changes nothing when the reservation was already settled
    /// or released, or when its charge came too late for every policy, or once the window
    /// after each of its windows has ended, whatever the amount.
    pub fn settle(
        &self,
        profile: &Profile,
        token: &str,
        actual: i64,
        now_ms: i64,
    ) -> Result<Box<dyn Call>> {
        self.boxed(|m| self.load_settle(m, profile, token, actual, now_ms))
    }

    /// `{feature: count}` for every configured feature in the current window (the first
    /// policy's window where a feature has several).
    pub fn usage(&self, id: &ProfileId, now_ms: i64) -> Result<Box<dyn Call>> {
        self.boxed(|m| self.load_usage(m, id, now_ms))
    }

    /// A machine loaded by `load`, boxed with the names its decisions carry.
    fn boxed(&self, load: impl FnOnce(&mut Machine) -> Result<()>) -> Result<Box<dyn Call>> {
        let mut m = Machine::default();
        load(&mut m)?;
        let policies = self.limits.get(m.feature()).map(|policies| {
            let named = |p: &Policy| (!p.plain).then(|| (p.name.clone(), p.window));
            policies.iter().map(named).collect()
        });
        Ok(Box::new(BoxedCall::new(m, policies.unwrap_or_default())))
    }

    /// Loads `m` (whatever it held before; its buffers are reused) with `check`, `reserve`
    /// (under an idempotency key when one is given) or `increment` of `amount` by `profile`:
    /// validates; answers home mode and unlimited profiles without the store; else targets
    /// the counters of the feature's policies at `now_ms`, under the engine's fault policy.
    pub fn load_count(
        &self,
        m: &mut Machine,
        call: (Counting, &Profile, i64, Option<&str>),
        feature: FeatureRef,
        now_ms: i64,
    ) -> Result<()> {
        self.load_count_by_handle(m, call, (None, &mut None), feature, now_ms)
    }

    /// [`Engine::load_count`] of a string id its host interned as `handle` (see
    /// [`Owner`]): its counters' keys are found by the handle, not by the id's text, and a
    /// reserve signs from `mac_start`, the MAC's state after the id that the host keeps
    /// beside the handle (made now if it is `None`).
    pub(crate) fn load_count_by_handle(
        &self,
        m: &mut Machine,
        (kind, profile, amount, idempotency_key): (Counting, &Profile, i64, Option<&str>),
        (handle, mac_start): (Option<u64>, &mut Option<MacStart>),
        feature: FeatureRef,
        now_ms: i64,
    ) -> Result<()> {
        let (index, name, policies) = match feature {
            FeatureRef::Name(name) => {
                let (index, policies) = self.prepare(name, amount, now_ms)?;
                (index, name, policies)
            }
            FeatureRef::Index(index) => {
                let (name, policies) = self.prepare_at(index, amount, now_ms)?;
                (index, name, policies)
            }
        };
        m.reset(name, amount, now_ms);
        if !self.enabled || profile.unlimited {
            if let Some(key) = idempotency_key {
                check_key(key)?;
            }
            m.kind = Kind::Ready(Finished::Unlimited);
            return Ok(());
        }
        let owner = Owner {
            id: &profile.id,
            handle,
        };
        self.load_targets(m, owner, (index, name, policies), now_ms)?;
        m.counting = self.counting;
        m.kind = match (kind, idempotency_key) {
            (Counting::Check, _) => Kind::Check,
            (Counting::Reserve, None) => {
                m.signer = Some(self.signer(u64::MAX));
                self.sign_as(m, &profile.id, handle.map(|_| mac_start));
                Kind::Reserve(Reserving::Start)
            }
            (Counting::Reserve, Some(key)) => {
                self.load_record(m, &profile.id, policies, key)?;
                m.signer = Some(self.signer(RECORD_NONCE_MASK));
                self.sign_as(m, &profile.id, handle.map(|_| mac_start));
                Kind::Once(Once::new())
            }
            (Counting::Increment, _) => Kind::Increment {
                checked: 0,
                step: CountStep::Incr,
            },
        };
        m.guard = match self.fault_policy {
            FaultPolicy::Throw => None,
            FaultPolicy::Deny => Some(false),
            FaultPolicy::Allow => Some(true),
        };
        Ok(())
    }

    /// The idempotency record of a reserve under `key` (its targets loaded), and the marker
    /// base its recorded reservation's marker is completed from. The record lives as long as
    /// the feature's longest window, and is named after it. Which window ends last can change
    /// while the others last (a week spanning a month's end outlasts the month from its Monday
    /// on; a Kolkata day the UTC day from 18:30 UTC on), so a retry looks for the record under
    /// each policy's current window: the original's longest window, if any of its windows
    /// still lasts, is one of them.
    fn load_record(
        &self,
        m: &mut Machine,
        id: &ProfileId,
        policies: &[Policy],
        key: &str,
    ) -> Result<()> {
        // The policies by the end of their windows, latest first, ties in the feature's order:
        // placed one by one (a feature has a few policies; the standard library's sort is
        // 6 KB of .wasm).
        let mut order: Vec<usize> = Vec::with_capacity(m.targets.len());
        for (i, target) in m.targets.iter().enumerate() {
            let end_ms = target.span.end_ms;
            let at = order
                .iter()
                .position(|&j| m.targets[j].span.end_ms < end_ms)
                .unwrap_or(order.len());
            order.insert(at, i);
        }
        let (prefix, feature) = (&*self.key_prefix, &*m.feature);
        for &i in &order {
            let label = self.window_label(&policies[i], m.now_ms)?;
            if m.records.len() == m.records_len {
                m.records.push(String::new());
            }
            let (known, next) = m.records.split_at_mut(m.records_len);
            write_record_key(&mut next[0], prefix, (id, feature), (&label, m.amount), key)?;
            if !known.contains(&next[0]) {
                m.records_len += 1;
            }
        }
        m.record_ttl = order
            .first()
            .map_or(0, |&i| m.targets[i].span.key_ttl(m.now_ms));
        push_feature_key_base(&mut m.marker, prefix, id, feature);
        m.marker_base = m.marker.len();
        Ok(())
    }

    /// Makes `m` sign its reservation for `id`: from the MAC state the host keeps for an
    /// interned id (`kept`, filled in now if empty), else from a copy of the id.
    fn sign_as(&self, m: &mut Machine, id: &ProfileId, kept: Option<&mut Option<MacStart>>) {
        match kept {
            Some(start) => {
                let key = self.tokens.key();
                m.mac_start =
                    Some(*start.get_or_insert_with(|| MacStart::new(&key, &self.key_prefix, id)));
            }
            None => m.set_profile(id),
        }
    }

    /// Signs admitted reservations, their nonces' bits outside `nonce_mask` cleared.
    fn signer(&self, nonce_mask: u64) -> Signer {
        Signer {
            tokens: self.tokens.clone(),
            prefix: Rc::clone(&self.key_prefix),
            nonce_mask,
        }
    }

    /// Loads `m` with a release (see [`Engine::release`]).
    pub fn load_release(
        &self,
        m: &mut Machine,
        profile: &Profile,
        feature_or_token: &str,
        amount: Option<i64>,
        now_ms: i64,
    ) -> Result<()> {
        if Reservation::looks_like_token(feature_or_token) {
            let r = self.verify(profile, feature_or_token)?;
            if amount.is_some_and(|a| a != r.amount) {
                return Err(QuotaError::argument(format!(
                    "amount must be omitted or equal the reservation's amount ({})",
                    r.amount
                )));
            }
            return self.finalize(m, profile, &r, 0, (now_ms, true));
        }
        let (feature, amount) = (feature_or_token, amount.unwrap_or(1));
        let (index, policies) = self.prepare(feature, amount, now_ms)?;
        m.reset(feature, amount, now_ms);
        if !self.enabled || profile.unlimited {
            m.kind = Kind::Ready(Finished::Released);
            return Ok(());
        }
        self.load_targets(m, (&profile.id).into(), (index, feature, policies), now_ms)?;
        m.kind = Kind::Release {
            next: 0,
            clamping: false,
        };
        Ok(())
    }

    /// Loads `m` with a settle (see [`Engine::settle`]).
    pub fn load_settle(
        &self,
        m: &mut Machine,
        profile: &Profile,
        token: &str,
        actual: i64,
        now_ms: i64,
    ) -> Result<()> {
        let r = self.verify(profile, token)?;
        if !limits::safe_from(0, actual) {
            return Err(QuotaError::argument(format!(
                "actual amount {actual} must be an integer from 0 to Number.MAX_SAFE_INTEGER"
            )));
        }
        self.finalize(m, profile, &r, actual, (now_ms, false))
    }

    /// The reservation `token` names, if this engine issued it for `profile`.
    fn verify(&self, profile: &Profile, token: &str) -> Result<Reservation> {
        Reservation::verify(token, &self.tokens.key(), &self.key_prefix, &profile.id)
    }

    /// Loads `m` with the correction of reservation `r` to `actual` (a release: to 0), in the
    /// counters of the policies that counted it, each in the window the reservation was made in.
    fn finalize(
        &self,
        m: &mut Machine,
        profile: &Profile,
        r: &Reservation,
        actual: i64,
        (now_ms, as_release): (i64, bool),
    ) -> Result<()> {
        let (index, policies) = self.prepare(&r.feature, r.amount, now_ms)?;
        m.reset(&r.feature, r.amount, now_ms);
        if !self.enabled || profile.unlimited {
            m.kind = Kind::Ready(if as_release {
                Finished::Released
            } else {
                Finished::Settled(false)
            });
            return Ok(());
        }
        let mut delta = actual - r.amount;
        if r.counted.is_none() {
            // A token of the earlier format does not say which policies counted it: each
            // policy is charged what was used beyond the estimate (work that happened), and
            // none is refunded, as one added since would be — an over-count of at most the
            // amount of a reservation made before the upgrade.
            delta = delta.max(0);
        }
        // Only the policies that counted the reservation are corrected: one added since never
        // counted it (refunded, its window would admit that much more than its limit), and one
        // removed since is not there to correct. A charge whose window has ended goes to the
        // window right after it, and is dropped once that one has ended too (see `settle.rs`).
        // The marker outlives that next window of each of the reservation's policies,
        // whatever this call does (a release now must still stop a settle that would charge
        // there later) and whatever the policies are now: one removed since may be back before
        // then, and a second attempt must not correct its counter, nor a retry under an
        // idempotency key take a released reservation for one still counted.
        // A token of the earlier format may have been settled or released by the earlier
        // release, whose marker lived only until the reservation's windows ended (it charged
        // nothing later): past them this call cannot know, so it charges nothing either.
        let next_window_charged = r.counted.is_some();
        let (owner, feature) = ((&profile.id).into(), (index, &*r.feature));
        let mut marker_ttl = 1;
        // Whether the window right after one of the reservation's still runs. Once none does,
        // no counter it could correct is left (a charge is dropped, a refund's counters are
        // gone) and the marker of a first attempt has expired: this call cannot tell a first
        // attempt from one sent again, so it corrects nothing, writes nothing and answers
        // `false`, as a charge too late for every policy does.
        let mut next_runs = false;
        for (p, policy) in policies.iter().enumerate() {
            let made_in = self.bounds(policy, r.at_ms)?;
            let next = self.bounds(policy, made_in.end_ms.min(MAX_MS))?;
            if !r.counted_in(policy.counter_tag) {
                continue;
            }
            next_runs |= now_ms < next.end_ms;
            marker_ttl = marker_ttl.max(next.key_ttl(now_ms));
            // A refund into a window that has ended is dropped, not sent to its counter: that
            // one is kept (ten minutes) only for hosts whose clocks are behind, or was made anew
            // by one further behind, and holds their counts, not the reservation.
            let at_ms = match (delta > 0, made_in.end_ms <= now_ms) {
                (true, true) if next_window_charged && now_ms < next.end_ms => now_ms,
                (_, true) => continue,
                _ => r.at_ms,
            };
            m.targets
                .push(self.target(owner, feature, p, policy, at_ms)?);
        }
        for tag in r.tags() {
            if policies.iter().all(|p| p.counter_tag != tag) {
                let next = Bounds {
                    start_ms: now_ms,
                    end_ms: tag.latest_next_end(r.at_ms),
                };
                next_runs |= now_ms < next.end_ms;
                marker_ttl = marker_ttl.max(next.key_ttl(now_ms));
            }
        }
        if !next_runs || delta > 0 && m.targets.is_empty() {
            // Too late for every policy: nothing to correct, so nothing is written.
            m.kind = Kind::Ready(if as_release {
                Finished::Released
            } else {
                Finished::Settled(false)
            });
            return Ok(());
        }
        m.counting = self.counting;
        write_marker_key(
            &mut m.marker,
            &self.key_prefix,
            &profile.id,
            &r.feature,
            r.nonce,
        );
        m.kind = Kind::Settle(Settling {
            delta,
            as_release,
            marker_ttl,
            state: SettleState::Start,
        });
        Ok(())
    }

    /// Loads `m` with `usage` of `id` (see [`Engine::usage`]).
    pub fn load_usage(&self, m: &mut Machine, id: &ProfileId, now_ms: i64) -> Result<()> {
        check_now(now_ms)?;
        m.reset("", 1, now_ms);
        let mut features = Vec::with_capacity(self.limits.len());
        for (i, (feature, policies)) in self.limits.features().enumerate() {
            let t = self.target(id.into(), (i, feature), 0, &policies[0], now_ms)?;
            m.targets.push(t);
            features.push(feature.to_owned());
        }
        m.kind = Kind::Usage(features);
        Ok(())
    }

    /// Validates the call's inputs; the feature's position and policies.
    fn prepare(&self, feature: &str, amount: i64, now_ms: i64) -> Result<(usize, &[Policy])> {
        check_inputs(amount, now_ms)?;
        self.limits
            .find(feature)
            .ok_or_else(|| QuotaError::unknown_feature(feature))
    }

    /// [`Engine::prepare`] for the feature at position `index`: its name and policies.
    pub(crate) fn prepare_at(
        &self,
        index: usize,
        amount: i64,
        now_ms: i64,
    ) -> Result<(&str, &[Policy])> {
        check_inputs(amount, now_ms)?;
        self.limits
            .features()
            .nth(index)
            .ok_or_else(|| QuotaError::unknown_feature(""))
    }

    /// The counters of the feature's policies in the window holding `at_ms`, into `m`.
    fn load_targets(
        &self,
        m: &mut Machine,
        id: Owner<'_>,
        (index, feature, policies): (usize, &str, &[Policy]),
        at_ms: i64,
    ) -> Result<()> {
        for (p, policy) in policies.iter().enumerate() {
            let t = self.target(id, (index, feature), p, policy, at_ms)?;
            m.targets.push(t);
        }
        Ok(())
    }

    /// The counter of `policy` (the `p`-th of the feature at position `index`) in the window
    /// holding `at_ms`; its key comes from the key table, built on first use.
    fn target(
        &self,
        id: Owner<'_>,
        feature: (usize, &str),
        p: usize,
        policy: &Policy,
        at_ms: i64,
    ) -> Result<Target> {
        let (key, span) = self.counter_key(id, feature, p, policy, at_ms)?;
        Ok(Target {
            key,
            limit: policy.limit,
            span,
            named: !policy.plain,
            counter_tag: policy.counter_tag,
        })
    }

    /// The key of `policy`'s counter (the `p`-th of the feature at position `index`) in the
    /// window holding `at_ms`, and that window's bounds. Allocates only to build a key the
    /// first time.
    pub(crate) fn counter_key(
        &self,
        id: Owner<'_>,
        (index, feature): (usize, &str),
        p: usize,
        policy: &Policy,
        at_ms: i64,
    ) -> Result<(CounterKey, Bounds)> {
        let span = self.bounds(policy, at_ms)?;
        if let Some(key) = self.keys.borrow().find(id, index, p, span.start_ms) {
            return Ok((key.clone(), span));
        }
        let label = match policy.time_zone {
            None => policy.window.label(span.start_ms, None),
            Some(_) => self.span(policy, at_ms)?.label,
        };
        if span.end_ms > MAX_MS {
            return Err(QuotaError::config(format!(
                "the clock returned {at_ms}: the {} window must end before year 10000",
                policy.name
            )));
        }
        let key = self.keys.borrow_mut().get(id, index, p, span.start_ms, || {
            counter_key(&self.key_prefix, id.id, feature, &label)
        });
        Ok((key, span))
    }

    /// The bounds of `policy`'s window holding `at_ms` (its label, a formatted date, is needed
    /// only when a key is built).
    pub(crate) fn bounds(&self, policy: &Policy, at_ms: i64) -> Result<Bounds> {
        Ok(match policy.time_zone.as_deref() {
            None => policy.window.bounds_at(at_ms),
            Some(zone) => {
                let cached = self.spans.borrow().bounds(policy.window, zone, at_ms);
                match cached {
                    Some(bounds) => bounds,
                    None => self.span(policy, at_ms)?.bounds(),
                }
            }
        })
    }

    /// The key table, borrowed: the direct path reads its keys in place, and updates their
    /// cells through this shared borrow.
    pub(crate) fn key_table(&self) -> Ref<'_, KeyTable> {
        self.keys.borrow()
    }

    /// The key label of `policy`'s window containing `at_ms`.
    fn window_label(&self, policy: &Policy, at_ms: i64) -> Result<String> {
        Ok(match policy.time_zone {
            None => policy
                .window
                .label(policy.window.bounds_at(at_ms).start_ms, None),
            Some(_) => self.span(policy, at_ms)?.label,
        })
    }

    /// The window of `policy` containing `at_ms`; UTC windows are pure arithmetic, zoned ones
    /// ask the host for offsets unless the cache already holds that window.
    fn span(&self, policy: &Policy, at_ms: i64) -> Result<WindowSpan> {
        let Some(zone) = policy.time_zone.as_deref() else {
            return Ok(policy.window.span_at(at_ms));
        };
        if let Some(span) = self.spans.borrow().get(policy.window, zone, at_ms) {
            return Ok(span);
        }
        let span = policy.window.span_in(Some(zone), &*self.zones, at_ms)?;
        self.spans
            .borrow_mut()
            .put(policy.window, zone, span.clone());
        Ok(span)
    }
}

fn check_inputs(amount: i64, now_ms: i64) -> Result<()> {
    check_now(now_ms)?;
    if !limits::safe_from(1, amount) {
        return Err(QuotaError::argument(format!(
            "amount {amount} must be an integer from 1 to Number.MAX_SAFE_INTEGER"
        )));
    }
    Ok(())
}

/// Native hosts' randomness: std's per-process random hash keys.
fn os_random() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

fn check_now(now_ms: i64) -> Result<()> {
    if (MIN_MS..=MAX_MS).contains(&now_ms) {
        Ok(())
    } else {
        Err(QuotaError::config(format!(
            "the clock returned {now_ms}; expected ms since 1970 before year 10000"
        )))
    }
}
