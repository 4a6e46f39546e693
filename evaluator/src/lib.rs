//! The evaluator library: the ±15-frame retrieval protocol of `test_lrs2.py` (SPEC §6) and its
//! accuracy tables.
#![deny(missing_docs)]

pub mod protocol;
pub mod table;
