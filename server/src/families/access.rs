//! Who may see and change a family. The one place these decisions are made; every family
//! endpoint (and later the family-document sync) asks here.

use diesel::prelude::*;
use reguide_protocol::{FamilyId, Role};

use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::db::schema::{detainees, families, family_detainees};
use crate::error::{ApiError, ApiResult};

/// What a principal may do with one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FamilyAccess {
    /// Not even that it exists.
    None,
    /// See the family record (a coordinator for visits, a member for their own family).
    Read,
    /// Also add members and detained persons, and issue enrolment codes.
    Manage,
}

/// Decides the access of `principal` to `family`:
/// admins manage every family there is; a social worker manages the families of their caseload; a
/// coordinator reads the families of people held in their prisons; a family member reads their
/// own family. Facilitators see families only through Living Lab invitations.
pub fn family_access(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
) -> ApiResult<FamilyAccess> {
    if principal.is_admin() {
        let exists: i64 = families::table
            .find(family.to_string())
            .count()
            .get_result(conn)?;
        return Ok(if exists > 0 {
            FamilyAccess::Manage
        } else {
            FamilyAccess::None
        });
    }
    if principal.has_in_caseload(family) {
        return Ok(FamilyAccess::Manage);
    }
    if principal.member_in(family).is_some() {
        return Ok(FamilyAccess::Read);
    }
    let prisons = principal.coordinated_prisons();
    if !prisons.is_empty() {
        let held_there: i64 = family_detainees::table
            .inner_join(detainees::table)
            .filter(family_detainees::family_id.eq(family.to_string()))
            .filter(detainees::prison_id.eq_any(prisons.iter().map(|p| p.to_string())))
            .count()
            .get_result(conn)?;
        if held_there > 0 {
            return Ok(FamilyAccess::Read);
        }
    }
    Ok(FamilyAccess::None)
}

/// Fails unless the principal has at least `needed` on `family`. A family the caller may not
/// see answers as if it did not exist.
pub fn require(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
    needed: FamilyAccess,
) -> ApiResult<FamilyAccess> {
    let access = family_access(conn, principal, family)?;
    if access == FamilyAccess::None {
        return Err(family_not_found());
    }
    if access < needed {
        return Err(ApiError::Forbidden(
            "you may see this family but not change it".into(),
        ));
    }
    Ok(access)
}

pub fn family_not_found() -> ApiError {
    ApiError::not_found(
        "family_not_found",
        "no family with this id is visible to you",
    )
}

/// Who may create a family: administrators and social workers.
pub fn may_create_family(principal: &Principal) -> bool {
    principal.is_admin() || principal.has_role(Role::SocialWorker)
}
