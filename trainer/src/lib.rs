//! The trainer library: the VocaLiST / MTDVocaLiST models ([`model`]), checkpoints
//! ([`checkpoint`], [`export`]), the losses of the paper ([`loss`]), the data pipeline
//! ([`data`], [`sampling`]), the training loop ([`train`], [`schedule`]), and the tools around
//! them ([`bench`], [`predict`], [`plot`], [`tensor_io`], [`device`], [`heap`]). The signal constants and
//! the mel come from the `features` crate; nothing here decodes media.

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod export;
pub mod heap;
pub mod loss;
pub mod model;
pub mod plot;
pub mod predict;
pub mod sampling;
pub mod schedule;
pub mod syncnet;
pub mod tensor_io;
pub mod train;
