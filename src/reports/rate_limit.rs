//! Per-client limit on report submissions: a token bucket per IP address.
//!
//! Each client's bucket holds at most `per_minute` tokens and refills at `per_minute / 60` tokens
//! a second; a submission takes one. A burst of `per_minute` is allowed, then one every
//! `60 / per_minute` seconds. Buckets that have been full for a while are forgotten, so the map
//! stays as small as the number of recently active clients. `per_minute = 0` turns the limit off.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// How long to wait before the next submission is allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryAfter(pub Duration);

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client` at `now`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), RetryAfter> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut map = self.buckets.lock().expect("rate limiter poisoned");
        if map.len() > 100_000 {
            // Forget clients whose bucket has refilled completely.
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = map.entry(client).or_insert((cap, now));
        let refilled = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(RetryAfter(Duration::from_secs_f64((1.0 - refilled) / rate)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_one_per_interval() {
        let rl = RateLimiter::new(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(rl.check(ip, t0).is_ok());
        }
        let wait = rl.check(ip, t0).unwrap_err().0;
        // One token refills in 60 / 10 = 6 s.
        assert!((wait.as_secs_f64() - 6.0).abs() < 1e-9, "{wait:?}");
        assert!(rl.check(other, t0).is_ok(), "clients are limited apart");
        assert!(rl.check(ip, t0 + Duration::from_secs(6)).is_ok());
        assert!(rl.check(ip, t0 + Duration::from_secs(6)).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let rl = RateLimiter::new(0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..1000).all(|_| rl.check(ip, t0).is_ok()));
    }
}
