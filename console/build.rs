//! Embeds the console's built assets (web/console/dist, committed) with a gzipped copy of each
//! and an ETag, so serving them costs no compression at run time.

use std::io::Write;
use std::path::{Path, PathBuf};

const ASSETS: [&str; 3] = ["index.html", "console.js", "console.css"];

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/console/dist");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut table = String::from("&[\n");
    for name in ASSETS {
        let path = dist.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the console with `npm ci --prefix web && npm run --prefix web/console build`",
                path.display()
            )
        });
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip into memory");
        let gzipped = encoder.finish().expect("gzip into memory");
        let gz_name = format!("{name}.gz");
        std::fs::write(out.join(&gz_name), gzipped).expect("write OUT_DIR");
        table.push_str(&format!(
            "    Asset {{ name: {name:?}, bytes: include_bytes!({plain:?}), gzipped: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{gz_name}\")), etag: \"\\\"{etag:016x}\\\"\" }},\n",
            plain = path.display().to_string(),
            etag = fnv1a(&bytes),
        ));
    }
    table.push(']');
    std::fs::write(out.join("assets.rs"), table).expect("write OUT_DIR");
}

/// FNV-1a, 64 bits: enough to tell one build of an asset from another.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
