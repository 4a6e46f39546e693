//! The trainer library: devices today; VocaLiST / MTDVocaLiST models, checkpoints, losses and the
//! training loop as their issues land.

pub mod behaviour;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod distill;
pub mod export;
pub mod loss;
pub mod loss_terms;
pub mod model;
pub mod plot;
pub mod predict;
pub mod sampling;
pub mod schedule;
pub mod tensor_io;
pub mod train;
