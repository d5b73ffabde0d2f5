//! The thin JavaScript binding: argument parsing, the store callbacks, and one conversion of
//! core errors into JS `QuotaError`s. The quota logic itself lives in [`crate::core`].

mod args;
mod config;
mod engine;
mod error;
mod ids;
mod js;
mod memory;
mod policies;
mod store;
mod zones;

pub use engine::QuotaCore;
pub use memory::MemoryCounters;
