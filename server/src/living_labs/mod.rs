//! Living Labs: sessions, invitations and answers.
//!
//! Facilitators (and administrators) create sessions, alone or as a series, and invite staff
//! accounts (one by one or by role), family members (one by one, or the families of a social
//! worker's caseload) and guests outside reguide by email address. A member's invitation is
//! also written into the family document, where the member answers offline; staff answer
//! through the API; guests from single-use links in their email ([`links`]). Every answer goes
//! through [`answer`]: an acceptance takes a place with one conditional `UPDATE` of `taken`
//! (never above `capacity`, backed by a `CHECK`), or waits; a place given back goes to the
//! first one waiting, who is told by email (and in the family document). Answers may change
//! until the session starts.
//!
//! Who may see what: a session's facilitators (its creator and those named) and administrators
//! manage it; anyone invited sees it; for everyone else it does not exist
//! (`404 living_lab_not_found`).

pub mod api;
pub mod links;

use chrono::{DateTime, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use reguide_protocol::doc::{Invitation, Rsvp, keys, write::put_entry, write::put_entry_field};
use reguide_protocol::living_labs::{
    LabInvitation, LabOverview, LivingLab, Need, NewInvitations, NewLivingLab, ParticipantRole,
    Place, Repeat,
};
use reguide_protocol::time::local_instant;
use reguide_protocol::{AccountId, FamilyId, Language, MemberId, Role};
use uuid::Uuid;

use crate::auth::principal::{Principal, parse_id};
use crate::db::schema::{
    accounts, caseloads, family_members, living_lab_facilitators as facilitators,
    living_lab_invitations as invitations, living_labs, role_grants,
};
use crate::db::{DbConn, now, to_naive, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Values;
use crate::mail::{self, CalendarEvent, Kind, Outgoing, Recipient, format};
use crate::sync::store;
use crate::text::{free_text, line, optional_line};

const TIME: &str = "%H:%M";
const MAX_CAPACITY: i32 = 500;
const MAX_SERIES: u32 = 24;

/// A `living_labs` row.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = living_labs)]
pub struct LabRow {
    pub id: String,
    pub series_id: Option<String>,
    pub title: String,
    pub theme: String,
    pub description: String,
    pub date: NaiveDate,
    pub starts_at: String,
    pub ends_at: String,
    pub time_zone: String,
    pub place: String,
    pub online_link: Option<String>,
    pub capacity: i32,
    pub taken: i32,
    pub languages: String,
    pub accessibility: String,
    pub agenda: String,
    pub cancelled: bool,
    pub summary: Option<String>,
    pub next_steps: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl LabRow {
    fn zone(&self) -> Tz {
        self.time_zone
            .parse()
            .unwrap_or(reguide_protocol::time::DEFAULT_TIME_ZONE)
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, TIME).unwrap_or_default()
    }

    fn start(&self) -> NaiveTime {
        Self::time(&self.starts_at)
    }

    fn end(&self) -> NaiveTime {
        Self::time(&self.ends_at)
    }

    /// When it starts, as an instant.
    pub fn starts_utc(&self) -> DateTime<Utc> {
        local_instant(self.zone(), self.date, self.start()).with_timezone(&Utc)
    }

    /// Where, with the online link when there is one.
    fn where_text(&self) -> String {
        match &self.online_link {
            Some(link) if self.place.is_empty() => link.clone(),
            Some(link) => format!("{} ({link})", self.place),
            None => self.place.clone(),
        }
    }
}

/// An invitation row.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: String,
    pub living_lab_id: String,
    pub role: String,
    pub account_id: Option<String>,
    pub member_id: Option<String>,
    pub family_id: Option<String>,
    pub email: Option<String>,
    pub name: String,
    pub language: String,
    pub answer: Option<String>,
    pub place: String,
    pub waiting_since: Option<NaiveDateTime>,
    pub note: Option<String>,
    pub needs: String,
    pub answered_at: Option<NaiveDateTime>,
    pub attended: Option<bool>,
    pub created_at: NaiveDateTime,
}

impl InvitationRow {
    fn language(&self) -> Language {
        Language::from_code(&self.language).unwrap_or(Language::En)
    }

    fn recipient(&self, conn: &mut DbConn) -> ApiResult<Option<Recipient>> {
        if let Some(member) = &self.member_id {
            return mail::member_recipient(conn, MemberId(parse_id::<Uuid>(member)?));
        }
        if let Some(account) = &self.account_id {
            return mail::account_recipient(conn, AccountId(parse_id::<Uuid>(account)?));
        }
        Ok(self.email.as_ref().map(|address| Recipient {
            key: format!("address:{address}"),
            address: address.clone(),
            name: self.name.clone(),
            language: self.language(),
        }))
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "living_lab_not_found",
        "there is no such Living Lab session",
    )
}

fn lab_cancelled() -> ApiError {
    ApiError::conflict("living_lab_cancelled", "this session was cancelled")
}

fn lab_started() -> ApiError {
    ApiError::conflict(
        "living_lab_started",
        "this session has started; answers can no longer change",
    )
}

pub fn load(conn: &mut DbConn, id: Uuid) -> ApiResult<LabRow> {
    living_labs::table
        .find(id.to_string())
        .select(LabRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)
}

/// Takes the session's row lock for the rest of the transaction (PostgreSQL; SQLite serialises
/// writers), so that answers to one session take their turns in order.
fn lock(conn: &mut DbConn, id: &str) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        living_labs::table
            .find(id)
            .select(living_labs::id)
            .for_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

fn facilitator_ids(conn: &mut DbConn, lab: &str) -> ApiResult<Vec<String>> {
    Ok(facilitators::table
        .filter(facilitators::living_lab_id.eq(lab))
        .select(facilitators::account_id)
        .load(conn)?)
}

/// Whether `principal` runs `lab`.
pub fn runs(conn: &mut DbConn, principal: &Principal, lab: &LabRow) -> ApiResult<bool> {
    let me = principal.account_id.to_string();
    Ok(principal.is_admin()
        || (principal.has_role(Role::Facilitator)
            && (lab.created_by == me || facilitator_ids(conn, &lab.id)?.contains(&me))))
}

/// The session, for someone who runs it; `404` for anyone else.
pub fn require_runs(conn: &mut DbConn, principal: &Principal, id: Uuid) -> ApiResult<LabRow> {
    let lab = load(conn, id)?;
    if runs(conn, principal, &lab)? {
        Ok(lab)
    } else {
        Err(not_found())
    }
}

/// The caller's own invitation to `lab`, if any.
pub fn own_invitation(
    conn: &mut DbConn,
    principal: &Principal,
    lab: &str,
) -> ApiResult<Option<InvitationRow>> {
    Ok(invitations::table
        .filter(invitations::living_lab_id.eq(lab))
        .filter(
            invitations::account_id
                .eq(principal.account_id.to_string())
                .or(invitations::member_id.eq_any(member_ids(principal))),
        )
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn wire(conn: &mut DbConn, lab: &LabRow) -> ApiResult<LivingLab> {
    let zone = lab.zone();
    let waiting: i64 = invitations::table
        .filter(invitations::living_lab_id.eq(&lab.id))
        .filter(invitations::place.eq(Place::Waiting.as_str()))
        .count()
        .get_result(conn)?;
    Ok(LivingLab {
        id: parse_id(&lab.id)?,
        series_id: lab.series_id.as_deref().map(parse_id).transpose()?,
        title: lab.title.clone(),
        theme: lab.theme.clone(),
        description: lab.description.clone(),
        date: lab.date,
        starts_at: local_instant(zone, lab.date, lab.start()),
        ends_at: local_instant(zone, lab.date, lab.end()),
        time_zone: lab.time_zone.clone(),
        place: lab.place.clone(),
        online_link: lab.online_link.clone(),
        capacity: lab.capacity,
        taken: lab.taken,
        waiting,
        languages: lab
            .languages
            .split(',')
            .filter_map(Language::from_code)
            .collect(),
        accessibility: lab.accessibility.clone(),
        agenda: serde_json::from_str(&lab.agenda).unwrap_or_default(),
        facilitators: facilitator_ids(conn, &lab.id)?
            .iter()
            .map(|a| parse_id(a))
            .collect::<ApiResult<_>>()?,
        cancelled: lab.cancelled,
    })
}

/// Creates a session, or a series of `repeat.count` sessions; returns them.
pub fn create(
    conn: &mut DbConn,
    by: AccountId,
    new: &NewLivingLab,
    today: NaiveDate,
) -> ApiResult<Vec<Uuid>> {
    let title = line(&new.title, "title", 200)?;
    let theme = optional_line(&new.theme, "theme", 200)?;
    let description = free_text(&new.description, "description", 4000)?;
    let place = line(&new.place, "place", 300)?;
    let zone_name = new
        .time_zone
        .clone()
        .unwrap_or_else(|| reguide_protocol::time::DEFAULT_TIME_ZONE.name().to_owned());
    zone_name.parse::<Tz>().map_err(|_| {
        ApiError::invalid("invalid_time_zone", "time_zone", "not an IANA time zone")
    })?;
    if new.ends_at <= new.starts_at {
        return Err(ApiError::invalid(
            "invalid_value",
            "ends_at",
            "a session ends after it starts",
        ));
    }
    if !(1..=MAX_CAPACITY).contains(&new.capacity) {
        return Err(ApiError::invalid(
            "invalid_value",
            "capacity",
            format!("from 1 to {MAX_CAPACITY} places"),
        ));
    }
    if new.date < today {
        return Err(ApiError::invalid(
            "date_in_past",
            "date",
            "a session is planned for today or later",
        ));
    }
    let link = match &new.online_link {
        Some(link) if link.starts_with("https://") && link.len() <= 500 => Some(link.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_value",
                "online_link",
                "an https:// address of at most 500 characters",
            ));
        }
        None => None,
    };
    let agenda = new
        .agenda
        .iter()
        .map(|item| line(item, "agenda", 300))
        .collect::<ApiResult<Vec<_>>>()?;
    let accessibility = free_text(&new.accessibility, "accessibility", 2000)?;
    for account in &new.facilitators {
        let grants: i64 = role_grants::table
            .filter(role_grants::account_id.eq(account.to_string()))
            .filter(role_grants::role.eq(Role::Facilitator.as_str()))
            .count()
            .get_result(conn)?;
        if grants == 0 {
            return Err(ApiError::invalid(
                "not_a_facilitator",
                "facilitators",
                "each co-facilitator holds the facilitator role",
            ));
        }
    }
    let dates: Vec<NaiveDate> = match new.repeat {
        None => vec![new.date],
        Some(repeat) => {
            if !(2..=MAX_SERIES).contains(&repeat.count) {
                return Err(ApiError::invalid(
                    "invalid_value",
                    "repeat.count",
                    format!("a series has 2 to {MAX_SERIES} sessions"),
                ));
            }
            (0..repeat.count)
                .map(|i| match repeat.every {
                    Repeat::Weekly => new.date + Duration::weeks(i64::from(i)),
                    // The same day of the month, or the month's last day when it has fewer.
                    Repeat::Monthly => new
                        .date
                        .checked_add_months(Months::new(i))
                        .unwrap_or(new.date),
                })
                .collect()
        }
    };
    let series = new.repeat.map(|_| Uuid::new_v4().to_string());
    let languages: Vec<&str> = new.languages.iter().map(|l| l.code()).collect();
    let mut made = Vec::new();
    for date in dates {
        let id = Uuid::new_v4();
        diesel::insert_into(living_labs::table)
            .values((
                living_labs::id.eq(id.to_string()),
                living_labs::series_id.eq(&series),
                living_labs::title.eq(&title),
                living_labs::theme.eq(&theme),
                living_labs::description.eq(&description),
                living_labs::date.eq(date),
                living_labs::starts_at.eq(new.starts_at.format(TIME).to_string()),
                living_labs::ends_at.eq(new.ends_at.format(TIME).to_string()),
                living_labs::time_zone.eq(&zone_name),
                living_labs::place.eq(&place),
                living_labs::online_link.eq(&link),
                living_labs::capacity.eq(new.capacity),
                living_labs::taken.eq(0),
                living_labs::languages.eq(languages.join(",")),
                living_labs::accessibility.eq(&accessibility),
                living_labs::agenda.eq(serde_json::to_string(&agenda).map_err(ApiError::internal)?),
                living_labs::cancelled.eq(false),
                living_labs::created_by.eq(by.to_string()),
                living_labs::created_at.eq(now()),
            ))
            .execute(conn)?;
        for account in &new.facilitators {
            diesel::insert_into(facilitators::table)
                .values((
                    facilitators::living_lab_id.eq(id.to_string()),
                    facilitators::account_id.eq(account.to_string()),
                ))
                .execute(conn)?;
        }
        made.push(id);
    }
    Ok(made)
}

/// The sessions `principal` runs or is invited to, soonest first.
pub fn visible(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<LivingLab>> {
    let me = principal.account_id.to_string();
    // Every session for an administrator; otherwise those run or invited to, found with two
    // queries rather than two per session.
    let mut ids: Vec<String> = invitations::table
        .filter(
            invitations::account_id
                .eq(&me)
                .or(invitations::member_id.eq_any(member_ids(principal))),
        )
        .select(invitations::living_lab_id)
        .load(conn)?;
    if principal.has_role(Role::Facilitator) {
        ids.extend(
            facilitators::table
                .filter(facilitators::account_id.eq(&me))
                .select(facilitators::living_lab_id)
                .load::<String>(conn)?,
        );
    }
    let mut query = living_labs::table
        .order((living_labs::date.asc(), living_labs::starts_at.asc()))
        .select(LabRow::as_select())
        .into_boxed();
    if !principal.is_admin() {
        query = if principal.has_role(Role::Facilitator) {
            query.filter(
                living_labs::id
                    .eq_any(ids)
                    .or(living_labs::created_by.eq(me)),
            )
        } else {
            query.filter(living_labs::id.eq_any(ids))
        };
    }
    let rows: Vec<LabRow> = query.load(conn)?;
    rows.iter().map(|lab| wire(conn, lab)).collect()
}

/// The sessions `principal` runs (every session for an administrator), soonest first: those
/// they created or facilitate, found with two queries.
pub fn run_by(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<LivingLab>> {
    let mut query = living_labs::table
        .order((living_labs::date.asc(), living_labs::starts_at.asc()))
        .select(LabRow::as_select())
        .into_boxed();
    if !principal.is_admin() {
        if !principal.has_role(Role::Facilitator) {
            return Ok(Vec::new());
        }
        let me = principal.account_id.to_string();
        let facilitated: Vec<String> = facilitators::table
            .filter(facilitators::account_id.eq(&me))
            .select(facilitators::living_lab_id)
            .load(conn)?;
        query = query.filter(
            living_labs::id
                .eq_any(facilitated)
                .or(living_labs::created_by.eq(me)),
        );
    }
    let rows: Vec<LabRow> = query.load(conn)?;
    rows.iter().map(|lab| wire(conn, lab)).collect()
}

fn member_ids(principal: &Principal) -> Vec<String> {
    principal
        .memberships
        .iter()
        .map(|(_, m)| m.to_string())
        .collect()
}

fn values(lab: &LabRow, lang: Language) -> Values {
    [
        ("title", lab.title.clone()),
        ("date", format::date(lang, lab.date)),
        ("start", format::time(lab.start())),
        ("end", format::time(lab.end())),
        ("place", lab.where_text()),
        ("description", lab.description.clone()),
    ]
    .into_iter()
    .collect()
}

fn message(kind: Kind, lab: &LabRow, invitation: &str) -> Outgoing {
    Outgoing {
        kind,
        topic: format!("living_lab:{}:{invitation}", lab.id),
        values: Values::new(),
        calendar: None,
        send_after: None,
    }
}

fn calendar(lab: &LabRow, invitation: &str) -> CalendarEvent {
    CalendarEvent {
        uid: format!("living-lab-{}-{invitation}@reguide", lab.id),
        zone: lab.zone(),
        starts: lab.date.and_time(lab.start()),
        ends: lab.date.and_time(lab.end()),
        location: lab.where_text(),
        description: lab.description.clone(),
    }
}

fn send(
    conn: &mut DbConn,
    lab: &LabRow,
    to: &Recipient,
    message: &mut Outgoing,
    extra: &[(&'static str, String)],
) -> ApiResult<()> {
    message.values = values(lab, to.language);
    message.values.extend(extra.iter().cloned());
    mail::enqueue(conn, std::slice::from_ref(to), message).map(|_| ())
}

fn insert_invitation(
    conn: &mut DbConn,
    lab: &LabRow,
    role: ParticipantRole,
    who: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
    name: &str,
    language: Language,
) -> ApiResult<Option<String>> {
    let (account, member, family, email) = who;
    let exists: i64 = invitations::table
        .filter(invitations::living_lab_id.eq(&lab.id))
        .filter(
            invitations::account_id
                .eq(account.clone().unwrap_or_default())
                .or(invitations::member_id.eq(member.clone().unwrap_or_default()))
                .or(invitations::email.eq(email.clone().unwrap_or_default())),
        )
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(None);
    }
    let id = Uuid::new_v4().to_string();
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(&id),
            invitations::living_lab_id.eq(&lab.id),
            invitations::role.eq(role.as_str()),
            invitations::account_id.eq(account),
            invitations::member_id.eq(member),
            invitations::family_id.eq(family),
            invitations::email.eq(email),
            invitations::name.eq(name),
            invitations::language.eq(language.code()),
            invitations::place.eq(Place::None.as_str()),
            invitations::needs.eq(""),
            invitations::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Some(id))
}

/// Invites whoever `who` names (skipping anyone invited already); returns the new invitations.
pub fn invite(
    conn: &mut DbConn,
    lab: &LabRow,
    who: &NewInvitations,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    if lab.cancelled {
        return Err(lab_cancelled());
    }
    if lab.starts_utc() <= now {
        return Err(lab_started());
    }
    let role = who.role.unwrap_or(ParticipantRole::FrontlineStaff);
    let mut made = invite_staff(conn, lab, who, role)?;
    made.extend(invite_members(conn, lab, who)?);
    made.extend(invite_guests(conn, lab, who)?);
    Ok(made)
}

/// Staff accounts, named and by role; an invitation email to those with an address.
fn invite_staff(
    conn: &mut DbConn,
    lab: &LabRow,
    who: &NewInvitations,
    role: ParticipantRole,
) -> ApiResult<Vec<String>> {
    let mut made = Vec::new();
    let mut accounts_wanted: Vec<String> = who.accounts.iter().map(|a| a.to_string()).collect();
    if !who.roles.is_empty() {
        let codes: Vec<&str> = who
            .roles
            .iter()
            .filter(|r| **r != Role::FamilyMember)
            .map(|r| r.as_str())
            .collect();
        accounts_wanted.extend(
            role_grants::table
                .filter(role_grants::role.eq_any(codes))
                .select(role_grants::account_id)
                .distinct()
                .load::<String>(conn)?,
        );
    }
    accounts_wanted.sort();
    accounts_wanted.dedup();
    for account in accounts_wanted {
        let row: Option<(String, String, bool)> = accounts::table
            .find(&account)
            .select((
                accounts::display_name,
                accounts::preferred_language,
                accounts::disabled,
            ))
            .first(conn)
            .optional()?;
        let Some((name, lang, disabled)) = row else {
            return Err(ApiError::invalid(
                "account_not_found",
                "accounts",
                "no account has this id",
            ));
        };
        if disabled {
            continue;
        }
        let language = Language::from_code(&lang).unwrap_or(Language::En);
        if let Some(id) = insert_invitation(
            conn,
            lab,
            role,
            (Some(account.clone()), None, None, None),
            &name,
            language,
        )? {
            if let Some(to) = mail::account_recipient(conn, AccountId(parse_id(&account)?))? {
                send(
                    conn,
                    lab,
                    &to,
                    &mut message(Kind::LivingLabInvitation, lab, &id),
                    &[],
                )?;
            }
            made.push(id);
        }
    }
    Ok(made)
}

/// Family members, named and of the families of a caseload: the invitation goes into the
/// family document, and by email to those with an address.
fn invite_members(conn: &mut DbConn, lab: &LabRow, who: &NewInvitations) -> ApiResult<Vec<String>> {
    let mut made = Vec::new();
    let mut members: Vec<String> = who.members.iter().map(|m| m.to_string()).collect();
    if let Some(worker) = who.caseload_of {
        let families: Vec<String> = caseloads::table
            .filter(caseloads::account_id.eq(worker.to_string()))
            .select(caseloads::family_id)
            .load(conn)?;
        members.extend(
            family_members::table
                .filter(family_members::family_id.eq_any(families))
                .filter(
                    family_members::account_id
                        .is_not_null()
                        .or(family_members::email.is_not_null()),
                )
                .select(family_members::id)
                .load::<String>(conn)?,
        );
    }
    members.sort();
    members.dedup();
    for member in members {
        let row: Option<(String, String, String)> = family_members::table
            .find(&member)
            .select((
                family_members::family_id,
                family_members::display_name,
                family_members::preferred_language,
            ))
            .first(conn)
            .optional()?;
        let Some((family, name, lang)) = row else {
            return Err(ApiError::invalid(
                "member_not_found",
                "members",
                "no family member has this id",
            ));
        };
        let language = Language::from_code(&lang).unwrap_or(Language::En);
        let Some(id) = insert_invitation(
            conn,
            lab,
            ParticipantRole::Family,
            (None, Some(member.clone()), Some(family.clone()), None),
            &name,
            language,
        )?
        else {
            continue;
        };
        let member_id = MemberId(parse_id(&member)?);
        let entry = Invitation {
            id: id.clone(),
            session_id: lab.id.clone(),
            member_id,
            title: lab.title.clone(),
            starts_at: lab.starts_utc().timestamp_millis(),
            answers: Vec::new(),
            place: None,
            summary: None,
        };
        store::edit_as_server(conn, FamilyId(parse_id(&family)?), |tx| {
            put_entry(tx, keys::INVITATIONS, &id, &entry)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("writing an invitation: {e}")))
        })?;
        if let Some(to) = mail::member_recipient(conn, member_id)? {
            send(
                conn,
                lab,
                &to,
                &mut message(Kind::LivingLabInvitation, lab, &id),
                &[],
            )?;
        }
        made.push(id);
    }
    Ok(made)
}

/// Guests outside reguide: an email with three single-use answer links.
fn invite_guests(conn: &mut DbConn, lab: &LabRow, who: &NewInvitations) -> ApiResult<Vec<String>> {
    let mut made = Vec::new();
    for guest in &who.guests {
        let email = crate::accounts::email::EmailAddress::parse(&guest.email, "guests.email")?;
        let name = line(&guest.name, "guests.name", 200)?;
        let language = guest.language.unwrap_or(Language::En);
        let Some(id) = insert_invitation(
            conn,
            lab,
            guest.role,
            (None, None, None, Some(email.as_str().to_owned())),
            &name,
            language,
        )?
        else {
            continue;
        };
        let expires = lab.starts_utc();
        let mut extra = Vec::new();
        for (key, answer) in [
            ("accept_link", Rsvp::Accepted),
            ("tentative_link", Rsvp::Tentative),
            ("decline_link", Rsvp::Declined),
        ] {
            let token = links::mint(conn, &id, answer, expires)?;
            extra.push((key, format!("{}/lab-links/{token}", mail::PUBLIC_URL)));
        }
        let to = Recipient {
            key: format!("address:{}", email.as_str()),
            address: email.as_str().to_owned(),
            name: name.clone(),
            language,
        };
        send(
            conn,
            lab,
            &to,
            &mut message(Kind::LivingLabInvitationGuest, lab, &id),
            &extra,
        )?;
        made.push(id);
    }
    Ok(made)
}

pub fn load_invitation(conn: &mut DbConn, id: &str) -> ApiResult<InvitationRow> {
    invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("invitation_not_found", "there is no such invitation"))
}

fn needs_text(needs: &[Need]) -> String {
    let mut codes: Vec<&str> = needs.iter().map(|n| n.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.join(",")
}

/// A place to write into a family document: (family, invitation, `held`/`waiting`/none).
pub type DocPlace = (FamilyId, String, Option<String>);

/// Writes places into family documents as the server (outside a sync of that family).
pub fn write_places(conn: &mut DbConn, places: &[DocPlace]) -> ApiResult<()> {
    for (family, invitation, word) in places {
        store::edit_as_server(conn, *family, |tx| {
            put_entry_field(tx, keys::INVITATIONS, invitation, "place", word)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("writing a place: {e}")))
        })?;
    }
    Ok(())
}

/// Records an answer to `invitation` (locking its session): an acceptance takes a place or
/// waits; anything else gives a held place back to the first one waiting. Returns where the
/// invitation stands, and the places to write into family documents (the caller writes them:
/// during a sync, into the document being synced).
pub fn answer(
    conn: &mut DbConn,
    invitation: &str,
    reply: Rsvp,
    note: Option<&str>,
    needs: &[Need],
    now: DateTime<Utc>,
) -> ApiResult<(Place, Vec<DocPlace>)> {
    let row = load_invitation(conn, invitation)?;
    lock(conn, &row.living_lab_id)?;
    let lab = load(conn, parse_id(&row.living_lab_id)?)?;
    if lab.cancelled {
        return Err(lab_cancelled());
    }
    if lab.starts_utc() <= now {
        return Err(lab_started());
    }
    let note = note
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| line(n, "note", 500))
        .transpose()?;
    let row = load_invitation(conn, invitation)?;
    let was = Place::parse(&row.place).unwrap_or(Place::None);
    let place = match (reply, was) {
        (Rsvp::Accepted, Place::Held) => Place::Held,
        (Rsvp::Accepted, Place::Waiting) => Place::Waiting,
        (Rsvp::Accepted, Place::None) => {
            if take_place(conn, &lab.id)? {
                Place::Held
            } else {
                Place::Waiting
            }
        }
        (_, _) => Place::None,
    };
    diesel::update(invitations::table.find(invitation))
        .set((
            invitations::answer.eq(reply.as_str()),
            invitations::place.eq(place.as_str()),
            invitations::waiting_since.eq(match (place, was) {
                (Place::Waiting, Place::Waiting) => row.waiting_since,
                (Place::Waiting, _) => Some(to_naive(now)),
                _ => None,
            }),
            invitations::note.eq(note),
            invitations::needs.eq(needs_text(needs)),
            invitations::answered_at.eq(to_naive(now)),
        ))
        .execute(conn)?;
    let mut places = Vec::new();
    if place != was {
        placed(conn, &lab, invitation, place, &mut places)?;
    }
    if was == Place::Held && place == Place::None {
        release_place(conn, &lab.id)?;
        promote(conn, &lab, &mut places)?;
    }
    Ok((place, places))
}

fn take_place(conn: &mut DbConn, lab: &str) -> ApiResult<bool> {
    let taken = diesel::update(
        living_labs::table
            .find(lab)
            .filter(living_labs::taken.lt(living_labs::capacity)),
    )
    .set(living_labs::taken.eq(living_labs::taken + 1))
    .execute(conn)?;
    Ok(taken == 1)
}

fn release_place(conn: &mut DbConn, lab: &str) -> ApiResult<()> {
    diesel::update(
        living_labs::table
            .find(lab)
            .filter(living_labs::taken.gt(0)),
    )
    .set(living_labs::taken.eq(living_labs::taken - 1))
    .execute(conn)?;
    Ok(())
}

/// Gives free places to those waiting, first come first served.
fn promote(conn: &mut DbConn, lab: &LabRow, places: &mut Vec<DocPlace>) -> ApiResult<()> {
    let waiting: Vec<String> = invitations::table
        .filter(invitations::living_lab_id.eq(&lab.id))
        .filter(invitations::place.eq(Place::Waiting.as_str()))
        .order((invitations::waiting_since.asc(), invitations::id.asc()))
        .select(invitations::id)
        .load(conn)?;
    for id in waiting {
        if !take_place(conn, &lab.id)? {
            break;
        }
        diesel::update(invitations::table.find(&id))
            .set((
                invitations::place.eq(Place::Held.as_str()),
                invitations::waiting_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        placed(conn, lab, &id, Place::Held, places)?;
    }
    Ok(())
}

/// Tells the invitee where they stand now: a held place brings the calendar entry and a
/// reminder the evening before; losing it calls the reminder off. A member's family document
/// says it too.
fn placed(
    conn: &mut DbConn,
    lab: &LabRow,
    invitation: &str,
    place: Place,
    places: &mut Vec<DocPlace>,
) -> ApiResult<()> {
    let row = load_invitation(conn, invitation)?;
    let topic = format!("living_lab:{}:{invitation}", lab.id);
    mail::cancel_pending(conn, &topic)?;
    if let (Some(_), Some(family)) = (&row.member_id, &row.family_id) {
        let word = match place {
            Place::Held => Some("held".to_owned()),
            Place::Waiting => Some("waiting".to_owned()),
            Place::None => None,
        };
        places.push((FamilyId(parse_id(family)?), invitation.to_owned(), word));
    }
    if place != Place::Held {
        return Ok(());
    }
    let Some(to) = row.recipient(conn)? else {
        return Ok(());
    };
    let mut confirmed = message(Kind::LivingLabConfirmed, lab, invitation);
    confirmed.calendar = Some(calendar(lab, invitation));
    send(conn, lab, &to, &mut confirmed, &[])?;
    if let Some(at) = mail::events::evening_before(lab.zone(), lab.date, Utc::now()) {
        let mut reminder = message(Kind::LivingLabReminder, lab, invitation);
        reminder.send_after = Some(at);
        send(conn, lab, &to, &mut reminder, &[])?;
    }
    Ok(())
}

fn to_wire(row: &InvitationRow, position: Option<i64>) -> ApiResult<LabInvitation> {
    let kind = if row.member_id.is_some() {
        "member"
    } else if row.account_id.is_some() {
        "account"
    } else {
        "guest"
    };
    Ok(LabInvitation {
        id: parse_id(&row.id)?,
        living_lab_id: parse_id(&row.living_lab_id)?,
        role: ParticipantRole::parse(&row.role).unwrap_or(ParticipantRole::FrontlineStaff),
        name: row.name.clone(),
        kind: kind.to_owned(),
        account_id: row.account_id.as_deref().map(parse_id).transpose()?,
        member_id: row.member_id.as_deref().map(parse_id).transpose()?,
        family_id: row.family_id.as_deref().map(parse_id).transpose()?,
        email: row.email.clone(),
        language: row.language(),
        answer: row.answer.as_deref().and_then(Rsvp::parse),
        place: Place::parse(&row.place).unwrap_or(Place::None),
        position,
        note: row.note.clone(),
        needs: row.needs.split(',').filter_map(Need::parse).collect(),
        answered_at: row.answered_at.map(to_utc),
        attended: row.attended,
    })
}

/// One invitation as facilitators see it, with its place in the waiting list.
pub fn invitation_wire(conn: &mut DbConn, id: &str) -> ApiResult<LabInvitation> {
    let row = load_invitation(conn, id)?;
    let position = match row.waiting_since {
        Some(since) if row.place == Place::Waiting.as_str() => {
            let ahead: i64 = invitations::table
                .filter(invitations::living_lab_id.eq(&row.living_lab_id))
                .filter(invitations::place.eq(Place::Waiting.as_str()))
                .filter(
                    invitations::waiting_since
                        .lt(since)
                        .or(invitations::waiting_since
                            .eq(since)
                            .and(invitations::id.lt(&row.id))),
                )
                .count()
                .get_result(conn)?;
            Some(ahead + 1)
        }
        _ => None,
    };
    to_wire(&row, position)
}

/// Everyone invited to `lab` with their answers, needs and the waiting list in order.
pub fn overview(conn: &mut DbConn, lab: &LabRow) -> ApiResult<LabOverview> {
    let rows: Vec<InvitationRow> = invitations::table
        .filter(invitations::living_lab_id.eq(&lab.id))
        .order((invitations::created_at.asc(), invitations::id.asc()))
        .select(InvitationRow::as_select())
        .load(conn)?;
    let mut waiting: Vec<&InvitationRow> = rows
        .iter()
        .filter(|r| r.place == Place::Waiting.as_str())
        .collect();
    waiting.sort_by(|a, b| (a.waiting_since, &a.id).cmp(&(b.waiting_since, &b.id)));
    let position = |id: &str| {
        waiting
            .iter()
            .position(|r| r.id == id)
            .map(|i| i64::try_from(i).unwrap_or(i64::MAX) + 1)
    };
    let invitations = rows
        .iter()
        .map(|r| to_wire(r, position(&r.id)))
        .collect::<ApiResult<Vec<_>>>()?;
    let count = |answer: Option<Rsvp>| {
        i64::try_from(invitations.iter().filter(|i| i.answer == answer).count()).unwrap_or(0)
    };
    let needs = Need::ALL
        .iter()
        .map(|need| {
            let n = invitations
                .iter()
                .filter(|i| i.answer != Some(Rsvp::Declined) && i.needs.contains(need))
                .count();
            (*need, i64::try_from(n).unwrap_or(0))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    Ok(LabOverview {
        living_lab: wire(conn, lab)?,
        accepted: count(Some(Rsvp::Accepted)),
        declined: count(Some(Rsvp::Declined)),
        tentative: count(Some(Rsvp::Tentative)),
        not_answered: count(None),
        needs,
        invitations,
    })
}

fn invitations_of(conn: &mut DbConn, lab: &str) -> ApiResult<Vec<InvitationRow>> {
    Ok(invitations::table
        .filter(invitations::living_lab_id.eq(lab))
        .order((invitations::created_at.asc(), invitations::id.asc()))
        .select(InvitationRow::as_select())
        .load(conn)?)
}

/// Calls a session off: those who held a place get a cancellation that removes the calendar
/// entry, reminders are called off, and members' family documents say `cancelled`.
pub fn cancel(conn: &mut DbConn, lab: &LabRow, now: DateTime<Utc>) -> ApiResult<()> {
    lock(conn, &lab.id)?;
    if lab.cancelled {
        return Err(lab_cancelled());
    }
    if lab.starts_utc() <= now {
        return Err(lab_started());
    }
    diesel::update(living_labs::table.find(&lab.id))
        .set((living_labs::cancelled.eq(true), living_labs::taken.eq(0)))
        .execute(conn)?;
    let mut places = Vec::new();
    for row in invitations_of(conn, &lab.id)? {
        let held = row.place == Place::Held.as_str();
        diesel::update(invitations::table.find(&row.id))
            .set(invitations::place.eq(Place::None.as_str()))
            .execute(conn)?;
        mail::cancel_pending(conn, &format!("living_lab:{}:{}", lab.id, row.id))?;
        if let (Some(_), Some(family)) = (&row.member_id, &row.family_id) {
            places.push((
                FamilyId(parse_id(family)?),
                row.id.clone(),
                Some("cancelled".to_owned()),
            ));
        }
        if held && let Some(to) = row.recipient(conn)? {
            let mut cancelled = message(Kind::LivingLabCancelled, lab, &row.id);
            cancelled.calendar = Some(calendar(lab, &row.id));
            send(conn, lab, &to, &mut cancelled, &[])?;
        }
    }
    write_places(conn, &places)
}

/// Records who came, once the session has started: the listed invitations attended, the
/// others did not.
pub fn record_attendance(
    conn: &mut DbConn,
    lab: &LabRow,
    attended: &[Uuid],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if lab.starts_utc() > now {
        return Err(ApiError::conflict(
            "living_lab_not_started",
            "attendance is recorded once the session has started",
        ));
    }
    let rows = invitations_of(conn, &lab.id)?;
    let listed: Vec<String> = attended.iter().map(Uuid::to_string).collect();
    if let Some(stranger) = listed.iter().find(|id| !rows.iter().any(|r| &r.id == *id)) {
        return Err(ApiError::invalid(
            "invitation_not_found",
            "attended",
            format!("{stranger} is not an invitation to this session"),
        ));
    }
    for row in rows {
        diesel::update(invitations::table.find(&row.id))
            .set(invitations::attended.eq(Some(listed.contains(&row.id))))
            .execute(conn)?;
    }
    Ok(())
}

/// Publishes what was agreed and the next steps, once attendance is recorded; members who
/// attended find it in their family document.
pub fn publish_summary(
    conn: &mut DbConn,
    lab: &LabRow,
    summary: &str,
    next_steps: &str,
) -> ApiResult<()> {
    let summary = free_text(summary, "summary", 4000)?;
    let next_steps = free_text(next_steps, "next_steps", 4000)?;
    let rows = invitations_of(conn, &lab.id)?;
    if rows.iter().all(|r| r.attended.is_none()) {
        return Err(ApiError::conflict(
            "attendance_not_recorded",
            "record who attended first: the summary is for them",
        ));
    }
    diesel::update(living_labs::table.find(&lab.id))
        .set((
            living_labs::summary.eq(&summary),
            living_labs::next_steps.eq(&next_steps),
        ))
        .execute(conn)?;
    let text = if next_steps.is_empty() {
        summary
    } else {
        format!("{summary}\n\n{next_steps}")
    };
    for row in rows.iter().filter(|r| r.attended == Some(true)) {
        if let Some(family) = &row.family_id {
            let family = FamilyId(parse_id(family)?);
            store::edit_as_server(conn, family, |tx| {
                put_entry_field(
                    tx,
                    keys::INVITATIONS,
                    &row.id,
                    "summary",
                    &Some(text.clone()),
                )
                .map_err(|e| ApiError::internal(anyhow::anyhow!("writing a summary: {e}")))
            })?;
        }
    }
    Ok(())
}

/// The summary, for those who run the session and those who attended it.
pub fn summary_for(
    conn: &mut DbConn,
    principal: &Principal,
    lab: &LabRow,
) -> ApiResult<reguide_protocol::living_labs::LabSummary> {
    let allowed = runs(conn, principal, lab)?
        || own_invitation(conn, principal, &lab.id)?.is_some_and(|i| i.attended == Some(true));
    if !allowed {
        if own_invitation(conn, principal, &lab.id)?.is_some() {
            return Err(ApiError::Forbidden(
                "the summary is for those who attended".into(),
            ));
        }
        return Err(not_found());
    }
    match (&lab.summary, &lab.next_steps) {
        (Some(summary), next) => Ok(reguide_protocol::living_labs::LabSummary {
            summary: summary.clone(),
            next_steps: next.clone().unwrap_or_default(),
        }),
        (None, _) => Err(ApiError::not_found(
            "summary_not_published",
            "no summary has been published for this session yet",
        )),
    }
}

/// The invitations as CSV, for a spreadsheet.
pub fn csv(conn: &mut DbConn, lab: &LabRow) -> ApiResult<String> {
    use crate::csv::{quote, typed};
    let seen = overview(conn, lab)?;
    let mut out =
        String::from("name,kind,role,email,language,answer,place,position,needs,note,attended\r\n");
    for i in &seen.invitations {
        let fields = [
            typed(&i.name),
            quote(&i.kind),
            quote(i.role.as_str()),
            typed(i.email.as_deref().unwrap_or_default()),
            quote(i.language.code()),
            quote(i.answer.map(|a| a.as_str()).unwrap_or_default()),
            quote(i.place.as_str()),
            i.position.map(|p| p.to_string()).unwrap_or_default(),
            quote(
                &i.needs
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            typed(i.note.as_deref().unwrap_or_default()),
            match i.attended {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            },
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}
