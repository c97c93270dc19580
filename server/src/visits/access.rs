//! Who may do what with visits. The one place these decisions are made.

use reguide_protocol::{FamilyId, PrisonId};

use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::families::access::{FamilyAccess, family_access, family_not_found};

/// Runs a prison's visits: its coordinators and administrators.
pub fn manages_prison(principal: &Principal, prison: PrisonId) -> bool {
    principal.is_admin() || principal.coordinated_prisons().contains(&prison)
}

pub fn require_prison_manager(principal: &Principal, prison: PrisonId) -> ApiResult<()> {
    if manages_prison(principal, prison) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only this prison's coordinators and administrators may do this".into(),
        ))
    }
}

/// How far a caller may act for a family on visits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FamilyScope {
    /// Everywhere: a member of the family, its social worker, an administrator.
    All(Party),
    /// Only for visits in these prisons: a coordinator, whose remit is their prisons even when
    /// the family also has someone held elsewhere.
    Prisons(Vec<PrisonId>),
}

/// Whether the caller acts for a family on visits at all. Anyone else is told the family does
/// not exist.
pub fn family_scope(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
) -> ApiResult<FamilyScope> {
    if principal.member_in(family).is_some() && !principal.is_admin() {
        return Ok(FamilyScope::All(Party::Family));
    }
    if principal.is_admin() || principal.has_in_caseload(family) {
        return Ok(FamilyScope::All(Party::Staff));
    }
    match family_access(conn, principal, family)? {
        FamilyAccess::None => Err(family_not_found()),
        _ => Ok(FamilyScope::Prisons(principal.coordinated_prisons())),
    }
}

/// Whether the caller acts for a family on a visit in `prison`: its members, its social
/// worker, administrators, and the coordinators of that prison.
pub fn require_family_party(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
    prison: PrisonId,
) -> ApiResult<Party> {
    match family_scope(conn, principal, family)? {
        FamilyScope::All(party) => Ok(party),
        FamilyScope::Prisons(prisons) if prisons.contains(&prison) => Ok(Party::Staff),
        FamilyScope::Prisons(_) => Err(family_not_found()),
    }
}

/// Like [`require_family_party`] for a request naming a detained person: their prison decides.
/// An unknown detained person is left for the request's own checks to name.
pub fn require_party_for_detainee(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
    detainee: reguide_protocol::DetaineeId,
) -> ApiResult<Party> {
    match family_scope(conn, principal, family)? {
        FamilyScope::All(party) => Ok(party),
        FamilyScope::Prisons(prisons) => {
            match crate::visits::visitors::load_detainee(conn, detainee) {
                Ok(d) if prisons.contains(&d.prison) => Ok(Party::Staff),
                _ => Err(family_not_found()),
            }
        }
    }
}

/// On whose behalf an action on a visit is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// A member of the family, from the app.
    Family,
    /// Staff acting for the family (phone bookings are the norm).
    Staff,
}
