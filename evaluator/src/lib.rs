//! The evaluator library: the ±15-frame retrieval protocol of `test_lrs2.py` (SPEC §6), fast
//! scoring over shards, and accuracy tables.
#![deny(missing_docs)]

pub mod compare;
pub mod protocol;
pub mod run;
pub mod scores;
pub mod scoring;
pub mod sync;
pub mod table;
