//! For tests (here and, with the `testing` feature, the end-to-end tests): a PostgreSQL
//! database of its own for one test, made under `TUTTI_TEST_DATABASE_URL` (whose role may
//! create databases) and dropped afterwards. `None` outside CI when the variable is unset,
//! so a developer without PostgreSQL still runs the SQLite half.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use sqlx::any::AnyPoolOptions;

pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("TUTTI_TEST_DATABASE_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set TUTTI_TEST_DATABASE_URL (scripts/test does)"
            );
            eprintln!("TUTTI_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped");
            return None;
        };
        sqlx::any::install_default_drivers();
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let name = format!("tutti_e2e_{:016x}", u64::from_le_bytes(random));
        let admin = AnyPoolOptions::new().connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        Some(PgDatabase {
            url: url.to_string(),
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = AnyPoolOptions::new().connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
            });
        })
        .join()
        .ok();
    }
}
