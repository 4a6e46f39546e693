//! Cleaning a corpus by its measured sync: `--keep 'abs(offset) <= 1 && confidence >= 2'`.
//!
//! A rule is one or more comparisons joined by `&&`. Each compares a field of the estimate with
//! a number: `offset` (frames), `abs(offset)`, `offset_ms`, `confidence`, `prominence` or
//! `windows`, with `<`,
//! `<=`, `>`, `>=`, `==` or `!=`. An utterance is kept when it was scored and every comparison
//! holds; the report counts the dropped ones by the first comparison they fail, and the
//! unscorable ones by reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::row::SyncRow;
use super::SyncResult;

/// The split list of kept utterances (one id per line, as `preprocess` reads split lists).
pub const KEEP_LIST: &str = "keep.txt";
/// Counts kept and dropped.
pub const REPORT: &str = "clean.json";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Field {
    Offset,
    AbsOffset,
    OffsetMs,
    Confidence,
    Prominence,
    Windows,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Comparison {
    text: String,
    field: Field,
    op: Op,
    value: f64,
}

impl Comparison {
    fn holds(&self, r: &SyncResult) -> bool {
        let x = match self.field {
            Field::Offset => r.offset_frames as f64,
            Field::AbsOffset => r.offset_frames.unsigned_abs() as f64,
            Field::OffsetMs => r.offset_ms as f64,
            Field::Confidence => r.confidence as f64,
            Field::Prominence => r.prominence as f64,
            Field::Windows => r.windows as f64,
        };
        // NaN (a confidence of an estimate without a median) fails every comparison but `!=`.
        match self.op {
            Op::Lt => x < self.value,
            Op::Le => x <= self.value,
            Op::Gt => x > self.value,
            Op::Ge => x >= self.value,
            Op::Eq => x == self.value,
            Op::Ne => x != self.value,
        }
    }
}

/// A parsed `--keep` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepRule {
    /// The rule as written.
    pub text: String,
    terms: Vec<Comparison>,
}

impl std::str::FromStr for KeepRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in text.split("&&").map(str::trim) {
            let ops = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<", Op::Lt),
                (">", Op::Gt),
            ];
            let (at, sym, op) = ops
                .iter()
                .filter_map(|(s, o)| part.find(s).map(|i| (i, *s, *o)))
                .min_by_key(|(i, s, _)| (*i, std::cmp::Reverse(s.len())))
                .ok_or_else(|| format!("--keep: {part:?} has no comparison (<, <=, >, >=, ==, !=)"))?;
            let (lhs, rhs) = (part[..at].trim(), part[at + sym.len()..].trim());
            let field = match lhs.replace(' ', "").as_str() {
                "offset" | "offset_frames" => Field::Offset,
                "abs(offset)" | "abs(offset_frames)" => Field::AbsOffset,
                "offset_ms" => Field::OffsetMs,
                "confidence" => Field::Confidence,
                "prominence" => Field::Prominence,
                "windows" => Field::Windows,
                _ => {
                    return Err(format!(
                        "--keep: unknown field {lhs:?} (use offset, abs(offset), offset_ms, confidence, prominence or windows)"
                    ))
                }
            };
            let value: f64 =
                rhs.parse().map_err(|_| format!("--keep: {rhs:?} in {part:?} is not a number"))?;
            // NaN compares false with everything and ±inf or an overflowing 1e999 makes a
            // condition always or never hold (issue #33 point 11): a finite number only.
            if !value.is_finite() {
                return Err(format!("--keep: {rhs:?} in {part:?} is not a finite number"));
            }
            terms.push(Comparison { text: part.to_string(), field, op, value });
        }
        Ok(Self { text: text.trim().to_string(), terms })
    }
}

/// What cleaning kept and dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    /// The rule.
    pub rule: String,
    /// Utterances looked at.
    pub total: usize,
    /// Kept (in `keep.txt`).
    pub kept: usize,
    /// Dropped because a comparison failed, by the first failing comparison.
    pub dropped_by_rule: BTreeMap<String, usize>,
    /// Dropped because they could not be scored, by reason.
    pub unscorable: BTreeMap<String, usize>,
}

/// Splits `rows` into the kept ones (input order) and a report.
pub fn clean<'a>(rows: &'a [SyncRow], rule: &KeepRule) -> (Vec<&'a SyncRow>, CleanReport) {
    let mut kept = Vec::new();
    let mut by_rule: BTreeMap<String, usize> = rule.terms.iter().map(|t| (t.text.clone(), 0)).collect();
    let mut unscorable = BTreeMap::new();
    for row in rows {
        match &row.result {
            None => {
                *unscorable.entry(row.reason.clone().unwrap_or_else(|| "no estimate".into())).or_insert(0) +=
                    1;
            }
            Some(r) => match rule.terms.iter().find(|t| !t.holds(r)) {
                Some(t) => *by_rule.get_mut(&t.text).expect("every term is a key") += 1,
                None => kept.push(row),
            },
        }
    }
    let report = CleanReport {
        rule: rule.text.clone(),
        total: rows.len(),
        kept: kept.len(),
        dropped_by_rule: by_rule,
        unscorable,
    };
    (kept, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, offset: i32, confidence: f32) -> SyncRow {
        SyncRow {
            utt_id: id.into(),
            source: id.into(),
            result: Some(SyncResult {
                offset_frames: offset,
                offset_ms: offset * 40,
                confidence,
                prominence: confidence / 2.0,
                mean_scores: vec![0.0; 31],
                windows: 40,
            }),
            reason: None,
        }
    }

    #[test]
    fn rules_parse_and_count_by_first_failure() {
        let rule: KeepRule = "abs(offset) <= 1 && confidence >= 0.5 && prominence > 0.3".parse().unwrap();
        let mut rows = vec![
            row("a/1", 0, 2.0),
            row("a/2", -1, 0.7),
            row("a/3", 3, 2.0),
            row("a/4", 1, 0.1),
            row("a/6", 0, 0.55),
        ];
        rows.push(SyncRow {
            utt_id: "a/5".into(),
            source: "x".into(),
            result: None,
            reason: Some("no face".into()),
        });
        let (kept, report) = clean(&rows, &rule);
        assert_eq!(kept.iter().map(|r| r.utt_id.as_str()).collect::<Vec<_>>(), ["a/1", "a/2"]);
        assert_eq!(report.total, 6);
        assert_eq!(report.dropped_by_rule["abs(offset) <= 1"], 1);
        assert_eq!(report.dropped_by_rule["confidence >= 0.5"], 1);
        // a/6 passes the confidence but not the prominence (0.55 / 2).
        assert_eq!(report.dropped_by_rule["prominence > 0.3"], 1);
        assert_eq!(report.unscorable["no face"], 1);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (text, needle) in
            [("offset", "no comparison"), ("speed > 1", "unknown field"), ("offset < x", "not a number")]
        {
            let e = text.parse::<KeepRule>().unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        for bad in ["confidence > NaN", "confidence > inf", "prominence < 1e999", "offset >= -inf"] {
            let e = bad.parse::<KeepRule>().unwrap_err();
            assert!(e.contains("is not a finite number"), "{bad}: {e}");
        }
        let r: KeepRule = "offset != 0".parse().unwrap();
        assert_eq!(r.terms[0].op, Op::Ne);
        let r: KeepRule = "offset_ms>=-40".parse().unwrap();
        assert_eq!((r.terms[0].op, r.terms[0].value), (Op::Ge, -40.0));
    }
}
