//! Reading configuration (constructor options, limits, policies, method options) with serde
//! derives through serde-wasm-bindgen. JS first copies the value into plain data (`plainData`
//! in `runtime.js`), so no getter runs inside WASM (one that throws is reported with its
//! cause) and a string with a lone surrogate is refused before it could be read lossily; typed
//! structs are then deserialised from the copy. Objects are read entry by entry, so
//! `#[serde(deny_unknown_fields)]` refuses a misspelt name, and an error says where it is
//! (`limits.chat[1].window: …`). A field left out (or `undefined`) is [`Given::Absent`];
//! `null` is a value like any other, refused where a string or number is expected.
//!
//! Size: serde's `de::Unexpected` (its `Display` formats floats) is never used, so Rust's
//! float formatting (~20 KB) stays out of the .wasm: the visitors here accept or refuse every
//! kind of JS value themselves, numbers are written by JS, and serde-wasm-bindgen's own
//! "invalid type" error is patched likewise (vendor/serde-wasm-bindgen).

use super::error::Failure;
use super::js;
use crate::core::{limits::safe_integer, limits::MAX_SAFE_INTEGER, QuotaError};
use serde::de::{self, value::MapAccessDeserializer, DeserializeOwned, DeserializeSeed};
use serde::de::{Deserializer, Expected, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use wasm_bindgen::JsValue;

/// `value` copied `levels` deep and deserialised as `T`. Errors have `code` and read
/// `{what}{path}: {message}`; a throwing getter is `{what} could not be read`, with its cause.
pub fn read<T: DeserializeOwned>(
    value: &JsValue,
    levels: u32,
    what: &str,
    code: fn(String) -> QuotaError,
) -> Result<T, Failure> {
    read_copy(value, levels, what, code).map(|(t, _)| t)
}

/// [`read`], and the copy it read (whose fields are plain values: reading one runs no getter).
pub fn read_copy<T: DeserializeOwned>(
    value: &JsValue,
    levels: u32,
    what: &str,
    code: fn(String) -> QuotaError,
) -> Result<(T, JsValue), Failure> {
    let copy = copy(value, levels, what, code)?;
    match serde_wasm_bindgen::from_value(copy.clone()) {
        Ok(t) => Ok((t, copy)),
        Err(e) => Err(refusal(what, code, &e)),
    }
}

/// `value` as plain data, `levels` deep. Not generic and not inlined: one copy of this serves
/// every `T` that [`read_copy`] is instantiated for.
#[inline(never)]
fn copy(
    value: &JsValue,
    levels: u32,
    what: &str,
    code: fn(String) -> QuotaError,
) -> Result<JsValue, Failure> {
    js::plain_data(value, levels).map_err(|thrown| match js::lone_surrogate_at(&thrown) {
        Some(path) => code(format!(
            "{what}{path}: not well-formed UTF-16 (a lone surrogate)"
        ))
        .into(),
        None => Failure::with_cause(code(format!("{what} could not be read")), thrown),
    })
}

/// serde's error `e` as a [`Failure`] naming `what` (see [`read`]).
#[inline(never)]
fn refusal(what: &str, code: fn(String) -> QuotaError, e: &serde_wasm_bindgen::Error) -> Failure {
    code(at(what, e)).into()
}

/// A field that may be left out (unlike `Option`, `null` is not taken for "left out").
#[derive(Default)]
pub enum Given<T> {
    #[default]
    Absent,
    Value(T),
}

impl<T> Given<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Given::Absent => None,
            Given::Value(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Given::Value)
    }
}

/// `path` in front of an error's message: `path.inner: …` or `path[1]: …` when the error comes
/// from deeper in, `path: …` otherwise.
fn at(path: &str, e: &impl fmt::Display) -> String {
    // serde-wasm-bindgen's errors are JS Errors, whose text starts "Error: ".
    let message = e.to_string();
    let message = message.strip_prefix("Error: ").unwrap_or(&message);
    if message.starts_with(['.', '[']) {
        format!("{path}{message}")
    } else {
        format!("{path}: {message}")
    }
}

/// "invalid type: {got}, expected {expected}", serde's wording. Not inlined, and shared by
/// every visitor: the refusals below would otherwise be copied into each of them.
#[inline(never)]
pub fn refused<E: de::Error>(got: Got, expected: &dyn Expected) -> E {
    let got = match got {
        Got::Null => "null".to_owned(),
        Got::Bool(v) => format!("boolean `{v}`"),
        Got::Int(v) => format!("number {v}"),
        Got::Unsigned(v) => format!("number {v}"),
        Got::Number(v) => format!("number {}", js::number_text(v)),
        Got::Str(v) => format!("string \"{v}\""),
        Got::Bytes => "bytes".to_owned(),
        Got::Array => "array".to_owned(),
    };
    E::custom(format_args!("invalid type: {got}, expected {expected}"))
}

/// What a visitor was handed and refuses (see [`refused`]).
pub enum Got<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Number(f64),
    Str(&'a str),
    Bytes,
    Array,
}

/// The errors of a visitor that takes some kinds of JS value (its own methods) and refuses
/// the rest (these): serde's defaults would name the value through `de::Unexpected`, whose
/// `Display` links Rust's float formatting.
macro_rules! refuse_unless_overridden {
    ($($kind:ident)*) => {
        $(refuse_unless_overridden!(@ $kind);)*
    };
    (@ $method:ident($($arg:ident: $ty:ty),*) => $got:expr) => {
        fn $method<E: serde::de::Error>(self, $($arg: $ty),*) -> std::result::Result<Self::Value, E> {
            Err($crate::bind::config::refused($got, &self))
        }
    };
    (@ unit) => {
        refuse_unless_overridden!(@ visit_unit() => $crate::bind::config::Got::Null);
    };
    (@ bool) => {
        refuse_unless_overridden!(@ visit_bool(v: bool) => $crate::bind::config::Got::Bool(v));
    };
    (@ numbers) => {
        refuse_unless_overridden!(@ visit_i64(v: i64) => $crate::bind::config::Got::Int(v));
        refuse_unless_overridden!(@ visit_u64(v: u64) => $crate::bind::config::Got::Unsigned(v));
        refuse_unless_overridden!(@ visit_f64(v: f64) => $crate::bind::config::Got::Number(v));
    };
    (@ str) => {
        refuse_unless_overridden!(@ visit_str(v: &str) => $crate::bind::config::Got::Str(v));
        refuse_unless_overridden!(@ visit_bytes(_v: &[u8]) => $crate::bind::config::Got::Bytes);
    };
    (@ seq) => {
        fn visit_seq<S: serde::de::SeqAccess<'de>>(self, _: S) -> std::result::Result<Self::Value, S::Error> {
            Err($crate::bind::config::refused($crate::bind::config::Got::Array, &self))
        }
    };
}
pub(crate) use refuse_unless_overridden;

/// `T` read from a JS object entry by entry (all names seen, so unknown ones are refused), an
/// error inside an entry prefixed with `.name`.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Object<T>, M::Error> {
        entries(map).map(Object)
    }
    refuse_unless_overridden!(unit bool numbers str seq);
}

/// `T` from a JS object's entries, an error inside an entry prefixed with `.name`.
pub fn entries<'de, T: Deserialize<'de>, M: MapAccess<'de>>(map: M) -> Result<T, M::Error> {
    T::deserialize(MapAccessDeserializer::new(Named {
        map,
        name: String::new(),
    }))
}

/// Entries of a JS object, remembering the name being read to put it in front of an error.
struct Named<M> {
    map: M,
    name: String,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for Named<M> {
    type Error = M::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, M::Error> {
        let Some(name) = self.map.next_key::<String>()? else {
            return Ok(None);
        };
        let key = seed.deserialize(name.as_str().into_deserializer())?;
        self.name = name;
        Ok(Some(key))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        let name = &self.name;
        self.map
            .next_value_seed(seed)
            .map_err(|e| in_field(name, e))
    }
}

/// An error inside field `name` (see [`at`]). Not inlined: one copy serves every field type.
#[inline(never)]
fn in_field<E: de::Error>(name: &str, e: E) -> E {
    E::custom(at(&format!(".{name}"), &e))
}

/// Items of a JS array as `T`s, an error in one prefixed with `[index]`.
pub fn items<'de, T: Deserialize<'de>, S: SeqAccess<'de>>(mut seq: S) -> Result<Vec<T>, S::Error> {
    let mut items = Vec::new();
    loop {
        match seq.next_element::<T>() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return Ok(items),
            Err(e) => return Err(in_item(items.len(), e)),
        }
    }
}

/// An error inside item `index` of an array (see [`at`]).
#[inline(never)]
fn in_item<E: de::Error>(index: usize, e: E) -> E {
    E::custom(at(&format!("[{index}]"), &e))
}

/// An integer from `MIN` to `MAX` (at most `Number.MAX_SAFE_INTEGER`): a count, limit, amount
/// or timeout.
pub struct Whole<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Whole<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde-wasm-bindgen hands any JS number to `visit_f64`, and refuses anything else.
        d.deserialize_f64(WholeVisitor::<MIN, MAX>)
    }
}

pub struct WholeVisitor<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> WholeVisitor<MIN, MAX> {
    /// `n` when it is a whole number in range.
    pub fn check<E: de::Error>(&self, n: f64) -> Result<Whole<MIN, MAX>, E> {
        match safe_integer(n) {
            Some(n) if (MIN..=MAX).contains(&n) => Ok(Whole(n)),
            _ => Err(E::custom(format_args!(
                "must be {self}, got {}",
                js::number_text(n)
            ))),
        }
    }
}

impl<const MIN: i64, const MAX: i64> fmt::Display for WholeVisitor<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if MAX == MAX_SAFE_INTEGER {
            write!(f, "an integer from {MIN} to Number.MAX_SAFE_INTEGER")
        } else {
            write!(f, "an integer from {MIN} to {MAX}")
        }
    }
}

impl<'de, const MIN: i64, const MAX: i64> Visitor<'de> for WholeVisitor<MIN, MAX> {
    type Value = Whole<MIN, MAX>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        self.check(n)
    }
}
