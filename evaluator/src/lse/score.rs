//! From embeddings to the LSE terms, as `SyncNetInstance.evaluate` computes them
//! (`../shared/golden/syncnet` README, steps 3–5).

/// Largest shift tried, in frames (`opt.vshift`).
pub const VSHIFT: usize = 15;
/// Shifts tried: −15..=+15.
pub const SHIFTS: usize = 2 * VSHIFT + 1;
/// `torch.nn.functional.pairwise_distance`'s eps, added to the difference.
pub const PAIRWISE_EPS: f64 = 1e-6;

/// Windows the reference scores: `min(frames, floor(samples / 640)) − 5` (window i covers frames
/// i..i+4 and MFCC columns 4i..4i+19; `range(0, lastframe)` stops one window short of the last
/// full one). Zero when the clip is shorter than 6 frames.
pub fn num_windows(frames: usize, samples: usize) -> usize {
    frames.min(samples / 640).saturating_sub(5)
}

/// `calc_pdist`: for window i and shift j, the Euclidean distance (eps added to the difference)
/// between visual embedding i and audio embedding i + j − 15, the audio embeddings zero-padded by
/// 15 at each end. Accumulated in f64, rounded once to f32.
pub fn pdist(lip: &[Vec<f32>], aud: &[Vec<f32>]) -> Vec<[f32; SHIFTS]> {
    let zero = vec![0.0f32; lip.first().map_or(0, |v| v.len())];
    (0..lip.len())
        .map(|i| {
            let mut row = [0f32; SHIFTS];
            for (j, d) in row.iter_mut().enumerate() {
                let k = i as isize + j as isize - VSHIFT as isize;
                let a = if k >= 0 && (k as usize) < aud.len() { &aud[k as usize] } else { &zero };
                let s: f64 = lip[i]
                    .iter()
                    .zip(a)
                    .map(|(&x, &y)| {
                        let t = (x - y) as f64 + PAIRWISE_EPS;
                        t * t
                    })
                    .sum();
                *d = s.sqrt() as f32;
            }
            row
        })
        .collect()
}

/// The per-video LSE terms.
#[derive(Debug, Clone, PartialEq)]
pub struct LseScore {
    /// `vshift − argmin(mean_dists)`: the audio offset in frames as SyncNet reports it.
    pub offset: i32,
    /// `median(mean_dists) − min(mean_dists)`: the video's LSE-C term.
    pub confidence: f32,
    /// `min(mean_dists)`: the video's LSE-D term.
    pub min_dist: f32,
    /// Mean distance per shift over the windows, shifts −15..=+15.
    pub mean_dists: [f32; SHIFTS],
    /// Windows averaged.
    pub windows: usize,
}

/// Mean over windows per shift (`torch.mean(torch.stack(dists, 1), 1)`), the first minimum
/// (`torch.min`), and the median of the 31 means (`torch.median`: the middle element). None
/// without windows.
pub fn score(dists: &[[f32; SHIFTS]]) -> Option<LseScore> {
    if dists.is_empty() {
        return None;
    }
    let n = dists.len() as f64;
    let mut mean_dists = [0f32; SHIFTS];
    for (j, m) in mean_dists.iter_mut().enumerate() {
        *m = (dists.iter().map(|r| r[j] as f64).sum::<f64>() / n) as f32;
    }
    Some(terms(mean_dists, dists.len()))
}

/// The LSE terms of the mean distances per shift (the part of [`score`] after the means; also
/// what checks a journal row against its own `mean_dists`).
pub fn terms(mean_dists: [f32; SHIFTS], windows: usize) -> LseScore {
    let (minidx, min_dist) =
        mean_dists
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::INFINITY), |b, (j, v)| if v < b.1 { (j, v) } else { b });
    let mut sorted = mean_dists;
    sorted.sort_by(f32::total_cmp);
    let median = sorted[VSHIFT];
    LseScore {
        offset: VSHIFT as i32 - minidx as i32,
        confidence: median - min_dist,
        min_dist,
        mean_dists,
        windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_stop_one_short() {
        assert_eq!(num_windows(75, 48_000), 70);
        assert_eq!(num_windows(75, 48_128), 70);
        assert_eq!(num_windows(5, 48_000), 0);
        assert_eq!(num_windows(100, 3_200), 0);
    }

    #[test]
    fn identical_streams_sync_at_zero() {
        let emb: Vec<Vec<f32>> = (0..40).map(|i| vec![i as f32, (i * i % 7) as f32]).collect();
        let s = score(&pdist(&emb, &emb)).unwrap();
        assert_eq!(s.offset, 0);
        assert!((s.min_dist - (2.0f64 * 1e-12).sqrt() as f32).abs() < 1e-6);
        assert!(s.confidence > 0.0);
        // The audio leading by 3 frames: visual window i matches audio window i + 3.
        let lead: Vec<Vec<f32>> = emb[3..].to_vec();
        let s = score(&pdist(&emb[..37], &lead)).unwrap();
        assert_eq!(s.offset, 3);
    }
}
