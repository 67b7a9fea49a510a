//! Guardline's gateway: an OpenAI-compatible proxy ([`server`]) over a core without HTTP —
//! [`surfaces`] finds every text surface of OpenAI-shaped requests and replies, [`guard::Guard`]
//! checks them against the policy and rewrites them in place (keyed pseudonyms out, original
//! values back, labels for redactions) or reports a block, and [`stream::StreamGuard`] does the
//! same for streamed replies, delta by delta, before any byte is released.
//!
//! What it is not: a detector (that is `guardline-detect`) or a policy language (that is
//! `guardline-policy`).

pub mod config;
pub mod guard;
pub mod keys;
pub mod limits;
pub mod rate;
pub mod server;
mod shared_redis;
pub mod stream;
pub mod surfaces;
pub mod upstream;
pub mod vault_store;

pub use guard::{Checked, Guard, Located};
pub use server::{panic_response, router, Gateway};
pub use stream::{Released, StreamGuard};
pub use surfaces::Endpoint;
pub use upstream::{Upstream, Upstreams};
