//! LRS2 → shards. Today: the reference log-mel (SPEC §1.3) and verification of a shard set.

pub mod mel;
pub mod verify;
