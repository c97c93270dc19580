//! Administrators' pages: accounts with their roles and scopes, prisons, email that could not
//! be delivered, and the audit log with filters.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, get, post, web};
use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use reguide_protocol::api::{Account, AuditPage, NewPrison, NewRoleGrant, Prison};
use reguide_protocol::caseloads::{CaseloadRequest, CaseloadRequestStatus};
use reguide_protocol::mail::OutboxMessage;
use reguide_protocol::{AccountId, FamilyId, PrisonId, Role, RoleGrantId};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::caseload_requests as requests_api;
use crate::accounts::{self, api as accounts_api};
use crate::audit::api::{AuditQuery, search};
use crate::error::{ApiError, ApiResult};
use crate::mail::api as mail_api;
use crate::prisons::{self, api as prisons_api};
use crate::state::AppState;
use crate::web::session::WebUser;
use crate::web::{
    CsrfForm, InLanguage, Page, Reading, WebError, WebResult, act, render_status, see_other, show,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(account_list)
        .service(create_account)
        .service(decide_caseload_request)
        .service(account_page)
        .service(grant_role)
        .service(revoke_role)
        .service(add_to_caseload)
        .service(remove_from_caseload)
        .service(create_prison)
        .service(email_page)
        .service(retry_email)
        .service(audit_log);
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    page: Page,
    accounts: Vec<Account>,
    /// Social workers asking to follow a family: (request, worker, family, service in words).
    asking: Vec<(CaseloadRequest, String, String, String)>,
    /// For the new account form.
    roles: Vec<(&'static str, String)>,
    prisons: Vec<Prison>,
    languages: Vec<(&'static str, &'static str)>,
}

/// Accounts, and the caseload requests waiting for a decision.
#[get("/accounts")]
async fn account_list(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    show_accounts(&req, &state, &user, None).await
}

async fn show_accounts(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "accounts.title",
        Reading::Plain,
        problem,
        |conn, principal| {
            principal.require_admin()?;
            let asking =
                requests_api::list_in(conn, principal, Some(CaseloadRequestStatus::Pending))?;
            let families = crate::families::visible_families(conn, principal)?;
            let prisons = prisons::list_prisons(conn)?;
            Ok((accounts::list_accounts(conn)?, asking, families, prisons))
        },
        |page, (accounts, asking, families, prisons)| AccountsPage {
            roles: staff_roles(&page),
            prisons,
            languages: crate::web::i18n::OFFERED
                .iter()
                .map(|l| (l.code(), crate::web::i18n::endonym(*l)))
                .collect(),
            asking: asking
                .into_iter()
                .map(|r| {
                    let worker = accounts
                        .iter()
                        .find(|a| a.id == r.account_id)
                        .map(|a| a.display_name.clone())
                        .unwrap_or_default();
                    let family = families
                        .iter()
                        .find(|f| f.id == r.family_id)
                        .map(|f| f.label.clone())
                        .unwrap_or_default();
                    let service = page.tv("service", r.service.as_str());
                    (r, worker, family, service)
                })
                .collect(),
            page,
            accounts,
        },
    )
    .await
}

/// The staff roles, in words, for the forms that grant one.
fn staff_roles(page: &Page) -> Vec<(&'static str, String)> {
    crate::web::session::STAFF_ROLES
        .iter()
        .map(|r| (r.as_str(), page.tv("role", r.as_str())))
        .collect()
}

#[derive(Debug, Deserialize)]
struct NewAccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    prison: String,
}

/// A new staff account through the API's `create_account` (the person changes the password
/// given here when they first sign in).
#[post("/accounts")]
async fn create_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    form: web::Form<NewAccountForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let form = form.into_inner();
    let role = match Role::parse(&form.role).filter(|r| *r != Role::FamilyMember) {
        Some(role) => role,
        None => {
            let error = ApiError::invalid("invalid_value", "role", "choose a role");
            return show_accounts(&req, &state, &user, Some((&error, "role"))).await;
        }
    };
    let prison_id = form.prison.parse::<Uuid>().ok().map(PrisonId);
    let body = reguide_protocol::api::NewAccount {
        email: form.email,
        display_name: form.display_name,
        password: form.password,
        preferred_language: reguide_protocol::Language::from_code(&form.language),
        roles: vec![NewRoleGrant { role, prison_id }],
    };
    match accounts_api::create_account(&state, user.principal.clone(), body).await {
        Ok(account) => Ok(see_other(&format!(
            "/admin/accounts/{}?done=saved",
            account.id
        ))),
        Err(error @ (ApiError::Invalid { .. } | ApiError::Conflict { .. })) => {
            show_accounts(&req, &state, &user, Some((&error, "email"))).await
        }
        Err(error) => Err(WebError::api(error, user.language)),
    }
}

#[derive(Debug, Deserialize)]
struct CaseloadDecisionForm {
    #[serde(default)]
    csrf: String,
    decision: String,
}

/// Approves or refuses a social worker's request to follow a family (`decide_in`).
#[post("/caseload-requests/{id}")]
async fn decide_caseload_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CaseloadDecisionForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let approve = form.decision == "approve";
    let principal = user.principal.clone();
    state
        .write(move |conn| requests_api::decide_in(conn, &principal, id, approve))
        .await
        .lang(user.language)?;
    Ok(see_other("/admin/accounts?done=saved"))
}

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    page: Page,
    account: Account,
    /// (grant id, role in words, prison name when scoped to one).
    grants: Vec<(RoleGrantId, String, Option<String>)>,
    roles: Vec<(&'static str, String)>,
    prisons: Vec<Prison>,
    /// For a social worker: the families followed, and those that could be added.
    social_worker: bool,
    caseload: Vec<(FamilyId, String)>,
    others: Vec<(FamilyId, String)>,
}

async fn show_account(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: AccountId,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "accounts.account",
        Reading::Plain,
        problem,
        move |conn, principal| {
            principal.require_admin()?;
            let families = crate::families::visible_families(conn, principal)?;
            Ok((
                accounts::load_account(conn, id)?,
                prisons::list_prisons(conn)?,
                families,
            ))
        },
        |page, (account, prisons, families)| AccountPage {
            social_worker: account.roles.iter().any(|g| g.role == Role::SocialWorker),
            caseload: families
                .iter()
                .filter(|f| account.caseload.contains(&f.id))
                .map(|f| (f.id, f.label.clone()))
                .collect(),
            others: families
                .iter()
                .filter(|f| !account.caseload.contains(&f.id))
                .map(|f| (f.id, f.label.clone()))
                .collect(),
            grants: account
                .roles
                .iter()
                .map(|g| {
                    let prison = g
                        .prison_id
                        .and_then(|p| prisons.iter().find(|x| x.id == p).map(|x| x.name.clone()));
                    (g.id, page.tv("role", g.role.as_str()), prison)
                })
                .collect(),
            roles: staff_roles(&page),
            page,
            account,
            prisons,
        },
    )
    .await
}

#[get("/accounts/{id}")]
async fn account_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    show_account(&req, &state, &user, AccountId(path.into_inner()), None).await
}

#[derive(Debug, Deserialize)]
struct GrantForm {
    #[serde(default)]
    csrf: String,
    role: String,
    #[serde(default)]
    prison: String,
}

/// Grants a role through the API's `grant_role_in`.
#[post("/accounts/{id}/roles")]
async fn grant_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<GrantForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = AccountId(path.into_inner());
    let grant = (|| -> ApiResult<NewRoleGrant> {
        let role = Role::parse(&form.role)
            .filter(|r| *r != Role::FamilyMember)
            .ok_or_else(|| ApiError::invalid("invalid_value", "role", "choose a role"))?;
        let prison_id = Some(form.prison.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<Uuid>()
                    .map(PrisonId)
                    .map_err(|_| ApiError::invalid("invalid_value", "prison", "choose a prison"))
            })
            .transpose()?;
        Ok(NewRoleGrant { role, prison_id })
    })();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| accounts_api::grant_role_in(conn, principal, id, &grant?),
        &format!("/admin/accounts/{id}?done=saved"),
        |error| async move { show_account(req, state, user, id, Some((&error, "role"))).await },
    )
    .await
}

/// Takes a role back through the API's `revoke_role_in` (never the last administrator's).
#[post("/accounts/{id}/roles/{grant}/revoke")]
async fn revoke_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let (id, grant) = path.into_inner();
    let (id, grant) = (AccountId(id), RoleGrantId(grant));
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| accounts_api::revoke_role_in(conn, principal, id, grant),
        &format!("/admin/accounts/{id}?done=saved"),
        |error| async move { show_account(req, state, user, id, Some((&error, "role"))).await },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct CaseloadForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    family: String,
}

/// Puts a family in a social worker's caseload, through the API's `assign_caseload_in`.
#[post("/accounts/{id}/caseload")]
async fn add_to_caseload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CaseloadForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = AccountId(path.into_inner());
    let family = form
        .family
        .parse::<Uuid>()
        .map(FamilyId)
        .map_err(|_| ApiError::invalid("invalid_value", "family", "choose a family"));
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| accounts_api::assign_caseload_in(conn, principal, id, family?),
        &format!("/admin/accounts/{id}?done=saved"),
        |error| async move { show_account(req, state, user, id, Some((&error, "family"))).await },
    )
    .await
}

#[post("/accounts/{id}/caseload/{family}/remove")]
async fn remove_from_caseload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let (id, family) = path.into_inner();
    let (id, family) = (AccountId(id), FamilyId(family));
    let principal = user.principal.clone();
    state
        .write(move |conn| accounts_api::unassign_caseload_in(conn, &principal, id, family))
        .await
        .lang(user.language)?;
    Ok(see_other(&format!("/admin/accounts/{id}?done=saved")))
}

#[derive(Debug, Deserialize)]
struct PrisonForm {
    #[serde(default)]
    csrf: String,
    name: String,
    city: String,
    #[serde(default)]
    time_zone: String,
}

/// A new prison through the API's `create_in`; its page is next.
#[post("/prisons")]
async fn create_prison(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    form: web::Form<PrisonForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let form = form.into_inner();
    let body = NewPrison {
        name: form.name,
        city: form.city,
        time_zone: Some(form.time_zone.trim().to_owned())
            .filter(|z| !z.is_empty())
            .unwrap_or_else(|| "Europe/Brussels".to_owned()),
    };
    let principal = user.principal.clone();
    match state
        .write(move |conn| prisons_api::create_in(conn, &principal, &body))
        .await
    {
        Ok(prison) => Ok(see_other(&format!(
            "/admin/prisons/{}?done=saved",
            prison.id
        ))),
        Err(error @ ApiError::Invalid { .. }) => {
            crate::web::visits::show_prisons(&req, &state, &user, Some((&error, "name"))).await
        }
        Err(error) => Err(WebError::api(error, user.language)),
    }
}

#[derive(Debug, Deserialize)]
struct EmailQuery {
    state: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/email.html")]
struct EmailPage {
    page: Page,
    messages: Vec<OutboxMessage>,
    state: String,
    states: Vec<(&'static str, String, bool)>,
}

/// The outbox by state, dead letters first: what could not be delivered, and why.
#[get("/email")]
async fn email_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    query: web::Query<EmailQuery>,
) -> WebResult {
    let wanted = query
        .into_inner()
        .state
        .unwrap_or_else(|| "dead".to_owned());
    let shown = wanted.clone();
    show(
        &req,
        &state,
        &user,
        "email.title",
        Reading::Plain,
        None,
        move |conn, principal| mail_api::outbox_in(conn, principal, &wanted, Some(200)),
        |page, messages| EmailPage {
            states: ["dead", "pending", "sent", "cancelled"]
                .iter()
                .map(|s| (*s, page.tv("email_state", s), *s == shown))
                .collect(),
            page,
            messages,
            state: shown,
        },
    )
    .await
}

#[post("/email/{id}/retry")]
async fn retry_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let principal = user.principal.clone();
    state
        .write(move |conn| mail_api::retry_in(conn, &principal, &id))
        .await
        .lang(user.language)?;
    Ok(see_other("/admin/email?done=retried"))
}

/// The filters of the audit page, as a form sends them (empty fields are no filter).
#[derive(Debug, Default, Deserialize)]
struct AuditForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

impl AuditForm {
    fn query(&self) -> Result<AuditQuery, ApiError> {
        let day = |text: &str, field: &'static str| {
            Some(text.trim())
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<NaiveDate>().map_err(|_| {
                        ApiError::invalid("invalid_date", field, "give a date as YYYY-MM-DD")
                    })
                })
                .transpose()
        };
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        let actor = Some(self.actor.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<uuid::Uuid>()
                    .map_err(|_| ApiError::invalid("invalid_id", "actor", "give an account id"))
            })
            .transpose()?;
        Ok(AuditQuery {
            actor,
            action: Some(self.action.trim().to_owned()).filter(|t| !t.is_empty()),
            object_id: Some(self.object.trim().to_owned()).filter(|t| !t.is_empty()),
            since: day(&self.from, "from")?.map(midnight),
            until: day(&self.to, "to")?.map(|d| midnight(d + chrono::Duration::days(1))),
            before: self.before,
            limit: Some(100),
        })
    }

    /// The filters as a query string, for the next page's link.
    fn next_link(&self, before: i64) -> String {
        let encode = crate::web::urlencode;
        format!(
            "/admin/audit?action={}&actor={}&object={}&from={}&to={}&before={before}",
            encode(&self.action),
            encode(&self.actor),
            encode(&self.object),
            encode(&self.from),
            encode(&self.to)
        )
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditLogPage {
    page: Page,
    filters: AuditForm,
    log: AuditPage,
    next: Option<String>,
}

/// The audit log, newest first, filtered by action, account, object and dates.
#[get("/audit")]
async fn audit_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    filters: web::Query<AuditForm>,
) -> WebResult {
    show_audit(&req, &state, &user, filters.into_inner(), None).await
}

/// The address of one object's entries in the audit log, with a notice.
pub(crate) fn object_log(object: &str, done: &str) -> String {
    format!(
        "/admin/audit?object={}&done={done}",
        crate::web::urlencode(object)
    )
}

/// One object's entries in the audit log, with a refused form's problem at the top (`400`):
/// where an administrator sees what they did to an object whose own page is not theirs.
pub(crate) async fn show_object_log(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    object: &str,
    problem: (&ApiError, &str),
) -> WebResult {
    let filters = AuditForm {
        object: object.to_owned(),
        ..AuditForm::default()
    };
    show_audit(req, state, user, filters, Some(problem)).await
}

async fn show_audit(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    filters: AuditForm,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    let language = user.language;
    user.principal.require_admin().lang(language)?;
    let mut page = Page::new(user, req, "audit.title");
    let status = match problem {
        Some((error, field)) => {
            page = page.with_error(error, field);
            StatusCode::BAD_REQUEST
        }
        None => StatusCode::OK,
    };
    let (page, log) = match filters.query() {
        Ok(query) => {
            let principal = user.principal.clone();
            let log = state
                .db(move |conn| search(conn, &principal, query))
                .await
                .lang(language)?;
            (page, log)
        }
        Err(error) => (
            page.with_error(&error, "from"),
            AuditPage {
                entries: Vec::new(),
                next_before: None,
            },
        ),
    };
    let next = log.next_before.map(|before| filters.next_link(before));
    render_status(
        &AuditLogPage {
            page,
            filters,
            log,
            next,
        },
        language,
        status,
    )
}
