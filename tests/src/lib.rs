//! The end-to-end test harness of reguide.
//!
//! [`TestApp`] starts the real server in-process, on a free port, against a fresh database of
//! either backend, and talks to it over real HTTP. Tests that touch the database are written once
//! with [`both_backends!`] and run against SQLite and PostgreSQL:
//!
//! ```ignore
//! use reguide_tests::{TestApp, DemoUser, both_backends};
//!
//! both_backends! {
//!     async fn prisons_are_listed(app: TestApp) {
//!         let token = app.login_as(DemoUser::Admin).await;
//!         let resp = app.get("/api/v1/prisons", Some(&token)).await;
//!         assert_eq!(resp.status(), 200);
//!     }
//! }
//! ```
//!
//! PostgreSQL is reached at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own database, dropped when
//! the test ends. Where PostgreSQL cannot be reached the PostgreSQL variants are skipped with a
//! message, except under `CI=true`, where that is a failure.

mod app;
mod assertions;
pub mod browser;
mod database;
mod demo;
pub mod device;
pub mod machine;
pub mod mail;
pub mod node;
pub mod phones;
pub mod sync;
pub mod visits;
pub mod web;

pub use app::{Backend, TestApp};
pub use assertions::{assert_error, expect_json, expect_status};
pub use database::{PrivatePostgres, postgres_admin_url, require_postgres};
pub use demo::{
    DEMO_PASSWORD, DemoData, DemoUser, FAMILY_A_LABEL, FAMILY_B_LABEL, FAMILY_C_LABEL, member_named,
};

/// Re-exported so that tests can name the types without depending on the crates themselves.
pub use reguide_protocol as protocol;
pub use reguide_server::config::Config;

/// Writes each `async fn name(app: TestApp) { ... }` as a module `name` holding two tests,
/// `name::sqlite` and `name::postgres`, so `cargo test sqlite` or `cargo test postgres` picks a
/// backend. `app` is a server seeded with the demo data.
///
/// A test that needs another setup (no demo data, a tweaked configuration) takes the backend
/// instead and spawns the server itself:
///
/// ```ignore
/// both_backends! {
///     async fn short_lockout(backend: Backend) {
///         let app = TestApp::spawn_with(backend, |cfg| cfg.auth.lockout_minutes = 1).await;
///     }
/// }
/// ```
///
/// The PostgreSQL variant returns early (skips) when PostgreSQL is unreachable outside CI.
#[macro_export]
macro_rules! both_backends {
    () => {};

    (
        $(#[$meta:meta])*
        async fn $name:ident($app:ident : TestApp) $body:block
        $($rest:tt)*
    ) => {
        $crate::both_backends!(@module [$(#[$meta])*] $name, |backend| {
            // Typed as in a signature: the test file names `TestApp` like any parameter type.
            let $app: TestApp = $crate::TestApp::spawn(backend).await;
            $body
        });
        $crate::both_backends!($($rest)*);
    };

    (
        $(#[$meta:meta])*
        async fn $name:ident($backend:ident : Backend) $body:block
        $($rest:tt)*
    ) => {
        $crate::both_backends!(@module [$(#[$meta])*] $name, |$backend| {
            let $backend: Backend = $backend;
            $body
        });
        $crate::both_backends!($($rest)*);
    };

    // The module of one test, with a variant per backend.
    (@module [$(#[$meta:meta])*] $name:ident, |$backend:ident| $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $backend = $crate::Backend::Sqlite;
                $body
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::require_postgres() {
                    return;
                }
                let $backend = $crate::Backend::Postgres;
                $body
            }
        }
    };
}
