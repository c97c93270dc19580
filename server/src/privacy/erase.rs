//! Erasing a family member (GDPR art. 17): their record, account, devices, sessions and codes,
//! their place on visitor lists and visits, their Living Lab invitations, the email written to
//! them and the audit entries about them go; the family document is written anew without them
//! and its old history dropped, on the server now and on each device at its next sync (the
//! sync's `Replaced` answer). The audit log keeps one entry: that the request was carried out.

use diesel::prelude::*;
use reguide_protocol::doc::erase::erase_member;
use reguide_protocol::privacy::{PrivacyKind, PrivacyState};
use reguide_protocol::{MemberId, Role};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::{Principal, load_grants, parse_id};
use crate::db::DbConn;
use crate::db::schema::{
    accounts, audit_log, family_members, living_lab_invitations, living_lab_links, living_labs,
    mail_opt_outs, outbox,
};
use crate::error::{ApiError, ApiResult};
use crate::privacy;
use crate::sync::store;

/// Carries out an open erasure request, in the caller's transaction, by an administrator.
pub fn erase(conn: &mut DbConn, principal: &Principal, id: Uuid) -> ApiResult<()> {
    let request = privacy::open_for_decision(conn, principal, id)?;
    if request.kind != PrivacyKind::Erasure {
        return Err(ApiError::conflict(
            "not_an_erasure",
            "this request is not for an erasure",
        ));
    }
    let (member, family) = (request.member_id, request.family_id);
    // The family's document first: syncs of this family wait until the erasure is committed.
    let stored = store::lock_or_create(conn, family)?;
    let account: Option<Option<String>> = family_members::table
        .find(member.to_string())
        .select(family_members::account_id)
        .first(conn)
        .optional()?;
    let Some(account) = account else {
        return Err(ApiError::conflict(
            "member_gone",
            "this member is no longer in reguide",
        ));
    };
    if let Some(account) = &account {
        let grants = load_grants(conn, parse_id(account)?)?;
        if grants.iter().any(|g| g.role != Role::FamilyMember) {
            return Err(ApiError::conflict(
                "account_is_staff",
                "this member's account also works as staff: take its staff roles back first",
            ));
        }
    }
    erase_records(conn, member, account.as_deref())?;
    // The family's document written anew without them, its old history dropped.
    store::rewrite(conn, family, &stored.doc, |data| erase_member(data, member))?;
    privacy::close(conn, principal, id, PrivacyState::Done, None)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "member_erased",
        Some(Object::new("privacy_request", &id)),
    )
}

/// Everything in the tables about the member (and their account, when given).
pub(crate) fn erase_records(
    conn: &mut DbConn,
    member: MemberId,
    account: Option<&str>,
) -> ApiResult<()> {
    let id = member.to_string();
    // Their Living Lab invitations, and the places they held.
    let invitations: Vec<(String, String, String)> = living_lab_invitations::table
        .filter(living_lab_invitations::member_id.eq(&id))
        .select((
            living_lab_invitations::id,
            living_lab_invitations::living_lab_id,
            living_lab_invitations::place,
        ))
        .load(conn)?;
    for (invitation, lab, place) in &invitations {
        if place == "held" {
            diesel::update(living_labs::table.find(lab))
                .set(living_labs::taken.eq(living_labs::taken - 1))
                .execute(conn)?;
        }
        diesel::delete(
            living_lab_links::table.filter(living_lab_links::invitation_id.eq(invitation)),
        )
        .execute(conn)?;
    }
    diesel::delete(living_lab_invitations::table.filter(living_lab_invitations::member_id.eq(&id)))
        .execute(conn)?;

    let mut keys = vec![format!("member:{id}")];
    let mut about = vec![id.clone()];
    if let Some(account) = account {
        keys.push(format!("account:{account}"));
        about.push(account.to_owned());
    }
    diesel::delete(outbox::table.filter(outbox::recipient_key.eq_any(&keys))).execute(conn)?;
    diesel::delete(mail_opt_outs::table.filter(mail_opt_outs::recipient_key.eq_any(&keys)))
        .execute(conn)?;
    diesel::delete(audit_log::table.filter(audit_log::object_id.eq_any(&about))).execute(conn)?;
    if let Some(account) = account {
        diesel::delete(audit_log::table.filter(audit_log::actor_account_id.eq(account)))
            .execute(conn)?;
        // Tokens, devices and the family-member grant go with the account.
        diesel::delete(accounts::table.find(account)).execute(conn)?;
    }
    // Enrolment codes, visitor lists and visits' visitor lines go with the member.
    diesel::delete(family_members::table.find(&id)).execute(conn)?;
    Ok(())
}
