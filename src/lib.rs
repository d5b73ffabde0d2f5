//! wasm-quota: per-profile, per-feature quota enforcement compiled to WebAssembly.
//!
//! [`core`] is the quota logic in plain Rust, the crate's Rust API. `bind` exposes it to
//! JavaScript, where the host supplies the storage through callbacks (`QuotaStore`).

// The WASM binding: its exports take JS values, so it is no Rust API (natively its engine
// cannot be made) and stays out of these docs. It is compiled natively all the same, so that
// clippy, rustdoc and its unit tests see it.
#[doc(hidden)]
pub mod bind;
pub mod core;

// The README's Rust example runs under `cargo test` as a doctest (its other blocks are JS,
// TypeScript, TOML, HTML and shell, which rustdoc does not run).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The allocator of the .wasm: talc instead of Rust's default dlmalloc, for size. WASM here is
/// single-threaded (no threads feature; each JS realm has its own instance), which is what
/// `new_global` asks of its caller.
#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
