//! Throwaway databases: a SQLite file in a temporary folder, or a PostgreSQL database created for
//! one test and dropped after it.

use std::io::Write;
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL URL tests create their databases through: `TEST_DATABASE_URL` or the local
/// default.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// Whether the PostgreSQL variant of a test should run. Outside CI an unreachable PostgreSQL
/// skips the test with a message; in CI (`CI=true`) it fails the test, so a broken CI setup can
/// never pass by skipping half the suite.
pub fn require_postgres() -> bool {
    // Asked once per process: every test would otherwise wait for the same refused connection.
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let reachable = REACHABLE.get_or_init(|| {
        PgConnection::establish(&postgres_admin_url())
            .map(drop)
            .map_err(|e| e.to_string())
    });
    match reachable {
        Ok(()) => true,
        Err(error) => {
            let url = postgres_admin_url();
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL unreachable at {url} (CI=true, so this fails): {error}");
            }
            // Straight to stderr: the test harness captures `eprintln!` of passing tests, and a
            // skip must not go unnoticed.
            let _ = writeln!(
                std::io::stderr(),
                "skipping: PostgreSQL unreachable at {url}: {error}"
            );
            false
        }
    }
}

/// A PostgreSQL database that exists for as long as this value.
#[derive(Debug)]
pub(crate) struct PgTestDatabase {
    name: String,
    url: String,
}

impl PgTestDatabase {
    pub(crate) fn create() -> Self {
        let admin_url = postgres_admin_url();
        // Only [a-z0-9_]: the name goes into SQL unquoted.
        let name = format!("reguide_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("connect to PostgreSQL at {admin_url}: {e}"));
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Self { name, url }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        // FORCE ends the server's pooled connections, which may outlive the test by a moment.
        let dropped = PgConnection::establish(&postgres_admin_url()).and_then(|mut conn| {
            conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))
        });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// `postgres://u@h:5432/postgres?x=y` with database `db` → `postgres://u@h:5432/db?x=y`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Runs one statement on the database at `url` (either backend), beside the running server.
/// Tests use it to put rows into states the API cannot reach, such as an expired code.
pub(crate) fn execute_sql(url: &str, sql: &str) -> usize {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut conn = PgConnection::establish(url).unwrap_or_else(|e| panic!("connect: {e}"));
        diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let mut conn =
            SqliteConnection::establish(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // The server may hold the write lock for a moment; wait for it rather than fail.
        conn.batch_execute("PRAGMA busy_timeout = 10000;")
            .expect("set busy_timeout");
        diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_replaces_the_path_only() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@db/postgres?sslmode=disable", "t2"),
            "postgres://u:p@db/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://u@db", "t3"),
            "postgresql://u@db/t3"
        );
    }
}

/// A PostgreSQL server of the test's own (`initdb` in a temporary folder, run as the `postgres`
/// user on a free port), for the tests that stop and restart the database under a running
/// server. `None` where PostgreSQL's programs or the `postgres` user are not there.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    pub fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())?;
        let dir = tempfile::tempdir().ok()?;
        let chown = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .ok()?;
        if !chown.success() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let this = Self { dir, bin, port };
        this.as_postgres(
            "initdb",
            &[
                "-D",
                &this.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )
        .then_some(())?;
        this.pg_ctl_start().then_some(this)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, program: &str, args: &[&str]) -> bool {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it at once (`-m fast`: connections are cut), as a restart or a crash does.
    pub fn stop(&self) {
        assert!(
            self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]),
            "stop the test's PostgreSQL"
        );
    }

    /// Starts it again on the same port and data.
    pub fn start_again(&self) {
        assert!(self.pg_ctl_start(), "start the test's PostgreSQL again");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}
