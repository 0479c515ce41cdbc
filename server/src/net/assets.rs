//! The web client's static files, read into memory once at start-up. Requests are answered
//! by lookup in this table, so no request path ever reaches the file system.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use tracing::{info, warn};

/// Files read at most, and bytes in all: the web client is a handful of small files.
const MAX_FILES: usize = 1000;
const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// One servable file.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: Bytes,
}

/// Static files by URL path (`/index.html`, `/app.js`, …).
#[derive(Debug, Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    /// Reads every file under `root`. A missing folder gives an empty table and a warning;
    /// `/` then answers 404 with a message saying where the client was looked for.
    pub fn load(root: &Path) -> Self {
        let mut assets = Self::default();
        let mut total = 0u64;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                warn!(path = %dir.display(), "web client folder not readable");
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                if assets.files.len() >= MAX_FILES || total + meta.len() > MAX_TOTAL_BYTES {
                    warn!(path = %path.display(), "too many or too large web client files, rest not served");
                    return assets;
                }
                let Ok(body) = std::fs::read(&path) else {
                    continue;
                };
                let Ok(rel) = path.strip_prefix(root) else {
                    continue;
                };
                let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
                total += body.len() as u64;
                assets.files.insert(
                    url,
                    Asset { content_type: content_type(&path), body: Bytes::from(body) },
                );
            }
        }
        info!(root = %root.display(), files = assets.files.len(), "web client loaded");
        assets
    }

    /// The file for a URL path; `/` means `/index.html`.
    pub fn get(&self, path: &str) -> Option<&Asset> {
        let path = if path == "/" { "/index.html" } else { path };
        self.files.get(path)
    }
}

fn content_type(path: &Path) -> &'static str {
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
