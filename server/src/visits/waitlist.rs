//! The waiting list of full slots. When a place frees, the first waiting family is offered it:
//! the place is held for them until the offer expires, then passed to the next in line.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reguide_protocol::visits::{
    Channel, NewWaitlistEntry, SlotChoice, VisitStatus, WaitlistEntry, WaitlistStatus,
};
use reguide_protocol::{AccountId, MemberId};
use serde_json::json;
use uuid::Uuid;

use crate::auth::principal::parse_id;
use crate::db::schema::{
    visit_request_preferences, visit_request_visitors, visit_requests, visit_slots, visit_waitlist,
};
use crate::db::{DbConn, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::visits::history;
use crate::visits::requests::Context;
use crate::visits::slots::{self, parse_uuid, slot_key};

/// How long an offered place is held for a waiting family.
pub const OFFER_HOLD_HOURS: i64 = 24;

fn visitors_text(visitors: &[MemberId]) -> String {
    visitors
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_visitors(text: &str) -> ApiResult<Vec<MemberId>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(parse_id)
        .collect()
}

/// Puts a family on the waiting list of a full slot.
pub fn join(
    conn: &mut DbConn,
    entry: &NewWaitlistEntry,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    // The family first, as requests lock it before any slot: no two orders, no deadlock.
    crate::visits::requests::lock_family(conn, entry.family_id)?;
    expire_offers(conn, now)?;
    let ctx = Context::load(conn, entry.family_id, entry.detainee_id, entry.visit_type)?;
    let template = ctx.check_slot(conn, entry.slot, "slot", now)?;
    ctx.check_visitors(conn, entry.family_id, &entry.visitors, entry.slot.date)?;
    // A family that already has (or asked for) this visit does not wait for it a second time.
    crate::visits::requests::check_duplicate(conn, entry.family_id, &[entry.slot], None)?;
    let key = slot_key(entry.slot.template_id, entry.slot.date, entry.visit_type);
    let counter: Option<(i32, i32)> = visit_slots::table
        .find(&key)
        .select((visit_slots::capacity, visit_slots::booked))
        .first(conn)
        .optional()?;
    let (capacity, booked) =
        counter.unwrap_or((template.capacity(entry.visit_type).unwrap_or(0), 0));
    if booked < capacity {
        return Err(ApiError::conflict(
            "slot_not_full",
            "this slot has free places: ask for the visit instead",
        ));
    }
    let already: i64 = visit_waitlist::table
        .filter(visit_waitlist::slot_key.eq(&key))
        .filter(visit_waitlist::family_id.eq(entry.family_id.to_string()))
        .filter(visit_waitlist::status.eq_any(["waiting", "offered"]))
        .count()
        .get_result(conn)?;
    if already > 0 {
        return Err(ApiError::conflict(
            "already_waiting",
            "this family is already on the waiting list of this slot",
        ));
    }
    let id = Uuid::new_v4().to_string();
    diesel::insert_into(visit_waitlist::table)
        .values((
            visit_waitlist::id.eq(&id),
            visit_waitlist::slot_key.eq(&key),
            visit_waitlist::prison_id.eq(ctx.prison.id.to_string()),
            visit_waitlist::template_id.eq(entry.slot.template_id.to_string()),
            visit_waitlist::date.eq(entry.slot.date),
            visit_waitlist::visit_type.eq(entry.visit_type.as_str()),
            visit_waitlist::family_id.eq(entry.family_id.to_string()),
            visit_waitlist::detainee_id.eq(entry.detainee_id.to_string()),
            visit_waitlist::visitors.eq(visitors_text(&entry.visitors)),
            visit_waitlist::status.eq(WaitlistStatus::Waiting.as_str()),
            visit_waitlist::created_by.eq(actor.to_string()),
            visit_waitlist::created_at.eq(crate::db::to_naive(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A place of `slot` was given back: offer it to the first waiting family, holding it for
/// them. Runs in the transaction that freed the place.
pub fn offer_freed_place(conn: &mut DbConn, slot: &str, now: DateTime<Utc>) -> ApiResult<()> {
    let next: Option<String> = visit_waitlist::table
        .filter(visit_waitlist::slot_key.eq(slot))
        .filter(visit_waitlist::status.eq(WaitlistStatus::Waiting.as_str()))
        .order((visit_waitlist::created_at.asc(), visit_waitlist::id.asc()))
        .select(visit_waitlist::id)
        .first(conn)
        .optional()?;
    let Some(entry) = next else {
        return Ok(());
    };
    let held = diesel::update(
        visit_slots::table
            .find(slot)
            .filter(visit_slots::booked.lt(visit_slots::capacity)),
    )
    .set(visit_slots::booked.eq(visit_slots::booked + 1))
    .execute(conn)?;
    if held == 1 {
        diesel::update(visit_waitlist::table.find(&entry))
            .set((
                visit_waitlist::status.eq(WaitlistStatus::Offered.as_str()),
                visit_waitlist::offer_expires_at
                    .eq((now + Duration::hours(OFFER_HOLD_HOURS)).naive_utc()),
            ))
            .execute(conn)?;
        crate::mail::events::waitlist_offer(conn, &entry)?;
    }
    Ok(())
}

/// Offers whose time ran out give their place to the next in line.
pub fn expire_offers(conn: &mut DbConn, now: DateTime<Utc>) -> ApiResult<usize> {
    let expired: Vec<(String, String)> = visit_waitlist::table
        .filter(visit_waitlist::status.eq(WaitlistStatus::Offered.as_str()))
        .filter(visit_waitlist::offer_expires_at.lt(crate::db::to_naive(now)))
        .select((visit_waitlist::id, visit_waitlist::slot_key))
        .load(conn)?;
    let mut count = 0;
    for (id, slot) in &expired {
        // Only while still offered: a concurrent sweep (or answer) may have got there first,
        // and the held place must be given back once.
        let changed = diesel::update(
            visit_waitlist::table
                .find(id)
                .filter(visit_waitlist::status.eq(WaitlistStatus::Offered.as_str())),
        )
        .set(visit_waitlist::status.eq(WaitlistStatus::Expired.as_str()))
        .execute(conn)?;
        if changed == 0 {
            continue;
        }
        slots::release_place(conn, slot)?;
        offer_freed_place(conn, slot, now)?;
        count += 1;
    }
    Ok(count)
}

/// Takes the write lock of one entry for the rest of the transaction (PostgreSQL; SQLite's write
/// transactions are serialised already), so that two answers to one offer run one after the
/// other.
pub fn lock_entry(conn: &mut DbConn, id: Uuid) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        visit_waitlist::table
            .find(id.to_string())
            .select(visit_waitlist::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// The stored facts of an entry.
#[derive(Debug)]
pub struct StoredEntry {
    pub id: String,
    pub family: reguide_protocol::FamilyId,
    pub prison: reguide_protocol::PrisonId,
    pub status: WaitlistStatus,
    pub slot_key: String,
}

pub fn load_stored(conn: &mut DbConn, id: Uuid) -> ApiResult<StoredEntry> {
    let row: Option<(String, String, String, String, String)> = visit_waitlist::table
        .find(id.to_string())
        .select((
            visit_waitlist::id,
            visit_waitlist::family_id,
            visit_waitlist::prison_id,
            visit_waitlist::status,
            visit_waitlist::slot_key,
        ))
        .first(conn)
        .optional()?;
    let (id, family, prison, status, slot_key) = row.ok_or_else(not_found)?;
    Ok(StoredEntry {
        id,
        family: parse_id(&family)?,
        prison: parse_id(&prison)?,
        status: WaitlistStatus::parse(&status).unwrap_or(WaitlistStatus::Waiting),
        slot_key,
    })
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "waitlist_entry_not_found",
        "no waiting-list entry with this id is visible to you",
    )
}

/// The family takes the offered place: a confirmed visit request is made on the held place.
pub fn accept(
    conn: &mut DbConn,
    entry: &StoredEntry,
    actor: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    expire_offers(conn, now)?;
    let entry = &load_stored(conn, parse_uuid(&entry.id)?)?;
    if entry.status != WaitlistStatus::Offered {
        return Err(ApiError::conflict(
            "no_offer",
            "there is no place on offer for this entry",
        ));
    }
    type Row = (
        String,
        String,
        chrono::NaiveDate,
        String,
        Option<chrono::NaiveDateTime>,
    );
    let (detainee, template, date, visitors, expires): Row = visit_waitlist::table
        .find(&entry.id)
        .select((
            visit_waitlist::detainee_id,
            visit_waitlist::template_id,
            visit_waitlist::date,
            visit_waitlist::visitors,
            visit_waitlist::offer_expires_at,
        ))
        .first(conn)?;
    if expires.is_some_and(|e| e < crate::db::to_naive(now)) {
        return Err(ApiError::conflict(
            "offer_expired",
            "this offer has expired",
        ));
    }
    let (_, _, visit_type) = slots::parse_slot_key(&entry.slot_key)?;
    let ctx = Context::load(conn, entry.family, parse_id(&detainee)?, visit_type)?;
    let visitors = parse_visitors(&visitors)?;
    ctx.check_visitors(conn, entry.family, &visitors, date)?;
    let template = parse_uuid(&template)?;
    // Nor does it get the place twice when it booked the slot while waiting.
    crate::visits::requests::check_duplicate(
        conn,
        entry.family,
        &[SlotChoice {
            template_id: template,
            date,
        }],
        None,
    )?;
    let starts_at = slots::local_instant(ctx.prison.tz, date, ctx.template(template)?.starts_at);
    if starts_at <= now {
        return Err(ApiError::conflict(
            "slot_in_past",
            "this slot has already started",
        ));
    }
    let id = Uuid::new_v4().to_string();
    let stamp = crate::db::to_naive(now);
    diesel::insert_into(visit_requests::table)
        .values((
            visit_requests::id.eq(&id),
            visit_requests::reference.eq(crate::visits::requests::new_reference(conn)?),
            visit_requests::family_id.eq(entry.family.to_string()),
            visit_requests::detainee_id.eq(detainee),
            visit_requests::prison_id.eq(entry.prison.to_string()),
            visit_requests::visit_type.eq(visit_type.as_str()),
            visit_requests::status.eq(VisitStatus::Confirmed.as_str()),
            visit_requests::channel.eq(Channel::App.as_str()),
            visit_requests::support_needs.eq(""),
            visit_requests::slot_id.eq(&entry.slot_key),
            visit_requests::flagged.eq(false),
            visit_requests::created_by.eq(actor.to_string()),
            visit_requests::created_at.eq(stamp),
            visit_requests::updated_at.eq(stamp),
        ))
        .execute(conn)?;
    diesel::insert_into(visit_request_preferences::table)
        .values((
            visit_request_preferences::request_id.eq(&id),
            visit_request_preferences::rank.eq(1),
            visit_request_preferences::template_id.eq(template.to_string()),
            visit_request_preferences::date.eq(date),
        ))
        .execute(conn)?;
    for member in &visitors {
        diesel::insert_into(visit_request_visitors::table)
            .values((
                visit_request_visitors::request_id.eq(&id),
                visit_request_visitors::member_id.eq(member.to_string()),
            ))
            .execute(conn)?;
    }
    history::append(
        conn,
        &id,
        Some(actor),
        "waitlist_offer_accepted",
        json!({
            "waitlist_entry": entry.id,
            "slot": SlotChoice { template_id: template, date },
        }),
    )?;
    diesel::update(visit_waitlist::table.find(&entry.id))
        .set((
            visit_waitlist::status.eq(WaitlistStatus::Accepted.as_str()),
            visit_waitlist::request_id.eq(&id),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The family leaves the list (or turns an offer down, passing the place on).
pub fn leave(conn: &mut DbConn, entry: &StoredEntry, now: DateTime<Utc>) -> ApiResult<()> {
    let status = match entry.status {
        WaitlistStatus::Waiting => WaitlistStatus::Cancelled,
        WaitlistStatus::Offered => WaitlistStatus::Declined,
        _ => {
            return Err(ApiError::conflict(
                "invalid_status",
                "this entry is no longer on the list",
            ));
        }
    };
    diesel::update(visit_waitlist::table.find(&entry.id))
        .set(visit_waitlist::status.eq(status.as_str()))
        .execute(conn)?;
    if entry.status == WaitlistStatus::Offered {
        slots::release_place(conn, &entry.slot_key)?;
        offer_freed_place(conn, &entry.slot_key, now)?;
    }
    Ok(())
}

type EntryRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    chrono::NaiveDate,
    Option<chrono::NaiveDateTime>,
    Option<String>,
    chrono::NaiveDateTime,
);

/// Entries by filter, with their place in line.
pub fn list(
    conn: &mut DbConn,
    families: Option<&[String]>,
    prisons: Option<&[String]>,
    only_open: bool,
) -> ApiResult<Vec<WaitlistEntry>> {
    let mut query = visit_waitlist::table.into_boxed();
    if let Some(families) = families {
        query = query.filter(visit_waitlist::family_id.eq_any(families.to_vec()));
    }
    if let Some(prisons) = prisons {
        query = query.filter(visit_waitlist::prison_id.eq_any(prisons.to_vec()));
    }
    if only_open {
        query = query.filter(visit_waitlist::status.eq_any(["waiting", "offered"]));
    }
    let rows: Vec<EntryRow> = query
        .order((visit_waitlist::date.asc(), visit_waitlist::created_at.asc()))
        .select((
            visit_waitlist::id,
            visit_waitlist::family_id,
            visit_waitlist::detainee_id,
            visit_waitlist::prison_id,
            visit_waitlist::visit_type,
            visit_waitlist::status,
            visit_waitlist::template_id,
            visit_waitlist::date,
            visit_waitlist::offer_expires_at,
            visit_waitlist::request_id,
            visit_waitlist::created_at,
        ))
        .limit(1000)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                id,
                family,
                detainee,
                prison,
                visit_type,
                status,
                template,
                date,
                expires,
                request,
                created,
            )| {
                let status = WaitlistStatus::parse(&status).unwrap_or(WaitlistStatus::Waiting);
                let visit_type = reguide_protocol::visits::VisitType::parse(&visit_type)
                    .unwrap_or(reguide_protocol::visits::VisitType::Table);
                let template = parse_uuid(&template)?;
                let position = if status == WaitlistStatus::Waiting {
                    Some(
                        visit_waitlist::table
                            .filter(
                                visit_waitlist::slot_key.eq(slot_key(template, date, visit_type)),
                            )
                            .filter(visit_waitlist::status.eq(WaitlistStatus::Waiting.as_str()))
                            .filter(visit_waitlist::created_at.le(created))
                            .count()
                            .get_result::<i64>(conn)?,
                    )
                } else {
                    None
                };
                let visitors: String = visit_waitlist::table
                    .find(&id)
                    .select(visit_waitlist::visitors)
                    .first(conn)?;
                Ok(WaitlistEntry {
                    id: parse_uuid(&id)?,
                    family_id: parse_id(&family)?,
                    detainee_id: parse_id(&detainee)?,
                    prison_id: parse_id(&prison)?,
                    visit_type,
                    slot: SlotChoice {
                        template_id: template,
                        date,
                    },
                    visitors: parse_visitors(&visitors)?,
                    status,
                    position,
                    offer_expires_at: expires.map(to_utc),
                    request_id: request.as_deref().map(parse_uuid).transpose()?,
                    created_at: to_utc(created),
                })
            },
        )
        .collect()
}

pub fn load_one(conn: &mut DbConn, id: &str) -> ApiResult<WaitlistEntry> {
    let family: String = visit_waitlist::table
        .find(id)
        .select(visit_waitlist::family_id)
        .first(conn)?;
    list(conn, Some(&[family]), None, false)?
        .into_iter()
        .find(|e| e.id.to_string() == id)
        .ok_or_else(not_found)
}

/// Used by the periodic sweep.
pub fn sweep(conn: &mut DbConn) -> ApiResult<usize> {
    expire_offers(conn, Utc::now())
}
