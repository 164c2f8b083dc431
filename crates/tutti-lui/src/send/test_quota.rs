//! How many addresses each account's test sends went to per day (UTC), so that test sends
//! stay within `TestSendMaxPerDay` however many calls come at once.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::database::Database;

/// A day as stored: days since 1970-01-01, UTC.
pub fn day_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

/// When `day` ends and the count starts again.
pub fn end_of(day: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(day.saturating_add(1).saturating_mul(86_400), 0).unwrap_or_default()
}

#[derive(Clone)]
pub struct TestQuota {
    db: Database,
}

impl TestQuota {
    pub fn new(db: Database) -> TestQuota {
        TestQuota { db }
    }

    /// Counts `n` addresses for `account` on `day` if that keeps the day within `cap`, in
    /// one statement (two calls at once cannot both pass); false, counting nothing, if not.
    pub async fn reserve(&self, account: i64, day: i64, n: i64, cap: i64) -> sqlx::Result<bool> {
        if n > cap {
            return Ok(false);
        }
        // Earlier days count no more.
        sqlx::query("DELETE FROM test_send_counts WHERE day < $1")
            .bind(day)
            .execute(&self.db.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO test_send_counts (account_id, day, addresses) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, day) DO UPDATE SET addresses = test_send_counts.addresses + $3 \
             WHERE test_send_counts.addresses + $3 <= $4",
        )
        .bind(account)
        .bind(day)
        .bind(n)
        .bind(cap)
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives back addresses counted for a test send that did not go out.
    pub async fn give_back(&self, account: i64, day: i64, n: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE test_send_counts SET addresses = addresses - $3 WHERE account_id = $1 AND day = $2",
        )
        .bind(account)
        .bind(day)
        .bind(n)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The addresses counted for `account` on `day`.
    pub async fn used(&self, account: i64, day: i64) -> sqlx::Result<i64> {
        Ok(
            sqlx::query(
                "SELECT addresses FROM test_send_counts WHERE account_id = $1 AND day = $2",
            )
            .bind(account)
            .bind(day)
            .fetch_optional(&self.db.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::database::testing;

    #[test]
    fn days_are_utc_and_end_at_midnight() {
        let t = DateTime::parse_from_rfc3339("2026-03-04T23:59:59Z")
            .unwrap()
            .to_utc();
        let day = day_of(t);
        assert_eq!(end_of(day).to_rfc3339(), "2026-03-05T00:00:00+00:00");
        assert_eq!(day_of(end_of(day)), day + 1);
    }

    #[tokio::test]
    async fn a_day_is_capped_per_account_and_the_next_day_starts_again() {
        for t in testing::both().await {
            let q = TestQuota::new(t.db.clone());
            assert!(q.reserve(1, 100, 3, 5).await.unwrap());
            assert!(!q.reserve(1, 100, 3, 5).await.unwrap(), "6 of 5");
            assert_eq!(q.used(1, 100).await.unwrap(), 3, "a refusal counts nothing");
            assert!(q.reserve(1, 100, 2, 5).await.unwrap(), "exactly 5");
            assert!(!q.reserve(1, 100, 1, 5).await.unwrap());
            assert!(
                !q.reserve(2, 100, 6, 5).await.unwrap(),
                "more than the cap at once"
            );
            assert!(q.reserve(2, 100, 5, 5).await.unwrap(), "another account");
            q.give_back(1, 100, 2).await.unwrap();
            assert!(q.reserve(1, 100, 2, 5).await.unwrap(), "given back");
            assert!(q.reserve(1, 101, 5, 5).await.unwrap(), "the next day");
            assert_eq!(q.used(1, 100).await.unwrap(), 0, "old days are dropped");
        }
    }
}
