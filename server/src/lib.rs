//! The reguide server: the JSON API, the family-document sync endpoint, the web admin for
//! prison visit coordinators, social workers, Living Lab facilitators and administrators, and
//! the email outbox. It runs on SQLite (the default, a file in the data folder) or PostgreSQL.
//!
//! Modules are split by domain (`accounts`, `auth`, `families`, `prisons`, `audit`…); each
//! owns its rules, its queries and its handlers. See `ARCHITECTURE.md` at the repository root.

pub mod accounts;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod config;
pub mod csv;
pub mod db;
pub mod demo;
pub mod error;
pub mod families;
pub mod family_days;
pub mod health;
pub mod json;
pub mod limits;
pub mod links;
pub mod living_labs;
pub mod mail;
pub mod openapi;
pub mod prisons;
pub mod privacy;
pub mod retention;
pub mod startup;
pub mod state;
pub mod steps;
pub mod sync;
pub mod telemetry;
pub mod text;
pub mod visits;
pub mod web;
