//! The web client's static files, held in memory: embedded in the binary at build time
//! (`build.rs` builds `web-client/` and generates the table), or read from a folder once at
//! start-up (`--web-root`, for working on the client). Requests are answered by lookup in this
//! table, so no request path ever reaches the file system.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use tracing::{info, warn};

// `static WEB_ASSETS: &[(&str, &str, &str, &[u8])]`: (URL path, Content-Type, ETag, bytes) for
// every file of the client built by build.rs (or of `SKIRMISH_WEB_DIST`).
include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Files read at most, and bytes in all: the web client is a handful of small files.
const MAX_FILES: usize = 1000;
const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// The `Cache-Control` sent with every asset. File names carry no content hash, so a browser
/// may keep a copy but must revalidate it with the ETag (`If-None-Match`) before using it.
pub const CACHE_CONTROL: &str = "no-cache";

/// One servable file.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The `ETag` to send: strong, quoted, the 64-bit FNV-1a hash of `body` in hex
    /// (`"1f2e3d4c5b6a7988"`), so it changes exactly when the bytes do.
    pub etag: String,
    /// The `Cache-Control` to send ([`CACHE_CONTROL`]).
    pub cache_control: &'static str,
    /// The file's bytes.
    pub body: Bytes,
}

impl Asset {
    fn new(content_type: &'static str, body: Bytes) -> Self {
        Self { content_type, etag: etag(&body), cache_control: CACHE_CONTROL, body }
    }

    /// Whether a request with this `If-None-Match` value is answered `304 Not Modified`: the
    /// value is `*`, or lists this asset's ETag. Comparison is weak (RFC 9110 §13.1.2), so
    /// `W/"…"` matches too. A malformed list stops matching at the bad entry, which errs toward
    /// sending the body. Several `If-None-Match` fields should be passed joined by `,`.
    pub fn not_modified(&self, if_none_match: Option<&str>) -> bool {
        let Some(value) = if_none_match else {
            return false;
        };
        if value.trim() == "*" {
            return true;
        }
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            let tag = rest.strip_prefix("W/").unwrap_or(rest);
            // An entity-tag is `"` opaque characters `"`; the opaque part may hold commas.
            let Some(end) = tag.strip_prefix('"').and_then(|t| t.find('"')) else {
                return false;
            };
            if tag[..end + 2] == self.etag {
                return true;
            }
            rest = &tag[end + 2..];
        }
    }
}

/// Static files by URL path (`/index.html`, `/app.js`, …).
#[derive(Debug, Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    /// The web client built into this binary. The bytes are not copied: each body points into
    /// the binary's read-only data.
    pub fn embedded() -> Self {
        let files: HashMap<String, Asset> = WEB_ASSETS
            .iter()
            .map(|&(path, content_type, etag, body)| {
                let asset = Asset {
                    content_type,
                    etag: etag.to_owned(),
                    cache_control: CACHE_CONTROL,
                    body: Bytes::from_static(body),
                };
                (path.to_owned(), asset)
            })
            .collect();
        info!(files = files.len(), "web client embedded in the binary");
        Self { files }
    }

    /// Reads every file under `root` (`--web-root`). A missing folder gives an empty table and
    /// a warning; `/` then answers 404 with a message saying where the client was looked for.
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
                assets.files.insert(url, Asset::new(content_type(&path), Bytes::from(body)));
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

// `etag`, `fnv1a` and `content_type`, shared word for word with build.rs (which can't use
// this crate), so a file gets the same headers embedded or read with --web-root.
include!("web_files.rs");

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(etag: &str) -> Asset {
        Asset {
            content_type: "text/plain",
            etag: etag.to_owned(),
            cache_control: CACHE_CONTROL,
            body: Bytes::new(),
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(etag(b"a"), "\"af63dc4c8601ec8c\"");
    }

    #[test]
    fn not_modified_matches_the_etag_star_lists_and_weak_tags() {
        let a = asset("\"af63dc4c8601ec8c\"");
        assert!(a.not_modified(Some("\"af63dc4c8601ec8c\"")));
        assert!(a.not_modified(Some("*")));
        assert!(a.not_modified(Some(" * ")));
        assert!(a.not_modified(Some("W/\"af63dc4c8601ec8c\"")));
        assert!(a.not_modified(Some("\"0000000000000000\", \"af63dc4c8601ec8c\"")));
        assert!(a.not_modified(Some("\"x,y\",W/\"af63dc4c8601ec8c\"")));
        assert!(a.not_modified(Some("\"0\" ,\t W/\"af63dc4c8601ec8c\" , \"1\"")));
    }

    #[test]
    fn not_modified_refuses_other_tags_and_malformed_values() {
        let a = asset("\"af63dc4c8601ec8c\"");
        assert!(!a.not_modified(None));
        assert!(!a.not_modified(Some("")));
        assert!(!a.not_modified(Some("\"0000000000000000\"")));
        assert!(!a.not_modified(Some("\"0000000000000000\", W/\"1111111111111111\"")));
        // Unquoted, lowercase `w/`, unterminated: not entity-tags.
        assert!(!a.not_modified(Some("af63dc4c8601ec8c")));
        assert!(!a.not_modified(Some("w/\"af63dc4c8601ec8c\"")));
        assert!(!a.not_modified(Some("\"af63dc4c8601ec8c")));
        // A tag is compared whole, quotes included, not as a prefix or substring.
        assert!(!a.not_modified(Some("\"af63dc4c8601ec8c0\"")));
        assert!(!a.not_modified(Some("\"xaf63dc4c8601ec8c\"")));
        // `*` only means "any" alone.
        assert!(!a.not_modified(Some("*, \"0000000000000000\"")));
    }

    #[test]
    fn embedded_client_has_the_page_and_the_bundle() {
        let assets = Assets::embedded();
        let index = assets.get("/").expect("index.html embedded");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(std::ptr::eq(index, assets.get("/index.html").expect("index.html embedded")));
        let app = assets.get("/app.js").expect("app.js embedded");
        assert_eq!(app.content_type, "text/javascript; charset=utf-8");
        assert!(!app.body.is_empty());
        assert_eq!(app.cache_control, "no-cache");
        assert!(app.not_modified(Some(&app.etag)));
    }

    #[test]
    fn embedded_headers_match_what_load_would_send() {
        for &(path, content_type_, etag_, body) in WEB_ASSETS {
            assert_eq!(content_type_, content_type(Path::new(path)), "{path}");
            assert_eq!(etag_, etag(body), "{path}");
        }
    }

    #[test]
    fn load_reads_a_folder_with_etags() {
        let root =
            std::env::temp_dir().join(format!("skirmish-assets-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("img")).expect("temp folder");
        std::fs::write(root.join("index.html"), b"<!doctype html>").expect("write");
        std::fs::write(root.join("img/a.png"), b"a").expect("write");
        let assets = Assets::load(&root);
        std::fs::remove_dir_all(&root).expect("clean up");

        let index = assets.get("/").expect("index.html loaded");
        assert_eq!(index.etag, etag(b"<!doctype html>"));
        assert_eq!(index.cache_control, "no-cache");
        let png = assets.get("/img/a.png").expect("nested file loaded");
        assert_eq!((png.content_type, png.etag.as_str()), ("image/png", "\"af63dc4c8601ec8c\""));
        assert!(assets.get("/missing.js").is_none());
    }
}
