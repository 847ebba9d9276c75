//! Retry rules of the pipeline: exponential backoff with jitter, bounded
//! by a time budget per batch, with server-given delays honoured.

use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff with jitter, bounded by a per-batch retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry (default 100 ms).
    pub initial_backoff: Duration,
    /// Largest delay between two attempts (default 5 s).
    pub max_backoff: Duration,
    /// Total time one batch may spend being retried (default 30 s).
    /// A server-given delay that would end past it drops the batch at once.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: the first failure drops the batch.
    pub fn disabled() -> Self {
        Self {
            budget: Duration::ZERO,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (0-based): the backoff doubles
    /// from `initial_backoff` up to `max_backoff`, then a random value in
    /// its upper half is taken ("equal jitter") so clients spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let full = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = full / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
    }
}

/// The retry state of one batch: when its budget ends and how many
/// retries it has had.
#[derive(Debug)]
pub(crate) struct RetrySchedule {
    policy: RetryPolicy,
    budget_end: Instant,
    retries: u32,
}

impl RetrySchedule {
    /// A batch whose first attempt starts now.
    pub(crate) fn start(policy: RetryPolicy) -> Self {
        Self {
            policy,
            budget_end: after(policy.budget),
            retries: 0,
        }
    }

    /// When to try again after a retryable failure, or `None` when that
    /// would end past the budget (the batch is then given up). A server
    /// delay wins over the backoff, but never below the first backoff step,
    /// so `Retry-After: 0` cannot spin.
    pub(crate) fn next_attempt(&mut self, server_delay: Option<Duration>) -> Option<Instant> {
        let delay = match server_delay {
            Some(delay) => delay.max(self.policy.initial_backoff),
            None => self.policy.backoff(self.retries),
        };
        let resume = after(delay);
        if resume > self.budget_end {
            return None;
        }
        self.retries = self.retries.saturating_add(1);
        Some(resume)
    }
}

/// Far enough in the future to mean "never" for timers, near enough that
/// adding it to now cannot overflow.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `Instant::now() + duration`, saturating at [`FAR_FUTURE`] instead of
/// panicking on overflow (a host's `Duration::MAX`, a server's absurd
/// `Retry-After`).
pub(crate) fn after(duration: Duration) -> Instant {
    Instant::now() + duration.min(FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy::default();
        for (retry, full_ms) in [(0u32, 100u64), (1, 200), (2, 400), (6, 5000), (40, 5000)] {
            let delay = policy.backoff(retry);
            let full = Duration::from_millis(full_ms);
            assert!(
                delay >= full / 2 && delay <= full,
                "retry {retry}: {delay:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_honours_server_delay_floor_and_budget() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            budget: Duration::from_secs(1),
        };
        let mut schedule = RetrySchedule::start(policy);
        let now = Instant::now();
        assert_eq!(
            schedule.next_attempt(Some(Duration::ZERO)),
            Some(now + Duration::from_millis(100))
        );
        assert_eq!(schedule.next_attempt(Some(Duration::from_secs(2))), None);
        assert_eq!(schedule.retries, 1);
        assert_eq!(
            schedule.next_attempt(Some(Duration::from_millis(900))),
            Some(now + Duration::from_millis(900))
        );
    }
}
