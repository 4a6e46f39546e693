//! Sentences and speech: a GRID-like grammar spoken by espeak-ng with a per-speaker voice.

use std::path::Path;
use std::process::Command;

use rand::Rng;

const COMMANDS: [&str; 4] = ["BIN", "LAY", "PLACE", "SET"];
const COLOURS: [&str; 4] = ["BLUE", "GREEN", "RED", "WHITE"];
const PREPOSITIONS: [&str; 4] = ["AT", "BY", "IN", "WITH"];
const LETTERS: [&str; 25] = [
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U",
    "V", "X", "Y", "Z",
];
const DIGITS: [&str; 10] = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];
const ADVERBS: [&str; 4] = ["AGAIN", "NOW", "PLEASE", "SOON"];

/// A GRID-grammar sentence: command colour preposition letter digit adverb.
pub fn sentence(rng: &mut impl Rng) -> String {
    let pick = |rng: &mut dyn rand::RngCore, words: &[&str]| {
        words[(rng.next_u32() as usize) % words.len()].to_string()
    };
    [
        pick(rng, &COMMANDS),
        pick(rng, &COLOURS),
        pick(rng, &PREPOSITIONS),
        pick(rng, &LETTERS),
        pick(rng, &DIGITS),
        pick(rng, &ADVERBS),
    ]
    .join(" ")
}

/// An espeak-ng voice.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Voice {
    /// espeak-ng voice name (`en-us`, `en-gb`, … with an optional `+variant`).
    pub name: String,
    /// Words per minute.
    pub speed: u32,
    /// Pitch 0..99.
    pub pitch: u32,
}

/// Speaks `text` and returns 16 kHz mono int16 samples (espeak-ng → WAV → ffmpeg resample).
pub fn speak(text: &str, voice: &Voice, tmp: &Path) -> crate::Result<Vec<i16>> {
    use crate::PreprocessError::Tool;
    let wav = tmp.with_extension("wav");
    let st = Command::new("espeak-ng")
        .args(["-v", &voice.name, "-s", &voice.speed.to_string(), "-p", &voice.pitch.to_string(), "-w"])
        .arg(&wav)
        .arg(text.to_lowercase())
        .output()
        .map_err(|e| Tool { tool: "espeak-ng", detail: format!("cannot run it (run `make setup`): {e}") })?;
    if !st.status.success() {
        return Err(Tool {
            tool: "espeak-ng",
            detail: format!("failed: {}", String::from_utf8_lossy(&st.stderr).trim()),
        });
    }
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&wav)
        .args(["-ar", "16000", "-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le", "-"])
        .output()
        .map_err(|e| Tool { tool: "ffmpeg", detail: format!("cannot run it: {e}") })?;
    let _ = std::fs::remove_file(&wav); // scratch file
    if !out.status.success() {
        return Err(Tool {
            tool: "ffmpeg",
            detail: format!("resample failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(out.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
}
