//! Visitor lists: the family members a detained person may receive. Close family is approved on
//! proof of kinship, others after the prison director's approval.

use diesel::prelude::*;
use reguide_protocol::api::Relation;
use reguide_protocol::visits::{ApprovalBasis, ApprovalStatus, ApprovedVisitor, VisitorDecision};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, MemberId, PrisonId};

use crate::auth::principal::parse_id;
use crate::db::schema::{detainees, family_detainees, family_members, visitor_approvals};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};

/// A detained person's prison and the families linked to them.
#[derive(Debug)]
pub struct DetaineeRef {
    pub id: DetaineeId,
    pub prison: PrisonId,
    pub families: Vec<FamilyId>,
}

pub fn load_detainee(conn: &mut DbConn, detainee: DetaineeId) -> ApiResult<DetaineeRef> {
    let prison: String = detainees::table
        .find(detainee.to_string())
        .select(detainees::prison_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found("detainee_not_found", "no detained person has this id")
        })?;
    let families = family_detainees::table
        .filter(family_detainees::detainee_id.eq(detainee.to_string()))
        .select(family_detainees::family_id)
        .load::<String>(conn)?
        .iter()
        .map(|f| parse_id(f))
        .collect::<ApiResult<_>>()?;
    Ok(DetaineeRef {
        id: detainee,
        prison: parse_id(&prison)?,
        families,
    })
}

/// Whether a relation counts as close family (for kinship approval and unsupervised visits).
pub fn is_close_family(relation: Relation) -> bool {
    matches!(
        relation,
        Relation::Parent | Relation::Partner | Relation::Child | Relation::Sibling
    )
}

pub fn list(conn: &mut DbConn, detainee: &DetaineeRef) -> ApiResult<Vec<ApprovedVisitor>> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<chrono::NaiveDateTime>,
    );
    let rows: Vec<Row> = visitor_approvals::table
        .inner_join(family_members::table)
        .filter(visitor_approvals::detainee_id.eq(detainee.id.to_string()))
        .order(family_members::display_name.asc())
        .select((
            visitor_approvals::member_id,
            family_members::family_id,
            family_members::display_name,
            visitor_approvals::status,
            visitor_approvals::basis,
            visitor_approvals::decided_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(member, family, name, status, basis, decided)| {
            Ok(ApprovedVisitor {
                member_id: parse_id(&member)?,
                family_id: parse_id(&family)?,
                display_name: name,
                status: ApprovalStatus::parse(&status).unwrap_or(ApprovalStatus::Pending),
                basis: ApprovalBasis::parse(&basis).unwrap_or(ApprovalBasis::DirectorApproval),
                decided_at: decided.map(to_utc),
            })
        })
        .collect()
}

/// A member id that names no member the caller may know of.
pub fn member_not_found() -> ApiError {
    ApiError::not_found("member_not_found", "no member has this id")
}

/// The relation of a member of a family linked to the detained person. A member of any other
/// family is not found, exactly as an id that names nobody: the answer must not tell those who
/// run a prison which ids belong to members of families they do not see.
fn linked_member(
    conn: &mut DbConn,
    detainee: &DetaineeRef,
    member: MemberId,
) -> ApiResult<Relation> {
    let row: Option<(String, String)> = family_members::table
        .find(member.to_string())
        .select((family_members::family_id, family_members::relation))
        .first(conn)
        .optional()?;
    let (family, relation) = row.ok_or_else(member_not_found)?;
    if !detainee.families.contains(&parse_id(&family)?) {
        return Err(member_not_found());
    }
    Ok(Relation::parse(&relation).unwrap_or(Relation::Other))
}

/// A coordinator's decision on a visitor.
pub fn decide(
    conn: &mut DbConn,
    detainee: &DetaineeRef,
    member: MemberId,
    decision: &VisitorDecision,
    actor: AccountId,
) -> ApiResult<()> {
    let relation = linked_member(conn, detainee, member)?;
    if decision.status == ApprovalStatus::Approved
        && decision.basis == ApprovalBasis::KinshipProof
        && !is_close_family(relation)
    {
        return Err(ApiError::invalid(
            "kinship_not_close",
            "basis",
            "only close family is approved on proof of kinship; others need the director's approval",
        ));
    }
    let note = decision
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid(
            "invalid_value",
            "note",
            "a note may have at most 500 characters",
        ));
    }
    upsert(
        conn,
        detainee.id,
        member,
        decision.status,
        decision.basis,
        Some(actor),
        note,
    )
}

/// A family or social worker asks for a member to be put on the list.
pub fn ask(
    conn: &mut DbConn,
    detainee: &DetaineeRef,
    member: MemberId,
) -> ApiResult<ApprovalStatus> {
    let relation = linked_member(conn, detainee, member)?;
    let current: Option<String> = visitor_approvals::table
        .find((detainee.id.to_string(), member.to_string()))
        .select(visitor_approvals::status)
        .first(conn)
        .optional()?;
    if let Some(status) = current.as_deref().and_then(ApprovalStatus::parse) {
        return Ok(status);
    }
    let basis = if is_close_family(relation) {
        ApprovalBasis::KinshipProof
    } else {
        ApprovalBasis::DirectorApproval
    };
    upsert(
        conn,
        detainee.id,
        member,
        ApprovalStatus::Pending,
        basis,
        None,
        None,
    )?;
    Ok(ApprovalStatus::Pending)
}

fn upsert(
    conn: &mut DbConn,
    detainee: DetaineeId,
    member: MemberId,
    status: ApprovalStatus,
    basis: ApprovalBasis,
    actor: Option<AccountId>,
    note: Option<&str>,
) -> ApiResult<()> {
    let decided_at = actor.map(|_| now());
    let updated =
        diesel::update(visitor_approvals::table.find((detainee.to_string(), member.to_string())))
            .set((
                visitor_approvals::status.eq(status.as_str()),
                visitor_approvals::basis.eq(basis.as_str()),
                visitor_approvals::decided_by.eq(actor.map(|a| a.to_string())),
                visitor_approvals::decided_at.eq(decided_at),
                visitor_approvals::note.eq(note),
            ))
            .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(visitor_approvals::table)
            .values((
                visitor_approvals::detainee_id.eq(detainee.to_string()),
                visitor_approvals::member_id.eq(member.to_string()),
                visitor_approvals::status.eq(status.as_str()),
                visitor_approvals::basis.eq(basis.as_str()),
                visitor_approvals::decided_by.eq(actor.map(|a| a.to_string())),
                visitor_approvals::decided_at.eq(decided_at),
                visitor_approvals::note.eq(note),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The members of `members` approved to visit the detained person.
pub fn approved(
    conn: &mut DbConn,
    detainee: DetaineeId,
    members: &[MemberId],
) -> ApiResult<Vec<MemberId>> {
    visitor_approvals::table
        .filter(visitor_approvals::detainee_id.eq(detainee.to_string()))
        .filter(visitor_approvals::member_id.eq_any(members.iter().map(|m| m.to_string())))
        .filter(visitor_approvals::status.eq(ApprovalStatus::Approved.as_str()))
        .select(visitor_approvals::member_id)
        .load::<String>(conn)?
        .iter()
        .map(|m| parse_id(m))
        .collect()
}

/// A member waiting for a coordinator's decision on a visitor list.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub detainee_id: DetaineeId,
    pub detainee_name: String,
    pub member_id: MemberId,
    pub member_name: String,
    pub relation: Relation,
}

/// Everyone asking to be on the visitor list of someone held in `prison`, by detained person.
/// For the prison's coordinators (their callers check).
pub fn waiting_in(conn: &mut DbConn, prison: PrisonId) -> ApiResult<Vec<Waiting>> {
    let rows: Vec<(String, String, String, String, String)> = visitor_approvals::table
        .inner_join(detainees::table.on(detainees::id.eq(visitor_approvals::detainee_id)))
        .inner_join(family_members::table.on(family_members::id.eq(visitor_approvals::member_id)))
        .filter(detainees::prison_id.eq(prison.to_string()))
        .filter(visitor_approvals::status.eq(ApprovalStatus::Pending.as_str()))
        .select((
            detainees::id,
            detainees::full_name,
            family_members::id,
            family_members::display_name,
            family_members::relation,
        ))
        .order((
            detainees::full_name.asc(),
            family_members::display_name.asc(),
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(detainee, detainee_name, member, member_name, relation)| {
            Ok(Waiting {
                detainee_id: parse_id(&detainee)?,
                detainee_name,
                member_id: parse_id(&member)?,
                member_name,
                relation: Relation::parse(&relation).unwrap_or(Relation::Other),
            })
        })
        .collect()
}
