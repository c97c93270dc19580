//! A copy of everything reguide holds about one family member (GDPR art. 15), as JSON for
//! machines and as a readable page: the member's record and account, devices, the family's
//! file as far as it concerns them, their visits, visitor lists, Living Labs, the email sent
//! to them, the audit entries about them and the family document with its whole history.

use askama::Template;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use reguide_protocol::sync::server_actor;
use reguide_protocol::{Language, MemberId};
use serde::Serialize;

use crate::auth::principal::parse_id;
use crate::db::schema::{
    accounts, audit_log, detainees, devices, families, family_detainees, family_members,
    living_lab_invitations, living_labs, outbox, prisons, role_grants, visit_events,
    visit_request_visitors, visit_requests, visitor_approvals,
};
use crate::db::{DbConn, to_utc};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Serialize)]
pub struct MemberExport {
    pub generated_at: DateTime<Utc>,
    pub member: MemberRecord,
    pub account: Option<AccountRecord>,
    pub family: FamilyRecord,
    pub visit_requests: Vec<VisitRecord>,
    pub visitor_lists: Vec<VisitorListRecord>,
    pub living_labs: Vec<LabRecord>,
    pub emails: Vec<EmailRecord>,
    pub audit_log: Vec<AuditRecord>,
    /// The family's shared document as it stands (steps, appointments, requests…).
    pub family_document: serde_json::Value,
    /// Every change ever made to it: when, by which device (or the server), how many
    /// operations.
    pub family_document_history: Vec<ChangeRecord>,
}

#[derive(Debug, Serialize)]
pub struct MemberRecord {
    pub id: MemberId,
    pub display_name: String,
    pub relation: String,
    pub preferred_language: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct AccountRecord {
    pub email: Option<String>,
    pub username: String,
    pub display_name: String,
    pub preferred_language: String,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<String>,
    pub devices: Vec<DeviceRecord>,
}

#[derive(Debug, Serialize)]
pub struct DeviceRecord {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Serialize)]
pub struct FamilyRecord {
    pub label: String,
    /// The other members, by name.
    pub members: Vec<String>,
    /// The detained relatives, by name and prison.
    pub detained: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct VisitRecord {
    pub reference: String,
    pub prison: String,
    pub visit_type: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// (when, what happened).
    pub events: Vec<(DateTime<Utc>, String)>,
}

#[derive(Debug, Serialize)]
pub struct VisitorListRecord {
    pub detained: String,
    pub status: String,
    pub basis: String,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct LabRecord {
    pub title: String,
    pub date: NaiveDate,
    pub answer: Option<String>,
    pub place: String,
    pub needs: String,
    pub note: Option<String>,
    pub attended: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct EmailRecord {
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub state: String,
}

#[derive(Debug, Serialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub action: String,
    /// Whether the member (through their account) did it, or it was done to them.
    pub by_them: bool,
}

#[derive(Debug, Serialize)]
pub struct ChangeRecord {
    pub at: DateTime<Utc>,
    pub by: String,
    pub operations: usize,
}

/// Everything held about `member`.
pub fn gather(conn: &mut DbConn, member: MemberId) -> ApiResult<MemberExport> {
    type MemberRow = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<NaiveDate>,
        NaiveDateTime,
        String,
        Option<String>,
    );
    let id = member.to_string();
    let (name, relation, language, email, phone, birth, created, family, account): MemberRow =
        family_members::table
            .find(&id)
            .select((
                family_members::display_name,
                family_members::relation,
                family_members::preferred_language,
                family_members::email,
                family_members::phone,
                family_members::birth_date,
                family_members::created_at,
                family_members::family_id,
                family_members::account_id,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("member_not_found", "no such member"))?;

    let account_record = match &account {
        Some(account) => Some(account_record(conn, account)?),
        None => None,
    };
    let label: String = families::table
        .find(&family)
        .select(families::label)
        .first(conn)?;
    let others: Vec<String> = family_members::table
        .filter(family_members::family_id.eq(&family))
        .filter(family_members::id.ne(&id))
        .select(family_members::display_name)
        .order(family_members::display_name.asc())
        .load(conn)?;
    let detained: Vec<String> = family_detainees::table
        .inner_join(detainees::table.inner_join(prisons::table))
        .filter(family_detainees::family_id.eq(&family))
        .select((detainees::full_name, prisons::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(name, prison)| format!("{name} ({prison})"))
        .collect();

    let visit_requests = visits_of(conn, &id)?;
    let visitor_lists = visitor_approvals::table
        .inner_join(detainees::table.on(detainees::id.eq(visitor_approvals::detainee_id)))
        .filter(visitor_approvals::member_id.eq(&id))
        .select((
            detainees::full_name,
            visitor_approvals::status,
            visitor_approvals::basis,
            visitor_approvals::decided_at,
        ))
        .load::<(String, String, String, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(detained, status, basis, decided)| VisitorListRecord {
            detained,
            status,
            basis,
            decided_at: decided.map(to_utc),
        })
        .collect();
    let living_labs = living_lab_invitations::table
        .inner_join(
            living_labs::table.on(living_labs::id.eq(living_lab_invitations::living_lab_id)),
        )
        .filter(living_lab_invitations::member_id.eq(&id))
        .select((
            living_labs::title,
            living_labs::date,
            living_lab_invitations::answer,
            living_lab_invitations::place,
            living_lab_invitations::needs,
            living_lab_invitations::note,
            living_lab_invitations::attended,
        ))
        .load::<(
            String,
            NaiveDate,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<bool>,
        )>(conn)?
        .into_iter()
        .map(
            |(title, date, answer, place, needs, note, attended)| LabRecord {
                title,
                date,
                answer,
                place,
                needs,
                note,
                attended,
            },
        )
        .collect();

    let mut keys = vec![format!("member:{id}")];
    if let Some(account) = &account {
        keys.push(format!("account:{account}"));
    }
    let emails = outbox::table
        .filter(outbox::recipient_key.eq_any(&keys))
        .select((
            outbox::created_at,
            outbox::kind,
            outbox::to_address,
            outbox::subject,
            outbox::state,
        ))
        .order(outbox::created_at.asc())
        .load::<(NaiveDateTime, String, String, String, String)>(conn)?
        .into_iter()
        .map(|(at, kind, to, subject, state)| EmailRecord {
            created_at: to_utc(at),
            kind,
            to,
            subject,
            state,
        })
        .collect();

    let mut about = vec![id.clone()];
    about.extend(account.clone());
    let by = account.clone().unwrap_or_default();
    let audit_log = audit_log::table
        .filter(
            audit_log::object_id
                .eq_any(&about)
                .or(audit_log::actor_account_id.eq(&by)),
        )
        .select((
            audit_log::at,
            audit_log::action,
            audit_log::actor_account_id,
        ))
        .order(audit_log::id.asc())
        .load::<(NaiveDateTime, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(at, action, actor)| AuditRecord {
            at: to_utc(at),
            action,
            by_them: account.is_some() && actor == account,
        })
        .collect();

    let (family_document, family_document_history) = document_of(conn, &family)?;
    Ok(MemberExport {
        generated_at: Utc::now(),
        member: MemberRecord {
            id: member,
            display_name: name,
            relation,
            preferred_language: language,
            email,
            phone,
            birth_date: birth,
            created_at: to_utc(created),
        },
        account: account_record,
        family: FamilyRecord {
            label,
            members: others,
            detained,
        },
        visit_requests,
        visitor_lists,
        living_labs,
        emails,
        audit_log,
        family_document,
        family_document_history,
    })
}

fn account_record(conn: &mut DbConn, account: &str) -> ApiResult<AccountRecord> {
    let (email, username, display_name, language, created): (
        Option<String>,
        String,
        String,
        String,
        NaiveDateTime,
    ) = accounts::table
        .find(account)
        .select((
            accounts::email,
            accounts::username,
            accounts::display_name,
            accounts::preferred_language,
            accounts::created_at,
        ))
        .first(conn)?;
    let roles = role_grants::table
        .filter(role_grants::account_id.eq(account))
        .select(role_grants::role)
        .load(conn)?;
    let devices = devices::table
        .filter(devices::account_id.eq(account))
        .select((
            devices::name,
            devices::created_at,
            devices::last_seen_at,
            devices::revoked_at,
        ))
        .order(devices::created_at.asc())
        .load::<(
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        )>(conn)?
        .into_iter()
        .map(|(name, created, seen, revoked)| DeviceRecord {
            name,
            created_at: to_utc(created),
            last_seen_at: seen.map(to_utc),
            revoked: revoked.is_some(),
        })
        .collect();
    Ok(AccountRecord {
        email,
        username,
        display_name,
        preferred_language: language,
        created_at: to_utc(created),
        roles,
        devices,
    })
}

/// The visits the member came (or asks to come) to, with what happened to each.
fn visits_of(conn: &mut DbConn, member: &str) -> ApiResult<Vec<VisitRecord>> {
    let rows: Vec<(String, String, String, String, String, NaiveDateTime)> =
        visit_request_visitors::table
            .inner_join(
                visit_requests::table
                    .inner_join(prisons::table.on(prisons::id.eq(visit_requests::prison_id))),
            )
            .filter(visit_request_visitors::member_id.eq(member))
            .select((
                visit_requests::id,
                visit_requests::reference,
                prisons::name,
                visit_requests::visit_type,
                visit_requests::status,
                visit_requests::created_at,
            ))
            .order(visit_requests::created_at.asc())
            .load(conn)?;
    let ids: Vec<&String> = rows.iter().map(|row| &row.0).collect();
    let mut events: std::collections::HashMap<String, Vec<(DateTime<Utc>, String)>> =
        std::collections::HashMap::new();
    for (request, at, kind) in visit_events::table
        .filter(visit_events::request_id.eq_any(ids))
        .select((
            visit_events::request_id,
            visit_events::at,
            visit_events::kind,
        ))
        .order(visit_events::seq.asc())
        .load::<(String, NaiveDateTime, String)>(conn)?
    {
        events.entry(request).or_default().push((to_utc(at), kind));
    }
    Ok(rows
        .into_iter()
        .map(
            |(request, reference, prison, visit_type, status, created)| VisitRecord {
                reference,
                prison,
                visit_type,
                status,
                created_at: to_utc(created),
                events: events.remove(&request).unwrap_or_default(),
            },
        )
        .collect())
}

/// The family document as JSON and its history, changes named by device.
fn document_of(
    conn: &mut DbConn,
    family: &str,
) -> ApiResult<(serde_json::Value, Vec<ChangeRecord>)> {
    let family_id = parse_id(family)?;
    let Some(doc) = crate::sync::store::load(conn, family_id)? else {
        return Ok((serde_json::Value::Null, Vec::new()));
    };
    let json =
        serde_json::to_value(automerge::AutoSerde::from(&doc)).map_err(ApiError::internal)?;
    let names: Vec<(String, String)> = devices::table
        .select((devices::actor_id, devices::name))
        .filter(
            devices::account_id.eq_any(
                family_members::table
                    .filter(family_members::family_id.eq(family))
                    .filter(family_members::account_id.is_not_null())
                    .select(family_members::account_id.assume_not_null()),
            ),
        )
        .load(conn)?;
    let server = server_actor().to_hex_string();
    let history = doc
        .get_changes(&[])
        .iter()
        .map(|change| {
            let actor = change.actor_id().to_hex_string();
            let by = if actor == server {
                "reguide (server)".to_owned()
            } else {
                names
                    .iter()
                    .find(|(a, _)| *a == actor)
                    .map(|(_, name)| name.clone())
                    .unwrap_or_else(|| "another device".to_owned())
            };
            ChangeRecord {
                at: DateTime::from_timestamp_millis(change.timestamp()).unwrap_or_default(),
                by,
                operations: change.len(),
            }
        })
        .collect();
    Ok((json, history))
}

/// The export as a page to read or print.
#[derive(Template, Debug)]
#[template(path = "privacy/export.html")]
pub struct ExportPage<'a> {
    pub export: &'a MemberExport,
    pub document: String,
    pub language: Language,
}

impl ExportPage<'_> {
    pub fn t<'k>(&self, key: &'k str) -> &'k str {
        crate::web::i18n::text(self.language, key)
    }

    pub fn lang(&self) -> &'static str {
        self.language.code()
    }

    pub fn dir(&self) -> &'static str {
        if crate::web::i18n::is_rtl(self.language) {
            "rtl"
        } else {
            "ltr"
        }
    }

    pub fn when(&self, at: &DateTime<Utc>) -> String {
        crate::mail::format::instant(self.language, chrono_tz::Europe::Brussels, *at)
    }

    pub fn yes_no(&self, value: &Option<bool>) -> &'static str {
        match value {
            Some(true) => crate::web::i18n::text(self.language, "labs.attended_yes"),
            Some(false) => crate::web::i18n::text(self.language, "labs.attended_no"),
            None => "—",
        }
    }
}

/// The export as a page in the member's own language (English where a text is missing).
pub fn html(export: &MemberExport) -> ApiResult<String> {
    let document =
        serde_json::to_string_pretty(&export.family_document).map_err(ApiError::internal)?;
    let language = Language::from_code(&export.member.preferred_language).unwrap_or(Language::En);
    ExportPage {
        export,
        document,
        language,
    }
    .render()
    .map_err(ApiError::internal)
}
