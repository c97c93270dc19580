//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.
//!
//! Run all with `cargo test -p reguide-tests`; one backend with `cargo test -p reguide-tests
//! sqlite` (or `postgres`). PostgreSQL is taken from `TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`.

mod admin;
mod auth;
mod authz_matrix;
mod bad_input;
mod enrolment;
mod health;
mod migrations;
