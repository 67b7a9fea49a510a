//! # guardline-govern
//!
//! The compliance officer's half of Guardline: describe an AI system once (a TOML *system
//! manifest*), and get
//!
//! - its **risk tier** with every reason and the clause each rests on ([`classify()`]): the
//!   guideline's Table 1 tier, the PCPD model framework's high-risk test and oversight levels, the
//!   sector rules of Appendix 2.2.2, and the stricter-rule principle (§2.3.1) that combines them;
//! - its **obligations** as controls from the control catalogue, each with why it applies and how
//!   it is evidenced;
//! - the **status** of each control from real evidence ([`report`]): the gateway's policy in
//!   force, the ledger and its verification, evaluation runs, a scan of the system's RAG corpus,
//!   and human attestations.
//!
//! The guideline gives no criteria for its tiers; the rules are Guardline's and live as data in
//! `catalog/govern/` (embedded), never in code. `CLASSIFICATION.md` beside this crate explains
//! them.
//!
//! What it is not: it parses no command line and prints nothing (that is the `guardline` binary),
//! and it writes nothing to the ledger; [`evidence::collect`] only reads it.

pub mod catalog;
pub mod classify;
pub mod evidence;
pub mod html;
pub mod manifest;
pub mod render;
pub mod report;
mod suggest;

pub use catalog::{Catalog, CatalogError, Oversight, Tier};
pub use classify::{classify, Assessment, Obligation, Reason};
pub use evidence::{EvidenceSet, RecordRef};
pub use manifest::{Manifest, ManifestError};
pub use report::{ControlStatus, Report, Status};

/// The commented manifest `guardline init system` writes.
pub const SYSTEM_TEMPLATE: &str = include_str!("../../../catalog/govern/system-template.toml");
