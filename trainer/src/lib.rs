//! The trainer library: the losses of the paper ([`loss`]), the data pipeline ([`data`],
//! [`sampling`]), the training loop ([`train`], [`schedule`]), and the tools around them
//! ([`bench`], [`predict`], [`plot`]). The networks, checkpoints and device come from the
//! `nets` crate, the signal constants and the mel from `features`; nothing here decodes media.

pub mod bench;
pub mod data;
pub mod loss;
pub mod plot;
pub mod predict;
pub mod sampling;
pub mod schedule;
pub mod train;
