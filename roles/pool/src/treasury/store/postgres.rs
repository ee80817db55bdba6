//! PostgreSQL backend (the synchronous `postgres` client) for several pool nodes sharing one
//! ledger. Write transactions take a transaction-scoped advisory lock so ledger updates of all
//! nodes are serialised; reads run in REPEATABLE READ snapshots.
//!
//! The client drives its own small runtime, which may not be entered from inside a tokio
//! runtime: when called from one, the transaction runs on a short-lived scoped thread.
//!
//! TLS follows the URL's `sslmode` / `sslrootcert` as libpq does (see [`super::pg_tls`]).

use std::error::Error;
use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, IsolationLevel};
use postgres_native_tls::MakeTlsConnector;

use super::pg_tls::{self, PgTarget};
use super::{numbered_placeholders, Backend, BackendKind, Conn, Row, StoreError, TxBody, Val};

/// Key of the advisory lock that serialises ledger writers.
const WRITE_LOCK_KEY: i64 = 0x5632_7472_6561_7379; // "V2treasy"

/// A PostgreSQL ledger.
pub struct PostgresBackend {
    target: PgTarget,
    tls: MakeTlsConnector,
    client: Mutex<Option<Client>>,
}

fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Sql(format!("{}: {}", db.code().code(), db.message())),
        None => StoreError::Sql(e.to_string()),
    }
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/db`, optionally with libpq's
    /// `sslmode` and `sslrootcert`).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let target = pg_tls::parse_url(url)
            .map_err(|e| StoreError::Open(format!("{}: {e}", redact(url))))?;
        let tls = pg_tls::connector(&target)?;
        let backend = PostgresBackend {
            target,
            tls,
            client: Mutex::new(None),
        };
        backend.on_plain_thread(|| {
            let c = backend.open()?;
            if let Ok(mut slot) = backend.client.lock() {
                *slot = Some(c);
            }
            Ok(())
        })?;
        Ok(backend)
    }

    fn open(&self) -> Result<Client, StoreError> {
        Client::connect(&self.target.url, self.tls.clone()).map_err(|e| {
            // The client's message alone hides the cause of a failed TLS handshake.
            let mut detail = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                let text = s.to_string();
                if !detail.contains(&text) {
                    detail.push_str(&format!(": {text}"));
                }
                source = s.source();
            }
            StoreError::Open(format!("{}: {detail}", redact(&self.target.configured)))
        })
    }

    /// Runs `f` where the client's internal runtime may block: directly, or on a scoped thread
    /// when the caller is inside a tokio runtime.
    fn on_plain_thread<R: Send>(
        &self,
        f: impl FnOnce() -> Result<R, StoreError> + Send,
    ) -> Result<R, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return f();
        }
        std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .map_err(|_| StoreError::Sql("ledger transaction thread panicked".into()))?
        })
    }

    fn run(&self, write: bool, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.on_plain_thread(|| {
            let mut slot = self
                .client
                .lock()
                .map_err(|_| StoreError::Sql("client mutex poisoned".into()))?;
            if slot.as_ref().is_none_or(|c| c.is_closed()) {
                *slot = Some(self.open()?);
            }
            let client = slot
                .as_mut()
                .ok_or_else(|| StoreError::Open("no connection".into()))?;
            let result = Self::transaction(client, write, body);
            if client.is_closed() {
                *slot = None;
            }
            result
        })
    }

    fn transaction(
        client: &mut Client,
        write: bool,
        body: &mut TxBody<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = if write {
            client.transaction().map_err(pg_err)?
        } else {
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(pg_err)?
        };
        if write {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK_KEY])
                .map_err(pg_err)?;
        }
        let mut conn = PgConn { tx: &mut tx };
        body(&mut conn)?;
        tx.commit().map_err(pg_err)
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Backend for PostgresBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run(true, body)
    }

    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run(false, body)
    }
}

struct PgConn<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_string().as_str().to_sql(ty, out),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => Err(format!("cannot bind a number to a {ty} parameter").into()),
            },
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::FLOAT8
                | Type::FLOAT4
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
        )
    }

    postgres::types::to_sql_checked!();
}

fn decode(row: &postgres::Row, i: usize) -> Result<Val, StoreError> {
    let ty = row
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .ok_or_else(|| StoreError::Decode(format!("column {i} missing")))?;
    let d = |e: postgres::Error| StoreError::Decode(format!("column {i}: {e}"));
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(d)?
            .map_or(Val::Null, Val::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(d)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(d)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(d)?
            .map_or(Val::Null, |v| Val::Int(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(d)?
            .map_or(Val::Null, Val::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(d)?
            .map_or(Val::Null, |v| Val::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)
            .map_err(d)?
            .map_or(Val::Null, Val::Text),
        Type::VOID => Val::Null,
        other => {
            return Err(StoreError::Decode(format!(
                "column {i} has type {other}; CAST it to BIGINT / DOUBLE PRECISION / TEXT"
            )))
        }
    })
}

fn bind(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        self.tx
            .execute(numbered_placeholders(sql).as_str(), &bind(params))
            .map_err(pg_err)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let rows = self
            .tx
            .query(numbered_placeholders(sql).as_str(), &bind(params))
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| decode(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx.batch_execute(sql).map_err(pg_err)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(
            super::redact("postgres://pool:secret@127.0.0.1:5432/ledger"),
            "postgres://pool:***@127.0.0.1:5432/ledger"
        );
        assert_eq!(
            super::redact("postgres://localhost/x"),
            "postgres://localhost/x"
        );
    }
}
