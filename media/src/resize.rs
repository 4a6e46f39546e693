//! The two 96×96 resizes of the reference loaders (SPEC §1.2), reproduced bit for bit on 8-bit
//! interleaved images (any channel order: both work channel by channel).
//!
//! - [`opencv_linear`]: `cv2.resize(img, (96, 96))` (INTER_LINEAR on `CV_8U`) as OpenCV 4.x's
//!   `modules/imgproc/src/resize.cpp` computes it: 11-bit fixed-point coefficients, an integer
//!   horizontal pass and the vectorised vertical pass; with its two shortcuts (same size: a copy;
//!   exactly 2× smaller on both axes: the fast INTER_AREA 2×2 mean).
//! - [`torchvision_bilinear_aa`]: `transforms.Resize([96, 96])` on a uint8 tensor in torchvision
//!   0.24, i.e. `torch.nn.functional.interpolate(img.float(), mode="bilinear", antialias=True,
//!   align_corners=False)` (ATen's separable `_upsample_bilinear2d_aa` CPU kernel, horizontal pass
//!   first) followed by `round()` and a cast back to uint8.
//!
//! Both were checked byte for byte against the Python calls on GRID face crops of several sizes
//! (`preprocess/tests/wav2lip_import.rs`).

use std::ops::Range;

/// An 8-bit image, rows top to bottom, channels interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// `height × width × channels` bytes.
    pub data: Vec<u8>,
}

/// Which reference loader's resize to reproduce (`preprocess import --resize`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// `cv2.imread` + `cv2.resize(img, (96, 96))`: VocaLiST's `test_lrs2.py` and training.
    #[default]
    Opencv,
    /// `torchvision.io.read_image` + `transforms.Resize([96, 96])`: MTDVocaLiST's `test_stu.py`.
    Torchvision,
}

impl Resize {
    /// Resizes `img` to `width × height` the way this loader does.
    pub fn apply(self, img: &Image, width: usize, height: usize) -> Image {
        self.apply_rows(img, width, height, 0..height)
    }

    /// Rows `rows` of [`Resize::apply`]'s result, computing no more than they need (the mouth
    /// crop is the lower half).
    pub fn apply_rows(self, img: &Image, width: usize, height: usize, rows: Range<usize>) -> Image {
        match self {
            Resize::Opencv => opencv_linear_rows(img, width, height, rows),
            Resize::Torchvision => torchvision_bilinear_aa_rows(img, width, height, rows),
        }
    }
}

/// Rows `rows` of `img` as they are (both loaders' same-size case).
fn band(img: &Image, rows: Range<usize>) -> Image {
    let line = img.width * img.channels;
    let data = img.data[rows.start * line..rows.end * line].to_vec();
    Image { width: img.width, height: rows.len(), channels: img.channels, data }
}

/// OpenCV's `INTER_RESIZE_COEF_BITS`: coefficients are multiples of 1/2048.
const COEF_SCALE: f32 = 2048.0;

/// First source index (may be −1 or the last index) and the two fixed-point weights of each
/// output coordinate along one axis (`resize.cpp`, `cv::resize` coefficient set-up for
/// INTER_LINEAR with `fixpt`). Along x, OpenCV clamps an index outside the image to the edge
/// with weights (1, 0) (`clamp_edges`); along y it does not: the weights stay as computed and
/// only the rows read are clipped. The two differ in the last bit at the top and bottom rows of
/// an upscale, so both are reproduced.
fn opencv_axis(src: usize, dst: usize, inv_scale: f64, clamp_edges: bool) -> Vec<(i64, [i32; 2])> {
    let scale = 1.0 / inv_scale;
    (0..dst)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64; // cvFloor
            f -= s as f32;
            if clamp_edges && s < 0 {
                f = 0.0;
                s = 0;
            }
            if clamp_edges && s >= src as i64 - 1 {
                f = 0.0;
                s = src as i64 - 1;
            }
            // saturate_cast<short>(float) rounds to nearest, ties to even (cvRound).
            let w0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            let w1 = (f * COEF_SCALE).round_ties_even() as i32;
            (s, [w0, w1])
        })
        .collect()
}

/// `cv2.resize(img, (width, height))` with the default INTER_LINEAR on an 8-bit image.
///
/// Horizontal pass (`HResizeLinear<uchar, int, short, 2048>`): `S[x]·α0 + S[x+cn]·α1` in `int`,
/// or `S[x]·2048` where `x` is the last column. Vertical pass (`VResizeLinearVec_32s8u`, which
/// covers every column when the row length is a multiple of 16 as it is for 96×3):
/// `((S0>>4)·β0 >> 16) + ((S1>>4)·β1 >> 16)`, rounded by `(v + 2) >> 2` and saturated to u8.
pub fn opencv_linear(img: &Image, width: usize, height: usize) -> Image {
    opencv_linear_rows(img, width, height, 0..height)
}

/// Rows `rows` of [`opencv_linear`]'s result (each computed exactly as in the whole image).
pub fn opencv_linear_rows(img: &Image, width: usize, height: usize, rows: Range<usize>) -> Image {
    let inv = (width as f64 / img.width as f64, height as f64 / img.height as f64);
    linear_rows(img, width, height, inv, rows)
}

/// `cv2.resize(img, (0, 0), fx=f, fy=f)` with INTER_LINEAR, as S3FD's `detect_faces` scales its
/// input: the size is `round(w·f) × round(h·f)` and the sampling step is exactly `1/f`, which
/// differs from [`opencv_linear`] to that size when `w·f` is not a whole number (a 642-pixel-wide
/// frame at 0.25 gives 160 columns sampled every 4 pixels, not every 642/160).
pub fn opencv_linear_fx(img: &Image, f: f64) -> Image {
    // saturate_cast<int>(double): round half to even.
    let (w, h) = (
        (img.width as f64 * f).round_ties_even() as usize,
        (img.height as f64 * f).round_ties_even() as usize,
    );
    linear_rows(img, w, h, (f, f), 0..h)
}

fn linear_rows(img: &Image, width: usize, height: usize, inv: (f64, f64), rows: Range<usize>) -> Image {
    let (sw, sh, cn) = (img.width, img.height, img.channels);
    if sw == width && sh == height {
        return band(img, rows); // OpenCV copies
    }
    let (sx, sy) = (1.0 / inv.0, 1.0 / inv.1);
    if sx == 2.0 && sy == 2.0 {
        return opencv_area_2x(img, width, rows);
    }
    let xs = opencv_axis(sw, width, inv.0, true);
    let ys = opencv_axis(sh, height, inv.1, false);
    let line = width * cn;
    // The horizontal pass of each source row the output rows read, computed once.
    let clip = |y: i64| y.clamp(0, sh as i64 - 1) as usize;
    let mut hrows: Vec<Vec<i32>> = vec![Vec::new(); sh];
    for &(y, _) in &ys[rows.clone()] {
        for y in [clip(y), clip(y + 1)] {
            if !hrows[y].is_empty() {
                continue;
            }
            let row = &img.data[y * sw * cn..(y + 1) * sw * cn];
            let out = &mut hrows[y];
            out.reserve_exact(line);
            for &(x, [a0, a1]) in &xs {
                let x = x as usize;
                let p0 = &row[x * cn..x * cn + cn];
                if x + 1 < sw {
                    let p1 = &row[(x + 1) * cn..(x + 2) * cn];
                    out.extend(p0.iter().zip(p1).map(|(&s0, &s1)| s0 as i32 * a0 + s1 as i32 * a1));
                } else {
                    out.extend(p0.iter().map(|&s0| s0 as i32 * 2048));
                }
            }
        }
    }
    let mut data = Vec::with_capacity(rows.len() * line);
    for &(y, [b0, b1]) in &ys[rows.clone()] {
        let (r0, r1) = (&hrows[clip(y)], &hrows[clip(y + 1)]);
        data.extend(r0.iter().zip(r1).map(|(s0, s1)| {
            let v = (((s0 >> 4) * b0) >> 16) + (((s1 >> 4) * b1) >> 16);
            ((v + 2) >> 2).clamp(0, 255) as u8
        }));
    }
    Image { width, height: rows.len(), channels: cn, data }
}

/// OpenCV's shortcut for an exact 2× reduction (`resizeAreaFast`): the rounded mean of each 2×2
/// block, `(a + b + c + d + 2) >> 2`.
fn opencv_area_2x(img: &Image, width: usize, rows: Range<usize>) -> Image {
    let (sw, cn) = (img.width, img.channels);
    let at = |x: usize, y: usize, k: usize| img.data[(y * sw + x) * cn + k] as u32;
    let mut data = Vec::with_capacity(width * rows.len() * cn);
    let height = rows.len();
    for y in rows {
        for x in 0..width {
            for k in 0..cn {
                let sum = at(2 * x, 2 * y, k)
                    + at(2 * x + 1, 2 * y, k)
                    + at(2 * x, 2 * y + 1, k)
                    + at(2 * x + 1, 2 * y + 1, k);
                data.push(((sum + 2) >> 2) as u8);
            }
        }
    }
    Image { width, height, channels: cn, data }
}

/// The triangle filter of ATen's `HelperInterpLinear::aa_filter`.
fn triangle(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        (1.0 - x as f64) as f32
    } else {
        0.0
    }
}

/// First source index and normalised weights of each output index along one axis, as ATen's
/// `_compute_weights_aa` computes them in `float` (antialias on, align_corners off, no scale
/// factor given): `scale = in/out`, support `scale` (≥ 1) or 1, centre `scale·(i + 0.5)`.
fn torch_axis(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f32 / dst as f32;
    let support = if scale >= 1.0 { (2.0 * 0.5 * scale as f64) as f32 } else { 1.0 };
    let invscale = if scale >= 1.0 { (1.0 / scale as f64) as f32 } else { 1.0 };
    let max_size = (support.ceil() as i64) * 2 + 1;
    (0..dst)
        .map(|i| {
            let center = (scale as f64 * (i as f64 + 0.5)) as f32;
            let xmin = (((center - support) as f64 + 0.5) as i64).max(0);
            let xsize =
                ((((center + support) as f64 + 0.5) as i64).min(src as i64) - xmin).clamp(0, max_size);
            let mut w: Vec<f32> = (0..xsize)
                .map(|j| triangle(((((j + xmin) as f32 - center) as f64 + 0.5) * invscale as f64) as f32))
                .collect();
            let total: f32 = w.iter().fold(0.0, |t, &v| t + v);
            if total != 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            (xmin as usize, w)
        })
        .collect()
}

/// Lanes of the vectorised part of libtorch's weighted sum (see [`weighted_sum`]).
const TORCH_SUM_LANES: usize = 4;

/// One output value of ATen's `interpolate_aa_single_dim`: `Σ src[j]·w[j]` accumulated in
/// `float` in the order j = 0, 1, …, starting from `src[0]·w[0]`.
///
/// The PyPI build of libtorch 2.9.0 compiles that loop (x86-64 AVX2/AVX-512 kernels) into a
/// vectorised part that multiplies four terms at a time and adds the rounded products in order,
/// followed by a scalar tail whose steps are fused multiply-adds. So of the `m = taps − 1` steps
/// after the first product, the first `m − m mod 4` round product and sum separately and the
/// last `m mod 4` are fused. Found by testing every split against libtorch's own outputs on
/// filters of 2 to 11 taps; with it every float of both passes equals libtorch's.
#[inline]
fn weighted_sum(w: &[f32], src: impl Fn(usize) -> f32) -> f32 {
    let steps = w.len() - 1;
    let vectorised = steps - steps % TORCH_SUM_LANES;
    let mut out = src(0) * w[0];
    for (j, &wj) in w.iter().enumerate().skip(1) {
        out = if j <= vectorised { out + src(j) * wj } else { src(j).mul_add(wj, out) };
    }
    out
}

/// `torchvision.transforms.Resize([height, width])` (antialiased bilinear) on an 8-bit image.
pub fn torchvision_bilinear_aa(img: &Image, width: usize, height: usize) -> Image {
    torchvision_bilinear_aa_rows(img, width, height, 0..height)
}

/// Rows `rows` of [`torchvision_bilinear_aa`]'s result (each computed exactly as in the whole
/// image; the horizontal pass runs only over the source rows they read).
pub fn torchvision_bilinear_aa_rows(img: &Image, width: usize, height: usize, rows: Range<usize>) -> Image {
    let (sw, sh, cn) = (img.width, img.height, img.channels);
    if sw == width && sh == height {
        return band(img, rows); // torchvision returns the input
    }
    let ys = (sh != height).then(|| torch_axis(sh, height));
    // The source rows the output rows read.
    let (first, last) = match &ys {
        Some(ys) => {
            (ys[rows.start].0, ys[rows.clone()].iter().map(|(y0, w)| y0 + w.len()).max().unwrap_or(0))
        }
        None => (rows.start, rows.end),
    };
    let line = width * cn;
    // Horizontal pass first, and only along an axis whose size changes.
    let plane: Vec<f32> = if sw != width {
        let xs = torch_axis(sw, width);
        let mut out = Vec::with_capacity((last - first) * line);
        for y in first..last {
            let row = &img.data[y * sw * cn..(y + 1) * sw * cn];
            for (x0, w) in &xs {
                for k in 0..cn {
                    out.push(weighted_sum(w, |j| row[(x0 + j) * cn + k] as f32));
                }
            }
        }
        out
    } else {
        img.data[first * line..last * line].iter().map(|&v| v as f32).collect()
    };
    let values: Vec<f32> = match &ys {
        Some(ys) => {
            let mut out = Vec::with_capacity(rows.len() * line);
            let mut acc = vec![0f32; line];
            for (y0, w) in &ys[rows.clone()] {
                let src = |j: usize| &plane[(y0 + j - first) * line..(y0 + j - first + 1) * line];
                // Row-wise, in the same order per value as `weighted_sum`.
                let steps = w.len() - 1;
                let vectorised = steps - steps % TORCH_SUM_LANES;
                acc.iter_mut().zip(src(0)).for_each(|(a, &v)| *a = v * w[0]);
                for (j, &wj) in w.iter().enumerate().skip(1) {
                    let row = src(j);
                    if j <= vectorised {
                        acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v * wj);
                    } else {
                        acc.iter_mut().zip(row).for_each(|(a, &v)| *a = v.mul_add(wj, *a));
                    }
                }
                out.extend_from_slice(&acc);
            }
            out
        }
        None => plane,
    };
    let data = values.iter().map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8).collect();
    Image { width, height: rows.len(), channels: cn, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Image {
        let data = (0..w * h * 3).map(|i| ((i * 7) % 256) as u8).collect();
        Image { width: w, height: h, channels: 3, data }
    }

    #[test]
    fn same_size_is_a_copy_and_constant_images_stay_constant() {
        let img = ramp(96, 96);
        assert_eq!(opencv_linear(&img, 96, 96), img);
        assert_eq!(torchvision_bilinear_aa(&img, 96, 96), img);
        for (w, h) in [(40, 40), (192, 192), (211, 150), (96, 130)] {
            let flat = Image { width: w, height: h, channels: 3, data: vec![77; w * h * 3] };
            for r in [Resize::Opencv, Resize::Torchvision] {
                let out = r.apply(&flat, 96, 96);
                assert_eq!((out.width, out.height, out.data.len()), (96, 96, 96 * 96 * 3));
                assert!(out.data.iter().all(|&v| v == 77), "{r:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn a_band_of_rows_equals_those_rows_of_the_whole_image() {
        for (w, h) in [(40, 40), (192, 192), (211, 150), (96, 130), (130, 96), (96, 96), (400, 380)] {
            let img = ramp(w, h);
            for r in [Resize::Opencv, Resize::Torchvision] {
                let whole = r.apply(&img, 96, 96);
                let band = r.apply_rows(&img, 96, 96, 48..96);
                assert_eq!(band.height, 48);
                assert_eq!(band.data, whole.data[48 * 96 * 3..], "{r:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn opencv_coefficients_sum_to_one() {
        for (s, d) in [(40, 96), (150, 96), (211, 96), (97, 96)] {
            for clamp in [true, false] {
                for (x, [a, b]) in opencv_axis(s, d, d as f64 / s as f64, clamp) {
                    assert_eq!(a + b, 2048);
                    assert!(x < s as i64 && (x >= 0 || !clamp));
                }
            }
        }
    }

    #[test]
    fn torch_weights_are_normalised() {
        for (s, d) in [(40, 96), (150, 96), (211, 96), (500, 96)] {
            for (x0, w) in torch_axis(s, d) {
                assert!(x0 + w.len() <= s);
                let sum: f32 = w.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{s}->{d}: {sum}");
            }
        }
    }
}
