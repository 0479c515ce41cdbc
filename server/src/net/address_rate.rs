//! Per-address rates: a token bucket per IP address (a burst, refilled at a rate), for what
//! one address may do only so often: join, and fail a seat check. Loopback is exempt unless
//! `--cap-loopback`, as for the connection caps. The table is bounded: when full, addresses
//! whose buckets are full again (idle ones) are forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Addresses remembered at most.
const TABLE_LIMIT: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A bucket per address.
#[derive(Debug)]
pub struct AddressRate {
    burst: f64,
    per_sec: f64,
    cap_loopback: bool,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AddressRate {
    /// `burst` at once, then `per_sec`.
    pub fn new(burst: f64, per_sec: f64, cap_loopback: bool) -> Self {
        Self { burst, per_sec: per_sec.max(0.0), cap_loopback, buckets: Mutex::default() }
    }

    /// Takes one from `ip`'s bucket; `false` (and nothing taken) if it is empty.
    pub fn take(&self, ip: IpAddr) -> bool {
        self.with_bucket(ip, |b| {
            if b.tokens < 1.0 {
                return false;
            }
            b.tokens -= 1.0;
            true
        })
    }

    /// Whether `ip`'s bucket has one to take (nothing taken).
    pub fn has(&self, ip: IpAddr) -> bool {
        self.with_bucket(ip, |b| b.tokens >= 1.0)
    }

    fn with_bucket(&self, ip: IpAddr, f: impl FnOnce(&mut Bucket) -> bool) -> bool {
        if ip.is_loopback() && !self.cap_loopback {
            return true;
        }
        let now = Instant::now();
        let (burst, rate) = (self.burst, self.per_sec);
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= TABLE_LIMIT {
            map.retain(|_, b| b.tokens + (now - b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + (now - b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        f(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_nothing_without_refill() {
        let rate = AddressRate::new(3.0, 0.0, false);
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(rate.has(ip));
        assert!((0..3).all(|_| rate.take(ip)));
        assert!(!rate.has(ip));
        assert!(!rate.take(ip));
        // Another address has its own bucket; loopback is exempt.
        assert!(rate.take([10, 0, 0, 2].into()));
        assert!((0..10).all(|_| rate.take(IpAddr::from([127, 0, 0, 1]))));
        let capped = AddressRate::new(1.0, 0.0, true);
        assert!(capped.take([127, 0, 0, 1].into()));
        assert!(!capped.take([127, 0, 0, 1].into()));
    }
}
