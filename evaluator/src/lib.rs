//! The evaluator library: the ±15-frame retrieval protocol of `test_lrs2.py` (SPEC §6), fast
//! scoring over shards ([`scoring`], [`run`]), raw scores ([`scores`]), accuracy tables
//! ([`table`]), Table 1 and Fig. 2 ([`compare`]), and the offset of any video ([`sync`]).
//! Signal constants come from `features`, the networks from `nets`; `sync` and `lse` take their
//! frames from `media`.
#![deny(missing_docs)]

pub mod batch;
pub mod compare;
mod error;
pub mod faces;
pub mod inputs;
pub mod lse;
pub mod protocol;
pub mod run;
pub mod scores;
pub mod scoring;
pub mod sync;
pub mod table;

pub use error::{EvalError, Result};
