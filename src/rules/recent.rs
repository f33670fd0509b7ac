//! The most recent N match times: exact counts up to N within a sliding window, in O(N) memory.
//!
//! A rate rule only needs to know whether more than `threshold` matches fell in the window, so
//! it keeps the last `threshold + 1` times; an absent rule keeps the last `min`. A flood of a
//! million matches costs no more memory than a trickle.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The last `capacity` times, oldest first.
#[derive(Debug, Clone)]
pub struct Recent {
    /// Times in non-decreasing order; never longer than `capacity`.
    times: VecDeque<Instant>,
    capacity: usize,
}

impl Recent {
    /// Keeps at most `capacity` (at least 1) times.
    pub fn new(capacity: usize) -> Recent {
        let capacity = capacity.max(1);
        Recent {
            times: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    /// Records a time; times must not go backwards (a smaller one is clamped to the newest).
    pub fn push(&mut self, at: Instant) {
        let at = match self.times.back() {
            Some(&last) if at < last => last,
            _ => at,
        };
        if self.times.len() == self.capacity {
            self.times.pop_front();
        }
        self.times.push_back(at);
    }

    /// Records a time that may be older than the newest kept (a backlog line's written time):
    /// it goes where it belongs in time; one older than every kept time of a full ring is
    /// dropped (the ring keeps the newest `capacity`).
    pub fn insert(&mut self, at: Instant) {
        let mut i = self.times.partition_point(|&t| t <= at);
        if self.times.len() == self.capacity {
            if i == 0 {
                return;
            }
            self.times.pop_front();
            i -= 1;
        }
        self.times.insert(i, at);
        debug_assert!(self.times.len() <= self.capacity);
        debug_assert!(self
            .times
            .iter()
            .zip(self.times.iter().skip(1))
            .all(|(a, b)| a <= b));
    }

    /// Moves every time of `other` into this ring, each where it belongs in time.
    pub fn absorb(&mut self, other: &mut Recent) {
        for t in other.times.drain(..) {
            self.insert(t);
        }
    }

    /// How many of the kept times lie within `window` before `now` (exact up to `capacity`).
    /// Times are in order, so those out of the window are a prefix: a binary search, not a
    /// walk over up to `threshold + 1` times at every match.
    pub fn count_within(&self, now: Instant, window: Duration) -> usize {
        self.times.len() - self.first_within(now, window)
    }

    /// The index of the oldest kept time within `window` before `now` (`len` if none).
    fn first_within(&self, now: Instant, window: Duration) -> usize {
        self.times.partition_point(|&t| !in_window(t, now, window))
    }

    /// When the oldest kept time that is still within the window leaves it.
    pub fn next_expiry(&self, now: Instant, window: Duration) -> Option<Instant> {
        self.times
            .get(self.first_within(now, window))
            .map(|&t| t + window)
    }

    /// The oldest kept time, if the ring is full.
    pub fn oldest_if_full(&self) -> Option<Instant> {
        (self.times.len() == self.capacity)
            .then(|| self.times.front().copied())
            .flatten()
    }

    /// Forgets every time.
    pub fn clear(&mut self) {
        self.times.clear();
    }
}

/// `t` is within `window` before `now`: `now - window < t <= now`.
fn in_window(t: Instant, now: Instant, window: Duration) -> bool {
    now.saturating_duration_since(t) < window
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_binary_search_counts_as_a_walk_over_every_time(
            steps in proptest::collection::vec(0u64..50, 0..60),
            capacity in 1usize..40,
            now_ms in 0u64..4000,
            window_ms in 0u64..3000,
        ) {
            let t0 = Instant::now();
            let mut r = Recent::new(capacity);
            let mut at = 0;
            for step in steps {
                at += step;
                r.push(t0 + Duration::from_millis(at));
            }
            let (now, window) = (t0 + Duration::from_millis(now_ms), Duration::from_millis(window_ms));
            let within: Vec<Instant> =
                r.times.iter().copied().filter(|&t| in_window(t, now, window)).collect();
            proptest::prop_assert_eq!(r.count_within(now, window), within.len());
            proptest::prop_assert_eq!(r.next_expiry(now, window), within.first().map(|&t| t + window));
        }
    }

    #[test]
    fn counts_exactly_up_to_capacity() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let mut r = Recent::new(3);
        for s in [0, 1, 2, 3, 4] {
            r.push(t0 + Duration::from_secs(s));
        }
        let now = t0 + Duration::from_secs(4);
        assert_eq!(r.count_within(now, w), 3);
        assert_eq!(r.count_within(t0 + Duration::from_secs(13), w), 1);
        assert_eq!(r.count_within(t0 + Duration::from_secs(14), w), 0);
        assert_eq!(r.next_expiry(now, w), Some(t0 + Duration::from_secs(12)));
    }

    #[test]
    fn an_older_time_goes_where_it_belongs_and_the_newest_are_kept() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut r = Recent::new(3);
        r.push(t0 + s(10));
        r.insert(t0 + s(2));
        r.insert(t0 + s(5));
        r.insert(t0 + s(1)); // older than all three kept: dropped
        r.insert(t0 + s(7)); // the oldest (2) leaves
        assert_eq!(
            r.count_within(t0 + s(10), s(4)),
            2,
            "7 and 10 within 4 s of 10"
        );
        assert_eq!(r.count_within(t0 + s(10), s(6)), 3, "5 too within 6 s");
        assert_eq!(r.oldest_if_full(), Some(t0 + s(5)));
    }
}
