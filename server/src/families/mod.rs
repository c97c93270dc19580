//! Families: members, the detained persons they are linked to, and enrolment codes that bring
//! members in. Access decisions live in [`access`].

pub mod access;
pub mod api;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use reguide_protocol::api::{Detainee, EnrolmentCode, Family, FamilySummary, Member, Relation};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};

use crate::auth::principal::{Principal, parse_id};
use crate::auth::tokens;
use crate::db::schema::{
    caseloads, detainees, enrolment_codes, families, family_detainees, family_members, prisons,
};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};
use access::family_not_found;

pub fn ensure_exists(conn: &mut DbConn, family: FamilyId) -> ApiResult<()> {
    let found: i64 = families::table
        .find(family.to_string())
        .count()
        .get_result(conn)?;
    if found == 0 {
        return Err(family_not_found());
    }
    Ok(())
}

/// The language of the family's first member (what steps from a template are written in when
/// the worker does not say); English for a family without members.
pub fn first_member_language(conn: &mut DbConn, family: FamilyId) -> ApiResult<Language> {
    let code: Option<String> = family_members::table
        .filter(family_members::family_id.eq(family.to_string()))
        .order((family_members::created_at.asc(), family_members::id.asc()))
        .select(family_members::preferred_language)
        .first(conn)
        .optional()?;
    Ok(code
        .as_deref()
        .and_then(Language::from_code)
        .unwrap_or(Language::En))
}

pub fn create_family(conn: &mut DbConn, label: &str) -> ApiResult<FamilyId> {
    let id = FamilyId::new();
    diesel::insert_into(families::table)
        .values((
            families::id.eq(id.to_string()),
            families::label.eq(label),
            families::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The families a principal can see, for lists.
pub fn visible_families(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<FamilySummary>> {
    let mut query = families::table.into_boxed();
    if !principal.is_admin() {
        let mut ids: Vec<String> = principal
            .memberships
            .iter()
            .filter(|(f, _)| principal.member_in(*f).is_some())
            .map(|(f, _)| f.to_string())
            .collect();
        if principal.has_role(reguide_protocol::Role::SocialWorker) {
            ids.extend(
                caseloads::table
                    .filter(caseloads::account_id.eq(principal.account_id.to_string()))
                    .select(caseloads::family_id)
                    .load::<String>(conn)?,
            );
        }
        let prisons = principal.coordinated_prisons();
        if !prisons.is_empty() {
            ids.extend(
                family_detainees::table
                    .inner_join(detainees::table)
                    .filter(detainees::prison_id.eq_any(prisons.iter().map(|p| p.to_string())))
                    .select(family_detainees::family_id)
                    .load::<String>(conn)?,
            );
        }
        query = query.filter(families::id.eq_any(ids));
    }
    let rows: Vec<(String, String)> = query
        .order(families::label.asc())
        .select((families::id, families::label))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, label)| {
            let member_count = family_members::table
                .filter(family_members::family_id.eq(&id))
                .count()
                .get_result(conn)?;
            Ok(FamilySummary {
                id: parse_id(&id)?,
                label,
                member_count,
            })
        })
        .collect()
}

type MemberRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
);

pub fn load_family(conn: &mut DbConn, family: FamilyId) -> ApiResult<Family> {
    let (id, label, created_at, closed_at): (String, String, NaiveDateTime, Option<NaiveDateTime>) =
        families::table
            .find(family.to_string())
            .select((
                families::id,
                families::label,
                families::created_at,
                families::closed_at,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(family_not_found)?;
    let members: Vec<MemberRow> = family_members::table
        .filter(family_members::family_id.eq(&id))
        .order(family_members::created_at.asc())
        .select((
            family_members::id,
            family_members::account_id,
            family_members::display_name,
            family_members::relation,
            family_members::preferred_language,
            family_members::email,
            family_members::phone,
            family_members::birth_date,
        ))
        .load(conn)?;
    let detainee_rows: Vec<(String, String, String, String)> = family_detainees::table
        .inner_join(detainees::table)
        .filter(family_detainees::family_id.eq(&id))
        .order(detainees::full_name.asc())
        .select((
            detainees::id,
            detainees::full_name,
            detainees::prison_id,
            detainees::internal_number,
        ))
        .load(conn)?;
    Ok(Family {
        id: parse_id(&id)?,
        label,
        created_at: to_utc(created_at),
        members: members
            .into_iter()
            .map(to_member)
            .collect::<ApiResult<_>>()?,
        detainees: detainee_rows
            .into_iter()
            .map(|(id, full_name, prison, internal_number)| {
                Ok(Detainee {
                    id: parse_id(&id)?,
                    full_name,
                    prison_id: parse_id(&prison)?,
                    internal_number,
                })
            })
            .collect::<ApiResult<_>>()?,
        closed_at: closed_at.map(to_utc),
    })
}

fn to_member(row: MemberRow) -> ApiResult<Member> {
    let (id, account, display_name, relation, language, email, phone, birth_date) = row;
    Ok(Member {
        id: parse_id(&id)?,
        display_name,
        relation: Relation::parse(&relation).unwrap_or(Relation::Other),
        preferred_language: Language::from_code(&language).unwrap_or(Language::En),
        email,
        phone,
        birth_date,
        has_account: account.is_some(),
    })
}

/// A member as checked at the edge.
#[derive(Debug)]
pub struct MemberInput {
    pub display_name: String,
    pub relation: Relation,
    pub language: Language,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<NaiveDate>,
}

pub fn add_member(conn: &mut DbConn, family: FamilyId, m: MemberInput) -> ApiResult<Member> {
    let id = MemberId::new();
    diesel::insert_into(family_members::table)
        .values((
            family_members::id.eq(id.to_string()),
            family_members::family_id.eq(family.to_string()),
            family_members::display_name.eq(&m.display_name),
            family_members::relation.eq(m.relation.as_str()),
            family_members::preferred_language.eq(m.language.code()),
            family_members::email.eq(&m.email),
            family_members::phone.eq(&m.phone),
            family_members::birth_date.eq(m.birth_date),
            family_members::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Member {
        id,
        display_name: m.display_name,
        relation: m.relation,
        preferred_language: m.language,
        email: m.email,
        phone: m.phone,
        birth_date: m.birth_date,
        has_account: false,
    })
}

/// Links a detained person to a family, creating the person if this prison does not know the
/// internal number yet (two families of one detained person share the record).
pub fn link_detainee(
    conn: &mut DbConn,
    family: FamilyId,
    full_name: &str,
    prison: PrisonId,
    internal_number: &str,
) -> ApiResult<Detainee> {
    let prison_known: i64 = prisons::table
        .find(prison.to_string())
        .count()
        .get_result(conn)?;
    if prison_known == 0 {
        return Err(ApiError::invalid(
            "unknown_prison",
            "prison_id",
            "no prison has this id",
        ));
    }
    let existing: Option<(String, String)> = detainees::table
        .filter(detainees::prison_id.eq(prison.to_string()))
        .filter(detainees::internal_number.eq(internal_number))
        .select((detainees::id, detainees::full_name))
        .first(conn)
        .optional()?;
    let (id, name) = match existing {
        Some((id, name)) => (parse_id::<DetaineeId>(&id)?, name),
        None => {
            let id = DetaineeId::new();
            diesel::insert_into(detainees::table)
                .values((
                    detainees::id.eq(id.to_string()),
                    detainees::full_name.eq(full_name),
                    detainees::prison_id.eq(prison.to_string()),
                    detainees::internal_number.eq(internal_number),
                    detainees::created_at.eq(now()),
                ))
                .execute(conn)?;
            (id, full_name.to_owned())
        }
    };
    let linked: i64 = family_detainees::table
        .filter(family_detainees::family_id.eq(family.to_string()))
        .filter(family_detainees::detainee_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    if linked > 0 {
        return Err(ApiError::conflict(
            "detainee_already_linked",
            "this person is already linked to this family",
        ));
    }
    diesel::insert_into(family_detainees::table)
        .values((
            family_detainees::family_id.eq(family.to_string()),
            family_detainees::detainee_id.eq(id.to_string()),
        ))
        .execute(conn)?;
    Ok(Detainee {
        id,
        full_name: name,
        prison_id: prison,
        internal_number: internal_number.to_owned(),
    })
}

/// Issues a one-time enrolment code for a member of `family`; earlier unused codes of that
/// member stop working, so only the latest slip of paper counts.
pub fn issue_enrolment_code(
    conn: &mut DbConn,
    family: FamilyId,
    member: MemberId,
    created_by: AccountId,
    ttl_hours: i64,
) -> ApiResult<EnrolmentCode> {
    let in_family: i64 = family_members::table
        .find(member.to_string())
        .filter(family_members::family_id.eq(family.to_string()))
        .count()
        .get_result(conn)?;
    if in_family == 0 {
        return Err(ApiError::not_found(
            "member_not_found",
            "this family has no such member",
        ));
    }
    // Two codes issued at once for one member take turns (on SQLite writers do anyway):
    // otherwise each would expire the other's rows in its own order and PostgreSQL would end
    // one of them as a deadlock.
    if let DbConn::Postgres(pg) = conn {
        family_members::table
            .find(member.to_string())
            .select(family_members::id)
            .for_update()
            .first::<String>(pg)?;
    }
    let now = now();
    diesel::update(
        enrolment_codes::table
            .filter(enrolment_codes::member_id.eq(member.to_string()))
            .filter(enrolment_codes::used_at.is_null()),
    )
    .set(enrolment_codes::expires_at.eq(now))
    .execute(conn)?;
    let code = tokens::new_enrolment_code();
    let expires_at = now + Duration::hours(ttl_hours);
    let canonical = tokens::normalise_enrolment_code(&code)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("generated code failed to parse")))?;
    diesel::insert_into(enrolment_codes::table)
        .values((
            enrolment_codes::id.eq(uuid::Uuid::new_v4().to_string()),
            enrolment_codes::code_hash.eq(tokens::digest(&canonical)),
            enrolment_codes::member_id.eq(member.to_string()),
            enrolment_codes::created_by.eq(created_by.to_string()),
            enrolment_codes::created_at.eq(now),
            enrolment_codes::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(EnrolmentCode {
        code,
        member_id: member,
        expires_at: to_utc(expires_at),
    })
}
