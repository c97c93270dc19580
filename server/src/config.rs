//! Typed configuration from an optional TOML file, `DATABASE_URL` and `REGUIDE_*` environment
//! variables (later sources win). Every setting has a default that works on a laptop, so
//! `cargo run -p reguide-server` needs no file. Secrets are wrapped so they never print.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::db::Backend;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Folder for the SQLite database and, later, outgoing mail files.
    pub data_dir: PathBuf,
    /// `postgres://…`, `sqlite://path` or a path. Default: SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Database connections kept open.
    pub db_pool_size: u32,
    /// Family documents an instance keeps loaded between syncs (0: none).
    pub doc_cache_size: usize,
    /// HTTP worker threads; default: one per core.
    pub workers: Option<usize>,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `reguide_server=debug,info`.
    pub log_level: String,
    /// Seed demo data at start (refused on a database with real data).
    pub demo: bool,
    /// The public address of this server, used in links sent to people.
    pub public_url: String,
    /// Believe the first `X-Forwarded-For` address (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub limits: LimitsConfig,
    pub retention: RetentionConfig,
}

/// How long personal data is kept (see `retention`); 0 days keeps that kind for good.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// A closed case is deleted this many days after it was closed.
    pub closed_case_days: u32,
    /// Visits and family-day registrations are deleted this many days after their day.
    pub visit_days: u32,
    /// Sent and undeliverable email is deleted this many days after it was written.
    pub mail_days: u32,
    /// How often the sweep runs.
    pub sweep_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            closed_case_days: 365,
            visit_days: 730,
            mail_days: 90,
            sweep_minutes: 60,
        }
    }
}

/// Requests a client may make (see `limits`), each a token bucket: `burst` requests at once,
/// refilled at `per_minute`; `per_minute = 0`: no limit.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Per device (bearer token) or web session.
    pub device_per_minute: u32,
    pub device_burst: u32,
    /// Per client address.
    pub address_per_minute: u32,
    pub address_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            // A phone syncs and reads a few times a minute; ten a second, sustained, is a fault.
            device_per_minute: 600,
            device_burst: 120,
            // Many families may come from one address (a visitor centre's network).
            address_per_minute: 6_000,
            address_burst: 1_200,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server: `smtp://user:password@host:587?tls=required` (STARTTLS),
    /// `smtps://user:password@host:465` (TLS), or `smtp://127.0.0.1:25` for a relay on the same
    /// host (no TLS; refused with a password unless the host is a loopback address). None:
    /// messages are written as `.eml` files in `<data_dir>/mail`.
    pub smtp_url: Option<SecretString>,
    /// The sender, `Name <address>`.
    pub from: String,
    /// Attempts before a message is dead (listed for administrators).
    pub max_attempts: i32,
    /// The first retry waits this long; each next one twice as long, up to `retry_max_seconds`.
    pub retry_base_ms: u64,
    pub retry_max_seconds: u64,
    /// How often the worker looks for messages that are due.
    pub poll_interval_ms: u64,
    /// Messages taken at a time, and sent at once over pooled connections.
    pub batch_size: i64,
    pub concurrency: usize,
    /// How long a worker holds the messages it took; if it dies, another takes them after.
    pub lease_seconds: i64,
    /// Run the delivery worker in this instance.
    pub worker: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of a sign-in without a device (scripts).
    pub session_ttl_hours: i64,
    /// A web admin session ends this long after signing in, however busy…
    pub web_absolute_hours: i64,
    /// …or after this long without a page being opened.
    pub web_idle_minutes: i64,
    /// Lifetime of an enrolled device's token.
    pub device_token_ttl_days: i64,
    /// Lifetime of an enrolment code.
    pub enrolment_code_ttl_hours: i64,
    /// Failed sign-ins for one login name before it is locked for `lockout_minutes`.
    pub max_failures_per_account: i32,
    /// Failed sign-ins from one client address before it is locked.
    pub max_failures_per_address: i32,
    /// Failures older than this are forgotten.
    pub failure_window_minutes: i64,
    pub lockout_minutes: i64,
    /// Each failure in the window slows the next answer by this much (capped at 8 steps).
    pub failure_delay_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            data_dir: PathBuf::from("data"),
            database_url: None,
            db_pool_size: 8,
            doc_cache_size: 1000,
            workers: None,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            demo: false,
            public_url: "http://127.0.0.1:8080".into(),
            trust_forwarded_for: false,
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
            limits: LimitsConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "reguide <no-reply@reguide.localhost>".into(),
            max_attempts: 10,
            retry_base_ms: 30_000,
            retry_max_seconds: 6 * 3600,
            poll_interval_ms: 2_000,
            batch_size: 50,
            concurrency: 4,
            lease_seconds: 300,
            worker: true,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 12,
            web_absolute_hours: 10,
            web_idle_minutes: 30,
            device_token_ttl_days: 90,
            enrolment_code_ttl_hours: 72,
            max_failures_per_account: 5,
            max_failures_per_address: 50,
            failure_window_minutes: 15,
            lockout_minutes: 15,
            failure_delay_ms: 200,
        }
    }
}

impl Config {
    /// Reads the optional file, then `DATABASE_URL`, then `REGUIDE_*` (nested keys with `__`,
    /// e.g. `REGUIDE_AUTH__LOCKOUT_MINUTES`).
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("REGUIDE_").ignore(&["CONFIG"]).split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("reguide.db").display()),
        }
    }

    pub fn backend(&self) -> Backend {
        Backend::of_url(&self.database_url())
    }

    /// The database URL with any password replaced, for logs and the start banner.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_never_print() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/reguide"),
            "postgres://app:***@db:5432/reguide"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("sqlite://data/reguide.db"),
            "sqlite://data/reguide.db"
        );
        let config = Config {
            database_url: Some(SecretString::from("postgres://a:hunter2@h/d")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn default_is_sqlite_in_the_data_folder() {
        let config = Config::default();
        assert_eq!(config.backend(), Backend::Sqlite);
        assert_eq!(config.database_url(), "sqlite://data/reguide.db");
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn file_then_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("reguide.toml");
        std::fs::write(&file, "port = 9000\n[auth]\nlockout_minutes = 3\n").expect("write");
        figment::Jail::expect_with(|jail| {
            jail.set_env("REGUIDE_PORT", "9100");
            jail.set_env("DATABASE_URL", "postgres://u@h/db");
            let config = Config::load(Some(&file)).map_err(|e| *e)?;
            assert_eq!(config.port, 9100);
            assert_eq!(config.auth.lockout_minutes, 3);
            assert_eq!(config.backend(), Backend::Postgres);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn one_limit_or_retention_setting_leaves_the_others_at_their_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("REGUIDE_LIMITS__DEVICE_PER_MINUTE", "0");
            jail.set_env("REGUIDE_RETENTION__VISIT_DAYS", "30");
            let config = Config::load(None).map_err(|e| *e)?;
            assert_eq!(config.limits.device_per_minute, 0);
            assert_eq!(config.limits.device_burst, 120);
            assert_eq!(config.limits.address_per_minute, 6_000);
            assert_eq!(config.retention.visit_days, 30);
            assert_eq!(config.retention.closed_case_days, 365);
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("reguide.toml");
        std::fs::write(&file, "prot = 9000\n").expect("write");
        let err = Config::load(Some(&file)).expect_err("typo must fail");
        assert!(err.to_string().contains("prot"), "{err}");
    }
}
