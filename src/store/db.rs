//! One way to talk to either back end of the state: SQLite (a file, the default) or
//! PostgreSQL (one database shared by several nodes).
//!
//! Every query is written once, in SQL both engines run, with `?N` parameters; the few
//! differences are translated here: PostgreSQL's `$N` marks, SQLite's `INDEXED BY` hints
//! (dropped for PostgreSQL) and row locks (`FOR UPDATE SKIP LOCKED`, dropped for SQLite,
//! where one process writes at a time). Values cross as three kinds (integer, text, null),
//! so the store never names a driver's types and each of its functions has one body.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A value passed to or read from a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(v.into())
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v.into())
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of one query: `args![a, b, c]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($value)),*][..]
    };
}
pub(crate) use args;

/// A value read back, as the type the caller wants.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<i64> {
        match value {
            Value::Int(v) => Some(*v),
            Value::Text(t) => t.parse().ok(),
            Value::Null => None,
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Option<u64> {
        i64::from_value(value).map(|v| v.max(0) as u64)
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Option<u32> {
        i64::from_value(value).map(|v| v.clamp(0, u32::MAX.into()) as u32)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<bool> {
        i64::from_value(value).map(|v| v != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<String> {
        match value {
            Value::Text(t) => Some(t.clone()),
            Value::Int(v) => Some(v.to_string()),
            Value::Null => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `i` as it came (NULL when there is no such column).
    pub fn value(&self, i: usize) -> Value {
        self.0.get(i).cloned().unwrap_or(Value::Null)
    }

    /// Column `i` as `T`; a missing column, or a NULL or mismatched one where `T` cannot
    /// hold it, is an error naming the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        self.0
            .get(i)
            .and_then(T::from_value)
            .ok_or_else(|| DbError(format!("column {i} of a result has an unexpected value")))
    }
}

/// What the database said, as text (the driver's own error types stay here).
#[derive(Debug, Clone)]
pub struct DbError(pub String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError(e.to_string())
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        // The server's own words (with its code) say more than the driver's summary.
        if let Some(db) = e.as_db_error() {
            return DbError(format!("{} ({})", db.message(), db.code().code()));
        }
        // The driver's own words are a summary ("error performing TLS handshake"); the
        // causes under it say what went wrong ("invalid peer certificate: UnknownIssuer").
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            cause = inner.source();
        }
        DbError(text)
    }
}

/// An open connection to one of the two back ends.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

/// A PostgreSQL connection with its prepared statements; connected again when the server
/// closed it (a restart, a failover), which also forgets any advisory lock it held.
pub struct Pg {
    config: postgres::Config,
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    /// Bumped at every new connection: a session-level lock is held only by the session
    /// that took it.
    pub session: u64,
}

/// How long a statement (or a wait for a row lock) may take before it is abandoned, and
/// how long a session may sit in an open transaction (one left open by a stalled node would
/// hold its rows from every other).
const PG_STATEMENT_TIMEOUT: &str = "SET statement_timeout = '60s'; SET lock_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'";

/// How long a server has to answer the first byte of a connection.
const PG_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether something that speaks PostgreSQL answers at each TCP host of `config`: the
/// client's own timeout covers only the TCP connect, and a port that accepts and never
/// answers (a wrong service, a hung proxy) would hang every command. It sends the 8-byte
/// request for TLS every server answers at once (`S` or `N`) and closes.
fn answers(config: &postgres::Config) -> Result<(), DbError> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let postgres::config::Host::Tcp(name) = host else {
            continue;
        };
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(PG_ANSWER_TIMEOUT);
        let unanswered = |why: String| DbError(format!("{name}:{port} {why}"));
        let Some(address) = (name.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| unanswered(format!("cannot be resolved: {e}")))?
            .next()
        else {
            continue;
        };
        let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
            .map_err(|e| unanswered(format!("refuses the connection: {e}")))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| unanswered(e.to_string()))?;
        // SSLRequest: length 8, code 80877103.
        stream
            .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .map_err(|e| unanswered(format!("cannot be written to: {e}")))?;
        let mut answer = [0u8; 1];
        match stream.read(&mut answer) {
            Ok(1) if matches!(answer[0], b'S' | b'N') => {}
            Ok(_) => return Err(unanswered("does not answer as PostgreSQL does".into())),
            Err(_) => {
                return Err(unanswered(format!(
                    "accepted the connection but did not answer within {} s: is it PostgreSQL?",
                    timeout.as_secs()
                )));
            }
        }
    }
    Ok(())
}

impl Pg {
    /// Connects as `config` says: TLS as its `sslmode` asks (rustls, with the Mozilla
    /// roots), plain otherwise.
    pub fn connect(config: postgres::Config) -> Result<Pg, DbError> {
        let client = open_client(&config)?;
        Ok(Pg {
            config,
            client,
            statements: HashMap::new(),
            session: 0,
        })
    }

    /// The client, connected again first when the last connection was lost.
    fn client(&mut self) -> Result<&mut postgres::Client, DbError> {
        if self.client.is_closed() {
            self.client = open_client(&self.config)?;
            self.statements.clear();
            self.session += 1;
        }
        Ok(&mut self.client)
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let translated = to_postgres(sql);
        let statement = self.client()?.prepare(&translated)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<postgres::Row>, DbError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        Ok(self.client()?.query(&statement, &params)?)
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        Ok(self.client()?.execute(&statement, &params)?)
    }
}

fn open_client(config: &postgres::Config) -> Result<postgres::Client, DbError> {
    answers(config)?;
    let mut client = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable => config.connect(postgres::NoTls)?,
        _ => config.connect(tls()?)?,
    };
    client.batch_execute(PG_STATEMENT_TIMEOUT)?;
    Ok(client)
}

/// rustls, the same stack the HTTP and SMTP clients use. The server's certificate must
/// chain to the Mozilla roots or to the certificates in the file `PGSSLROOTCERT` names
/// (libpq's variable; managed databases often sign with a CA of their own), and name the
/// host connected to.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = std::env::var_os("PGSSLROOTCERT") {
        let shown = std::path::Path::new(&file).display().to_string();
        let certs = CertificateDer::pem_file_iter(&file)
            .map_err(|e| DbError(format!("PGSSLROOTCERT `{shown}`: {e}")))?;
        for cert in certs {
            let cert = cert.map_err(|e| DbError(format!("PGSSLROOTCERT `{shown}`: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| DbError(format!("PGSSLROOTCERT `{shown}`: {e}")))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| {
            builder
                .with_root_certificates(roots.clone())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        });
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Reads a `postgres://` URL: the password from `PGPASSWORD` when the URL has none, a
/// bounded wait to connect, and `tidings` as the application name the server shows.
pub fn pg_config(url: &str) -> Result<postgres::Config, DbError> {
    let url = libpq_ssl_modes(url)?;
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| DbError(format!("the address cannot be read: {e}")))?;
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("tidings");
    }
    // A connection whose peer vanished (a machine gone, a NAT timed out) is found in a
    // minute, not the two hours of the system's default.
    config.keepalives(true);
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    Ok(config)
}

/// libpq's `sslmode` values the client does not know by name: `verify-ca` and
/// `verify-full` are what every TLS connection here does anyway (the certificate must chain
/// to a trusted root and name the host), so they are read as `require`; any other unknown
/// value is refused naming `sslmode`.
fn libpq_ssl_modes(url: &str) -> Result<String, DbError> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Ok(url.to_owned());
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut changed = false;
    for (key, value) in parsed.query_pairs() {
        let value = if key == "sslmode" {
            match value.as_ref() {
                "disable" | "prefer" | "require" => value.into_owned(),
                "verify-ca" | "verify-full" => {
                    changed = true;
                    "require".to_owned()
                }
                other => {
                    return Err(DbError(format!(
                        "`sslmode={other}` is not one of disable, prefer, require, verify-ca, verify-full"
                    )));
                }
            }
        } else {
            value.into_owned()
        };
        pairs.push((key.into_owned(), value));
    }
    if !changed {
        return Ok(url.to_owned());
    }
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    Ok(parsed.to_string())
}

/// A URL with its password left out, to show in messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            // Query parameters may carry a password too.
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" { "***".into() } else { v };
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            if !pairs.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => "(a PostgreSQL address that cannot be read)".into(),
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_string().to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
    })
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Int(v as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(match simdutf8::basic::from_utf8(t) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
    }
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Runs one statement; returns the rows it changed.
    pub fn exec(&self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let sql = to_sqlite(sql);
                let changed = conn
                    .prepare_cached(&sql)?
                    .execute(rusqlite::params_from_iter(args))?;
                Ok(changed as u64)
            }
            Db::Postgres(pg) => pg.borrow_mut().execute(sql, args),
        }
    }

    /// Every row of a query (or of a statement with `RETURNING`).
    pub fn rows(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let sql = to_sqlite(sql);
                let mut statement = conn.prepare_cached(&sql)?;
                let columns = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(args))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(sqlite_value(row.get_ref(i)?));
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            Db::Postgres(pg) => {
                let rows = pg.borrow_mut().query(sql, args)?;
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| pg_value(row, i))
                            .collect::<Result<Vec<_>, _>>()
                            .map(Row)
                            .map_err(DbError::from)
                    })
                    .collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub fn row(&self, sql: &str, args: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }

    /// The first row of a query that always returns one (an aggregate).
    pub fn one(&self, sql: &str, args: &[Value]) -> Result<Row, DbError> {
        self.row(sql, args)?
            .ok_or_else(|| DbError("a query that always answers returned no row".into()))
    }

    /// Runs several statements without parameters (migrations, transaction control).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(pg) => Ok(pg.borrow_mut().client()?.batch_execute(sql)?),
        }
    }

    /// The PostgreSQL session number (0 for SQLite): it changes when the connection was
    /// made again, which drops the session's advisory locks.
    pub fn session(&self) -> u64 {
        match self {
            Db::Sqlite(_) => 0,
            Db::Postgres(pg) => pg.borrow().session,
        }
    }
}

/// SQLite runs the shared SQL as written but for row locks, which it has no use for (one
/// process writes a state file at a time).
fn to_sqlite(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains(" FOR UPDATE SKIP LOCKED") {
        sql.replace(" FOR UPDATE SKIP LOCKED", "").into()
    } else {
        sql.into()
    }
}

/// `?N` becomes `$N` (outside quoted text) and `INDEXED BY name` and `NOT INDEXED` hints
/// go: PostgreSQL's planner picks its indexes itself.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    while let Some(at) = out.find(" INDEXED BY ") {
        let rest = &out[at + " INDEXED BY ".len()..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        out.replace_range(at..at + " INDEXED BY ".len() + name_len, "");
    }
    out.replace(" NOT INDEXED", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libpq's verifying modes are accepted (and verify, as every TLS connection here
    /// does); a misspelt one is refused naming the key.
    #[test]
    fn libpq_ssl_modes_are_read_and_a_wrong_one_named() {
        for mode in ["verify-full", "verify-ca", "require"] {
            let config = pg_config(&format!("postgres://u@db.example/x?sslmode={mode}")).unwrap();
            assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);
        }
        let error = pg_config("postgres://u@db.example/x?sslmode=verify_full").unwrap_err();
        assert!(error.0.contains("sslmode=verify_full"), "{}", error.0);
    }

    #[test]
    fn shared_sql_becomes_each_dialect() {
        assert_eq!(
            to_postgres(
                "SELECT d.id FROM deliveries d INDEXED BY deliveries_pending WHERE d.x = ?1 AND y = '?2' LIMIT ?12"
            ),
            "SELECT d.id FROM deliveries d WHERE d.x = $1 AND y = '?2' LIMIT $12"
        );
        assert_eq!(
            to_sqlite("SELECT id FROM t WHERE a = ?1 FOR UPDATE SKIP LOCKED"),
            "SELECT id FROM t WHERE a = ?1"
        );
    }

    #[test]
    fn placeholders_inside_quoted_text_are_left_alone() {
        // A doubled quote inside a string toggles twice: `?3` after it is still quoted.
        assert_eq!(
            to_postgres("SELECT 'it''s ?3', ?1 WHERE a = '?' AND b = ?2"),
            "SELECT 'it''s ?3', $1 WHERE a = '?' AND b = $2"
        );
        // A `?` without a number is not a placeholder (JSON operators, say).
        assert_eq!(to_postgres("SELECT a ? b, ?1"), "SELECT a ? b, $1");
        assert_eq!(to_postgres("no parameters"), "no parameters");
    }

    #[test]
    fn every_index_hint_goes() {
        assert_eq!(
            to_postgres(
                "SELECT 1 FROM a INDEXED BY a_by_x JOIN b INDEXED BY b_2 ON a.x = b.x WHERE a.y = ?1"
            ),
            "SELECT 1 FROM a JOIN b ON a.x = b.x WHERE a.y = $1"
        );
        assert_eq!(
            to_postgres("SELECT * FROM t INDEXED BY t_last"),
            "SELECT * FROM t"
        );
        assert_eq!(
            to_postgres("UPDATE t NOT INDEXED SET x = 1 WHERE id IN (?1)"),
            "UPDATE t SET x = 1 WHERE id IN ($1)"
        );
    }

    #[test]
    fn sqlite_keeps_everything_but_row_locks() {
        let shared = "SELECT id FROM t WHERE a = ?1 ORDER BY id LIMIT ?2";
        assert!(matches!(to_sqlite(shared), std::borrow::Cow::Borrowed(s) if s == shared));
        assert_eq!(
            to_sqlite("SELECT id FROM t FOR UPDATE SKIP LOCKED LIMIT 1"),
            "SELECT id FROM t LIMIT 1"
        );
    }

    #[test]
    fn passwords_are_left_out_of_shown_addresses() {
        let shown = redact("postgres://tidings:s3cret@db.example:5432/site?password=other");
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
        assert!(shown.contains("db.example:5432/site"), "{shown}");
    }
}
