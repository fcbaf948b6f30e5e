//! When to try again: the retry and poll policies, `Retry-After`, and jittered backoff. Every
//! number that comes from a server is capped here before it meets a clock.

use std::time::{Duration, SystemTime};

use rand::Rng as _;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// No retry starts once it would end after this long since the first attempt.
    pub total_budget: Duration,
    pub per_request_timeout: Duration,
    /// The backoff is `base × attempt`, capped at `max_backoff`; it is also the shortest wait,
    /// whatever `Retry-After` says, and the most jitter added to a wait.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer values are waited for this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// The SDKs' numbers: 60 s per request, backoff 1 s × attempt up to 10 s, about 5 minutes
    /// in all (databricks-sdk-py `retries.py`, databricks-sdk-go `httpclient`).
    fn default() -> Self {
        Self {
            total_budget: Duration::from_secs(300),
            per_request_timeout: Duration::from_secs(60),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// The shortest wait between attempts, even when a policy's backoff is zero.
const MIN_WAIT: Duration = Duration::from_millis(10);

impl RetryPolicy {
    /// `base × attempt`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        self.base_backoff
            .saturating_mul(attempt)
            .min(self.max_backoff)
            .max(MIN_WAIT)
    }

    /// The wait before attempt `attempt + 1`: the server's `Retry-After` when it sent one, but
    /// never shorter than the backoff (a `Retry-After: 0` storm cannot spin) and never longer
    /// than `max_retry_after`; plus up to `base_backoff` of jitter, as the Python SDK sleeps
    /// `Retry-After + random()` (databricks-sdk-py `retries.py`).
    pub(crate) fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(attempt);
        let wait = retry_after.map_or(backoff, |ra| ra.min(self.max_retry_after).max(backoff));
        wait.saturating_add(jitter(self.base_backoff))
    }
}

/// How a running SQL statement, command or starting cluster is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// First delay between polls; it grows by this much each poll up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// The statement is cancelled (or the cluster wait abandoned) and an error returned after
    /// this long.
    pub give_up_after: Duration,
    /// How long the Statement Execution API holds the first request open before answering
    /// with a running statement: zero, or 5 s to 50 s.
    pub wait_timeout: Duration,
}

impl Default for PollPolicy {
    /// The SDKs poll statements 1 s, 2 s … 10 s with jitter.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            give_up_after: Duration::from_secs(600),
            wait_timeout: Duration::from_secs(10),
        }
    }
}

impl PollPolicy {
    /// Delay before poll number `n` (1-based): base × n, capped, with up to a tenth as jitter.
    pub(crate) fn delay(&self, n: u32) -> Duration {
        let capped = self.base.saturating_mul(n).min(self.max).max(MIN_WAIT);
        capped.saturating_add(jitter(capped / 10))
    }
}

/// A uniformly random duration from zero to `max`.
fn jitter(max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=max_ms))
}

/// `Retry-After` as delay seconds or an HTTP-date; anything else (negative, fractional,
/// garbage) is ignored, and the backoff applies.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "very long": the cap applies either way.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = parse_http_date(value)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form servers send today.
/// Out-of-range fields give `None`, so no arithmetic below can overflow.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h @ 0..=23, m @ 0..=59, s @ 0..=60] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            retry_after(&headers("2"), now),
            Some(Duration::from_secs(2))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        let date = headers("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(7)));
        for ignored in ["soon", "-1", "1.5", "Sun, 06 Nov 99999999999 08:49:37 GMT"] {
            assert_eq!(retry_after(&headers(ignored), now), None, "{ignored}");
        }
        let huge = retry_after(&headers("18446744073709551615"), now).unwrap();
        assert_eq!(huge, Duration::from_secs(u64::MAX));
        let huger = retry_after(&headers("99999999999999999999999"), now).unwrap();
        assert_eq!(huger, Duration::from_secs(u64::MAX));
    }

    #[test]
    fn waits_are_floored_capped_and_jittered() {
        let p = RetryPolicy::default();
        let one = p.wait(1, None);
        assert!(
            one >= Duration::from_secs(1) && one <= Duration::from_secs(2),
            "{one:?}"
        );
        assert!(p.wait(3, None) >= Duration::from_secs(3));
        assert!(p.wait(50, None) <= Duration::from_secs(11));
        // Retry-After: 0 waits the backoff, not zero.
        assert!(p.wait(2, Some(Duration::ZERO)) >= Duration::from_secs(2));
        // An absurd Retry-After is capped, and adding jitter cannot overflow.
        let capped = p.wait(1, Some(Duration::from_secs(u64::MAX)));
        assert!(capped >= p.max_retry_after && capped <= p.max_retry_after + p.base_backoff);
        let extreme = RetryPolicy {
            max_retry_after: Duration::MAX,
            base_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            ..p
        };
        assert_eq!(extreme.wait(u32::MAX, Some(Duration::MAX)), Duration::MAX);
        let zero = RetryPolicy {
            base_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            ..p
        };
        assert!(zero.wait(1, Some(Duration::ZERO)) >= MIN_WAIT);
    }

    #[test]
    fn poll_delays_grow_and_are_capped() {
        let p = PollPolicy::default();
        assert!(p.delay(1) >= Duration::from_secs(1));
        assert!(p.delay(100) <= Duration::from_secs(11));
        assert!(p.delay(u32::MAX) <= Duration::from_secs(11));
    }
}
