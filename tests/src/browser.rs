//! A real browser for the web admin's tests: Debian's headless Chromium driven over WebDriver
//! by ChromeDriver (`apt-get install chromium chromium-driver`, done by `.ci/run`), with
//! axe-core (`npm ci --prefix tests/browser`) injected to check each page's accessibility.
//!
//! Where ChromeDriver is not installed the browser tests are skipped with a notice, except
//! under `CI=true`, where that is a failure. Screenshots go to `tests/browser/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::{Backend, DEMO_PASSWORD, DemoUser, TestApp};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser tests can run here; `false` means skip (never under CI).
pub fn browser_available() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!(
            "CI=true but {CHROMEDRIVER} or {CHROMIUM} is missing: \
             apt-get install chromium chromium-driver"
        );
    }
    eprintln!(
        "skipping a browser test: {CHROMEDRIVER} and {CHROMIUM} are not installed \
         (apt-get install chromium chromium-driver)"
    );
    false
}

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The axe-core script, from `AXE_CORE_JS` or `tests/browser/node_modules`.
fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tests_dir().join("browser/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is needed at {} ({e}): run `npm ci --prefix tests/browser`",
            path.display()
        )
    })
}

/// A headless Chromium with its own ChromeDriver and profile, pointed at one server.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    base: String,
    backend: Backend,
    language: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver runs in a process group of its own with its Chromium: end them all.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts a browser for `app`, in `language` (the `Accept-Language` it sends).
    pub async fn start(app: &TestApp, language: &str) -> Browser {
        let profile = tempfile::tempdir().expect("a profile folder");
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if http
                .get(format!("{url}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    "--disable-features=Translate,OptimizationHints,MediaRouter",
                    "--window-size=1280,1000",
                    format!("--lang={language}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": { "intl.accept_languages": language },
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let client = builder.connect(&url).await.expect("a WebDriver session");
        Browser {
            client,
            // `localhost` is a secure context, so the `__Host-` cookies (Secure) are kept.
            base: format!("http://localhost:{}", app.port),
            backend: app.backend,
            language: language.to_owned(),
            driver,
            _profile: profile,
        }
    }

    /// Ends the WebDriver session (the browser quits); the driver stops when dropped.
    pub async fn close(self) {
        let client = self.client.clone();
        let _ = client.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn open(&self, path: &str) {
        self.client.goto(&self.url(path)).await.expect("navigate");
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css} on {}: {e}", self.path().await),
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks a link or a form's button and waits for the next page to have loaded.
    pub async fn click(&self, css: &str) {
        self.client
            .execute("window.__reguideOldPage = true; return true;", vec![])
            .await
            .expect("mark the page");
        self.find(css).await.click().await.expect("click");
        let started = Instant::now();
        loop {
            let state = self
                .client
                .execute(
                    "return window.__reguideOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(state, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no new page after clicking {css}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// The visible text of the page's main content.
    pub async fn main_text(&self) -> String {
        self.find("main").await.text().await.expect("text")
    }

    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    /// Signs in through the sign-in page and lands on the start page.
    pub async fn sign_in(&self, user: DemoUser) {
        self.sign_in_with(user.email(), DEMO_PASSWORD).await;
        let path = self.path().await;
        if path != "/admin" {
            panic!(
                "{user:?} did not sign in: {path}: {}",
                self.main_text().await
            );
        }
    }

    /// Signs in, after choosing this browser's language with the switch (staff otherwise get
    /// their account's language).
    pub async fn sign_in_with(&self, login: &str, password: &str) {
        self.open(&format!(
            "/admin/language/{}?back=/admin/sign-in",
            self.language
        ))
        .await;
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.click("form[action='/admin/sign-in'] button[type=submit]")
            .await;
    }

    /// Saves a screenshot as `tests/browser/screenshots/<backend>-<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let folder = tests_dir().join("browser/screenshots");
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        let backend = match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        std::fs::write(folder.join(format!("{backend}-{name}.png")), png).expect("save");
    }

    /// Runs axe-core on the page and fails on any serious or critical violation.
    pub async fn assert_accessible(&self) {
        let source = axe_source();
        self.client
            .execute(&format!("{source}\nreturn typeof axe;"), vec![])
            .await
            .expect("inject axe-core");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] })
              .then(r => done(r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
              .catch(e => done([{ id: 'axe-error', help: String(e) }]));
        "#;
        let found = self
            .client
            .execute_async(script, vec![])
            .await
            .expect("run axe-core");
        let violations = found.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "{}: serious or critical accessibility problems: {}",
            self.path().await,
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Opens `path`, checks it with axe-core and saves a screenshot named `name`.
    pub async fn visit_and_check(&self, path: &str, name: &str) {
        self.open(path).await;
        self.assert_accessible().await;
        self.screenshot(name).await;
    }
}
