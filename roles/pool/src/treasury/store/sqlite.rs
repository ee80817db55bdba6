//! SQLite backend: one file in WAL mode, `synchronous = FULL` (a committed block survives a
//! crash or power loss), write transactions with `BEGIN IMMEDIATE`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use super::{Backend, BackendKind, Conn, Row, StoreError, TxBody, Val};

/// An open SQLite ledger file.
pub struct SqliteBackend {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError::Sql(e.to_string())
}

impl SqliteBackend {
    /// Opens (creating it and its directory if needed) the file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(sql_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open(format!(
                "{}: cannot switch to WAL mode (got `{mode}`)",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(sql_err)?;
        Ok(SqliteBackend {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run(&self, begin: &str, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Sql("connection mutex poisoned".into()))?;
        conn.execute_batch(begin).map_err(sql_err)?;
        let mut c = SqliteConn { conn: &conn };
        match body(&mut c) {
            Ok(()) => match conn.execute_batch("COMMIT") {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(sql_err(e))
                }
            },
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl Backend for SqliteBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run("BEGIN IMMEDIATE", body)
    }

    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run("BEGIN DEFERRED", body)
    }
}

struct SqliteConn<'a> {
    conn: &'a Connection,
}

fn to_value(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Int(i) => Value::Integer(*i),
        Val::Real(f) => Value::Real(*f),
        Val::Text(s) => Value::Text(s.clone()),
    }
}

fn from_ref(v: ValueRef<'_>) -> Result<Val, StoreError> {
    Ok(match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) => Val::Text(
            std::str::from_utf8(t)
                .map_err(|e| StoreError::Decode(e.to_string()))?
                .to_owned(),
        ),
        ValueRef::Blob(_) => return Err(StoreError::Decode("unexpected blob".into())),
    })
}

impl Conn for SqliteConn<'_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_err)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter().map(to_value)))
            .map_err(sql_err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_err)?;
        let cols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(to_value)))
            .map_err(sql_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sql_err)? {
            let mut vals = Vec::with_capacity(cols);
            for i in 0..cols {
                vals.push(from_ref(r.get_ref(i).map_err(sql_err)?)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(sql_err)
    }
}
