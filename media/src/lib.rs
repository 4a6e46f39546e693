//! Media in: everything between a video file (or URL, pipe, growing file, framed stdin) and the
//! frames, faces, mouth crops and 16 kHz PCM the models take. `preprocess`, `evaluator sync`,
//! `sync --stream` and `evaluator lse` all take their frames from here; nothing here knows a
//! model (frames leave as bytes, never as tensors).
//!
//! - ffmpeg: [`ffmpeg`] (the stall watchdog, ffprobe), [`decode`] (25 fps RGB + native PCM, the
//!   preprocessing's), [`reference`] (syncnet_python's MJPEG frames and 16 kHz PCM, for LSE),
//!   [`live`] and [`framing`] (a live source or our framed stdin, for `sync --stream`);
//! - pictures: [`face`] (detectors behind [`face::FaceDetect`]), [`crop`] (mouth crops),
//!   [`resize`] (OpenCV's and torchvision's resizes), [`jpeg`] (libjpeg-turbo as cv2 decodes);
//! - sound: [`audio`] (downmix and resampling to 16 kHz), [`trim`] (an audio shift), [`correct`]
//!   (a video with its audio moved by a measured offset);
//! - [`clip`]: one video → its mouth clip (decode → faces → crops → audio → mel);
//! - [`shots`] and [`tracks`]: shots as PySceneDetect 0.5.1 cuts them, face tracks as
//!   syncnet_python's run_pipeline makes them (issue #31); [`fullframe`]: a full-frame video
//!   through both, in two passes, to each track's 224 × 224 crops.

pub mod audio;
pub mod clip;
pub mod correct;
pub mod crop;
pub mod decode;
pub mod face;
pub mod ffmpeg;
pub mod framing;
pub mod fullframe;
pub mod jpeg;
pub mod live;
pub mod reference;
pub mod resize;
pub mod shots;
pub mod tracks;
pub mod trim;
