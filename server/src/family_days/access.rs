//! Who may do what with family days and their registrations: one function per action, the only
//! place these decisions are made.
//!
//! - Days are reference data: everyone signed in lists and reads them.
//! - Creating, changing and cancelling a day, and reading its registration list (JSON or CSV),
//!   is for the coordinators of the day's prison and administrators. Anyone else is refused
//!   with `403 forbidden` (the day itself is visible to them).
//! - Registering a family, and reading a family's registrations, is for whoever may see the
//!   family ([`family_access`]): its members, the social workers of its caseload, the
//!   coordinators of the prisons its detained person is held in, administrators. Anyone else
//!   gets `404 family_not_found`, as for every family they may not see.
//! - Cancelling a registration is for a member of the family (until the registration deadline)
//!   and for staff responsible for it: administrators, the coordinators of the day's prison and
//!   the social workers of the family's caseload (until the day starts). Staff who may see the
//!   family but are not responsible for the day get `403 forbidden`; anyone else
//!   `404 registration_not_found`.

use reguide_protocol::{FamilyId, PrisonId};

use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::families::access::{FamilyAccess, family_access, family_not_found};

/// In what capacity a caller acts for a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acting {
    /// A member of the family, for their own family. Not audited: families are not watched.
    Member,
    /// Staff acting for the family: audited.
    Staff,
}

/// Whether `principal` organises the family days of `prison`.
pub fn manages_prison(principal: &Principal, prison: PrisonId) -> bool {
    principal.is_admin() || principal.coordinated_prisons().contains(&prison)
}

/// Create a day at `prison`, change or cancel one of its days, read its registrations.
pub fn require_manage_day(principal: &Principal, prison: PrisonId) -> ApiResult<()> {
    if manages_prison(principal, prison) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the coordinators of this prison and administrators organise its family days"
                .into(),
        ))
    }
}

/// Register `family` for a day.
pub fn require_register(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
) -> ApiResult<Acting> {
    let acting = if principal.member_in(family).is_some() {
        Acting::Member
    } else {
        match family_access(conn, principal, family)? {
            FamilyAccess::None => return Err(family_not_found()),
            FamilyAccess::Read | FamilyAccess::Manage => Acting::Staff,
        }
    };
    // Administrators may see every family, including ones that do not exist.
    crate::families::ensure_exists(conn, family)?;
    Ok(acting)
}

/// Read the registrations of `family`.
pub fn require_read_family(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
) -> ApiResult<Acting> {
    // The same people who may register a family may see its registrations.
    require_register(conn, principal, family)
}

/// Who cancels a registration, which decides until when they may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canceller {
    /// A member of the family: until the registration deadline.
    Member,
    /// Staff responsible for the day or the family: until the day starts.
    Staff,
}

/// Cancel the registration of `family` for a day at `prison`.
pub fn require_cancel_registration(
    conn: &mut DbConn,
    principal: &Principal,
    prison: PrisonId,
    family: FamilyId,
) -> ApiResult<Canceller> {
    // Staff rights win over membership: they reach further in time.
    if manages_prison(principal, prison) || principal.has_in_caseload(family) {
        return Ok(Canceller::Staff);
    }
    if principal.member_in(family).is_some() {
        return Ok(Canceller::Member);
    }
    match family_access(conn, principal, family)? {
        FamilyAccess::None => Err(registration_not_found()),
        FamilyAccess::Read | FamilyAccess::Manage => Err(ApiError::Forbidden(
            "only the family, its social worker and the coordinators of this prison cancel \
             this registration"
                .into(),
        )),
    }
}

pub fn registration_not_found() -> ApiError {
    ApiError::not_found(
        "registration_not_found",
        "no registration with this id is visible to you",
    )
}
