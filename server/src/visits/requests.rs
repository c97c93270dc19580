//! Visit requests: checking a request against the prison's rules, deciding it, and what
//! families and staff may do with it afterwards. Every function here runs inside one write
//! transaction: a request that fails a check leaves nothing behind.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use rand::Rng;
use reguide_protocol::api::Relation;
use reguide_protocol::visits::{
    Amendment, BookedSlot, Channel, Decision, DeclineReason, NewVisitRequest, SlotChoice,
    SupportNeed, VisitRequest, VisitRules, VisitStatus, VisitType,
};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, MemberId};
use serde_json::json;
use uuid::Uuid;

use crate::auth::principal::parse_id;
use crate::db::schema::{
    family_members, visit_request_preferences, visit_request_visitors, visit_requests, visit_slots,
};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::visits::access::Party;
use crate::visits::rules::{self, PrisonRef};
use crate::visits::slots::{self, TemplateSpec, WindowError, local_instant, parse_uuid};
use crate::visits::visitors::{self, DetaineeRef, is_close_family};
use crate::visits::{history, waitlist};

/// Below this age a visitor must come with an adult.
pub const UNACCOMPANIED_MIN_AGE: u32 = 16;

/// What a request is checked against, loaded once.
#[derive(Debug)]
pub struct Context {
    pub prison: PrisonRef,
    pub rules: VisitRules,
    pub templates: Vec<TemplateSpec>,
    pub detainee: DetaineeRef,
}

impl Context {
    pub fn load(
        conn: &mut DbConn,
        family: FamilyId,
        detainee: DetaineeId,
        visit_type: VisitType,
    ) -> ApiResult<Self> {
        if visit_type == VisitType::FamilyDay {
            return Err(ApiError::invalid(
                "use_family_day_registration",
                "visit_type",
                "family days are booked by registering for the family day",
            ));
        }
        let detainee = visitors::load_detainee(conn, detainee).map_err(|_| {
            ApiError::invalid(
                "unknown_detainee",
                "detainee_id",
                "no detained person has this id",
            )
        })?;
        if !detainee.families.contains(&family) {
            return Err(ApiError::invalid(
                "detainee_not_linked",
                "detainee_id",
                "this detained person is not linked to this family",
            ));
        }
        let prison = rules::load_prison_ref(conn, detainee.prison)?;
        let rules = rules::load_rules(conn, prison.id)?
            .remove(&visit_type)
            .ok_or_else(|| {
                ApiError::invalid(
                    "visit_type_not_offered",
                    "visit_type",
                    format!("this prison does not offer {} visits", visit_type.as_str()),
                )
            })?;
        let templates = slots::load_templates(conn, &prison.id.to_string())?;
        Ok(Self {
            prison,
            rules,
            templates,
            detainee,
        })
    }

    /// Checks one slot can be asked for now; `field` names it in errors.
    pub fn check_slot(
        &self,
        conn: &mut DbConn,
        choice: SlotChoice,
        field: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<&TemplateSpec> {
        let template = self
            .templates
            .iter()
            .find(|t| t.id == choice.template_id)
            .filter(|t| t.runs_on(choice.date) && t.capacity(self.rules.visit_type).is_some())
            .ok_or_else(|| {
                ApiError::invalid(
                    "no_such_slot",
                    field.to_owned(),
                    "this prison has no such session on that date for this visit type",
                )
            })?;
        let starts_at = local_instant(self.prison.tz, choice.date, template.starts_at);
        match slots::window_check(&self.rules, self.prison.tz, starts_at, now) {
            Ok(()) => {}
            Err(WindowError::InPast) => {
                return Err(ApiError::invalid(
                    "slot_in_past",
                    field.to_owned(),
                    "this slot has already started",
                ));
            }
            Err(WindowError::TooLate) => {
                return Err(ApiError::invalid(
                    "outside_booking_window",
                    field.to_owned(),
                    format!(
                        "ask at least {} hours before the visit",
                        self.rules.min_notice_hours
                    ),
                ));
            }
            Err(WindowError::TooFarAhead) => {
                return Err(ApiError::invalid(
                    "outside_booking_window",
                    field.to_owned(),
                    format!(
                        "visits can be asked at most {} days ahead",
                        self.rules.max_days_ahead
                    ),
                ));
            }
        }
        if is_blocked(conn, &self.prison, choice)? {
            return Err(ApiError::invalid(
                "slot_blocked",
                field.to_owned(),
                "there are no visits in this session on that date",
            ));
        }
        Ok(template)
    }

    /// Checks the visitors: in the family, approved, within the prison's limits on the visit
    /// date, children with an adult, close family only for unsupervised visits.
    pub fn check_visitors(
        &self,
        conn: &mut DbConn,
        family: FamilyId,
        visitors: &[MemberId],
        date: NaiveDate,
    ) -> ApiResult<()> {
        if visitors.is_empty() {
            return Err(ApiError::invalid(
                "no_visitors",
                "visitors",
                "name at least one visitor",
            ));
        }
        if visitors.len() > self.rules.max_visitors as usize {
            return Err(ApiError::invalid(
                "too_many_visitors",
                "visitors",
                format!(
                    "this prison allows {} visitors per visit",
                    self.rules.max_visitors
                ),
            ));
        }
        for (i, v) in visitors.iter().enumerate() {
            if visitors[..i].contains(v) {
                return Err(ApiError::invalid(
                    "duplicate_visitor",
                    format!("visitors[{i}]"),
                    "a visitor is named twice",
                ));
            }
        }
        let rows: Vec<(String, String, String, Option<NaiveDate>)> = family_members::table
            .filter(family_members::id.eq_any(visitors.iter().map(|m| m.to_string())))
            .select((
                family_members::id,
                family_members::family_id,
                family_members::relation,
                family_members::birth_date,
            ))
            .load(conn)?;
        let by_id: HashMap<String, (String, String, Option<NaiveDate>)> = rows
            .into_iter()
            .map(|(id, f, r, b)| (id, (f, r, b)))
            .collect();
        let approved = visitors::approved(conn, self.detainee.id, visitors)?;
        let (mut adults, mut children, mut young) = (0, 0, 0);
        for (i, member) in visitors.iter().enumerate() {
            let field = format!("visitors[{i}]");
            let Some((member_family, relation, birth)) = by_id.get(&member.to_string()) else {
                return Err(ApiError::invalid(
                    "visitor_not_in_family",
                    field,
                    "this member is not in the family",
                ));
            };
            if *member_family != family.to_string() {
                return Err(ApiError::invalid(
                    "visitor_not_in_family",
                    field,
                    "this member is not in the family",
                ));
            }
            if !approved.contains(member) {
                return Err(ApiError::invalid(
                    "visitor_not_approved",
                    field,
                    "this visitor is not on the detained person's approved visitor list",
                ));
            }
            if self.rules.visit_type == VisitType::Unsupervised
                && !is_close_family(Relation::parse(relation).unwrap_or(Relation::Other))
            {
                return Err(ApiError::invalid(
                    "visitor_not_close_family",
                    field,
                    "unsupervised visits are for close family only",
                ));
            }
            match birth.map(|b| age_on(b, date)) {
                Some(age) if age < self.rules.adult_from_age as u32 => {
                    children += 1;
                    if age < UNACCOMPANIED_MIN_AGE {
                        young += 1;
                    }
                }
                _ => adults += 1,
            }
        }
        if adults > self.rules.max_adults {
            return Err(ApiError::invalid(
                "too_many_adults",
                "visitors",
                format!(
                    "this prison allows {} adults per visit",
                    self.rules.max_adults
                ),
            ));
        }
        if children > self.rules.max_children {
            return Err(ApiError::invalid(
                "too_many_children",
                "visitors",
                format!(
                    "this prison allows {} children per visit",
                    self.rules.max_children
                ),
            ));
        }
        if young > 0 && adults == 0 {
            return Err(ApiError::invalid(
                "child_without_adult",
                "visitors",
                format!("children under {UNACCOMPANIED_MIN_AGE} visit only with an adult"),
            ));
        }
        Ok(())
    }

    pub fn template(&self, id: Uuid) -> ApiResult<&TemplateSpec> {
        self.templates
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("request names an unknown template")))
    }

    pub fn booked_slot(&self, template: &TemplateSpec, date: NaiveDate) -> BookedSlot {
        BookedSlot {
            template_id: template.id,
            date,
            starts_at: local_instant(self.prison.tz, date, template.starts_at),
            ends_at: local_instant(self.prison.tz, date, template.ends_at),
            room: template.room.clone(),
        }
    }
}

/// Whole years between a birth date and a day.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

fn is_blocked(conn: &mut DbConn, prison: &PrisonRef, choice: SlotChoice) -> ApiResult<bool> {
    use crate::db::schema::blocked_dates;
    let blocks: i64 = blocked_dates::table
        .filter(blocked_dates::prison_id.eq(prison.id.to_string()))
        .filter(blocked_dates::date.eq(choice.date))
        .filter(
            blocked_dates::template_id
                .is_null()
                .or(blocked_dates::template_id.eq(choice.template_id.to_string())),
        )
        .count()
        .get_result(conn)?;
    Ok(blocks > 0)
}

/// A reference people can read out on the phone: `V-` and six readable characters.
pub(crate) fn new_reference(conn: &mut DbConn) -> ApiResult<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    for _ in 0..8 {
        let tail: String = (0..6)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let candidate = format!("V-{tail}");
        let taken: i64 = visit_requests::table
            .filter(visit_requests::reference.eq(&candidate))
            .count()
            .get_result(conn)?;
        if taken == 0 {
            return Ok(candidate);
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "no free visit reference after 8 tries"
    )))
}

fn check_support(needs: &[SupportNeed], note: Option<&str>) -> ApiResult<Option<String>> {
    for (i, need) in needs.iter().enumerate() {
        if needs[..i].contains(need) {
            return Err(ApiError::invalid(
                "invalid_value",
                format!("support_needs[{i}]"),
                "a need is named twice",
            ));
        }
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid(
            "invalid_value",
            "support_note",
            "at most 500 characters",
        ));
    }
    if needs.contains(&SupportNeed::Other) && note.is_none() {
        return Err(ApiError::invalid(
            "note_required",
            "support_note",
            "say which support is needed",
        ));
    }
    Ok(note.map(str::to_owned))
}

/// Takes the write lock of one visit request for the rest of the transaction, so that two
/// changes of the same request run one after the other and the second sees the first. SQLite's
/// write transactions (`BEGIN IMMEDIATE`) are serialised already; PostgreSQL's are not.
pub fn lock_request(conn: &mut DbConn, id: Uuid) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        visit_requests::table
            .find(id.to_string())
            .select(visit_requests::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// Takes the write lock of a family's row, so that the checks against the family's other
/// requests ([`check_duplicate`]) cannot interleave with another request of the same family.
pub fn lock_family(conn: &mut DbConn, family: FamilyId) -> ApiResult<()> {
    use crate::db::schema::families;
    if let DbConn::Postgres(pg) = conn {
        families::table
            .find(family.to_string())
            .select(families::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// Refuses a second active request of the family for a slot it already asked for.
pub(crate) fn check_duplicate(
    conn: &mut DbConn,
    family: FamilyId,
    choices: &[SlotChoice],
    except: Option<&str>,
) -> ApiResult<()> {
    for choice in choices {
        let mut wanted = visit_requests::table
            .inner_join(visit_request_preferences::table)
            .filter(visit_requests::family_id.eq(family.to_string()))
            .filter(visit_requests::status.eq_any(["pending", "proposed", "confirmed"]))
            .filter(visit_request_preferences::template_id.eq(choice.template_id.to_string()))
            .filter(visit_request_preferences::date.eq(choice.date))
            .into_boxed();
        let mut holding = visit_requests::table
            .inner_join(visit_slots::table)
            .filter(visit_requests::family_id.eq(family.to_string()))
            .filter(visit_requests::status.eq_any(["proposed", "confirmed"]))
            .filter(visit_slots::template_id.eq(choice.template_id.to_string()))
            .filter(visit_slots::date.eq(choice.date))
            .into_boxed();
        if let Some(except) = except {
            wanted = wanted.filter(visit_requests::id.ne(except.to_owned()));
            holding = holding.filter(visit_requests::id.ne(except.to_owned()));
        }
        let clash =
            wanted.count().get_result::<i64>(conn)? + holding.count().get_result::<i64>(conn)?;
        if clash > 0 {
            return Err(ApiError::conflict(
                "duplicate_request",
                "this family already has a request for this slot",
            ));
        }
    }
    Ok(())
}

/// Creates a request and, where the prison confirms automatically, confirms the first
/// preference with a free place. Returns the request's id.
pub fn create(
    conn: &mut DbConn,
    req: &NewVisitRequest,
    party: Party,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    create_with_id(conn, req, party, actor, now, Uuid::new_v4())
}

/// [`create`] with the id the request gets: a request opened in a family document keeps the
/// document's id, so that its later events map one to one.
pub fn create_with_id(
    conn: &mut DbConn,
    req: &NewVisitRequest,
    party: Party,
    actor: AccountId,
    now: DateTime<Utc>,
    id: Uuid,
) -> ApiResult<String> {
    let channel = match (party, req.channel) {
        (Party::Family, None | Some(Channel::App)) => Channel::App,
        (Party::Family, Some(_)) => {
            return Err(ApiError::invalid(
                "invalid_channel",
                "channel",
                "requests from the app have the channel app",
            ));
        }
        (Party::Staff, Some(channel)) => channel,
        (Party::Staff, None) => Channel::Phone,
    };
    lock_family(conn, req.family_id)?;
    let ctx = Context::load(conn, req.family_id, req.detainee_id, req.visit_type)?;
    if req.preferences.is_empty() || req.preferences.len() > 3 {
        return Err(ApiError::invalid(
            "invalid_preferences",
            "preferences",
            "give one to three preferred slots",
        ));
    }
    for (i, choice) in req.preferences.iter().enumerate() {
        if req.preferences[..i].contains(choice) {
            return Err(ApiError::invalid(
                "duplicate_preference",
                format!("preferences[{i}]"),
                "a slot is named twice",
            ));
        }
        ctx.check_slot(conn, *choice, &format!("preferences[{i}]"), now)?;
    }
    ctx.check_visitors(conn, req.family_id, &req.visitors, req.preferences[0].date)?;
    let note = check_support(&req.support_needs, req.support_note.as_deref())?;
    check_duplicate(conn, req.family_id, &req.preferences, None)?;

    let id = id.to_string();
    let stamp = crate::db::to_naive(now);
    diesel::insert_into(visit_requests::table)
        .values((
            visit_requests::id.eq(&id),
            visit_requests::reference.eq(new_reference(conn)?),
            visit_requests::family_id.eq(req.family_id.to_string()),
            visit_requests::detainee_id.eq(req.detainee_id.to_string()),
            visit_requests::prison_id.eq(ctx.prison.id.to_string()),
            visit_requests::visit_type.eq(req.visit_type.as_str()),
            visit_requests::status.eq(VisitStatus::Pending.as_str()),
            visit_requests::channel.eq(channel.as_str()),
            visit_requests::support_needs.eq(needs_text(&req.support_needs)),
            visit_requests::support_note.eq(&note),
            visit_requests::flagged.eq(false),
            visit_requests::created_by.eq(actor.to_string()),
            visit_requests::created_at.eq(stamp),
            visit_requests::updated_at.eq(stamp),
        ))
        .execute(conn)?;
    for (rank, choice) in req.preferences.iter().enumerate() {
        diesel::insert_into(visit_request_preferences::table)
            .values((
                visit_request_preferences::request_id.eq(&id),
                visit_request_preferences::rank.eq(rank as i32 + 1),
                visit_request_preferences::template_id.eq(choice.template_id.to_string()),
                visit_request_preferences::date.eq(choice.date),
            ))
            .execute(conn)?;
    }
    insert_visitors(conn, &id, &req.visitors)?;
    history::append(
        conn,
        &id,
        Some(actor),
        "requested",
        json!({ "channel": channel }),
    )?;

    if ctx.rules.auto_confirm {
        for (rank, choice) in req.preferences.iter().enumerate() {
            let template = ctx.template(choice.template_id)?;
            if let Some(slot) = slots::take_place(
                conn,
                &ctx.prison.id.to_string(),
                template,
                choice.date,
                req.visit_type,
            )? {
                set_status(conn, &id, VisitStatus::Confirmed, Some(&slot))?;
                history::append(
                    conn,
                    &id,
                    None,
                    "confirmed",
                    json!({ "rank": rank + 1, "automatic": true, "slot": choice }),
                )?;
                break;
            }
        }
    }
    Ok(id)
}

fn needs_text(needs: &[SupportNeed]) -> String {
    needs
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn insert_visitors(conn: &mut DbConn, request: &str, visitors: &[MemberId]) -> ApiResult<()> {
    for member in visitors {
        diesel::insert_into(visit_request_visitors::table)
            .values((
                visit_request_visitors::request_id.eq(request),
                visit_request_visitors::member_id.eq(member.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn set_status(
    conn: &mut DbConn,
    id: &str,
    status: VisitStatus,
    slot: Option<&str>,
) -> ApiResult<()> {
    diesel::update(visit_requests::table.find(id))
        .set((
            visit_requests::status.eq(status.as_str()),
            visit_requests::slot_id.eq(slot),
            visit_requests::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The stored facts of a request that decisions work on.
#[derive(Debug)]
pub struct Stored {
    pub id: String,
    pub family: FamilyId,
    pub detainee: DetaineeId,
    pub prison: reguide_protocol::PrisonId,
    pub visit_type: VisitType,
    pub status: VisitStatus,
    pub slot: Option<String>,
}

type StoredRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

pub fn load_stored(conn: &mut DbConn, id: Uuid) -> ApiResult<Stored> {
    let row: Option<StoredRow> = visit_requests::table
        .find(id.to_string())
        .select((
            visit_requests::id,
            visit_requests::family_id,
            visit_requests::detainee_id,
            visit_requests::prison_id,
            visit_requests::visit_type,
            visit_requests::status,
            visit_requests::slot_id,
        ))
        .first(conn)
        .optional()?;
    let (id, family, detainee, prison, visit_type, status, slot) = row.ok_or_else(not_found)?;
    Ok(Stored {
        id,
        family: parse_id(&family)?,
        detainee: parse_id(&detainee)?,
        prison: parse_id(&prison)?,
        visit_type: VisitType::parse(&visit_type).unwrap_or(VisitType::Table),
        status: VisitStatus::parse(&status).unwrap_or(VisitStatus::Pending),
        slot,
    })
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "visit_request_not_found",
        "no visit request with this id is visible to you",
    )
}

fn preferences(conn: &mut DbConn, id: &str) -> ApiResult<Vec<SlotChoice>> {
    visit_request_preferences::table
        .filter(visit_request_preferences::request_id.eq(id))
        .order(visit_request_preferences::rank.asc())
        .select((
            visit_request_preferences::template_id,
            visit_request_preferences::date,
        ))
        .load::<(String, NaiveDate)>(conn)?
        .into_iter()
        .map(|(t, date)| {
            Ok(SlotChoice {
                template_id: parse_uuid(&t)?,
                date,
            })
        })
        .collect()
}

fn wrong_status(stored: &Stored, doing: &str) -> ApiError {
    ApiError::conflict(
        "invalid_status",
        format!("a {} request cannot be {doing}", stored.status.as_str()),
    )
}

/// A coordinator's decision on a pending request.
pub fn decide(
    conn: &mut DbConn,
    stored: &Stored,
    decision: &Decision,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if stored.status != VisitStatus::Pending {
        return Err(wrong_status(stored, "decided"));
    }
    match decision {
        Decision::Confirm { rank } => {
            let ctx = Context::load(conn, stored.family, stored.detainee, stored.visit_type)?;
            let prefs = preferences(conn, &stored.id)?;
            let choice = usize::from(*rank)
                .checked_sub(1)
                .and_then(|i| prefs.get(i))
                .copied()
                .ok_or_else(|| {
                    ApiError::invalid(
                        "no_such_preference",
                        "rank",
                        "the family gave no preference of this rank",
                    )
                })?;
            if is_blocked(conn, &ctx.prison, choice)? {
                return Err(ApiError::conflict(
                    "slot_blocked",
                    "there are no visits in this session on that date",
                ));
            }
            let template = ctx.template(choice.template_id)?;
            if local_instant(ctx.prison.tz, choice.date, template.starts_at) <= now {
                return Err(ApiError::conflict(
                    "slot_in_past",
                    "this slot has already started",
                ));
            }
            let slot = slots::take_place(
                conn,
                &ctx.prison.id.to_string(),
                template,
                choice.date,
                stored.visit_type,
            )?
            .ok_or_else(slot_full)?;
            set_status(conn, &stored.id, VisitStatus::Confirmed, Some(&slot))?;
            history::append(
                conn,
                &stored.id,
                Some(actor),
                "confirmed",
                json!({ "rank": rank, "slot": choice }),
            )?;
        }
        Decision::Decline { reason, note } => {
            let note = note.as_deref().map(str::trim).filter(|n| !n.is_empty());
            if *reason == DeclineReason::Other && note.is_none() {
                return Err(ApiError::invalid(
                    "note_required",
                    "note",
                    "say why the request is declined",
                ));
            }
            if note.is_some_and(|n| n.chars().count() > 500) {
                return Err(ApiError::invalid(
                    "invalid_value",
                    "note",
                    "at most 500 characters",
                ));
            }
            diesel::update(visit_requests::table.find(&stored.id))
                .set((
                    visit_requests::status.eq(VisitStatus::Declined.as_str()),
                    visit_requests::decline_reason.eq(reason.as_str()),
                    visit_requests::decline_note.eq(note),
                    visit_requests::updated_at.eq(crate::db::to_naive(now)),
                ))
                .execute(conn)?;
            history::append(
                conn,
                &stored.id,
                Some(actor),
                "declined",
                json!({ "reason": reason, "note": note }),
            )?;
        }
        Decision::Propose { slot: choice } => {
            let ctx = Context::load(conn, stored.family, stored.detainee, stored.visit_type)?;
            // Not a slot the family already holds or asked for in another request.
            lock_family(conn, stored.family)?;
            check_duplicate(conn, stored.family, &[*choice], Some(&stored.id))?;
            let template = ctx.check_slot(conn, *choice, "slot", now)?;
            let slot = slots::take_place(
                conn,
                &ctx.prison.id.to_string(),
                template,
                choice.date,
                stored.visit_type,
            )?
            .ok_or_else(slot_full)?;
            set_status(conn, &stored.id, VisitStatus::Proposed, Some(&slot))?;
            history::append(
                conn,
                &stored.id,
                Some(actor),
                "proposed",
                json!({ "slot": choice }),
            )?;
        }
    }
    Ok(())
}

fn slot_full() -> ApiError {
    ApiError::conflict("slot_full", "this slot has no place left")
}

/// The family accepts a slot a coordinator proposed.
pub fn accept_proposal(conn: &mut DbConn, stored: &Stored, actor: AccountId) -> ApiResult<()> {
    if stored.status != VisitStatus::Proposed {
        return Err(wrong_status(stored, "accepted"));
    }
    set_status(
        conn,
        &stored.id,
        VisitStatus::Confirmed,
        stored.slot.as_deref(),
    )?;
    let slot = match stored.slot.as_deref() {
        Some(key) => {
            let (template_id, date, _) = slots::parse_slot_key(key)?;
            Some(SlotChoice { template_id, date })
        }
        None => None,
    };
    history::append(
        conn,
        &stored.id,
        Some(actor),
        "proposal_accepted",
        json!({ "slot": slot }),
    )
}

/// The family (or staff for it) withdraws a request that is not confirmed yet.
pub fn withdraw(
    conn: &mut DbConn,
    stored: &Stored,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match stored.status {
        VisitStatus::Pending => {}
        VisitStatus::Proposed => {
            if let Some(slot) = &stored.slot {
                slots::release_place(conn, slot)?;
                waitlist::offer_freed_place(conn, slot, now)?;
            }
        }
        VisitStatus::Confirmed => {
            return Err(ApiError::conflict(
                "use_cancel",
                "a confirmed visit is cancelled, not withdrawn",
            ));
        }
        _ => return Err(wrong_status(stored, "withdrawn")),
    }
    set_status(conn, &stored.id, VisitStatus::Withdrawn, None)?;
    history::append(conn, &stored.id, Some(actor), "withdrawn", json!({}))
}

/// Cancels a confirmed visit: families until the prison's cut-off, staff with a reason.
pub fn cancel(
    conn: &mut DbConn,
    stored: &Stored,
    party: Party,
    reason: Option<&str>,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if stored.status != VisitStatus::Confirmed {
        return Err(match stored.status {
            VisitStatus::Pending | VisitStatus::Proposed => ApiError::conflict(
                "use_withdraw",
                "a request that is not confirmed is withdrawn, not cancelled",
            ),
            _ => wrong_status(stored, "cancelled"),
        });
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 300) {
        return Err(ApiError::invalid(
            "invalid_value",
            "reason",
            "at most 300 characters",
        ));
    }
    let slot = stored
        .slot
        .clone()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("confirmed without a slot")))?;
    let (template, date, _) = slots::parse_slot_key(&slot)?;
    // Not `Context::load`: a visit stays cancellable when its prison stopped offering the type.
    let prison = rules::load_prison_ref(conn, stored.prison)?;
    let session = slots::load_templates(conn, &stored.prison.to_string())?
        .into_iter()
        .find(|t| t.id == template)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("visit in an unknown session")))?;
    let starts_at = local_instant(prison.tz, date, session.starts_at);
    let cutoff = rules::load_rules(conn, stored.prison)?
        .get(&stored.visit_type)
        .map_or(0, |r| r.cancel_cutoff_hours);
    match party {
        Party::Family => {
            if now > starts_at - Duration::hours(i64::from(cutoff)) {
                return Err(ApiError::conflict(
                    "cancellation_cutoff_passed",
                    format!(
                        "visits can be cancelled in the app until {cutoff} hours before; call the prison"
                    ),
                ));
            }
        }
        Party::Staff if reason.is_none() => {
            return Err(ApiError::invalid(
                "reason_required",
                "reason",
                "give the reason for cancelling",
            ));
        }
        Party::Staff => {}
    }
    if starts_at <= now {
        return Err(ApiError::conflict(
            "visit_started",
            "this visit has already started",
        ));
    }
    slots::release_place(conn, &slot)?;
    diesel::update(visit_requests::table.find(&stored.id))
        .set((
            visit_requests::status.eq(VisitStatus::Cancelled.as_str()),
            visit_requests::cancel_reason.eq(reason),
            visit_requests::updated_at.eq(crate::db::to_naive(now)),
        ))
        .execute(conn)?;
    history::append(
        conn,
        &stored.id,
        Some(actor),
        "cancelled",
        json!({ "reason": reason, "by": match party { Party::Family => "family", Party::Staff => "staff" } }),
    )?;
    waitlist::offer_freed_place(conn, &slot, now)
}

/// Staff change a request and keep its reference: another slot, other visitors, other needs.
pub fn amend(
    conn: &mut DbConn,
    stored: &Stored,
    change: &Amendment,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if !matches!(
        stored.status,
        VisitStatus::Pending | VisitStatus::Confirmed | VisitStatus::Proposed
    ) {
        return Err(wrong_status(stored, "amended"));
    }
    let reason = change.reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(ApiError::invalid(
            "reason_required",
            "reason",
            "give the reason for the change (up to 300 characters)",
        ));
    }
    let ctx = Context::load(conn, stored.family, stored.detainee, stored.visit_type)?;
    let mut changed = serde_json::Map::new();
    let mut visit_date = match &stored.slot {
        Some(slot) => slots::parse_slot_key(slot)?.1,
        None => preferences(conn, &stored.id)?
            .first()
            .map(|c| c.date)
            .unwrap_or_else(|| now.date_naive()),
    };
    // Naming the slot the request already holds moves nothing.
    let current = stored.slot.as_deref();
    let moved = change.slot.filter(|c| {
        current != Some(slots::slot_key(c.template_id, c.date, stored.visit_type).as_str())
    });
    if let Some(choice) = moved {
        if stored.status == VisitStatus::Pending {
            return Err(ApiError::invalid(
                "invalid_value",
                "slot",
                "decide a pending request to give it a slot",
            ));
        }
        lock_family(conn, stored.family)?;
        check_duplicate(conn, stored.family, &[choice], Some(&stored.id))?;
        let template = ctx.check_slot(conn, choice, "slot", now)?;
        let new_slot = slots::take_place(
            conn,
            &ctx.prison.id.to_string(),
            template,
            choice.date,
            stored.visit_type,
        )?
        .ok_or_else(slot_full)?;
        if let Some(old) = &stored.slot {
            slots::release_place(conn, old)?;
            waitlist::offer_freed_place(conn, old, now)?;
        }
        diesel::update(visit_requests::table.find(&stored.id))
            .set((
                visit_requests::slot_id.eq(&new_slot),
                visit_requests::flagged.eq(false),
            ))
            .execute(conn)?;
        visit_date = choice.date;
        changed.insert("slot".into(), json!(choice));
    }
    if let Some(visitors) = &change.visitors {
        ctx.check_visitors(conn, stored.family, visitors, visit_date)?;
        diesel::delete(
            visit_request_visitors::table.filter(visit_request_visitors::request_id.eq(&stored.id)),
        )
        .execute(conn)?;
        insert_visitors(conn, &stored.id, visitors)?;
        changed.insert("visitors".into(), json!(visitors));
    }
    if change.support_needs.is_some() || change.support_note.is_some() {
        let needs = change.support_needs.clone().unwrap_or_default();
        let note = check_support(&needs, change.support_note.as_deref())?;
        diesel::update(visit_requests::table.find(&stored.id))
            .set((
                visit_requests::support_needs.eq(needs_text(&needs)),
                visit_requests::support_note.eq(note),
            ))
            .execute(conn)?;
        changed.insert("support_needs".into(), json!(needs));
    }
    if changed.is_empty() {
        return Err(ApiError::invalid(
            "nothing_to_change",
            "body",
            "name the slot, visitors or support needs to change",
        ));
    }
    diesel::update(visit_requests::table.find(&stored.id))
        .set(visit_requests::updated_at.eq(crate::db::to_naive(now)))
        .execute(conn)?;
    changed.insert("reason".into(), json!(reason));
    history::append(
        conn,
        &stored.id,
        Some(actor),
        "amended",
        serde_json::Value::Object(changed),
    )
}

type RequestRow = (
    (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    ),
    (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
        chrono::NaiveDateTime,
    ),
);

/// Loads requests with everything the API shows.
pub fn load_many(conn: &mut DbConn, ids: &[String]) -> ApiResult<Vec<VisitRequest>> {
    let rows: Vec<RequestRow> = visit_requests::table
        .filter(visit_requests::id.eq_any(ids))
        .order((visit_requests::created_at.asc(), visit_requests::id.asc()))
        .select((
            (
                visit_requests::id,
                visit_requests::reference,
                visit_requests::family_id,
                visit_requests::detainee_id,
                visit_requests::prison_id,
                visit_requests::visit_type,
                visit_requests::status,
                visit_requests::channel,
            ),
            (
                visit_requests::support_needs,
                visit_requests::support_note,
                visit_requests::slot_id,
                visit_requests::decline_reason,
                visit_requests::decline_note,
                visit_requests::cancel_reason,
                visit_requests::flagged,
                visit_requests::created_at,
            ),
        ))
        .load(conn)?;
    let mut prisons: HashMap<String, (PrisonRef, Vec<TemplateSpec>)> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (
        (id, reference, family, detainee, prison, visit_type, status, channel),
        (needs, note, slot, decline, decline_note, cancel, flagged, created),
    ) in rows
    {
        if !prisons.contains_key(&prison) {
            let prison_ref = rules::load_prison_ref(conn, parse_id(&prison)?)?;
            let templates = slots::load_templates(conn, &prison)?;
            prisons.insert(prison.clone(), (prison_ref, templates));
        }
        let (prison_ref, templates) = &prisons[&prison];
        let booked = match slot.as_deref() {
            Some(key) => {
                let (template, date, _) = slots::parse_slot_key(key)?;
                templates
                    .iter()
                    .find(|t| t.id == template)
                    .map(|t| BookedSlot {
                        template_id: t.id,
                        date,
                        starts_at: local_instant(prison_ref.tz, date, t.starts_at),
                        ends_at: local_instant(prison_ref.tz, date, t.ends_at),
                        room: t.room.clone(),
                    })
            }
            None => None,
        };
        let visitors = visit_request_visitors::table
            .filter(visit_request_visitors::request_id.eq(&id))
            .select(visit_request_visitors::member_id)
            .load::<String>(conn)?
            .iter()
            .map(|m| parse_id(m))
            .collect::<ApiResult<_>>()?;
        out.push(VisitRequest {
            id: parse_uuid(&id)?,
            reference,
            family_id: parse_id(&family)?,
            detainee_id: parse_id(&detainee)?,
            prison_id: prison_ref.id,
            visit_type: VisitType::parse(&visit_type).unwrap_or(VisitType::Table),
            status: VisitStatus::parse(&status).unwrap_or(VisitStatus::Pending),
            channel: Channel::parse(&channel).unwrap_or(Channel::App),
            preferences: preferences(conn, &id)?,
            visitors,
            support_needs: needs.split(',').filter_map(SupportNeed::parse).collect(),
            support_note: note,
            slot: booked,
            decline_reason: decline.as_deref().and_then(DeclineReason::parse),
            decline_note,
            cancel_reason: cancel,
            flagged,
            created_at: to_utc(created),
            events: history::load(conn, &id)?,
        });
    }
    Ok(out)
}

pub fn load_one(conn: &mut DbConn, id: &str) -> ApiResult<VisitRequest> {
    load_many(conn, &[id.to_owned()])?
        .pop()
        .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_whole_years_on_the_visit_day() {
        let birth = NaiveDate::from_ymd_opt(2010, 6, 15).expect("date");
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 6, 14).expect("d")),
            15
        );
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 6, 15).expect("d")),
            16
        );
        let leap = NaiveDate::from_ymd_opt(2008, 2, 29).expect("date");
        assert_eq!(
            age_on(leap, NaiveDate::from_ymd_opt(2026, 2, 28).expect("d")),
            17
        );
        assert_eq!(
            age_on(leap, NaiveDate::from_ymd_opt(2026, 3, 1).expect("d")),
            18
        );
    }
}
