//! Storage behind one interface: a [`Backend`] runs closures inside read or write
//! transactions on a [`Conn`] that executes SQL with positional `?` parameters. The ledger's
//! SQL is written once in the dialect both SQLite and PostgreSQL accept; only the schema
//! (migrations) differs per backend.

pub mod pg_tls;
pub mod postgres;
pub mod sqlite;

use std::fmt;

/// A SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// 64-bit integer (BIGINT / INTEGER).
    Int(i64),
    /// Double (DOUBLE PRECISION / REAL).
    Real(f64),
    /// Text.
    Text(String),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Real(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Int)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn at(&self, i: usize) -> Result<&Val, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Decode(format!("column {i} missing")))
    }

    /// Integer column (NULL is an error).
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            Val::Int(v) => Ok(*v),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }

    /// Integer column or NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }

    /// Non-negative integer column as `u64`.
    pub fn uint(&self, i: usize) -> Result<u64, StoreError> {
        let v = self.int(i)?;
        u64::try_from(v).map_err(|_| StoreError::Decode(format!("column {i}: negative {v}")))
    }

    /// Floating point column (integers are widened; NULL is 0).
    pub fn real(&self, i: usize) -> Result<f64, StoreError> {
        match self.at(i)? {
            Val::Real(v) => Ok(*v),
            Val::Int(v) => Ok(*v as f64),
            Val::Null => Ok(0.0),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected number, got {other:?}"
            ))),
        }
    }

    /// Text column.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            Val::Text(v) => Ok(v.clone()),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    /// Text column or NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Text(v) => Ok(Some(v.clone())),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot open the ledger database: {0}")]
    Open(String),
    /// A statement failed.
    #[error("ledger database: {0}")]
    Sql(String),
    /// A value read back has an unexpected type.
    #[error("ledger database returned an unexpected value: {0}")]
    Decode(String),
    /// The schema is newer than this program or a migration failed.
    #[error("ledger schema: {0}")]
    Schema(String),
    /// Ledger logic refused the operation (the transaction was rolled back).
    #[error("{0}")]
    Logic(String),
}

/// Which database a backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        })
    }
}

/// A connection inside a transaction.
pub trait Conn {
    /// Runs one statement with `?` parameters; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Runs one query with `?` parameters; returns every row.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    /// Runs several statements without parameters (migrations).
    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError>;
}

/// A transaction body.
pub type TxBody<'a> = dyn FnMut(&mut dyn Conn) -> Result<(), StoreError> + Send + 'a;

/// A ledger database.
pub trait Backend: Send + Sync {
    /// Which database this is.
    fn kind(&self) -> BackendKind;
    /// Runs `body` in a write transaction, serialised against every other writer (also in
    /// other processes / pool nodes); commits when it returns `Ok`, rolls back otherwise.
    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError>;
    /// Runs `body` in a read-only transaction seeing one consistent snapshot.
    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError>;
}

/// Runs `f` in a write transaction and returns its value.
pub fn write_tx<R: Send>(
    backend: &dyn Backend,
    mut f: impl FnMut(&mut dyn Conn) -> Result<R, StoreError> + Send,
) -> Result<R, StoreError> {
    let mut out = None;
    backend.write(&mut |c| {
        out = Some(f(c)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Logic("transaction produced no result".into()))
}

/// Runs `f` in a read transaction and returns its value.
pub fn read_tx<R: Send>(
    backend: &dyn Backend,
    mut f: impl FnMut(&mut dyn Conn) -> Result<R, StoreError> + Send,
) -> Result<R, StoreError> {
    let mut out = None;
    backend.read(&mut |c| {
        out = Some(f(c)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Logic("transaction produced no result".into()))
}

/// One schema migration: `NNNN_name.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version (the `NNNN`).
    pub version: i64,
    /// Name (the rest of the file name).
    pub name: &'static str,
    /// SQL text.
    pub sql: &'static str,
}

/// Migrations of the SQLite schema, oldest first.
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "work_journal",
        sql: include_str!("../../../migrations/sqlite/0002_work_journal.sql"),
    },
    Migration {
        version: 3,
        name: "declared_blocks",
        sql: include_str!("../../../migrations/sqlite/0003_declared_blocks.sql"),
    },
];

/// Migrations of the PostgreSQL schema, oldest first.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "work_journal",
        sql: include_str!("../../../migrations/postgres/0002_work_journal.sql"),
    },
    Migration {
        version: 3,
        name: "declared_blocks",
        sql: include_str!("../../../migrations/postgres/0003_declared_blocks.sql"),
    },
];

/// Applies the migrations newer than the database's `schema_version`; returns the version
/// the database is at afterwards.
pub fn migrate(backend: &dyn Backend, migrations: &[Migration]) -> Result<i64, StoreError> {
    let latest = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    write_tx(backend, |c| {
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )?;
        let current = c
            .query(
                "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_version",
                &[],
            )?
            .first()
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0);
        if current > latest {
            return Err(StoreError::Schema(format!(
                "the database is at schema version {current}, this sv2-pool knows up to {latest}: upgrade sv2-pool"
            )));
        }
        for m in migrations.iter().filter(|m| m.version > current) {
            c.execute_batch(m.sql).map_err(|e| {
                StoreError::Schema(format!("migration {:04}_{}: {e}", m.version, m.name))
            })?;
            c.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                &[
                    Val::Int(m.version),
                    Val::from(m.name),
                    Val::Int(crate::accounting::unix_now() as i64),
                ],
            )?;
        }
        Ok(latest)
    })
}

/// Rewrites `?` placeholders as `$1, $2, ...` (PostgreSQL), leaving quoted text alone.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                out.push(ch);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            (None, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d > ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d > $2"
        );
    }

    #[test]
    fn row_decoding() {
        let r = Row(vec![
            Val::Int(3),
            Val::Null,
            Val::Text("x".into()),
            Val::Real(1.5),
        ]);
        assert_eq!(r.int(0).unwrap(), 3);
        assert_eq!(r.opt_int(1).unwrap(), None);
        assert_eq!(r.text(2).unwrap(), "x");
        assert_eq!(r.real(3).unwrap(), 1.5);
        assert_eq!(r.real(0).unwrap(), 3.0);
        assert!(r.int(2).is_err());
        assert!(r.int(9).is_err());
        assert!(Row(vec![Val::Int(-1)]).uint(0).is_err());
    }
}
