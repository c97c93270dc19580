//! A prison's practical information and visit rules, weekly session templates and blocked
//! dates: what coordinators keep up to date.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::visits::{
    BlockedDate, LocalizedText, NewBlockedDate, NewSessionTemplate, PrisonDetail, PrisonInfo,
    SessionCapacity, SessionTemplate, VisitRules, VisitType,
};
use reguide_protocol::{AccountId, Language, PrisonId};
use uuid::Uuid;

use crate::db::schema::{
    blocked_dates, prisons, session_capacities, session_templates, visit_requests, visit_rules,
    visit_slots,
};
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};
use crate::visits::history;
use crate::visits::slots::{self, TemplateSpec};

/// A prison's zone and id, loaded for every visit operation.
#[derive(Clone, Debug)]
pub struct PrisonRef {
    pub id: PrisonId,
    pub tz: Tz,
}

pub fn load_prison_ref(conn: &mut DbConn, prison: PrisonId) -> ApiResult<PrisonRef> {
    let tz: String = prisons::table
        .find(prison.to_string())
        .select(prisons::time_zone)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("prison_not_found", "no prison has this id"))?;
    Ok(PrisonRef {
        id: prison,
        tz: tz.parse().unwrap_or(chrono_tz::Europe::Brussels),
    })
}

type RulesRow = (String, i32, i32, i32, i32, i32, i32, bool, i32);

pub fn load_rules(
    conn: &mut DbConn,
    prison: PrisonId,
) -> ApiResult<HashMap<VisitType, VisitRules>> {
    let rows: Vec<RulesRow> = visit_rules::table
        .filter(visit_rules::prison_id.eq(prison.to_string()))
        .select((
            visit_rules::visit_type,
            visit_rules::min_notice_hours,
            visit_rules::max_days_ahead,
            visit_rules::max_visitors,
            visit_rules::max_adults,
            visit_rules::max_children,
            visit_rules::adult_from_age,
            visit_rules::auto_confirm,
            visit_rules::cancel_cutoff_hours,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(t, notice, ahead, visitors, adults, children, adult_age, auto, cutoff)| {
                let visit_type = VisitType::parse(&t)?;
                Some((
                    visit_type,
                    VisitRules {
                        visit_type,
                        min_notice_hours: notice,
                        max_days_ahead: ahead,
                        max_visitors: visitors,
                        max_adults: adults,
                        max_children: children,
                        adult_from_age: adult_age,
                        auto_confirm: auto,
                        cancel_cutoff_hours: cutoff,
                    },
                ))
            },
        )
        .collect())
}

fn text_map(raw: &str) -> LocalizedText {
    serde_json::from_str(raw).unwrap_or_default()
}

pub fn load_detail(conn: &mut DbConn, prison: PrisonId) -> ApiResult<PrisonDetail> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
    );
    let row: Row = prisons::table
        .find(prison.to_string())
        .select((
            prisons::name,
            prisons::city,
            prisons::address,
            prisons::time_zone,
            prisons::languages,
            prisons::contact_phone,
            prisons::contact_email,
            prisons::arrival_advice,
            prisons::what_to_bring,
            prisons::accessibility,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("prison_not_found", "no prison has this id"))?;
    let (name, city, address, time_zone, languages, phone, email, arrival, bring, access) = row;
    let mut rules: Vec<VisitRules> = load_rules(conn, prison)?.into_values().collect();
    rules.sort_by_key(|r| r.visit_type);
    Ok(PrisonDetail {
        id: prison,
        name,
        city,
        address,
        time_zone,
        languages: languages
            .split(',')
            .filter_map(Language::from_code)
            .collect(),
        contact_phone: phone,
        contact_email: email,
        arrival_advice: text_map(&arrival),
        what_to_bring: text_map(&bring),
        accessibility: text_map(&access),
        rules,
    })
}

fn check_text(value: &str, field: &'static str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::invalid(
            "invalid_value",
            field,
            format!("{field} must have 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn check_texts(text: &LocalizedText, field: &'static str) -> ApiResult<String> {
    if text.values().any(|t| t.chars().count() > 2000) {
        return Err(ApiError::invalid(
            "invalid_value",
            field,
            "each text may have at most 2000 characters",
        ));
    }
    serde_json::to_string(text).map_err(ApiError::internal)
}

pub fn update_info(conn: &mut DbConn, prison: PrisonId, info: &PrisonInfo) -> ApiResult<()> {
    let name = check_text(&info.name, "name", 200)?;
    let city = check_text(&info.city, "city", 100)?;
    let address = check_text(&info.address, "address", 300)?;
    if info.languages.is_empty() {
        return Err(ApiError::invalid(
            "invalid_value",
            "languages",
            "name at least one language",
        ));
    }
    let languages: Vec<&str> = info.languages.iter().map(|l| l.code()).collect();
    let contact_email = info
        .contact_email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            crate::accounts::EmailAddress::parse(e, "contact_email").map(|e| e.as_str().to_owned())
        })
        .transpose()?;
    let updated = diesel::update(prisons::table.find(prison.to_string()))
        .set((
            prisons::name.eq(name),
            prisons::city.eq(city),
            prisons::address.eq(address),
            prisons::languages.eq(languages.join(",")),
            prisons::contact_phone.eq(info
                .contact_phone
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())),
            prisons::contact_email.eq(contact_email),
            prisons::arrival_advice.eq(check_texts(&info.arrival_advice, "arrival_advice")?),
            prisons::what_to_bring.eq(check_texts(&info.what_to_bring, "what_to_bring")?),
            prisons::accessibility.eq(check_texts(&info.accessibility, "accessibility")?),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(ApiError::not_found(
            "prison_not_found",
            "no prison has this id",
        ));
    }
    Ok(())
}

/// Checks rules for sense: positive limits, a window that can be met.
pub fn check_rules(rules: &VisitRules) -> ApiResult<()> {
    let range = |value: i32, field: &'static str, min: i32, max: i32| {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "invalid_value",
                field,
                format!("{field} must be between {min} and {max}"),
            ))
        }
    };
    if rules.visit_type == VisitType::FamilyDay {
        return Err(ApiError::invalid(
            "invalid_value",
            "visit_type",
            "family days are events with registrations, not visit rules",
        ));
    }
    range(rules.min_notice_hours, "min_notice_hours", 0, 24 * 60)?;
    range(rules.max_days_ahead, "max_days_ahead", 1, 366)?;
    range(rules.max_visitors, "max_visitors", 1, 20)?;
    range(rules.max_adults, "max_adults", 1, rules.max_visitors)?;
    range(rules.max_children, "max_children", 0, rules.max_visitors)?;
    range(rules.adult_from_age, "adult_from_age", 12, 21)?;
    range(rules.cancel_cutoff_hours, "cancel_cutoff_hours", 0, 24 * 30)?;
    if i64::from(rules.min_notice_hours) > i64::from(rules.max_days_ahead) * 24 {
        return Err(ApiError::invalid(
            "invalid_value",
            "min_notice_hours",
            "the notice is longer than the booking window",
        ));
    }
    Ok(())
}

/// Sets the rules of one visit type (creating them the first time).
pub fn put_rules(conn: &mut DbConn, prison: PrisonId, rules: &VisitRules) -> ApiResult<()> {
    check_rules(rules)?;
    let values = (
        visit_rules::min_notice_hours.eq(rules.min_notice_hours),
        visit_rules::max_days_ahead.eq(rules.max_days_ahead),
        visit_rules::max_visitors.eq(rules.max_visitors),
        visit_rules::max_adults.eq(rules.max_adults),
        visit_rules::max_children.eq(rules.max_children),
        visit_rules::adult_from_age.eq(rules.adult_from_age),
        visit_rules::auto_confirm.eq(rules.auto_confirm),
        visit_rules::cancel_cutoff_hours.eq(rules.cancel_cutoff_hours),
    );
    let updated =
        diesel::update(visit_rules::table.find((prison.to_string(), rules.visit_type.as_str())))
            .set(values)
            .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(visit_rules::table)
            .values((
                visit_rules::prison_id.eq(prison.to_string()),
                visit_rules::visit_type.eq(rules.visit_type.as_str()),
                values,
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_rules(conn: &mut DbConn, prison: PrisonId, visit_type: VisitType) -> ApiResult<()> {
    let deleted =
        diesel::delete(visit_rules::table.find((prison.to_string(), visit_type.as_str())))
            .execute(conn)?;
    if deleted == 0 {
        return Err(ApiError::not_found(
            "visit_rules_not_found",
            "this prison has no rules for this visit type",
        ));
    }
    Ok(())
}

fn check_template(t: &NewSessionTemplate) -> ApiResult<String> {
    if !(1..=7).contains(&t.weekday) {
        return Err(ApiError::invalid(
            "invalid_value",
            "weekday",
            "weekday runs from 1 (Monday) to 7 (Sunday)",
        ));
    }
    if t.starts_at >= t.ends_at {
        return Err(ApiError::invalid(
            "invalid_value",
            "ends_at",
            "a session must end after it starts",
        ));
    }
    if !(1..=8).contains(&t.every_weeks) {
        return Err(ApiError::invalid(
            "invalid_value",
            "every_weeks",
            "every_weeks runs from 1 to 8",
        ));
    }
    if t.valid_to.is_some_and(|end| end < t.valid_from) {
        return Err(ApiError::invalid(
            "invalid_value",
            "valid_to",
            "valid_to is before valid_from",
        ));
    }
    if t.capacities.is_empty() {
        return Err(ApiError::invalid(
            "invalid_value",
            "capacities",
            "give the places of at least one visit type",
        ));
    }
    for (i, c) in t.capacities.iter().enumerate() {
        if c.visit_type == VisitType::FamilyDay {
            return Err(ApiError::invalid(
                "invalid_value",
                format!("capacities[{i}].visit_type"),
                "family days are not weekly sessions",
            ));
        }
        if !(0..=500).contains(&c.capacity) {
            return Err(ApiError::invalid(
                "invalid_value",
                format!("capacities[{i}].capacity"),
                "capacity runs from 0 to 500",
            ));
        }
        if t.capacities[..i]
            .iter()
            .any(|o| o.visit_type == c.visit_type)
        {
            return Err(ApiError::invalid(
                "invalid_value",
                format!("capacities[{i}].visit_type"),
                "each visit type once",
            ));
        }
    }
    check_text(&t.room, "room", 100)
}

pub fn create_template(
    conn: &mut DbConn,
    prison: PrisonId,
    t: &NewSessionTemplate,
) -> ApiResult<SessionTemplate> {
    let room = check_template(t)?;
    let id = Uuid::new_v4();
    diesel::insert_into(session_templates::table)
        .values((
            session_templates::id.eq(id.to_string()),
            session_templates::prison_id.eq(prison.to_string()),
            session_templates::weekday.eq(i32::from(t.weekday)),
            session_templates::starts_at.eq(t.starts_at.format("%H:%M").to_string()),
            session_templates::ends_at.eq(t.ends_at.format("%H:%M").to_string()),
            session_templates::every_weeks.eq(i32::from(t.every_weeks)),
            session_templates::valid_from.eq(t.valid_from),
            session_templates::valid_to.eq(t.valid_to),
            session_templates::room.eq(&room),
            session_templates::created_at.eq(now()),
        ))
        .execute(conn)?;
    insert_capacities(conn, id, &t.capacities)?;
    Ok(to_template(
        prison,
        &TemplateSpec {
            id,
            weekday: t.weekday,
            starts_at: t.starts_at,
            ends_at: t.ends_at,
            every_weeks: t.every_weeks,
            valid_from: t.valid_from,
            valid_to: t.valid_to,
            room,
            capacities: t
                .capacities
                .iter()
                .map(|c| (c.visit_type, c.capacity))
                .collect(),
        },
    ))
}

fn insert_capacities(
    conn: &mut DbConn,
    template: Uuid,
    capacities: &[SessionCapacity],
) -> ApiResult<()> {
    for c in capacities {
        diesel::insert_into(session_capacities::table)
            .values((
                session_capacities::template_id.eq(template.to_string()),
                session_capacities::visit_type.eq(c.visit_type.as_str()),
                session_capacities::capacity.eq(c.capacity),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn to_template(prison: PrisonId, t: &TemplateSpec) -> SessionTemplate {
    SessionTemplate {
        id: t.id,
        prison_id: prison,
        weekday: t.weekday,
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        every_weeks: t.every_weeks,
        valid_from: t.valid_from,
        valid_to: t.valid_to,
        room: t.room.clone(),
        capacities: t
            .capacities
            .iter()
            .map(|&(visit_type, capacity)| SessionCapacity {
                visit_type,
                capacity,
            })
            .collect(),
    }
}

/// The prison a template belongs to.
pub fn template_prison(conn: &mut DbConn, template: Uuid) -> ApiResult<PrisonId> {
    let prison: String = session_templates::table
        .find(template.to_string())
        .select(session_templates::prison_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found(
                "session_template_not_found",
                "no session template has this id",
            )
        })?;
    crate::auth::principal::parse_id(&prison)
}

/// Replaces a template. Places already booked stay valid: a new capacity below the bookings of
/// a coming date is refused, and booked dates the new pattern would drop must be moved first.
pub fn update_template(
    conn: &mut DbConn,
    prison: PrisonId,
    id: Uuid,
    t: &NewSessionTemplate,
) -> ApiResult<SessionTemplate> {
    let room = check_template(t)?;
    let today = Utc::now().date_naive();
    let booked: Vec<(NaiveDate, String, i32)> = visit_slots::table
        .filter(visit_slots::template_id.eq(id.to_string()))
        .filter(visit_slots::date.ge(today))
        .filter(visit_slots::booked.gt(0))
        .select((
            visit_slots::date,
            visit_slots::visit_type,
            visit_slots::booked,
        ))
        .load(conn)?;
    let spec = TemplateSpec {
        id,
        weekday: t.weekday,
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        every_weeks: t.every_weeks,
        valid_from: t.valid_from,
        valid_to: t.valid_to,
        room: room.clone(),
        capacities: t
            .capacities
            .iter()
            .map(|c| (c.visit_type, c.capacity))
            .collect(),
    };
    for (date, visit_type, count) in &booked {
        let capacity = VisitType::parse(visit_type)
            .and_then(|vt| spec.capacity(vt))
            .unwrap_or(0);
        if !spec.runs_on(*date) || capacity < *count {
            return Err(ApiError::conflict(
                "template_has_bookings",
                format!("{count} place(s) are booked on {date}; move or cancel those visits first"),
            ));
        }
    }
    diesel::update(session_templates::table.find(id.to_string()))
        .set((
            session_templates::weekday.eq(i32::from(t.weekday)),
            session_templates::starts_at.eq(t.starts_at.format("%H:%M").to_string()),
            session_templates::ends_at.eq(t.ends_at.format("%H:%M").to_string()),
            session_templates::every_weeks.eq(i32::from(t.every_weeks)),
            session_templates::valid_from.eq(t.valid_from),
            session_templates::valid_to.eq(t.valid_to),
            session_templates::room.eq(&room),
        ))
        .execute(conn)?;
    diesel::delete(
        session_capacities::table.filter(session_capacities::template_id.eq(id.to_string())),
    )
    .execute(conn)?;
    insert_capacities(conn, id, &t.capacities)?;
    // Counters of coming dates follow the new capacity.
    for c in &t.capacities {
        diesel::update(
            visit_slots::table
                .filter(visit_slots::template_id.eq(id.to_string()))
                .filter(visit_slots::visit_type.eq(c.visit_type.as_str()))
                .filter(visit_slots::date.ge(today)),
        )
        .set(visit_slots::capacity.eq(c.capacity))
        .execute(conn)?;
    }
    Ok(to_template(prison, &spec))
}

pub fn delete_template(conn: &mut DbConn, id: Uuid) -> ApiResult<()> {
    let requests: i64 = visit_requests::table
        .inner_join(visit_slots::table)
        .filter(visit_slots::template_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    let preferred: i64 = crate::db::schema::visit_request_preferences::table
        .filter(crate::db::schema::visit_request_preferences::template_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    if requests + preferred > 0 {
        return Err(ApiError::conflict(
            "template_has_bookings",
            "visit requests name this session; end it with valid_to instead of deleting it",
        ));
    }
    diesel::delete(session_templates::table.find(id.to_string())).execute(conn)?;
    Ok(())
}

/// Blocks a date (or one session of it) and flags the visits already on it, so coordinators
/// see them and families are asked to choose again.
pub fn block_date(
    conn: &mut DbConn,
    prison: &PrisonRef,
    block: &NewBlockedDate,
    actor: AccountId,
) -> ApiResult<BlockedDate> {
    let reason = check_text(&block.reason, "reason", 300)?;
    if block.date < Utc::now().with_timezone(&prison.tz).date_naive() {
        return Err(ApiError::invalid(
            "date_in_past",
            "date",
            "this date has passed",
        ));
    }
    if let Some(template) = block.template_id
        && template_prison(conn, template)? != prison.id
    {
        return Err(ApiError::invalid(
            "no_such_session",
            "template_id",
            "this prison has no such session",
        ));
    }
    let id = Uuid::new_v4();
    diesel::insert_into(blocked_dates::table)
        .values((
            blocked_dates::id.eq(id.to_string()),
            blocked_dates::prison_id.eq(prison.id.to_string()),
            blocked_dates::date.eq(block.date),
            blocked_dates::template_id.eq(block.template_id.map(|t| t.to_string())),
            blocked_dates::reason.eq(&reason),
            blocked_dates::created_by.eq(actor.to_string()),
            blocked_dates::created_at.eq(now()),
        ))
        .execute(conn)?;
    let mut affected = visit_requests::table
        .inner_join(visit_slots::table)
        .filter(visit_slots::prison_id.eq(prison.id.to_string()))
        .filter(visit_slots::date.eq(block.date))
        .filter(visit_requests::status.eq_any(["confirmed", "proposed"]))
        .into_boxed();
    if let Some(template) = block.template_id {
        affected = affected.filter(visit_slots::template_id.eq(template.to_string()));
    }
    let mut flagged: Vec<String> = affected.select(visit_requests::id).load(conn)?;
    // Pending requests that name the date among their preferences need a look too.
    let mut pending = visit_requests::table
        .inner_join(crate::db::schema::visit_request_preferences::table)
        .filter(visit_requests::prison_id.eq(prison.id.to_string()))
        .filter(visit_requests::status.eq("pending"))
        .filter(crate::db::schema::visit_request_preferences::date.eq(block.date))
        .into_boxed();
    if let Some(template) = block.template_id {
        pending = pending.filter(
            crate::db::schema::visit_request_preferences::template_id.eq(template.to_string()),
        );
    }
    flagged.extend(
        pending
            .select(visit_requests::id)
            .distinct()
            .load::<String>(conn)?,
    );
    flagged.sort();
    flagged.dedup();
    for request in &flagged {
        diesel::update(visit_requests::table.find(request))
            .set((
                visit_requests::flagged.eq(true),
                visit_requests::updated_at.eq(now()),
            ))
            .execute(conn)?;
        history::append(
            conn,
            request,
            Some(actor),
            "flagged",
            serde_json::json!({ "blocked_date": block.date, "reason": reason }),
        )?;
    }
    Ok(BlockedDate {
        id,
        prison_id: prison.id,
        date: block.date,
        template_id: block.template_id,
        reason,
        flagged_requests: flagged
            .iter()
            .map(|r| slots::parse_uuid(r))
            .collect::<ApiResult<_>>()?,
    })
}

pub fn list_blocked(
    conn: &mut DbConn,
    prison: PrisonId,
    from: NaiveDate,
) -> ApiResult<Vec<BlockedDate>> {
    blocked_dates::table
        .filter(blocked_dates::prison_id.eq(prison.to_string()))
        .filter(blocked_dates::date.ge(from))
        .order(blocked_dates::date.asc())
        .select((
            blocked_dates::id,
            blocked_dates::date,
            blocked_dates::template_id,
            blocked_dates::reason,
        ))
        .load::<(String, NaiveDate, Option<String>, String)>(conn)?
        .into_iter()
        .map(|(id, date, template, reason)| {
            Ok(BlockedDate {
                id: slots::parse_uuid(&id)?,
                prison_id: prison,
                date,
                template_id: template.as_deref().map(slots::parse_uuid).transpose()?,
                reason,
                flagged_requests: Vec::new(),
            })
        })
        .collect()
}

/// Lifts a block; returns its prison for the access check done by the caller beforehand.
pub fn blocked_date_prison(conn: &mut DbConn, id: Uuid) -> ApiResult<PrisonId> {
    let prison: String = blocked_dates::table
        .find(id.to_string())
        .select(blocked_dates::prison_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found("blocked_date_not_found", "no blocked date has this id")
        })?;
    crate::auth::principal::parse_id(&prison)
}

pub fn unblock(conn: &mut DbConn, id: Uuid) -> ApiResult<()> {
    diesel::delete(blocked_dates::table.find(id.to_string())).execute(conn)?;
    Ok(())
}
