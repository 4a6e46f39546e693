//! LRS2 → shards. Today: verification of an existing shard set against its manifest.

pub mod verify;
