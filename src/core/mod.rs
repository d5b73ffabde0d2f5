//! The pure core: quota algorithm, windows, keys, limits and decisions. No js-sys or
//! wasm-bindgen types live here; it is tested natively with `cargo test`.

pub mod calls;
pub mod clock;
pub mod decision;
pub mod direct;
pub mod engine;
pub mod error;
pub mod fault;
pub mod idempotency;
pub mod key;
pub mod keytable;
pub mod limits;
pub mod memory;
pub mod quota;
pub mod reservation;
pub mod settle;
pub mod store;
pub mod window;
pub mod zone;

pub use clock::{Clock, FakeClock, SystemClock};
pub use decision::{Decision, Outcome};
pub use engine::Engine;
pub use error::{ErrorCode, QuotaError, Result};
pub use fault::{Degraded, FaultPolicy};
pub use key::{Profile, ProfileId, StringIdKeys};
pub use limits::{Limits, Policy};
pub use memory::MemoryStore;
pub use quota::Quota;
pub use store::{
    run, run_interleaved, Call, CountingOps, KeyRef, Step, Store, StoreOp, StoreReply, NO_KEY_ID,
};
pub use window::{WindowSpan, WindowUnit};
pub use zone::{fake::FakeZones, TimeZones, UtcOnly};
