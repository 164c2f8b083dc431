//! Send slots per destination domain (`MaxMessagesPerDomainPerSecond`, `DomainRates`).
//!
//! Each recipient of a claimed batch books the next free slot of its domain. One whose slot
//! is within [`HORIZON`] goes with the batch, at its slot (the worker sends the batch in
//! groups of slots, on one connection); the others are held in the spool until their
//! booked slot, so recipients of other domains go ahead instead of waiting behind them, and
//! each held recipient is written once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far ahead a batch may wait for a slot rather than hold the recipient.
pub const HORIZON: Duration = Duration::from_secs(1);

pub struct DomainPacer {
    default: u32,
    rates: HashMap<String, u32>,
    next: Mutex<HashMap<String, Instant>>,
}

/// What to do with one recipient.
#[derive(Debug, PartialEq, Eq)]
pub enum Slot {
    /// Send with this batch, not before this time.
    Send(Instant),
    /// Hold until this time.
    Hold(Instant),
}

impl DomainPacer {
    pub fn new(default: u32, rates: &[(String, u32)]) -> DomainPacer {
        DomainPacer {
            default,
            rates: rates.iter().cloned().collect(),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Books a slot for one message to `address` at or after `now`.
    pub fn book(&self, address: &str, now: Instant) -> Slot {
        let domain = address
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .trim()
            .to_ascii_lowercase();
        let rate = self.rates.get(&domain).copied().unwrap_or(self.default);
        if rate == 0 {
            return Slot::Send(now);
        }
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let free = next.entry(domain).or_insert(now);
        let slot = (*free).max(now);
        *free = slot + Duration::from_secs(1) / rate;
        if slot <= now + HORIZON {
            Slot::Send(slot)
        } else {
            Slot::Hold(slot)
        }
    }

    /// Whether any domain is limited (otherwise [`DomainPacer::book`] always sends now).
    pub fn is_limited(&self) -> bool {
        self.default > 0 || self.rates.values().any(|&r| r > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_gets_its_own_rate_and_the_excess_is_held() {
        let pacer = DomainPacer::new(2, &[("big.example".into(), 0), ("slow.example".into(), 1)]);
        let now = Instant::now();
        // Unlimited domain: always now.
        for _ in 0..100 {
            assert_eq!(pacer.book("a@Big.Example", now), Slot::Send(now));
        }
        // 2 per second: slots at 0, 0.5, 1.0 s go; the fourth (1.5 s) is held.
        let got: Vec<Slot> = (0..4).map(|_| pacer.book("x@mid.example", now)).collect();
        let half = Duration::from_millis(500);
        assert_eq!(
            got,
            vec![
                Slot::Send(now),
                Slot::Send(now + half),
                Slot::Send(now + 2 * half),
                Slot::Hold(now + 3 * half),
            ]
        );
        // Held slots stay booked: the next one is later still.
        assert_eq!(pacer.book("y@mid.example", now), Slot::Hold(now + 4 * half));
        // Another domain is not slowed by it.
        assert_eq!(pacer.book("z@slow.example", now), Slot::Send(now));
        assert_eq!(
            pacer.book("z@slow.example", now),
            Slot::Send(now + 2 * half)
        );
        assert_eq!(
            pacer.book("z@slow.example", now),
            Slot::Hold(now + 4 * half)
        );
        assert!(pacer.is_limited());
        assert!(!DomainPacer::new(0, &[]).is_limited());
    }
}
