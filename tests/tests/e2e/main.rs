//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.
//!
//! Run all with `cargo test -p reguide-tests`; one backend with `cargo test -p reguide-tests
//! sqlite` (or `postgres`). PostgreSQL is taken from `TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`.

mod admin;
mod appointments;
mod auth;
mod authz_matrix;
mod bad_input;
mod caseloads;
mod client;
mod demo;
mod enrolment;
mod family_days;
mod faults;
mod floods;
mod health;
mod living_labs;
mod mail;
mod migrations;
mod privacy;
mod retention;
mod scenario;
mod steps;
mod sync;
mod sync_convergence;
mod visits_concurrency;
mod visits_day;
mod visits_matrix;
mod visits_requests;
mod visits_rules;
mod visits_waitlist;
mod web_admin;
mod web_admin_matrix;
mod web_browser;
