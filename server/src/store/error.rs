//! What can go wrong in the store, and the engines it speaks to.

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The fields (`user_id`, `campaign_id`, `identity_id`) whose ids the
    /// workspace does not hold.
    #[error("unknown references: {0:?}")]
    UnknownReferences(Vec<&'static str>),
    /// A field the request cannot have, as it stands (`422`).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// At a cap (concurrent exports): retry in a moment (`503`).
    #[error("busy: {0}")]
    Busy(&'static str),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: {0}")]
    BadUrl(String),
    #[error("cannot create the database folder: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Failures that a retry of the whole transaction resolves.
    pub fn is_transient(&self) -> bool {
        let StoreError::Db(sqlx::Error::Database(e)) = self else {
            return false;
        };
        matches!(
            e.code().as_deref(),
            // PostgreSQL: unique race, serialization failure, deadlock, lock timeout.
            Some("23505") | Some("40001") | Some("40P01") | Some("55P03")
            // SQLite: busy, locked (a busy_timeout ran out).
            | Some("5") | Some("6") | Some("517") | Some("262")
        ) || e.message().contains("database is locked")
    }
}

impl StoreError {
    /// The database cannot be reached or cannot take the write just now
    /// (a connection refused or dropped, the pool's wait run out, the
    /// server shutting down or starting, a full disk): the request is
    /// answered `503` at once and a retry later succeeds, while the same
    /// statement on a healthy database would not fail.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Busy(_) => true,
            StoreError::Db(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(d) => {
                    let code = d.code().unwrap_or_default();
                    // PostgreSQL: connection exceptions (08…), the server
                    // shutting down or starting (57P01-57P03), out of disk,
                    // memory or connections (53…). SQLite: disk full (13),
                    // I/O errors (10 and its extended codes), cannot open (14).
                    code.starts_with("08")
                        || code.starts_with("57P")
                        || code.starts_with("53")
                        || code == "13"
                        || code == "14"
                        || code == "10"
                        // SQLite's extended I/O codes (266, 522, …; at
                        // most four digits, where PostgreSQL's have five).
                        || (code.len() <= 4 && code.parse::<u32>().is_ok_and(|c| c & 0xff == 10))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// The result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

pub(super) const MAX_ATTEMPTS: usize = 8;

/// The most credits a cycle may grant or use: 1,000 times the largest
/// single figure the API takes (10^12), far inside 64 bits.
pub const MAX_CYCLE_CREDITS: i64 = 1_000_000_000_000_000;
