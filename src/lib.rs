//! wasm-quota: per-profile, per-feature quota enforcement compiled to WebAssembly.
//!
//! [`core`] is the quota logic in plain Rust. [`bind`] exposes it to JavaScript, where the
//! host supplies the storage through callbacks (`QuotaStore`).

pub mod bind;
pub mod core;
