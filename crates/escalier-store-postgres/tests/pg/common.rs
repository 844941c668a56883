//! A fresh database per test, and events to append.

use escalier_core::event::Origin;
use escalier_core::{Event, Source, Timestamp};
use escalier_store::writer::InputBatch;
use escalier_store_postgres::{PgBackend, PgOptions};

/// A database of its own, dropped at the end of the test.
pub struct TestDb {
    base: String,
    name: String,
    /// URL of the database.
    pub url: String,
}

/// The test database, or `None` (after saying so loudly) without a server.
pub fn db() -> Option<TestDb> {
    db_at("ESCALIER_TEST_POSTGRES")
}

/// A database on the server whose URL is in the environment variable `var`.
pub fn db_at(var: &str) -> Option<TestDb> {
    let Ok(base) = std::env::var(var) else {
        eprintln!("\n*** SKIPPED: {var} not set (a PostgreSQL URL, e.g. from scripts/pg) ***\n");
        return None;
    };
    let name = format!("escalier_t_{:016x}", rand::random::<u64>());
    admin(&base, format!("CREATE DATABASE {name}"));
    let url = with_database(&base, &name);
    Some(TestDb { base, name, url })
}

impl TestDb {
    pub fn connect(&self, opts: PgOptions) -> PgBackend {
        PgBackend::connect(&self.url, opts).expect("connects and migrates")
    }

    /// Run SQL in the test database (setup, inspection).
    pub fn sql(&self, sql: &str) {
        admin(&self.url, sql.to_owned());
    }

    /// Run SQL from the server's first database; `{db}` stands for the
    /// test database's name.
    pub fn sql_from_outside(&self, sql: &str) {
        admin(&self.base, sql.replace("{db}", &self.name));
    }

    /// One text value of a query.
    pub fn query_text(&self, sql: &str) -> String {
        first(&self.url, sql)
    }

    /// One bigint of a query.
    pub fn query_i64(&self, sql: &str) -> i64 {
        first(&self.url, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        admin(
            &self.base,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// `base` with its database name replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (main, query) = match base.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (base, None),
    };
    let scheme_end = main.find("://").map_or(0, |i| i + 3);
    let root = match main[scheme_end..].find('/') {
        Some(i) => &main[..scheme_end + i],
        None => main,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

fn admin(url: &str, sql: String) {
    let url = url.to_owned();
    on_thread(move || async move {
        let client = client(&url).await;
        client.batch_execute(&sql).await.expect("admin statement");
    });
}

/// The first column of the one row `sql` returns.
fn first<T>(url: &str, sql: &str) -> T
where
    T: for<'a> tokio_postgres::types::FromSql<'a> + Send + 'static,
{
    let (url, sql) = (url.to_owned(), sql.to_owned());
    on_thread(move || async move {
        let client = client(&url).await;
        client.query_one(&sql, &[]).await.expect("query").get(0)
    })
}

/// A plain connection for setup and inspection.
async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("admin connects");
    tokio::spawn(conn);
    client
}

/// Run a future to completion on a thread of its own (tests may call this
/// from inside a runtime).
fn on_thread<T, F, Fut>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .join()
    .expect("admin thread")
}

pub fn ev(json: &str) -> Event {
    Event::decode_one(json, Origin::External).expect("test event decodes")
}

pub fn created(event_id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:00:00Z",
            "data":{{"subject":"Printer on fire","requester":{{"id":"c1"}},"channel":"email"}}}}"#
    ))
}

pub fn status(event_id: &str, ticket: &str, to: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"status.changed","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:05:00Z","data":{{"status":"{to}"}}}}"#
    ))
}

pub fn comment(event_id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"comment.added","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:06:00Z",
            "data":{{"author":{{"kind":"customer"}},"body":"hello"}}}}"#
    ))
}

pub fn batch(events: Vec<Event>) -> InputBatch {
    InputBatch {
        events,
        source: Source::Webhook { delivery: None },
    }
}

pub fn now() -> Timestamp {
    "2026-03-02T09:00:00Z".parse().expect("timestamp")
}
