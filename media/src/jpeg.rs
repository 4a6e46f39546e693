//! JPEG decoding as the reference readers do it (SPEC §1.2).
//!
//! `cv2.imread` and `torchvision.io.read_image` both decode with libjpeg-turbo at its defaults
//! (`JDCT_ISLOW` integer IDCT, fancy upsampling of subsampled chroma, no block smoothing),
//! OpenCV asking for BGR and torchvision for RGB. We run the same decoder (libjpeg-turbo's code as
//! vendored by mozjpeg-sys, whose changes are to the encoder only) with the same settings and ask
//! for RGB, the shard's channel order. Measured on the GRID face crops of the import test (cv2
//! 4.12 writes them at quality 95, 4:2:0): this decoder equals `cv2.imread` and `read_image` on
//! every byte, while the `image` crate's pure-Rust decoder (zune-jpeg 0.5) differs on 19 % of the
//! bytes of 74 crops (up to 4 levels), so that one is not used here.

use crate::resize::Image;

/// A JPEG that libjpeg could not decode.
#[derive(Debug, thiserror::Error)]
#[error("not a readable JPEG ({0})")]
pub struct JpegError(pub String);

/// Decodes a JPEG to 8-bit RGB (grey images are expanded to three equal channels, as both
/// reference readers' colour modes do).
pub fn decode_rgb(bytes: &[u8]) -> Result<Image, JpegError> {
    // libjpeg reports fatal errors by unwinding out of its error handler; mozjpeg turns that into
    // an `io::Error`, but guard against any other panic crossing this boundary too.
    let result = std::panic::catch_unwind(|| -> std::io::Result<Image> {
        let mut dec = mozjpeg::Decompress::new_mem(bytes)?;
        dec.dct_method(mozjpeg::DctMethod::IntegerSlow);
        dec.do_fancy_upsampling(true);
        let mut started = dec.rgb()?;
        let (width, height) = (started.width(), started.height());
        let data: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        Ok(Image { width, height, channels: 3, data })
    });
    match result {
        Ok(Ok(img)) if img.width > 0 && img.height > 0 && img.data.len() == img.width * img.height * 3 => {
            Ok(img)
        }
        Ok(Ok(img)) => {
            Err(JpegError(format!("decoded {} bytes for {}x{}", img.data.len(), img.width, img.height)))
        }
        Ok(Err(e)) => Err(JpegError(e.to_string())),
        Err(panic) => Err(JpegError(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "decoder failed".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"not a jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F']] {
            let e = super::decode_rgb(bytes).unwrap_err();
            assert!(e.to_string().starts_with("not a readable JPEG"), "{e}");
        }
    }
}
