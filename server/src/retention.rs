//! Retention: personal data is kept only as long as it serves the family. A sweep in every
//! instance (each step one short transaction, harmless when several instances sweep at once)
//! deletes:
//!
//! - **closed cases** `retention.closed_case_days` after they were closed: the family, its
//!   members with their accounts, devices and sessions, its document, visits, family-day
//!   registrations, steps, appointments, invitations, email and the audit entries about them;
//!   future places they held are given back; the audit log keeps that a case was deleted;
//! - **visits and family-day registrations** `retention.visit_days` after their day: the rows,
//!   their history, and their entries in the family's document, which is written anew without
//!   them and its old history dropped (devices replace theirs at their next sync);
//! - **sent and undeliverable email** `retention.mail_days` after it was written;
//! - **expired sign-ins** (tokens and web sessions), enrolment codes and action links a day
//!   after they ran out, and login counts whose window has passed.
//!
//! A period of 0 days keeps that kind of data for good.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use reguide_protocol::FamilyId;
use reguide_protocol::family_days::RegistrationStatus;

use crate::audit::{self, Object};
use crate::auth::principal::{load_grants, parse_id};
use crate::db::DbConn;
use crate::db::schema::{
    action_links, api_tokens, audit_log, caseload_requests, enrolment_codes, families,
    family_day_registrations, family_days, family_members, living_lab_invitations, login_throttle,
    outbox, visit_requests, visit_slots,
};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::sync::store;

/// Families (or visits) handled per transaction: each is short, and the sweep goes on until
/// nothing is due.
const BATCH: i64 = 50;

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub cases: usize,
    pub visits: usize,
    pub registrations: usize,
    pub emails: usize,
    pub expired: usize,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Runs the sweep every `retention.sweep_minutes` (the first one a minute after start).
pub async fn run(state: AppState) {
    let every = std::time::Duration::from_secs(state.config.retention.sweep_minutes.max(1) * 60);
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + std::time::Duration::from_secs(60),
        every,
    );
    loop {
        tick.tick().await;
        match sweep(&state, crate::db::now()).await {
            Ok(swept) if swept.is_empty() => {}
            Ok(swept) => tracing::info!(
                cases = swept.cases,
                visits = swept.visits,
                registrations = swept.registrations,
                emails = swept.emails,
                expired = swept.expired,
                "retention sweep deleted what was due"
            ),
            Err(error) => tracing::warn!(error = %error, "retention sweep failed"),
        }
    }
}

/// One whole sweep, as of `now`.
pub async fn sweep(state: &AppState, now: NaiveDateTime) -> ApiResult<Swept> {
    let config = state.config.retention;
    let mut swept = Swept::default();
    if let Some(cutoff) = before(now, config.closed_case_days) {
        loop {
            let due: Vec<String> = state
                .db(move |conn| {
                    Ok(families::table
                        .filter(families::closed_at.lt(cutoff))
                        .select(families::id)
                        .limit(BATCH)
                        .load(conn)?)
                })
                .await?;
            if due.is_empty() {
                break;
            }
            for family in due {
                let family: FamilyId = parse_id(&family)?;
                if state
                    .write(move |conn| delete_case(conn, family, cutoff, now))
                    .await?
                {
                    swept.cases += 1;
                }
            }
        }
    }
    if let Some(cutoff) = before(now, config.visit_days) {
        let families: Vec<String> = state
            .db(move |conn| families_with_old_visits(conn, cutoff))
            .await?;
        for family in families {
            let family: FamilyId = parse_id(&family)?;
            let (visits, registrations) = state
                .write(move |conn| forget_old_visits(conn, family, cutoff))
                .await?;
            swept.visits += visits;
            swept.registrations += registrations;
        }
    }
    if let Some(cutoff) = before(now, config.mail_days) {
        swept.emails += state
            .write(move |conn| {
                Ok(diesel::delete(
                    outbox::table
                        .filter(outbox::state.eq_any(["sent", "dead"]))
                        .filter(outbox::created_at.lt(cutoff)),
                )
                .execute(conn)?)
            })
            .await?;
    }
    let window = state.config.auth.failure_window_minutes;
    swept.expired += state
        .write(move |conn| forget_expired(conn, now, window))
        .await?;
    Ok(swept)
}

/// `now` less `days`, or `None` for 0 (kept for good).
fn before(now: NaiveDateTime, days: u32) -> Option<NaiveDateTime> {
    (days > 0).then(|| now - Duration::days(i64::from(days)))
}

/// Deletes a case closed before `cutoff`; `false` when it was reopened (or deleted) meanwhile.
pub fn delete_case(
    conn: &mut DbConn,
    family: FamilyId,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    let id = family.to_string();
    // The document first: syncs of this family wait until the deletion is committed.
    store::lock_or_create(conn, family)?;
    let still_due: i64 = families::table
        .find(&id)
        .filter(families::closed_at.lt(cutoff))
        .count()
        .get_result(conn)?;
    if still_due == 0 {
        return Ok(false);
    }
    let today = now.date();
    // Places the family still held in the future go back to other families.
    let held: Vec<String> = visit_requests::table
        .inner_join(visit_slots::table.on(visit_requests::slot_id.eq(visit_slots::id.nullable())))
        .filter(visit_requests::family_id.eq(&id))
        .filter(visit_requests::status.eq("confirmed"))
        .filter(visit_slots::date.ge(today))
        .select(visit_slots::id)
        .load(conn)?;
    for slot in &held {
        crate::visits::slots::release_place(conn, slot)?;
    }
    let registered: Vec<(String, i32, i32)> = family_day_registrations::table
        .inner_join(family_days::table)
        .filter(family_day_registrations::family_id.eq(&id))
        .filter(family_day_registrations::status.eq(RegistrationStatus::Registered.as_str()))
        .filter(family_days::date.ge(today))
        .select((
            family_days::id,
            family_day_registrations::adults,
            family_day_registrations::children,
        ))
        .load(conn)?;
    for (day, adults, children) in &registered {
        crate::family_days::release_places(conn, day, adults + children)?;
    }
    // Every member, as an erasure would: account (unless it also works as staff), devices,
    // sessions, codes, invitations, email and the audit entries about them.
    let members: Vec<(String, Option<String>)> = family_members::table
        .filter(family_members::family_id.eq(&id))
        .select((family_members::id, family_members::account_id))
        .load(conn)?;
    for (member, account) in members {
        let account = match account {
            Some(account) => {
                let grants = load_grants(conn, parse_id(&account)?)?;
                let staff = grants
                    .iter()
                    .any(|g| g.role != reguide_protocol::Role::FamilyMember);
                (!staff).then_some(account)
            }
            None => None,
        };
        crate::privacy::erase::erase_records(conn, parse_id(&member)?, account.as_deref())?;
    }
    diesel::delete(living_lab_invitations::table.filter(living_lab_invitations::family_id.eq(&id)))
        .execute(conn)?;
    diesel::delete(caseload_requests::table.filter(caseload_requests::family_id.eq(&id)))
        .execute(conn)?;
    diesel::delete(action_links::table.filter(action_links::family_id.eq(&id))).execute(conn)?;
    diesel::delete(audit_log::table.filter(audit_log::object_id.eq(&id))).execute(conn)?;
    // The rest (document, visits, registrations, caseloads, detainee links, waiting lists)
    // goes with the family.
    diesel::delete(families::table.find(&id)).execute(conn)?;
    audit::record(conn, None, "case_deleted", Some(Object::new("family", &id)))?;
    Ok(true)
}

/// Families with a visit whose day (or, never given a slot, whose last change) is before
/// `cutoff`, or a registration for a family day before it.
fn families_with_old_visits(conn: &mut DbConn, cutoff: NaiveDateTime) -> ApiResult<Vec<String>> {
    let day = cutoff.date();
    let mut ids: Vec<String> = visit_requests::table
        .left_join(visit_slots::table.on(visit_requests::slot_id.eq(visit_slots::id.nullable())))
        .filter(
            visit_slots::date.lt(day).or(visit_requests::slot_id
                .is_null()
                .and(visit_requests::updated_at.lt(cutoff))),
        )
        .select(visit_requests::family_id)
        .distinct()
        .load(conn)?;
    let with_days: Vec<String> = family_day_registrations::table
        .inner_join(family_days::table)
        .filter(family_days::date.lt(day))
        .select(family_day_registrations::family_id)
        .distinct()
        .load(conn)?;
    ids.extend(with_days);
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Deletes a family's visits and registrations older than `cutoff`, in the tables and in its
/// document (written anew without them, the old history dropped).
pub fn forget_old_visits(
    conn: &mut DbConn,
    family: FamilyId,
    cutoff: NaiveDateTime,
) -> ApiResult<(usize, usize)> {
    let id = family.to_string();
    let day = cutoff.date();
    let stored = store::lock_or_create(conn, family)?;
    let visits: Vec<String> = visit_requests::table
        .left_join(visit_slots::table.on(visit_requests::slot_id.eq(visit_slots::id.nullable())))
        .filter(visit_requests::family_id.eq(&id))
        .filter(
            visit_slots::date.lt(day).or(visit_requests::slot_id
                .is_null()
                .and(visit_requests::updated_at.lt(cutoff))),
        )
        .select(visit_requests::id)
        .load(conn)?;
    let registrations: Vec<String> = family_day_registrations::table
        .inner_join(family_days::table)
        .filter(family_day_registrations::family_id.eq(&id))
        .filter(family_days::date.lt(day))
        .select(family_day_registrations::id)
        .load(conn)?;
    if visits.is_empty() && registrations.is_empty() {
        return Ok((0, 0));
    }
    for chunk in visits.chunks(500) {
        // Preferences, visitors and events go with each request.
        diesel::delete(visit_requests::table.filter(visit_requests::id.eq_any(chunk)))
            .execute(conn)?;
    }
    for chunk in registrations.chunks(500) {
        diesel::delete(
            family_day_registrations::table.filter(family_day_registrations::id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    store::rewrite(conn, family, &stored.doc, |data| {
        for visit in &visits {
            data.visit_requests.remove(visit);
        }
        for registration in &registrations {
            data.family_day_registrations.remove(registration);
        }
    })?;
    Ok((visits.len(), registrations.len()))
}

/// Sign-ins, codes and links that ran out more than a day ago, and login counts whose window
/// has passed.
fn forget_expired(conn: &mut DbConn, now: NaiveDateTime, window_minutes: i64) -> ApiResult<usize> {
    let day_ago = now - Duration::days(1);
    let mut deleted = diesel::delete(api_tokens::table.filter(api_tokens::expires_at.lt(day_ago)))
        .execute(conn)?;
    deleted +=
        diesel::delete(enrolment_codes::table.filter(enrolment_codes::expires_at.lt(day_ago)))
            .execute(conn)?;
    deleted += diesel::delete(action_links::table.filter(action_links::expires_at.lt(day_ago)))
        .execute(conn)?;
    deleted += diesel::delete(
        login_throttle::table
            .filter(login_throttle::window_started_at.lt(now - Duration::minutes(window_minutes)))
            .filter(
                login_throttle::locked_until
                    .is_null()
                    .or(login_throttle::locked_until.lt(now)),
            ),
    )
    .execute(conn)?;
    Ok(deleted)
}
