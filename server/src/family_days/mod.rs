//! Family days: events at a prison that families register for, with capacity in families and
//! people, a registration deadline and a waiting list.
//!
//! Capacity is held by construction: the counters `registered_families` and
//! `registered_people` of the day's row are only ever changed by one conditional `UPDATE`
//! ([`take_places`], [`release_places`]), inside the write transaction that also writes the
//! registration, and the table's `CHECK` constraints back them up. Concurrent registrations for
//! the last place therefore register exactly one family on both backends. Every transaction
//! that changes registrations first locks the day's row ([`lock_day`]), so the "already
//! registered" check and the waiting-list order are consistent on PostgreSQL too (SQLite
//! serialises writers with `BEGIN IMMEDIATE` anyway).
//!
//! Start and end are local wall-clock times (`HH:MM`) in the prison's time zone; the API shows
//! them as instants with that date's offset, so a 14:00 start stays 14:00 local across DST.
//! Who may do what is decided in [`access`].

pub mod access;
pub mod api;
pub mod export;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::family_days::{FamilyDay, Registration, RegistrationStatus};
use reguide_protocol::{AccountId, FamilyId, PrisonId};
use uuid::Uuid;

use crate::auth::principal::parse_id;
use crate::db::schema::{families, family_day_registrations as regs, family_days, prisons};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};

/// Most people one family brings to a family day.
pub const MAX_PEOPLE_PER_FAMILY: i32 = 12;

const TIME_FORMAT: &str = "%H:%M";

/// A `family_days` row.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = family_days)]
pub struct DayRow {
    pub id: String,
    pub prison_id: String,
    pub title: String,
    pub date: NaiveDate,
    pub starts_at: String,
    pub ends_at: String,
    pub programme: String,
    pub capacity_families: i32,
    pub capacity_people: i32,
    pub registered_families: i32,
    pub registered_people: i32,
    pub min_child_age: i32,
    pub max_child_age: i32,
    pub registration_deadline: NaiveDateTime,
    pub cancelled: bool,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A day with what its times mean: the prison's zone.
#[derive(Clone, Debug)]
pub struct Day {
    pub row: DayRow,
    pub prison_id: PrisonId,
    pub tz: Tz,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

impl Day {
    fn from_row(row: DayRow, tz: Tz) -> ApiResult<Self> {
        let time = |s: &str| {
            NaiveTime::parse_from_str(s, TIME_FORMAT)
                .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed time in family_days")))
        };
        Ok(Self {
            prison_id: parse_id(&row.prison_id)?,
            starts: time(&row.starts_at)?,
            ends: time(&row.ends_at)?,
            row,
            tz,
        })
    }

    pub fn id(&self) -> &str {
        &self.row.id
    }

    /// When the day starts, as a UTC timestamp like those stored.
    pub fn starts_utc(&self) -> NaiveDateTime {
        local_instant(self.tz, self.row.date, self.starts).naive_utc()
    }

    pub fn registration_open(&self, at: NaiveDateTime) -> bool {
        at < self.row.registration_deadline
    }

    pub fn started(&self, at: NaiveDateTime) -> bool {
        at >= self.starts_utc()
    }

    pub fn to_wire(&self, waiting_families: i64) -> ApiResult<FamilyDay> {
        let r = &self.row;
        Ok(FamilyDay {
            id: parse_id(&r.id)?,
            prison_id: self.prison_id,
            title: r.title.clone(),
            date: r.date,
            starts_at: local_instant(self.tz, r.date, self.starts),
            ends_at: local_instant(self.tz, r.date, self.ends),
            programme: r.programme.clone(),
            capacity_families: r.capacity_families,
            capacity_people: r.capacity_people,
            registered_families: r.registered_families,
            registered_people: r.registered_people,
            waiting_families,
            min_child_age: r.min_child_age,
            max_child_age: r.max_child_age,
            registration_deadline: to_utc(r.registration_deadline),
            cancelled: r.cancelled,
        })
    }
}

pub use crate::visits::slots::local_instant;

/// Today's date in `tz`.
pub fn today_in(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The time zone of a prison, or `404 prison_not_found`.
pub fn prison_zone(conn: &mut DbConn, prison: &str) -> ApiResult<Tz> {
    let zone: String = prisons::table
        .find(prison)
        .select(prisons::time_zone)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("prison_not_found", "no prison has this id"))?;
    zone.parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed time zone in prisons")))
}

pub fn day_not_found() -> ApiError {
    ApiError::not_found(
        "family_day_not_found",
        "there is no family day with this id",
    )
}

pub fn day_cancelled() -> ApiError {
    ApiError::conflict("family_day_cancelled", "this family day has been cancelled")
}

pub fn day_started() -> ApiError {
    ApiError::conflict("family_day_started", "this family day has already started")
}

pub fn registration_closed() -> ApiError {
    ApiError::conflict(
        "registration_closed",
        "the registration deadline of this family day has passed",
    )
}

/// Reads a day, or `404 family_day_not_found`.
pub fn load_day(conn: &mut DbConn, id: Uuid) -> ApiResult<Day> {
    let row: DayRow = family_days::table
        .find(id.to_string())
        .select(DayRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(day_not_found)?;
    let tz = prison_zone(conn, &row.prison_id)?;
    Day::from_row(row, tz)
}

/// Reads a day and locks its row until the transaction ends, so that everything that changes
/// its registrations runs one after the other. Inside a write transaction only.
pub fn lock_day(conn: &mut DbConn, id: Uuid) -> ApiResult<Day> {
    // `DayRow` lists the columns in table order, so `all_columns` reads into it. Loaded as a
    // list: an UPDATE … RETURNING that matches no row is no error.
    let row: DayRow = diesel::update(family_days::table.find(id.to_string()))
        .set(family_days::cancelled.eq(family_days::cancelled))
        .returning(family_days::all_columns)
        .get_results::<DayRow>(conn)?
        .into_iter()
        .next()
        .ok_or_else(day_not_found)?;
    let tz = prison_zone(conn, &row.prison_id)?;
    Day::from_row(row, tz)
}

/// How many families wait for a place at a day.
pub fn waiting_count(conn: &mut DbConn, day: &str) -> ApiResult<i64> {
    Ok(regs::table
        .filter(regs::family_day_id.eq(day))
        .filter(regs::status.eq(RegistrationStatus::Waiting.as_str()))
        .count()
        .get_result(conn)?)
}

/// A day as the API shows it.
pub fn day_wire(conn: &mut DbConn, day: &Day) -> ApiResult<FamilyDay> {
    let waiting = waiting_count(conn, day.id())?;
    day.to_wire(waiting)
}

/// A new day, checked.
#[derive(Clone, Debug)]
pub struct DayInput {
    pub title: String,
    pub date: NaiveDate,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
    pub programme: String,
    pub capacity_families: i32,
    pub capacity_people: i32,
    pub min_child_age: i32,
    pub max_child_age: i32,
    pub registration_deadline: NaiveDateTime,
}

pub fn insert_day(
    conn: &mut DbConn,
    prison: PrisonId,
    tz: Tz,
    input: &DayInput,
    created_by: AccountId,
) -> ApiResult<Day> {
    let row = DayRow {
        id: Uuid::new_v4().to_string(),
        prison_id: prison.to_string(),
        title: input.title.clone(),
        date: input.date,
        starts_at: input.starts.format(TIME_FORMAT).to_string(),
        ends_at: input.ends.format(TIME_FORMAT).to_string(),
        programme: input.programme.clone(),
        capacity_families: input.capacity_families,
        capacity_people: input.capacity_people,
        registered_families: 0,
        registered_people: 0,
        min_child_age: input.min_child_age,
        max_child_age: input.max_child_age,
        registration_deadline: input.registration_deadline,
        cancelled: false,
        created_by: Some(created_by.to_string()),
        created_at: now(),
    };
    diesel::insert_into(family_days::table)
        .values((
            family_days::id.eq(&row.id),
            family_days::prison_id.eq(&row.prison_id),
            family_days::title.eq(&row.title),
            family_days::date.eq(row.date),
            family_days::starts_at.eq(&row.starts_at),
            family_days::ends_at.eq(&row.ends_at),
            family_days::programme.eq(&row.programme),
            family_days::capacity_families.eq(row.capacity_families),
            family_days::capacity_people.eq(row.capacity_people),
            family_days::registered_families.eq(0),
            family_days::registered_people.eq(0),
            family_days::min_child_age.eq(row.min_child_age),
            family_days::max_child_age.eq(row.max_child_age),
            family_days::registration_deadline.eq(row.registration_deadline),
            family_days::cancelled.eq(false),
            family_days::created_by.eq(&row.created_by),
            family_days::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    Day::from_row(row, tz)
}

/// Filters of the day list.
#[derive(Clone, Debug, Default)]
pub struct DayFilter {
    pub prison: Option<PrisonId>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub include_cancelled: bool,
}

/// Days by date and start time. Without `from`, days before today (UTC) are left out.
pub fn list_days(conn: &mut DbConn, filter: &DayFilter) -> ApiResult<Vec<FamilyDay>> {
    let mut query = family_days::table.into_boxed();
    if let Some(prison) = filter.prison {
        query = query.filter(family_days::prison_id.eq(prison.to_string()));
    }
    let from = filter.from.unwrap_or_else(|| Utc::now().date_naive());
    query = query.filter(family_days::date.ge(from));
    if let Some(to) = filter.to {
        query = query.filter(family_days::date.le(to));
    }
    if !filter.include_cancelled {
        query = query.filter(family_days::cancelled.eq(false));
    }
    let rows: Vec<DayRow> = query
        .order((
            family_days::date.asc(),
            family_days::starts_at.asc(),
            family_days::id.asc(),
        ))
        .select(DayRow::as_select())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let waiting: Vec<String> = regs::table
        .filter(regs::family_day_id.eq_any(&ids))
        .filter(regs::status.eq(RegistrationStatus::Waiting.as_str()))
        .select(regs::family_day_id)
        .load(conn)?;
    let mut zones: Vec<(String, Tz)> = Vec::new();
    rows.into_iter()
        .map(|row| {
            let tz = match zones.iter().find(|(p, _)| *p == row.prison_id) {
                Some((_, tz)) => *tz,
                None => {
                    let tz = prison_zone(conn, &row.prison_id)?;
                    zones.push((row.prison_id.clone(), tz));
                    tz
                }
            };
            let count = waiting.iter().filter(|d| **d == row.id).count() as i64;
            Day::from_row(row, tz)?.to_wire(count)
        })
        .collect()
}

/// What may change of a day, checked at the edge.
#[derive(Clone, Debug, Default)]
pub struct DayChanges {
    pub title: Option<String>,
    pub programme: Option<String>,
    pub capacity_families: Option<i32>,
    pub capacity_people: Option<i32>,
    pub registration_deadline: Option<NaiveDateTime>,
}

/// Applies `changes` to a locked, not cancelled day. Capacities never go below what is
/// registered (`409 capacity_below_registered`); raised capacities promote waiting families.
/// Returns the registrations promoted.
pub fn update_day(conn: &mut DbConn, day: &Day, changes: &DayChanges) -> ApiResult<Vec<String>> {
    let r = &day.row;
    let families = changes.capacity_families.unwrap_or(r.capacity_families);
    let people = changes.capacity_people.unwrap_or(r.capacity_people);
    if people < families {
        return Err(ApiError::invalid(
            "invalid_value",
            "capacity_people",
            "capacity_people must be at least capacity_families: every family is one person or more",
        ));
    }
    if families < r.registered_families || people < r.registered_people {
        return Err(ApiError::conflict(
            "capacity_below_registered",
            format!(
                "{} families with {} people are registered; cancel registrations before \
                 lowering the capacity below that",
                r.registered_families, r.registered_people
            ),
        ));
    }
    if let Some(deadline) = changes.registration_deadline
        && deadline >= day.starts_utc()
    {
        return Err(ApiError::invalid(
            "invalid_value",
            "registration_deadline",
            "the registration deadline must be before the day starts",
        ));
    }
    // Conditional on the counters as well, though the row is locked: the constraint is the
    // counters, not this function's reading of them.
    let changed = diesel::update(
        family_days::table
            .find(&r.id)
            .filter(family_days::registered_families.le(families))
            .filter(family_days::registered_people.le(people)),
    )
    .set((
        family_days::title.eq(changes.title.as_deref().unwrap_or(&r.title)),
        family_days::programme.eq(changes.programme.as_deref().unwrap_or(&r.programme)),
        family_days::capacity_families.eq(families),
        family_days::capacity_people.eq(people),
        family_days::registration_deadline.eq(changes
            .registration_deadline
            .unwrap_or(r.registration_deadline)),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "capacity_below_registered",
            "more places are taken than the new capacity allows",
        ));
    }
    if families > r.capacity_families || people > r.capacity_people {
        promote_waiting(conn, &r.id)
    } else {
        Ok(Vec::new())
    }
}

/// Cancels a locked day and every registration for it; `actor` is the staff account.
pub fn cancel_day(conn: &mut DbConn, day: &Day, actor: AccountId) -> ApiResult<()> {
    let at = now();
    let affected: Vec<String> = regs::table
        .filter(regs::family_day_id.eq(day.id()))
        .filter(regs::status.ne(RegistrationStatus::Cancelled.as_str()))
        .select(regs::id)
        .load(conn)?;
    diesel::update(family_days::table.find(day.id()))
        .set((
            family_days::cancelled.eq(true),
            family_days::registered_families.eq(0),
            family_days::registered_people.eq(0),
        ))
        .execute(conn)?;
    diesel::update(
        regs::table
            .filter(regs::family_day_id.eq(day.id()))
            .filter(regs::status.ne(RegistrationStatus::Cancelled.as_str())),
    )
    .set((
        regs::status.eq(RegistrationStatus::Cancelled.as_str()),
        regs::updated_at.eq(at),
        regs::updated_by.eq(actor.to_string()),
    ))
    .execute(conn)?;
    for registration in &affected {
        crate::mail::events::family_day_registration(conn, registration, Utc::now())?;
    }
    Ok(())
}

/// Takes places for `people` people of one family, if the day has them: the one statement that
/// keeps a day from being overbooked.
fn take_places(conn: &mut DbConn, day: &str, people: i32) -> ApiResult<bool> {
    let taken = diesel::update(
        family_days::table
            .find(day)
            .filter(family_days::cancelled.eq(false))
            .filter(family_days::registered_families.lt(family_days::capacity_families))
            .filter((family_days::registered_people + people).le(family_days::capacity_people)),
    )
    .set((
        family_days::registered_families.eq(family_days::registered_families + 1),
        family_days::registered_people.eq(family_days::registered_people + people),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives back the places of one registered family.
pub(crate) fn release_places(conn: &mut DbConn, day: &str, people: i32) -> ApiResult<()> {
    let released = diesel::update(
        family_days::table
            .find(day)
            .filter(family_days::registered_families.ge(1))
            .filter(family_days::registered_people.ge(people)),
    )
    .set((
        family_days::registered_families.eq(family_days::registered_families - 1),
        family_days::registered_people.eq(family_days::registered_people - people),
    ))
    .execute(conn)?;
    if released != 1 {
        return Err(ApiError::internal(anyhow::anyhow!(
            "family day counters below the registrations they count"
        )));
    }
    Ok(())
}

/// Registers waiting families of a day in the order they came, each that fits the places now
/// free (a family too large for them keeps its place in line; a smaller one after it may go
/// ahead). Returns the ids of the registrations promoted.
pub fn promote_waiting(conn: &mut DbConn, day: &str) -> ApiResult<Vec<String>> {
    let waiting: Vec<(String, i32, i32)> = regs::table
        .filter(regs::family_day_id.eq(day))
        .filter(regs::status.eq(RegistrationStatus::Waiting.as_str()))
        .order((regs::created_at.asc(), regs::id.asc()))
        .select((regs::id, regs::adults, regs::children))
        .load(conn)?;
    let mut promoted = Vec::new();
    for (id, adults, children) in waiting {
        if take_places(conn, day, adults + children)? {
            diesel::update(regs::table.find(&id))
                .set((
                    regs::status.eq(RegistrationStatus::Registered.as_str()),
                    regs::updated_at.eq(now()),
                    regs::updated_by.eq(None::<String>),
                ))
                .execute(conn)?;
            crate::mail::events::family_day_registration(conn, &id, Utc::now())?;
            promoted.push(id);
        }
    }
    Ok(promoted)
}

/// A registration, checked at the edge.
#[derive(Clone, Debug)]
pub struct RegistrationInput {
    pub family: FamilyId,
    pub adults: i32,
    pub children: i32,
    pub wait_if_full: bool,
    pub note: Option<String>,
}

/// Registers a family for a locked day, or puts it on the waiting list.
pub fn register(
    conn: &mut DbConn,
    day: &Day,
    input: &RegistrationInput,
    created_by: AccountId,
) -> ApiResult<Registration> {
    register_with_id(conn, day, input, created_by, Uuid::new_v4())
}

/// [`register`] under an id chosen by the caller: a registration a family device created in
/// the family document keeps the document's id.
pub fn register_with_id(
    conn: &mut DbConn,
    day: &Day,
    input: &RegistrationInput,
    created_by: AccountId,
    id: Uuid,
) -> ApiResult<Registration> {
    let at = now();
    if day.row.cancelled {
        return Err(day_cancelled());
    }
    if !day.registration_open(at) {
        return Err(registration_closed());
    }
    // A family day is for the families of people held in that prison.
    let linked: i64 = crate::db::schema::family_detainees::table
        .inner_join(crate::db::schema::detainees::table)
        .filter(crate::db::schema::family_detainees::family_id.eq(input.family.to_string()))
        .filter(crate::db::schema::detainees::prison_id.eq(&day.row.prison_id))
        .count()
        .get_result(conn)?;
    if linked == 0 {
        return Err(ApiError::invalid(
            "family_not_linked_to_prison",
            "family_id",
            "this family has no relative held in the prison of this family day",
        ));
    }
    let active: i64 = regs::table
        .filter(regs::family_day_id.eq(day.id()))
        .filter(regs::family_id.eq(input.family.to_string()))
        .filter(regs::status.ne(RegistrationStatus::Cancelled.as_str()))
        .count()
        .get_result(conn)?;
    if active > 0 {
        return Err(ApiError::conflict(
            "already_registered",
            "this family is already registered or waiting for this family day",
        ));
    }
    let people = input.adults + input.children;
    if people > day.row.capacity_people {
        return Err(ApiError::conflict(
            "group_too_large",
            format!(
                "this family day has room for {} people in all",
                day.row.capacity_people
            ),
        ));
    }
    let status = if take_places(conn, day.id(), people)? {
        RegistrationStatus::Registered
    } else if input.wait_if_full {
        RegistrationStatus::Waiting
    } else {
        return Err(ApiError::conflict(
            "family_day_full",
            "this family day is full; ask to wait for a place with wait_if_full",
        ));
    };
    diesel::insert_into(regs::table)
        .values((
            regs::id.eq(id.to_string()),
            regs::family_day_id.eq(day.id()),
            regs::family_id.eq(input.family.to_string()),
            regs::adults.eq(input.adults),
            regs::children.eq(input.children),
            regs::status.eq(status.as_str()),
            regs::note.eq(&input.note),
            regs::created_by.eq(created_by.to_string()),
            regs::created_at.eq(at),
            regs::updated_at.eq(at),
            regs::updated_by.eq(created_by.to_string()),
        ))
        .execute(conn)?;
    crate::mail::events::family_day_registration(conn, &id.to_string(), Utc::now())?;
    load_registration(conn, id)
}

/// One registration row, with the family's label.
#[derive(Clone, Debug, Queryable)]
pub struct RegRow {
    pub id: String,
    pub family_day_id: String,
    pub family_id: String,
    pub family_label: String,
    pub adults: i32,
    pub children: i32,
    pub status: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

type RegColumns = (
    regs::id,
    regs::family_day_id,
    regs::family_id,
    families::label,
    regs::adults,
    regs::children,
    regs::status,
    regs::note,
    regs::created_at,
);

const REG_COLUMNS: RegColumns = (
    regs::id,
    regs::family_day_id,
    regs::family_id,
    families::label,
    regs::adults,
    regs::children,
    regs::status,
    regs::note,
    regs::created_at,
);

impl RegRow {
    pub fn status(&self) -> ApiResult<RegistrationStatus> {
        RegistrationStatus::parse(&self.status).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "unknown registration status in the database"
            ))
        })
    }

    pub fn people(&self) -> i32 {
        self.adults + self.children
    }

    fn to_wire(&self, position: Option<i64>) -> ApiResult<Registration> {
        Ok(Registration {
            id: parse_id(&self.id)?,
            family_day_id: parse_id(&self.family_day_id)?,
            family_id: parse_id(&self.family_id)?,
            family_label: self.family_label.clone(),
            adults: self.adults,
            children: self.children,
            status: self.status()?,
            position,
            note: self.note.clone(),
            created_at: to_utc(self.created_at),
        })
    }
}

fn find_registration(conn: &mut DbConn, id: Uuid) -> ApiResult<Option<RegRow>> {
    Ok(regs::table
        .inner_join(families::table)
        .filter(regs::id.eq(id.to_string()))
        .select(REG_COLUMNS)
        .first(conn)
        .optional()?)
}

/// The place in line of a waiting registration: 1 is next.
fn position(conn: &mut DbConn, row: &RegRow) -> ApiResult<Option<i64>> {
    if row.status()? != RegistrationStatus::Waiting {
        return Ok(None);
    }
    let ahead: i64 = regs::table
        .filter(regs::family_day_id.eq(&row.family_day_id))
        .filter(regs::status.eq(RegistrationStatus::Waiting.as_str()))
        .filter(
            regs::created_at.lt(row.created_at).or(regs::created_at
                .eq(row.created_at)
                .and(regs::id.lt(&row.id))),
        )
        .count()
        .get_result(conn)?;
    Ok(Some(ahead + 1))
}

pub fn load_registration(conn: &mut DbConn, id: Uuid) -> ApiResult<Registration> {
    let row = find_registration(conn, id)?.ok_or_else(access::registration_not_found)?;
    let position = position(conn, &row)?;
    row.to_wire(position)
}

/// The registered families of a day, then the waiting ones, each in the order they came.
pub fn day_registrations(conn: &mut DbConn, day: &str) -> ApiResult<Vec<Registration>> {
    let rows: Vec<RegRow> = regs::table
        .inner_join(families::table)
        .filter(regs::family_day_id.eq(day))
        .filter(regs::status.ne(RegistrationStatus::Cancelled.as_str()))
        .order((regs::created_at.asc(), regs::id.asc()))
        .select(REG_COLUMNS)
        .load(conn)?;
    let mut registered = Vec::new();
    let mut waiting = Vec::new();
    for row in &rows {
        match row.status()? {
            RegistrationStatus::Registered => registered.push(row.to_wire(None)?),
            RegistrationStatus::Waiting => {
                let position = waiting.len() as i64 + 1;
                waiting.push(row.to_wire(Some(position))?);
            }
            RegistrationStatus::Cancelled => {}
        }
    }
    registered.extend(waiting);
    Ok(registered)
}

/// Every registration of a family, the latest days first.
pub fn family_registrations(conn: &mut DbConn, family: FamilyId) -> ApiResult<Vec<Registration>> {
    let rows: Vec<RegRow> = regs::table
        .inner_join(families::table)
        .inner_join(family_days::table)
        .filter(regs::family_id.eq(family.to_string()))
        .order((
            family_days::date.desc(),
            family_days::starts_at.desc(),
            regs::created_at.desc(),
        ))
        .select(REG_COLUMNS)
        .load(conn)?;
    rows.iter()
        .map(|row| {
            let position = position(conn, row)?;
            row.to_wire(position)
        })
        .collect()
}

/// A registration of a day, for cancelling: `404 registration_not_found` unless it exists and
/// belongs to that day.
pub fn registration_of_day(conn: &mut DbConn, day: &Day, id: Uuid) -> ApiResult<RegRow> {
    find_registration(conn, id)?
        .filter(|row| row.family_day_id == day.id())
        .ok_or_else(access::registration_not_found)
}

/// Cancels one registration of a locked day for `actor`; a registered family's places go to the
/// waiting families that fit. Returns the registrations promoted.
pub fn cancel_registration(
    conn: &mut DbConn,
    day: &Day,
    row: &RegRow,
    actor: AccountId,
) -> ApiResult<Vec<String>> {
    let was = row.status()?;
    if was == RegistrationStatus::Cancelled {
        return Err(ApiError::conflict(
            "registration_cancelled",
            "this registration is already cancelled",
        ));
    }
    diesel::update(regs::table.find(&row.id))
        .set((
            regs::status.eq(RegistrationStatus::Cancelled.as_str()),
            regs::updated_at.eq(now()),
            regs::updated_by.eq(actor.to_string()),
        ))
        .execute(conn)?;
    crate::mail::events::family_day_registration(conn, &row.id, Utc::now())?;
    if was == RegistrationStatus::Registered {
        release_places(conn, day.id(), row.people())?;
        promote_waiting(conn, day.id())
    } else {
        Ok(Vec::new())
    }
}
