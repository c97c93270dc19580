//! [`TestApp`]: the real server on a free port, a fresh database, and an HTTP client.

use reguide_protocol::api::{Me, TokenResponse};
use reguide_server::config::Config;
use reguide_server::startup::Application;
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::database::{PgTestDatabase, execute_sql};
use crate::demo::{DEMO_PASSWORD, DemoUser};
use crate::expect_json;
use crate::node::Node;

/// Which database the server under test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what it needs to keep running; dropping it stops the server and removes
/// its database.
#[derive(Debug)]
pub struct TestApp {
    pub backend: Backend,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub port: u16,
    /// A client without cookies or redirects, so every request says exactly what it sends.
    pub client: reqwest::Client,
    database_url: String,
    /// What the server was started with, for [`TestApp::restart`].
    pub config: Config,
    server: Server,
    // Kept alive for the lifetime of the app; dropped (removed) after the server task. `None`
    // for a second instance, which uses the first one's.
    _data_dir: Option<TempDir>,
    _postgres: Option<PgTestDatabase>,
}

impl TestApp {
    /// A server seeded with the demo data: what most tests need.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server on an empty database (migrations only).
    pub async fn spawn_empty(backend: Backend) -> Self {
        Self::spawn_with(backend, |config| config.demo = false).await
    }

    /// A server with the demo data and the test configuration, changed by `tweak` before start.
    ///
    /// Panics when the server cannot start: in a test that is a failure, not something to
    /// handle. Callers of the PostgreSQL backend check [`crate::require_postgres`] first (the
    /// [`crate::both_backends!`] macro does).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("create a temporary data folder");
        let postgres = match backend {
            Backend::Postgres => Some(PgTestDatabase::create()),
            Backend::Sqlite => None,
        };
        let database_url = match &postgres {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}", data_dir.path().join("reguide.db").display()),
        };

        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(SecretString::from(database_url.clone())),
            // Small: two backends × parallel tests must stay under PostgreSQL's 100 connections.
            db_pool_size: 4,
            workers: Some(2),
            log_level: std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            demo: true,
            ..Config::default()
        };
        // The throttle's slow-down would only make the suite slower; its counting is still on.
        config.auth.failure_delay_ms = 0;
        // Every simulated family, phone and browser of a test comes from 127.0.0.1, and many
        // tests act for many people with one staff token: request limits would limit the test.
        // The tests of the limits (`floods`) set them.
        config.limits.address_per_minute = 0;
        config.limits.device_per_minute = 0;
        // Email is written as files in the data folder unless a test points it at its SMTP
        // server; the worker looks often so that tests wait little.
        config.mail.poll_interval_ms = 50;
        config.mail.retry_base_ms = 200;
        config.mail.retry_max_seconds = 1;
        tweak(&mut config);
        let (port, server) = start(backend, config.clone()).await;

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("build the HTTP client");

        Self {
            backend,
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            database_url,
            config,
            server,
            _data_dir: Some(data_dir),
            _postgres: postgres,
        }
    }

    /// Another server on the same database and configuration, on a port of its own: what a
    /// deployment runs behind a load balancer. Tokens of one instance are valid on the other.
    /// The database belongs to `self`, so keep `self` alive for as long as this one is used.
    pub async fn spawn_second_instance(&self) -> TestApp {
        let (port, server) = start(self.backend, self.config.clone()).await;
        self.instance(port, server)
    }

    /// Another server on the same database and configuration, in a process of its own: it
    /// shares nothing with this one but the database, and [`TestApp::kill`] stops it dead.
    /// Keep `self` alive for as long as this one is used.
    pub async fn spawn_process_instance(&self) -> TestApp {
        let node = start_node(&self.config).await;
        let port = node.port;
        self.instance(port, Server::Process(node))
    }

    fn instance(&self, port: u16, server: Server) -> TestApp {
        Self {
            backend: self.backend,
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: self.client.clone(),
            database_url: self.database_url.clone(),
            config: self.config.clone(),
            server,
            _data_dir: None,
            _postgres: None,
        }
    }

    /// The server's process id when it runs in a process of its own
    /// ([`TestApp::spawn_process_instance`]); `None` for a server in the test's process.
    pub fn pid(&self) -> Option<u32> {
        match &self.server {
            Server::Process(node) => Some(node.pid()),
            Server::Task { .. } => None,
        }
    }

    /// `kill -9` of a process instance: no shutdown, requests and transactions cut where they
    /// are. [`TestApp::restart`] starts it again.
    pub fn kill(&self) {
        match &self.server {
            Server::Process(node) => node.kill(),
            Server::Task { .. } => panic!("only a process instance can be killed"),
        }
    }

    /// Stops the server and starts a new one on the same database and configuration (on a new
    /// port): what an upgrade or a crash and restart does.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (port, server) = match &self.server {
            Server::Task { .. } => start(self.backend, self.config.clone()).await,
            Server::Process(_) => {
                let node = start_node(&self.config).await;
                (node.port, Server::Process(node))
            }
        };
        self.port = port;
        self.address = format!("http://127.0.0.1:{port}");
        self.server = server;
    }

    /// Stops the server: its port no longer answers (a phone then finds it offline).
    /// [`TestApp::restart`] starts it again.
    pub async fn stop(&self) {
        match &self.server {
            Server::Task { task, handle } => {
                handle.stop(false).await;
                task.abort();
            }
            Server::Process(node) => node.kill(),
        }
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request, with a bearer token and a JSON body when given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method.clone(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no response: {e}"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// A POST without a body, for actions such as logout or creating an enrolment code.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::POST, path, token, None).await
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    /// A PUT without a body, as for caseload assignment.
    pub async fn put(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::PUT, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Sends raw bytes with the given content type, for tests of malformed input.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: no response: {e}"))
    }

    /// `POST /api/v1/auth/login`; an error carries the status and body of a refusal.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<TokenResponse> {
        let resp = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({ "email": email, "password": password }),
            )
            .await;
        let status = resp.status();
        let body = resp.text().await?;
        if status != reqwest::StatusCode::OK {
            anyhow::bail!("login as {email} refused: {status} {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Signs a demo account in and returns its bearer token.
    pub async fn login_as(&self, user: DemoUser) -> String {
        self.login(user.email(), DEMO_PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .token
    }

    /// `GET /api/v1/me` for a token that must be valid.
    pub async fn me(&self, token: &str) -> Me {
        expect_json(self.get("/api/v1/me", Some(token)).await, 200).await
    }

    /// The URL of the server's database, for tests that use the server's library on it.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Runs one SQL statement directly on the server's database and returns the rows changed.
    /// Only for states no API call can produce (an expired enrolment code, say).
    pub fn execute_sql(&self, sql: &str) -> usize {
        execute_sql(&self.database_url, sql)
    }

    /// Runs `f` in a write transaction on the server's database through the server's own
    /// library: for what only the server makes, such as the link an email carries.
    pub fn with_server_db<T>(
        &self,
        f: impl FnOnce(&mut reguide_server::db::DbConn) -> Result<T, reguide_server::error::ApiError>,
    ) -> T {
        let pool = reguide_server::db::connect(&self.database_url, 1).expect("connect");
        let mut conn = pool.get().expect("a connection");
        conn.write(f).expect("the server's library")
    }

    /// Runs the server's retention sweep as if it were `days` days from now, as another instance
    /// of the server would (its own connections, the same configuration).
    pub async fn sweep_retention_in(&self, days: i64) -> reguide_server::retention::Swept {
        let pool = reguide_server::db::connect(&self.database_url, 2).expect("connect");
        let state = reguide_server::state::AppState::new(pool, self.config.clone());
        let now = reguide_server::db::now() + chrono::Duration::days(days);
        reguide_server::retention::sweep(&state, now)
            .await
            .expect("the retention sweep")
    }

    /// Fails unless the server still answers `/health`: used after hostile input.
    pub async fn assert_healthy(&self) {
        let resp = self.get("/health", None).await;
        assert_eq!(resp.status(), 200, "the server stopped answering /health");
    }
}

/// How a server under test runs.
#[derive(Debug)]
enum Server {
    /// A task of the test's runtime: the first instance of every test.
    Task {
        task: JoinHandle<std::io::Result<()>>,
        handle: actix_web::dev::ServerHandle,
    },
    /// A process of its own (killed when dropped).
    Process(Node),
}

/// Starts a server process with `config`, off the async test's thread.
async fn start_node(config: &Config) -> Node {
    let config = config.clone();
    tokio::task::spawn_blocking(move || Node::start(&config))
        .await
        .expect("start a server process")
}

/// Builds the application (migrations, demo data) and serves it in the background.
async fn start(backend: Backend, config: Config) -> (u16, Server) {
    let application = Application::build(config)
        .await
        .unwrap_or_else(|e| panic!("start the server on {backend:?}: {e:#}"));
    let port = application.port();
    let handle = application.handle();
    let task = tokio::spawn(application.run_until_stopped());
    (port, Server::Task { task, handle })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting requests before the database goes away underneath the server.
        match &self.server {
            Server::Task { task, .. } => task.abort(),
            Server::Process(node) => node.kill(),
        }
    }
}
