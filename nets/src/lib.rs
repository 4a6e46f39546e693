//! The networks and everything needed to run them, without training: the VocaLiST /
//! MTDVocaLiST transformer ([`model`], SPEC §3–4), SyncNet ([`syncnet`], the LSE scorer) and S3FD
//! ([`s3fd`], run_pipeline's face detector),
//! checkpoints with their sidecar, `.pth` import and safetensors export ([`checkpoint`],
//! [`export`], [`tensor_io`]), the libtorch device ([`device`]) and the C heap it allocates
//! from ([`heap`]). `trainer` and `evaluator` both build on it; it never sees media (frames
//! and mel arrive as tensors) and never decodes a file other than weights.

pub mod checkpoint;
pub mod device;
pub mod export;
pub mod heap;
pub mod model;
pub mod s3fd;
pub mod syncnet;
pub mod tensor_io;
