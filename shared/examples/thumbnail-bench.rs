//! The thumbnail benchmark (not a test): a 12-megapixel JPEG (4000×3000, photo-like
//! noise over gradients, made here) to the three thumbnail sizes, as the `make-thumbnails`
//! function does it. Reports the wall time of each run (decode + resize + encode, on one core:
//! nothing here spawns threads) and the process's peak RSS.
//!
//! ```text
//! cargo run --release -p stowage-shared --features thumbnails --example thumbnail-bench
//! ```
//!
//! The image is made by a first process, which then runs a second on the file, so the peak RSS
//! is that of making the thumbnails alone (plus the file's bytes, as the function holds them).

use std::time::Instant;

use stowage::thumbnails::render::render;

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const RUNS: usize = 7;

fn make_photo(path: &std::path::Path) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 24) as i32 - 12
    };
    let mut pixels = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let base = [
                (x * 255 / WIDTH) as i32,
                (y * 255 / HEIGHT) as i32,
                (((x / 40 + y / 40) % 2) * 90 + 60) as i32,
            ];
            for channel in base {
                pixels.push((channel + noise()).clamp(0, 255) as u8);
            }
        }
    }
    let file = std::fs::File::create(path).expect("create the photo");
    let mut encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90);
    encoder
        .encode(&pixels, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .expect("encode the photo");
}

/// Peak resident set size of this process, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, path] = args.as_slice() {
        assert_eq!(mode, "render");
        let bytes = std::fs::read(path).expect("read the photo");
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let rendered = render(&bytes).expect("thumbnails");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(rendered.thumbnails.len(), 3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{} MB JPEG {WIDTH}x{HEIGHT} -> 64, 256, 1024: median {:.0} ms, best {:.0} ms, worst {:.0} ms over {RUNS} runs; peak RSS {:.1} MiB",
            bytes.len() as f64 / 1e6,
            times[RUNS / 2],
            times[0],
            times[RUNS - 1],
            peak_rss_kib() as f64 / 1024.0
        );
        return;
    }
    let path = std::env::temp_dir().join("stowage-thumbnail-bench.jpg");
    make_photo(&path);
    let status = std::process::Command::new(&args[0])
        .arg("render")
        .arg(&path)
        .status()
        .expect("run the benchmark");
    std::fs::remove_file(&path).ok();
    std::process::exit(status.code().unwrap_or(1));
}
