//! Logging set-up, done once by the binary: `tracing` to stderr with the configured filter.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Fails if `filter` is not valid EnvFilter syntax.
pub fn init(filter: &str) -> Result<(), tracing_subscriber::filter::ParseError> {
    let filter = EnvFilter::try_new(filter)?;
    // A second call (tests) keeps the first subscriber.
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    Ok(())
}
