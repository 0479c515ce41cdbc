//! Builds the web client and embeds it in the server, so `cargo build` alone gives a binary
//! that serves the game. In `web-client/` it runs `npm ci` (only when `package-lock.json`
//! differs from the one `node_modules` was installed from) and `node build.mjs --outdir
//! $OUT_DIR/web`, then writes `$OUT_DIR/web_assets.rs`: a static table of
//! `(URL path, Content-Type, ETag, include_bytes!(file))` that `net::assets` includes.
//!
//! `SKIRMISH_WEB_DIST=<absolute folder>` embeds that prebuilt client instead and runs no npm
//! (container builds, machines without node).

use std::env;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The web client's folder, relative to this crate's folder.
const WEB_CLIENT: &str = "../web-client";
/// Names a prebuilt client folder to embed instead of building one.
const DIST_ENV: &str = "SKIRMISH_WEB_DIST";
/// What the client build reads besides `node_modules`; a change to anything else (Rust code
/// included) leaves the embedded client as it is and runs no npm.
const CLIENT_INPUTS: &[&str] =
    &["src", "public", "build.mjs", "package.json", "package-lock.json", "tsconfig.json"];
/// A copy of the `package-lock.json` that node_modules was last installed from, written after
/// each `npm ci` (here and in scripts/build-web.sh). npm's own `node_modules/.package-lock.json`
/// can't serve: it leaves out the root package and other platforms' optional packages, so it
/// never equals `package-lock.json`. Inside node_modules, so deleting that folder deletes it.
const INSTALLED_LOCK: &str = "node_modules/.skirmish-package-lock.json";
/// Files embedded at most, and bytes in all: the same caps as `Assets::load`, here so that a
/// wrong `SKIRMISH_WEB_DIST` fails the build instead of swelling the binary.
const MAX_FILES: usize = 1000;
const MAX_TOTAL_BYTES: u64 = 64 << 20;
/// How the build script's errors end: the way round a failed client build.
const HINT: &str = "To build the server without node/npm, build the web client elsewhere \
    (scripts/build-web.sh writes web-client/dist) and set SKIRMISH_WEB_DIST=<absolute path of \
    that folder> to embed it instead.";

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
    #[cfg(feature = "agones")]
    if let Err(message) = agones_standin() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// Under the `agones` feature: the stand-in Agones SDK server's gRPC code (server side only),
/// from `tests/agones/*.proto`, for `tests/agones.rs`. Needs protoc, as the agones crate does.
#[cfg(feature = "agones")]
fn agones_standin() -> Result<(), String> {
    let protos = ["tests/agones/sdk.proto", "tests/agones/beta.proto"];
    for p in protos {
        println!("cargo::rerun-if-changed={p}");
    }
    tonic_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_protos(&protos, &["tests/agones"])
        .map_err(|e| {
            format!("the stand-in Agones SDK's protobufs: {e} (is protoc installed? scripts/install-protoc.sh)")
        })
}

/// Embeds the client; an error is one message for whoever is building, saying what failed.
fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/net/web_files.rs");
    println!("cargo::rerun-if-env-changed={DIST_ENV}");

    let web = match env::var_os(DIST_ENV).filter(|dist| !dist.is_empty()) {
        Some(dist) => {
            let dist = PathBuf::from(dist);
            // Build scripts run in the crate's folder, not where cargo was started, so a
            // relative path would not mean what its writer meant.
            if !dist.is_absolute() {
                return Err(format!(
                    "{DIST_ENV}={} must be an absolute path (for example \
                     {DIST_ENV}=\"$PWD/web-client/dist\")",
                    dist.display()
                ));
            }
            println!("cargo::rerun-if-changed={}", dist.display());
            if !dist.is_dir() {
                return Err(format!("{DIST_ENV}={} is not a folder", dist.display()));
            }
            dist
        }
        None => {
            let client = manifest_dir.join(WEB_CLIENT);
            if !client.join("package.json").is_file() {
                return Err(format!("no web client at {}. {HINT}", client.display()));
            }
            for input in CLIENT_INPUTS {
                println!("cargo::rerun-if-changed={}", client.join(input).display());
            }
            let web = out_dir.join("web");
            build_client(&client, &web)?;
            web
        }
    };
    let table = asset_table(&web)?;
    let generated = out_dir.join("web_assets.rs");
    fs::write(&generated, table).map_err(|e| format!("writing {}: {e}", generated.display()))
}

/// Installs the client's npm packages if `package-lock.json` changed, and bundles the client
/// into `out`.
fn build_client(client: &Path, out: &Path) -> Result<(), String> {
    // Cargo may run this script several times at once (other profiles, clippy, another target
    // folder). Each run builds into its own OUT_DIR, but node_modules is shared: one lock held
    // across install and bundle keeps one run's `npm ci` from replacing node_modules while
    // another installs or reads it; the second run then finds it installed.
    let _lock = lock_node_modules(client)?;
    let lock_path = client.join("package-lock.json");
    let wanted =
        fs::read(&lock_path).map_err(|e| format!("reading {}: {e}", lock_path.display()))?;
    let stamp = client.join(INSTALLED_LOCK);
    if fs::read(&stamp).ok().as_ref() != Some(&wanted) {
        // Removed first so an install that fails half-way is retried next time.
        let _ = fs::remove_file(&stamp);
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        run_tool(client, npm, &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
        fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    }
    let Some(out_str) = out.to_str() else {
        return Err(format!("OUT_DIR {} is not UTF-8", out.display()));
    };
    run_tool(client, "node", &["build.mjs", "--outdir", out_str])
}

/// Runs `program args` in `dir`. Its output goes to this script's stderr, which cargo shows
/// when the build fails (and live with `-vv`); stdout is kept for cargo's directives.
fn run_tool(dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let command = format!("{program} {}", args.join(" "));
    eprintln!("running `{command}` in {}", dir.display());
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(io::stderr())
        .stderr(io::stderr())
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!(
            "building the web client failed: `{command}` in {} exited with {status} (its output \
             is above). {HINT}",
            dir.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!(
            "building the web client needs Node.js 20+ and npm, but `{program}` was not found on \
             PATH. {HINT}"
        )),
        Err(e) => Err(format!("could not run `{command}` in {}: {e}. {HINT}", dir.display())),
    }
}

/// An exclusive lock shared by every build of this checkout's web client, released on drop.
/// It lives in the temp folder, named by the client's path, so the source tree stays clean and
/// `npm ci` (which deletes node_modules) can't remove it while it is held.
fn lock_node_modules(client: &Path) -> Result<File, String> {
    let name =
        format!("skirmish-web-client-{:016x}.lock", fnv1a(client.as_os_str().as_encoded_bytes()));
    let path = env::temp_dir().join(name);
    let file =
        File::create(&path).map_err(|e| format!("creating lock file {}: {e}", path.display()))?;
    match file.lock() {
        Ok(()) => Ok(file),
        // Where the platform has no file locks, build without one rather than not at all.
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(file),
        Err(e) => Err(format!("locking {}: {e}", path.display())),
    }
}

/// The generated Rust source: every file under `root`, sorted by URL path so the same client
/// gives the same table.
fn asset_table(root: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| format!("reading web client folder {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| format!("reading {}: {e}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let body = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            total += body.len() as u64;
            if files.len() >= MAX_FILES || total > MAX_TOTAL_BYTES {
                return Err(format!(
                    "{} holds more than {MAX_FILES} files or {MAX_TOTAL_BYTES} bytes: is it the \
                     built web client?",
                    root.display()
                ));
            }
            let (Some(abs), Ok(rel)) = (path.to_str(), path.strip_prefix(root)) else {
                return Err(format!("web client file path {} is not UTF-8", path.display()));
            };
            let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
            files.push((url, content_type(&path), etag(&body), abs.to_owned()));
        }
    }
    files.sort();
    if !files.iter().any(|(url, ..)| url == "/index.html") {
        return Err(format!(
            "{} has no index.html: is it the built web client (as scripts/build-web.sh writes \
             to web-client/dist)?",
            root.display()
        ));
    }
    let mut out = format!(
        "// Generated by server/build.rs from {:?}: the embedded web client as\n\
         // (URL path, Content-Type, ETag, bytes), sorted by URL path.\n\
         static WEB_ASSETS: &[(&str, &str, &str, &[u8])] = &[\n",
        root.display().to_string()
    );
    for (url, content_type, etag, abs) in &files {
        // `{:?}` writes each as a Rust string literal, quotes and backslashes escaped.
        let _ =
            writeln!(out, "    ({url:?}, {content_type:?}, {etag:?}, include_bytes!({abs:?})),");
    }
    out.push_str("];\n");
    Ok(out)
}

/// An environment variable cargo sets for build scripts.
fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("{name}: {e} (is this running as a cargo build script?)"))
}

// `etag`, `fnv1a` and `content_type`, shared word for word with src/net/assets.rs.
include!("src/net/web_files.rs");
