//! Compresses every stylesheet and script under `assets/` once, at build time, as gzip and
//! brotli at their best levels (brotli's best takes ~0.2 s for the widget: too slow for a
//! cold start), into `OUT_DIR` under the same relative paths; `src/assets.rs` includes them.

use std::fs;
use std::io::Write;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=assets");
    compress_dir(Path::new("assets"), Path::new(&out));
}

fn compress_dir(dir: &Path, out: &Path) {
    for entry in fs::read_dir(dir).expect("assets/ is readable") {
        let path = entry.expect("a directory entry").path();
        let target = out.join(&path);
        if path.is_dir() {
            compress_dir(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("js" | "css")) {
            let body = fs::read(&path).expect("an asset is readable");
            fs::create_dir_all(target.parent().expect("under OUT_DIR")).expect("OUT_DIR is writable");
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(&body).expect("writing to memory");
            write(&target, "gz", &gzip.finish().expect("writing to memory"));
            let mut brotli = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut &body[..], &mut brotli, &params).expect("writing to memory");
            write(&target, "br", &brotli);
        }
    }
}

fn write(target: &Path, extension: &str, bytes: &[u8]) {
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".{extension}"));
    fs::write(name, bytes).expect("OUT_DIR is writable");
}
