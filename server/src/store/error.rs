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
    pub(super) fn is_transient(&self) -> bool {
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

/// The result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

pub(super) const MAX_ATTEMPTS: usize = 8;

/// The most credits a cycle may grant or use: 1,000 times the largest
/// single figure the API takes (10^12), far inside 64 bits.
pub const MAX_CYCLE_CREDITS: i64 = 1_000_000_000_000_000;
