//! The ±15-frame retrieval protocol of `test_lrs2.py`, quirks included (SPEC §6, SPEC B).
//!
//! Pure functions over the raw score matrix of one video: N windows × 31 candidates, where
//! candidate j of window i is audio window i − 15 + j. Every floating-point step follows the
//! reference's order of operations in f32 (the sums of the K-window averages are added in the
//! literal order of `VL:test_lrs2.py:L176-251`), so ties and near-ties resolve exactly as there.

/// Candidate offsets either side of the true alignment (`v_shift`, SPEC §1.3).
pub const V_SHIFT: usize = 15;
/// Candidates per window: 2 · 15 + 1.
pub const CANDIDATES: usize = 2 * V_SHIFT + 1;
/// Context lengths reported, in frames (5 = single window; 7..15 average 3..11 windows).
pub const CONTEXTS: [usize; 6] = [5, 7, 9, 11, 13, 15];
/// The value the reference writes into out-of-range candidates (`VL:test_lrs2.py:L133-136`).
pub const MASKED: f32 = -1000.0;

/// Pairs the fast path scores per batch: every candidate of 16 windows (a memory/speed trade-off
/// only: any batch size gives the same scores).
pub const PAIR_BATCH: usize = CANDIDATES * 16;

/// The window rule: candidate `j` of video window `i` is audio window `i − 15 + j` (an audio
/// offset of `j − 15` frames). It may lie before the first or past the last audio window: the
/// caller says what that means (the reference pads with a zero window; `sync` leaves it out).
pub fn candidate_window(i: usize, j: usize) -> isize {
    i as isize - V_SHIFT as isize + j as isize
}

/// One video's raw scores: `rows[i][j]` is window i against audio window i − 15 + j.
pub type Scores = Vec<[f32; CANDIDATES]>;

/// Edge masking exactly as `calc_pdist` does it: windows i < 15 lose candidates `[0, 15 − i)`;
/// *otherwise* (an `elif`) windows i ≥ N − 15 lose `[15 + N − i, 31)`. For N < 30 a window can
/// satisfy both conditions and is then masked on the left only (SPEC §6.3 quirk).
pub fn mask_edges(scores: &mut Scores) {
    let n = scores.len();
    for (i, row) in scores.iter_mut().enumerate() {
        if i < V_SHIFT {
            row[..V_SHIFT - i].fill(MASKED);
        } else if i + V_SHIFT >= n {
            row[V_SHIFT + n - i..].fill(MASKED);
        }
    }
}

fn add_rows(acc: &mut [f32; CANDIDATES], row: &[f32; CANDIDATES]) {
    for (a, r) in acc.iter_mut().zip(row) {
        *a += r;
    }
}

/// `torch.mean(rows, dim=0)` of a block of rows, summed in order then divided, in f32.
fn mean_rows(rows: &[[f32; CANDIDATES]]) -> [f32; CANDIDATES] {
    let mut acc = [0.0f32; CANDIDATES];
    for r in rows {
        add_rows(&mut acc, r);
    }
    acc.map(|a| a / rows.len() as f32)
}

/// Python's `d[a:b]` for 0 ≤ a and a negative-or-end `b` given as "drop `tail` rows from the end".
fn py_slice(d: &[[f32; CANDIDATES]], start: usize, tail: usize) -> &[[f32; CANDIDATES]] {
    let end = d.len().saturating_sub(tail);
    if start >= end {
        &[]
    } else {
        &d[start..end]
    }
}

/// The K-frame score rows (K odd, 5..15) from the masked 5-frame rows, as `test_lrs2.py` builds
/// them: h = (K − 5)/2 left edge rows `mean(d[:2h+1−j])` for j = h..1, the middle rows (the sum of
/// the 2h+1 shifted slices in the literal order s = h, h−1, h+1, …, 0, 2h, divided by 2h+1), then
/// h right edge rows `mean(d[−(2h+1−j):])` for j = 1..h. For N < 2h this yields 2h rows, not N
/// (SPEC §6.5 quirk), and masked −1000 entries take part in the means.
pub fn context_rows(d: &[[f32; CANDIDATES]], k: usize) -> Scores {
    assert!(k >= 5 && k % 2 == 1, "context length must be odd and at least 5");
    let h = (k - 5) / 2;
    if h == 0 {
        return d.to_vec();
    }
    let n = d.len();
    let width = 2 * h + 1;
    let mut out = Vec::with_capacity(n.max(2 * h));
    for j in (1..=h).rev() {
        out.push(mean_rows(&d[..(width - j).min(n)]));
    }
    // Literal term order: centre first, then pairs moving outwards.
    let mut starts = vec![h];
    for s in 1..=h {
        starts.push(h - s);
        starts.push(h + s);
    }
    let middle_len = n.saturating_sub(2 * h);
    for r in 0..middle_len {
        let mut acc = [0.0f32; CANDIDATES];
        for &s in &starts {
            let slice = py_slice(d, s, 2 * h - s);
            add_rows(&mut acc, &slice[r]);
        }
        out.push(acc.map(|a| a / width as f32));
    }
    for j in 1..=h {
        out.push(mean_rows(&d[n.saturating_sub(width - j)..]));
    }
    out
}

/// Predicted offset of a row: 15 − argmax, first index on ties (torch.argmax on CPU).
pub fn offset(row: &[f32; CANDIDATES]) -> i32 {
    let mut best = 0;
    for j in 1..CANDIDATES {
        if row[j] > row[best] {
            best = j;
        }
    }
    V_SHIFT as i32 - best as i32
}

/// Fraction of rows whose offset is within ±1 frame (SPEC §6.4), as `correct / len(rows)` in f64.
pub fn accuracy(rows: &[[f32; CANDIDATES]]) -> f64 {
    let correct = rows.iter().filter(|r| offset(r).abs() <= 1).count();
    correct as f64 / rows.len() as f64
}

/// Per-video accuracy for every context in [`CONTEXTS`], from the raw (unmasked) scores.
pub fn video_accuracies(raw: &[[f32; CANDIDATES]]) -> [f64; CONTEXTS.len()] {
    let mut masked = raw.to_vec();
    mask_edges(&mut masked);
    CONTEXTS.map(|k| accuracy(&context_rows(&masked, k)))
}

/// `np.mean` of per-video accuracies: numpy's pairwise summation (blocks of 8 partial sums,
/// recursive halves above 128 elements), then division by the count, so the macro mean matches
/// the reference to the last bit.
pub fn numpy_mean(values: &[f64]) -> f64 {
    features::numpy::mean(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(best: usize) -> [f32; CANDIDATES] {
        let mut r = [0.0; CANDIDATES];
        r[best] = 1.0;
        r
    }

    #[test]
    fn masking_follows_the_elif() {
        // N = 20 < 30: window 10 is both < 15 and ≥ N − 15; only its left side is masked.
        let mut s: Scores = vec![[0.5; CANDIDATES]; 20];
        mask_edges(&mut s);
        assert_eq!(s[10][..5], [MASKED; 5]);
        assert_eq!(s[10][5], 0.5);
        assert_eq!(s[10][30], 0.5); // right side kept: the quirk
                                    // Window 19 ≥ 15: right branch, candidates [15 + 20 − 19, 31) = [16, 31).
        assert_eq!(s[19][16..], [MASKED; 15]);
        assert_eq!(s[19][15], 0.5);
    }

    #[test]
    fn hand_computed_accuracy() {
        // Offsets 0, +1, −2 and a tie between j=15 and j=16 (first wins → offset 0).
        let mut tie = [0.0; CANDIDATES];
        tie[15] = 2.0;
        tie[16] = 2.0;
        let rows = vec![row(15), row(14), row(17), tie];
        assert_eq!(rows.iter().map(offset).collect::<Vec<_>>(), vec![0, 1, -2, 0]);
        assert_eq!(accuracy(&rows), 0.75);
    }

    #[test]
    fn short_videos_get_2h_rows() {
        let d: Scores = vec![row(15); 3];
        assert_eq!(context_rows(&d, 15).len(), 10); // h = 5, N = 3 < 10
        assert_eq!(context_rows(&d, 7).len(), 3); // h = 1, N ≥ 2
        assert_eq!(context_rows(&vec![row(15); 40], 15).len(), 40);
    }

    /// `np.mean` of 300 and 1000 values (above 128, so the recursive halves run), written down
    /// from numpy 2.4 as exact bits; a naive left-to-right sum gives other bits for both.
    #[test]
    fn numpy_pairwise_mean() {
        for (n, numpy) in [(300usize, 0x417f_ca05_55ab_1cd5u64), (1000, 0x417f_da4c_001e_a917)] {
            let v: Vec<f64> =
                (0..n).map(|i| 1.0 / (i as f64 + 1.0) + if i % 3 == 0 { 1e8 } else { 0.0 }).collect();
            let naive = v.iter().fold(0.0, |s, &x| s + x) / n as f64;
            assert_ne!(naive.to_bits(), numpy, "n = {n}: the case must tell pairwise from naive");
            assert_eq!(
                numpy_mean(&v).to_bits(),
                numpy,
                "n = {n}: {} vs numpy {}",
                numpy_mean(&v),
                f64::from_bits(numpy)
            );
        }
        // Below 8 values numpy sums in order.
        assert_eq!(numpy_mean(&[1.0, 2.0, 4.0]), 7.0 / 3.0);
    }
}
