//! Guardline's gateway. This release holds its core without HTTP: [`surfaces`] finds every text
//! surface of OpenAI-shaped requests and replies, and [`guard::Guard`] checks them against the
//! policy and rewrites them in place — keyed pseudonyms out, original values back, labels for
//! redactions — or reports a block. The HTTP server (`guardline serve`) is built over it.
//!
//! What it is not: a detector (that is `guardline-detect`) or a policy language (that is
//! `guardline-policy`).

pub mod guard;
pub mod stream;
pub mod surfaces;

pub use guard::{Checked, Guard, Located};
pub use stream::{Released, StreamGuard};
pub use surfaces::Endpoint;
