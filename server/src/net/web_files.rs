// Included by `server/build.rs` and by `net/assets.rs` (a build script can't use the crate it
// builds): how a web client file is described, the same embedded or read with --web-root.

/// A strong ETag: the 64-bit FNV-1a hash of the bytes as 16 hex digits, in quotes.
fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", fnv1a(body))
}

/// 64-bit FNV-1a: no new dependency, and plenty to tell one version of a file from the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The `Content-Type` for a file, by extension.
fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}
