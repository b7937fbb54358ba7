//! Making thumbnails, in pure Rust: `image` decodes (its `zune-jpeg` JPEG decoder, and the
//! PNG, WebP, GIF, BMP and TIFF decoders), `fast_image_resize` resizes (Lanczos3, SIMD where the
//! CPU has it), `image` encodes (JPEG for opaque images, PNG where there is transparency).
//!
//! Safety first: the format is sniffed from the bytes, not taken from the file's name or
//! declared type; the dimensions are read from the header before anything is decoded, so a
//! decompression bomb (a small file claiming a huge image) is refused without allocating its
//! pixels; decoding runs under `image`'s allocation limits. A file that is not what it claims
//! is an error, never a panic (and the caller contains panics anyway).

use std::io::Cursor;

use fast_image_resize as fr;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageFormat, ImageReader,
};

use super::{fit, ThumbnailFormat, MAX_PIXELS, SIZES};

/// JPEG quality of the thumbnails.
const JPEG_QUALITY: u8 = 82;
/// The most memory one decode may allocate (a 50-megapixel RGBA image is 200 MB).
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// One thumbnail: the box it fits, its size, and its encoded bytes.
#[derive(Debug)]
pub struct Thumbnail {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// The thumbnails of one image, one per size in [`SIZES`].
#[derive(Debug)]
pub struct Rendered {
    pub format: ThumbnailFormat,
    /// The image's own size, after its EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub thumbnails: Vec<Thumbnail>,
}

/// Why an image gets no thumbnails.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Over the limits: no thumbnails, by rule.
    #[error("the image is {width}×{height} pixels; thumbnails are made of images up to {MAX_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
    /// Not an image of a supported format, or one that does not decode.
    #[error("{0}")]
    Unreadable(String),
}

fn unreadable(what: &str, err: impl std::fmt::Display) -> RenderError {
    RenderError::Unreadable(format!("{what}: {err}"))
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, RenderError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable("the file could not be read", e))?;
    match reader.format() {
        Some(
            ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff,
        ) => {}
        Some(other) => {
            return Err(RenderError::Unreadable(format!(
                "the file is {other:?}; thumbnails are made of JPEG, PNG, WebP, GIF, BMP and TIFF images"
            )))
        }
        None => {
            return Err(RenderError::Unreadable(
                "the file is not an image thumbnails are made of (its bytes match no JPEG, PNG, WebP, GIF, BMP or TIFF)".into(),
            ))
        }
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// Decodes `bytes` and makes the thumbnails.
pub fn render(bytes: &[u8]) -> Result<Rendered, RenderError> {
    // The header first: nothing is decoded for an image over the limit.
    let header = reader(bytes)?;
    if header.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(RenderError::Unreadable(
            "the JPEG is cut short: its data ends before its end-of-image marker".into(),
        ));
    }
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| unreadable("the image header could not be read", e))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(RenderError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(RenderError::Unreadable("the image has no pixels".into()));
    }
    let mut decoder = reader(bytes)?
        .into_decoder()
        .map_err(|e| unreadable("the image could not be decoded", e))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| unreadable("the image could not be decoded", e))?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());

    let transparent = image.color().has_alpha() && {
        let rgba = image.to_rgba8();
        rgba.pixels().any(|p| p.0[3] < u8::MAX)
    };
    let (format, pixel_type, pixels, color) = if transparent {
        (
            ThumbnailFormat::Png,
            fr::PixelType::U8x4,
            image.into_rgba8().into_raw(),
            ExtendedColorType::Rgba8,
        )
    } else {
        (
            ThumbnailFormat::Jpeg,
            fr::PixelType::U8x3,
            image.into_rgb8().into_raw(),
            ExtendedColorType::Rgb8,
        )
    };
    let original = fr::images::Image::from_vec_u8(width, height, pixels, pixel_type)
        .map_err(|e| unreadable("the image could not be prepared", e))?;

    // Largest first; each smaller size is made from the one before (a quarter of the work, and
    // the same look at these ratios).
    let mut resizer = fr::Resizer::new();
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    let mut sizes = SIZES;
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut source = original;
    let mut thumbnails = Vec::with_capacity(SIZES.len());
    for size in sizes {
        // Measured from the original, so each size is exact whatever it was made from.
        let (w, h) = fit(width, height, size);
        let resized = if (w, h) == (source.width(), source.height()) {
            source.copy()
        } else {
            let mut target = fr::images::Image::new(w, h, pixel_type);
            resizer
                .resize(&source, &mut target, &options)
                .map_err(|e| unreadable("the image could not be resized", e))?;
            target
        };
        let mut bytes = Vec::new();
        let encoded = match format {
            ThumbnailFormat::Jpeg => JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
                .write_image(resized.buffer(), w, h, color),
            ThumbnailFormat::Png => {
                PngEncoder::new(&mut bytes).write_image(resized.buffer(), w, h, color)
            }
        };
        encoded.map_err(|e| unreadable("the thumbnail could not be encoded", e))?;
        thumbnails.push(Thumbnail {
            size,
            width: w,
            height: h,
            bytes,
        });
        source = resized;
    }
    thumbnails.sort_by_key(|t| t.size);
    Ok(Rendered {
        format,
        width,
        height,
        thumbnails,
    })
}

/// Whether a JPEG's segments run through to its end-of-image marker. `zune-jpeg` decodes a file
/// cut short into a picture padded with grey, without complaint; a thumbnail of half a photo is
/// worse than none. The walk follows segment lengths (so the end marker of a thumbnail embedded
/// in EXIF data is skipped over) and, after each start-of-scan, the entropy-coded data to the
/// next marker (`FF 00` is a stuffed byte, `FF D0`..`FF D7` restart markers).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    loop {
        // To the next marker (tolerating stray bytes between segments, as decoders do), past
        // fill bytes.
        let Some(offset) = bytes[at..].iter().position(|&b| b == 0xFF) else {
            return false;
        };
        at += offset;
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else {
            return false;
        };
        at += 1;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(at..at + 2) else {
            return false;
        };
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 || at + length > bytes.len() {
            return false;
        }
        at += length;
        if marker == 0xDA {
            loop {
                let Some(offset) = bytes[at..].iter().position(|&b| b == 0xFF) else {
                    return false;
                };
                at += offset;
                match bytes.get(at + 1) {
                    None => return false,
                    Some(0x00 | 0xD0..=0xD7) => at += 2,
                    Some(0xFF) => at += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(with_density: bool) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(97, 61, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 4) as u8, ((x + y) % 256) as u8])
        }));
        let mut bytes = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 90);
        if with_density {
            encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(300));
        }
        encoder
            .write_image(image.as_bytes(), 97, 61, ExtendedColorType::Rgb8)
            .unwrap();
        bytes
    }

    #[test]
    fn a_whole_jpeg_is_complete_and_every_cut_of_it_is_not() {
        for variant in [false, true] {
            let whole = jpeg(variant);
            assert!(jpeg_is_complete(&whole));
            // Bytes after the end marker (cameras append data) are fine.
            let mut trailing = whole.clone();
            trailing.extend_from_slice(b"\x00\x01trailer");
            assert!(jpeg_is_complete(&trailing));
            for cut in 0..whole.len() {
                assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
            }
        }
    }

    #[test]
    fn an_end_marker_inside_an_exif_thumbnail_is_skipped_over() {
        let whole = jpeg(false);
        // An APP1 segment holding a whole small JPEG, end marker included.
        let inner = jpeg(true);
        let mut with_exif = whole[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&((inner.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(&inner);
        with_exif.extend_from_slice(&whole[2..]);
        assert!(jpeg_is_complete(&with_exif));
        let cut = &with_exif[..2 + 4 + inner.len() + 40];
        assert!(
            !jpeg_is_complete(cut),
            "the inner end marker does not count"
        );
    }

    #[test]
    fn a_cut_jpeg_is_refused_and_a_whole_one_renders() {
        let whole = jpeg(false);
        let rendered = render(&whole).unwrap();
        assert_eq!((rendered.width, rendered.height), (97, 61));
        assert_eq!(rendered.format, ThumbnailFormat::Jpeg);
        match render(&whole[..whole.len() / 2]) {
            Err(RenderError::Unreadable(reason)) => assert!(reason.contains("cut short")),
            other => panic!("{other:?}"),
        }
    }
}
