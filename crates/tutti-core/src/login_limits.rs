//! Limits on failed logins, for the Hub (console, JSON API, the components' registry API)
//! and the User Interface (its own login, also offline against `lui/registry`). Kept in
//! memory: a restart clears them. They slow a guesser without locking the owner out:
//!
//! - **account and client address**: [`MAX_PER_PAIR`] failures within [`WINDOW`]; then that
//!   address waits until its oldest failure is a [`WINDOW`] old. Someone guessing from one
//!   address stops here, and the owner, elsewhere, does not notice. A success clears it.
//! - **client address**, over all accounts: [`MAX_PER_ADDRESS`] failures within [`WINDOW`].
//! - **account**, over all addresses: [`FREE_PER_ACCOUNT`] failures within [`WINDOW`] cost
//!   nothing; after that each attempt waits 2, 4, 8 … at most [`MAX_ACCOUNT_DELAY`] after
//!   the previous failure. This slows guessing from many addresses but never locks the
//!   account; addresses it logged in from in the last [`KNOWN_FOR`] are not slowed.
//!
//! IPv6 addresses count by their /64 network, which one subscriber usually holds whole.
//! An attempt is reserved before its password is checked, and counts as a failure until
//! it succeeds: guesses sent at the same moment cannot all pass the limit.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::http_error::ApiError;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_PAIR: usize = 5;
pub const MAX_PER_ADDRESS: usize = 20;
pub const FREE_PER_ACCOUNT: usize = 10;
pub const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(60);
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Addresses remembered per account; the oldest is forgotten first.
const MAX_KNOWN: usize = 16;
/// How often expired entries are swept out of memory.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct LoginLimits {
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    /// Failures and attempts in progress, oldest first, per key.
    marks: HashMap<Key, VecDeque<Mark>>,
    /// Per account: addresses it logged in from, with the last time.
    known: HashMap<String, HashMap<IpAddr, Instant>>,
    next_id: u64,
    swept: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, Option<IpAddr>),
    Address(IpAddr),
    Account(String),
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    id: u64,
}

/// Why a login is refused before its password is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: String,
    pub retry_after: Duration,
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, r.message).retry_after(r.retry_after)
    }
}

/// A reserved attempt: say how it went with [`Attempt::failed`] or [`Attempt::succeeded`].
/// Dropped without either (the password was never checked), it is given back.
#[must_use = "an attempt counts as a failure until it is settled"]
pub struct Attempt<'a> {
    limits: &'a LoginLimits,
    id: u64,
    account: String,
    address: Option<IpAddr>,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong: the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The password was right: this address's failures for the account are forgotten and
    /// the address is known from now on.
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut book = self.limits.lock();
        book.marks
            .remove(&Key::Pair(self.account.clone(), self.address));
        book.unmark(&self.keys(), self.id);
        if let Some(address) = self.address {
            let known = book.known.entry(self.account.clone()).or_default();
            known.insert(address, Instant::now());
            if known.len() > MAX_KNOWN
                && let Some(oldest) = known.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a)
            {
                known.remove(&oldest);
            }
        }
    }

    fn keys(&self) -> Vec<Key> {
        keys(&self.account, self.address)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let keys = self.keys();
            self.limits.lock().unmark(&keys, self.id);
        }
    }
}

fn keys(account: &str, address: Option<IpAddr>) -> Vec<Key> {
    let mut keys = vec![
        Key::Pair(account.to_string(), address),
        Key::Account(account.to_string()),
    ];
    keys.extend(address.map(Key::Address));
    keys
}

/// The address as the limits count it: IPv4 as it is, IPv6 by its /64 network.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// "in 3 minutes", "in 40 seconds".
fn in_words(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs > 120 {
        format!("in {} minutes", secs.div_ceil(60))
    } else {
        format!("in {secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

impl LoginLimits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an attempt to log in to `account` (a name key that is the same however the
    /// name is typed) from `address` (none: unknown), or says why it must wait.
    pub fn reserve(&self, account: &str, address: Option<IpAddr>) -> Result<Attempt<'_>, Refused> {
        self.reserve_at(account, address, Instant::now())
    }

    fn reserve_at(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Refused> {
        let address = address.map(bucket);
        let mut book = self.lock();
        book.sweep(now);
        if let Some(wait) = book.full(&Key::Pair(account.to_string(), address), now, MAX_PER_PAIR) {
            return Err(Refused {
                message: format!(
                    "too many failed logins for this account from your address: try again {}",
                    in_words(wait)
                ),
                retry_after: wait,
            });
        }
        if let Some(a) = address
            && let Some(wait) = book.full(&Key::Address(a), now, MAX_PER_ADDRESS)
        {
            return Err(Refused {
                message: format!(
                    "too many failed logins from your address: try again {}",
                    in_words(wait)
                ),
                retry_after: wait,
            });
        }
        let known = address.is_some_and(|a| {
            book.known
                .get(account)
                .and_then(|k| k.get(&a))
                .is_some_and(|t| now.saturating_duration_since(*t) < KNOWN_FOR)
        });
        if !known && let Some(wait) = book.slowed(account, now) {
            return Err(Refused {
                message: format!(
                    "this account had many failed logins from other addresses, so it takes one attempt at a time now: try again {}",
                    in_words(wait)
                ),
                retry_after: wait,
            });
        }
        let id = book.next_id;
        book.next_id += 1;
        for key in keys(account, address) {
            book.marks
                .entry(key)
                .or_default()
                .push_back(Mark { at: now, id });
        }
        Ok(Attempt {
            limits: self,
            id,
            account: account.to_string(),
            address,
            settled: false,
        })
    }
}

impl Book {
    /// The marks of `key` still within the window.
    fn current(&mut self, key: &Key, now: Instant) -> Option<&VecDeque<Mark>> {
        let marks = self.marks.get_mut(key)?;
        while marks
            .front()
            .is_some_and(|m| now.saturating_duration_since(m.at) >= WINDOW)
        {
            marks.pop_front();
        }
        Some(marks)
    }

    /// How long `key` must wait when it has `max` marks within the window.
    fn full(&mut self, key: &Key, now: Instant, max: usize) -> Option<Duration> {
        let marks = self.current(key, now)?;
        (marks.len() >= max).then(|| {
            marks.front().map_or(WINDOW, |m| {
                WINDOW.saturating_sub(now.saturating_duration_since(m.at))
            })
        })
    }

    /// How long the account must wait after its last failure, past the free ones.
    fn slowed(&mut self, account: &str, now: Instant) -> Option<Duration> {
        let marks = self.current(&Key::Account(account.to_string()), now)?;
        let over = marks.len().checked_sub(FREE_PER_ACCOUNT)?;
        let delay = Duration::from_secs(1 << (over + 1).min(6)).min(MAX_ACCOUNT_DELAY);
        let since = now.saturating_duration_since(marks.back()?.at);
        (since < delay).then(|| delay - since)
    }

    fn unmark(&mut self, keys: &[Key], id: u64) {
        for key in keys {
            if let Some(marks) = self.marks.get_mut(key) {
                marks.retain(|m| m.id != id);
                if marks.is_empty() {
                    self.marks.remove(key);
                }
            }
        }
    }

    /// Forgets what has expired, so memory holds only the last window's failures.
    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.swept = Some(now);
        self.marks.retain(|_, marks| {
            marks.retain(|m| now.saturating_duration_since(m.at) < WINDOW);
            !marks.is_empty()
        });
        self.known.retain(|_, addresses| {
            addresses.retain(|_, t| now.saturating_duration_since(*t) < KNOWN_FOR);
            !addresses.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("an address"))
    }

    fn fail(limits: &LoginLimits, account: &str, address: Option<IpAddr>, at: Instant) {
        limits
            .reserve_at(account, address, at)
            .expect("not limited yet")
            .failed();
    }

    #[test]
    fn failures_from_one_address_do_not_lock_the_owner_out_elsewhere() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for _ in 0..MAX_PER_PAIR {
            fail(&limits, "admin", ip("198.51.100.7"), t);
        }
        let refused = limits
            .reserve_at("admin", ip("198.51.100.7"), t)
            .err()
            .expect("the guesser waits");
        assert!(
            refused
                .message
                .contains("from your address: try again in 15 minutes"),
            "{}",
            refused.message
        );
        assert_eq!(refused.retry_after, WINDOW);
        // The owner, elsewhere, and other accounts from the guesser's address, go on.
        limits
            .reserve_at("admin", ip("203.0.113.1"), t)
            .expect("the owner is not locked out")
            .succeeded();
        limits
            .reserve_at("anna/", ip("198.51.100.7"), t)
            .expect("another account")
            .failed();
        // After the window the guesser may try again.
        assert!(
            limits
                .reserve_at("admin", ip("198.51.100.7"), t + WINDOW)
                .is_ok()
        );
    }

    #[test]
    fn a_success_clears_the_failures_of_its_address() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for _ in 0..MAX_PER_PAIR - 1 {
            fail(&limits, "anna/", ip("10.0.0.1"), t);
        }
        limits
            .reserve_at("anna/", ip("10.0.0.1"), t)
            .expect("one more")
            .succeeded();
        for _ in 0..MAX_PER_PAIR {
            fail(&limits, "anna/", ip("10.0.0.1"), t);
        }
        assert!(limits.reserve_at("anna/", ip("10.0.0.1"), t).is_err());
    }

    #[test]
    fn an_address_is_limited_over_all_accounts() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for i in 0..MAX_PER_ADDRESS {
            fail(&limits, &format!("user{i}/"), ip("10.9.9.9"), t);
        }
        let refused = limits
            .reserve_at("someone/", ip("10.9.9.9"), t)
            .err()
            .expect("the address waits");
        assert!(
            refused.message.contains("from your address"),
            "{}",
            refused.message
        );
        assert!(limits.reserve_at("someone/", ip("10.9.9.8"), t).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for i in 0..MAX_PER_PAIR {
            fail(&limits, "admin", ip(&format!("2001:db8:1:2::{i}")), t);
        }
        assert!(
            limits
                .reserve_at("admin", ip("2001:db8:1:2:ffff::9"), t)
                .is_err()
        );
        assert!(limits.reserve_at("admin", ip("2001:db8:1:3::1"), t).is_ok());
        // An IPv4 address written as IPv6 is the same address.
        for _ in 0..MAX_PER_PAIR {
            fail(&limits, "bob/", ip("192.0.2.1"), t);
        }
        assert!(
            limits
                .reserve_at("bob/", ip("::ffff:192.0.2.1"), t)
                .is_err()
        );
    }

    #[test]
    fn many_addresses_slow_an_account_down_but_never_lock_it() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        limits
            .reserve_at("admin", ip("192.0.2.200"), t)
            .expect("the owner logs in")
            .succeeded();
        for i in 0..FREE_PER_ACCOUNT {
            fail(&limits, "admin", ip(&format!("198.51.100.{i}")), t);
        }
        let refused = limits
            .reserve_at("admin", ip("198.51.100.99"), t)
            .err()
            .expect("slowed down");
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        assert!(
            refused.message.contains("try again in 2 seconds"),
            "{}",
            refused.message
        );
        // The owner's known address is not slowed.
        limits
            .reserve_at("admin", ip("192.0.2.200"), t)
            .expect("known address")
            .succeeded();
        // Each further failure doubles the wait, up to a minute, and no more.
        let mut at = t;
        let mut waits = Vec::new();
        for i in 0..8 {
            let wait = limits
                .reserve_at("admin", ip(&format!("203.0.113.{i}")), at)
                .err()
                .map_or(Duration::ZERO, |r| r.retry_after);
            waits.push(wait.as_secs());
            at += wait;
            fail(&limits, "admin", ip(&format!("203.0.113.{i}")), at);
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn an_attempt_dropped_unchecked_is_given_back() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for _ in 0..20 {
            drop(
                limits
                    .reserve_at("anna/", ip("10.0.0.1"), t)
                    .expect("given back each time"),
            );
        }
        assert!(limits.lock().marks.is_empty());
    }

    /// Reserves from 40 threads at once, each holding its attempt until all have tried (as
    /// a password check would); how many passed.
    fn forty_at_once(addresses: impl Fn(usize) -> Option<IpAddr>) -> usize {
        let limits = Arc::new(LoginLimits::default());
        let barrier = Arc::new(Barrier::new(40));
        let threads: Vec<_> = (0..40)
            .map(|i| {
                let (limits, barrier, address) = (limits.clone(), barrier.clone(), addresses(i));
                std::thread::spawn(move || {
                    barrier.wait();
                    let attempt = limits.reserve("target/", address);
                    let passed = attempt.is_ok();
                    barrier.wait();
                    if let Ok(a) = attempt {
                        a.failed();
                    }
                    passed
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .filter(|passed| *passed)
            .count()
    }

    #[test]
    fn concurrent_guesses_cannot_all_pass_the_limit() {
        assert_eq!(forty_at_once(|_| ip("198.51.100.7")), MAX_PER_PAIR);
        assert_eq!(
            forty_at_once(|i| ip(&format!("198.51.100.{i}"))),
            FREE_PER_ACCOUNT,
            "from 40 addresses"
        );
    }

    #[test]
    fn expired_entries_are_swept_from_memory() {
        let limits = LoginLimits::default();
        let t = Instant::now();
        for i in 0..100 {
            fail(
                &limits,
                "anna/",
                ip(&format!("10.0.{i}.1")),
                t + Duration::from_secs(i * 90),
            );
        }
        limits
            .reserve_at("bob/", ip("10.1.1.1"), t + Duration::from_secs(10_000))
            .expect("long after")
            .failed();
        let book = limits.lock();
        assert_eq!(book.marks.len(), 3, "only bob's failure is left");
    }
}
