//! The trainer library: devices today; VocaLiST / MTDVocaLiST models, checkpoints, losses and the
//! training loop as their issues land.

pub mod device;
