//! Administrators' pages: accounts with their roles and scopes, and the audit log with filters.

use actix_web::{HttpRequest, get, web};
use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use reguide_protocol::api::{Account, AuditPage};
use serde::Deserialize;

use crate::accounts;
use crate::audit::api::{AuditQuery, search};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::session::WebUser;
use crate::web::{InLanguage, Page, WebResult, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(account_list).service(audit_log);
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    page: Page,
    accounts: Vec<Account>,
}

#[get("/accounts")]
async fn account_list(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    let language = user.language;
    user.principal.require_admin().lang(language)?;
    let accounts = state.db(accounts::list_accounts).await.lang(language)?;
    let page = Page::new(&user, &req, "accounts.title");
    render(&AccountsPage { page, accounts }, language)
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
    let language = user.language;
    user.principal.require_admin().lang(language)?;
    let filters = filters.into_inner();
    let page = Page::new(&user, &req, "audit.title");
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
    render(
        &AuditLogPage {
            page,
            filters,
            log,
            next,
        },
        language,
    )
}
