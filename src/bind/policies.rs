//! `limits` → the engine's [`Limits`], read with serde (see `config.rs`). A feature's entry is a
//! number (the Django service's daily UTC limit), a policy object
//! `{ limit, window?, timeZone?, name? }`, or an array of them.

use super::config::{self, entries, items, refuse_unless_overridden};
use super::config::{Given, Object, Whole, WholeVisitor};
use super::error::Failure;
use super::zones;
use crate::core::limits::MAX_SAFE_INTEGER;
use crate::core::{Limits, Policy, QuotaError, WindowUnit};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use wasm_bindgen::{JsCast, JsValue};

type Result<T> = std::result::Result<T, Failure>;

/// `{ feature: limit | policy | [policy, …], … }`. Errors name where:
/// `limits.chat[1]: missing field `limit``.
pub fn limits(v: &JsValue) -> Result<Limits> {
    // A Map's entries are not own keys: it would read as "no features" instead of a mistake.
    if v.is_instance_of::<js_sys::Map>() || v.is_instance_of::<js_sys::Set>() {
        return Err(QuotaError::config(
            "limits must be an object of feature → limit, not a Map or Set",
        )
        .into());
    }
    // Three levels: the object of features, a feature's array, a policy object.
    let Object(Features(features)) = config::read(v, 3, "limits", QuotaError::config)?;
    let mut limits = Limits::default();
    for (feature, entry) in features {
        let policies = match entry {
            Entry::Daily(limit) => vec![Policy::daily(limit)?],
            // A loop: `collect::<Result<_>>()` makes the .wasm 0.5 KB larger here.
            Entry::Policies(specs) => {
                let mut policies = Vec::with_capacity(specs.len());
                for spec in specs {
                    policies.push(spec.policy()?);
                }
                policies
            }
        };
        limits.insert(&feature, policies)?;
    }
    Ok(limits)
}

/// A limit: 0 (always denied) to `Number.MAX_SAFE_INTEGER`.
type Limit = Whole<0, MAX_SAFE_INTEGER>;

/// Every feature's entry, in the object's order.
struct Features(Vec<(String, Entry)>);

impl<'de> Deserialize<'de> for Features {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct FeaturesVisitor;
        impl<'de> Visitor<'de> for FeaturesVisitor {
            type Value = Features;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of feature → limit")
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Features, M::Error> {
                let mut features = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    features.push(entry);
                }
                Ok(Features(features))
            }
        }
        d.deserialize_map(FeaturesVisitor)
    }
}

/// A feature's entry: a number, or one or more policy objects.
enum Entry {
    Daily(i64),
    Policies(Vec<PolicySpec>),
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a limit ({}), a policy object {{ limit, window?, timeZone?, name? }} or an array of them", WholeVisitor::<0, MAX_SAFE_INTEGER>)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Entry, E> {
        self.visit_f64(n as f64)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Entry, E> {
        self.visit_f64(n as f64)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> std::result::Result<Entry, E> {
        WholeVisitor::<0, MAX_SAFE_INTEGER>
            .check(n)
            .map(|l| Entry::Daily(l.0))
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> std::result::Result<Entry, M::Error> {
        Ok(Entry::Policies(vec![entries(map)?]))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> std::result::Result<Entry, S::Error> {
        let specs: Vec<Object<PolicySpec>> = items(seq)?;
        if specs.is_empty() {
            return Err(de::Error::custom(
                "an empty array; a feature needs at least one policy",
            ));
        }
        Ok(Entry::Policies(specs.into_iter().map(|o| o.0).collect()))
    }
    refuse_unless_overridden!(unit bool str);
}

/// `{ limit, window?, timeZone?, name? }`; any other field is refused, so a typo is loud.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicySpec {
    limit: Limit,
    #[serde(default)]
    window: Given<WindowUnit>,
    #[serde(default)]
    time_zone: Given<String>,
    #[serde(default)]
    name: Given<String>,
}

impl PolicySpec {
    fn policy(self) -> Result<Policy> {
        let zone = match self.time_zone.value() {
            Some(name) => zones::checked(&name)?,
            None => None,
        };
        let window = self.window.value().unwrap_or(WindowUnit::Day);
        let name = self.name.value();
        Ok(Policy::new(
            name.as_deref(),
            self.limit.0,
            window,
            zone.as_deref(),
        )?)
    }
}
