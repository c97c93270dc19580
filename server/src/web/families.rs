//! Social workers' pages: the caseload, a family's page (members, detained person, visits,
//! steps by category with what is overdue, appointments to answer), applying a regional step
//! template, answering an appointment, closing and reopening the case (which administrators may
//! do too, seeing the outcome in the audit log), and a printable enrolment code with a QR code.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, get, post, web};
use askama::Template;
use chrono::Utc;
use chrono_tz::Europe::Brussels;
use reguide_protocol::api::Family;
use reguide_protocol::appointments::{
    AppointmentAnswerRequest, AppointmentDetail, AppointmentReply,
};
use reguide_protocol::caseloads::CaseloadFamily;
use reguide_protocol::doc::status::AppointmentStatus;
use reguide_protocol::steps::StepDetail;
use reguide_protocol::visits::{VisitRequest, pick};
use reguide_protocol::{FamilyId, MemberId, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::appointments;
use crate::error::{ApiError, ApiResult};
use crate::families::api as families_api;
use crate::state::AppState;
use crate::steps::{self, api as steps_api, templates};
use crate::sync::store;
use crate::visits::api::{self as visits_api, RequestFilter};
use crate::web::admin;
use crate::web::session::WebUser;
use crate::web::{CsrfForm, InLanguage, Page, Reading, WebResult, act, render, require_any, show};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(caseload)
        .service(family_page)
        .service(apply_template)
        .service(answer_appointment)
        .service(enrolment_code)
        .service(close_case)
        .service(reopen_case);
}

#[derive(Template)]
#[template(path = "admin/caseload.html")]
struct CaseloadPage {
    page: Page,
    families: Vec<CaseloadFamily>,
}

impl CaseloadPage {
    fn when(&self, at: &chrono::DateTime<Utc>) -> String {
        crate::mail::format::instant(self.page.language, Brussels, *at)
    }
}

/// The families a social worker follows, those with overdue steps first.
#[get("/caseload")]
async fn caseload(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    let language = user.language;
    let principal = user.principal.clone();
    let families = state
        .db(move |conn| steps_api::caseload_of(conn, &principal))
        .await
        .lang(language)?;
    let page = Page::new(&user, &req, "caseload.title");
    render(&CaseloadPage { page, families }, language)
}

/// The steps of one category, in the order the app shows them.
#[derive(Debug)]
struct Category {
    name: String,
    steps: Vec<StepDetail>,
}

#[derive(Debug)]
struct Appointment {
    detail: AppointmentDetail,
    when: String,
    /// Proposed by the family, waiting for this worker.
    to_answer: bool,
}

#[derive(Template)]
#[template(path = "admin/family.html")]
struct FamilyPage {
    page: Page,
    family: Family,
    visits: Vec<(String, String, String)>,
    categories: Vec<Category>,
    overdue: usize,
    appointments: Vec<Appointment>,
    templates: Vec<(String, String)>,
    /// When the case was closed, in words.
    closed_on: Option<String>,
}

struct Loaded {
    family: Family,
    visits: Vec<VisitRequest>,
    names: crate::visits::names::RequestNames,
    steps: Vec<StepDetail>,
    appointments: Vec<AppointmentDetail>,
    templates: Vec<reguide_protocol::steps::StepTemplate>,
}

/// A family's page, for a social worker with the family in their caseload (the API's own
/// rule for steps); reading it is recorded.
fn load_family(
    conn: &mut crate::db::DbConn,
    principal: &crate::auth::principal::Principal,
    family: FamilyId,
) -> ApiResult<Loaded> {
    steps::require_write(principal, family)?;
    let record = families_api::read_family(conn, principal, family)?;
    let visits = visits_api::list_visible(
        conn,
        principal,
        &RequestFilter {
            family_id: Some(family.0),
            ..RequestFilter::default()
        },
    )?;
    let names = crate::visits::names::for_requests(conn, &visits)?;
    let (mut steps, appointments) = match store::load(conn, family)? {
        Some(doc) => (steps::all(&doc)?, appointments::all(&doc)?),
        None => (Vec::new(), Vec::new()),
    };
    steps::sort(&mut steps);
    let templates = templates::list(conn, None)?;
    Ok(Loaded {
        family: record,
        visits,
        names,
        steps,
        appointments,
        templates,
    })
}

fn family_page_of(page: Page, loaded: Loaded, worker: reguide_protocol::AccountId) -> FamilyPage {
    let Loaded {
        family,
        visits,
        names,
        steps,
        appointments,
        templates,
    } = loaded;
    let overdue = steps.iter().filter(|s| s.overdue).count();
    let mut by_category: BTreeMap<String, Vec<StepDetail>> = BTreeMap::new();
    for step in steps {
        by_category
            .entry(step.category.clone())
            .or_default()
            .push(step);
    }
    let categories = by_category
        .into_iter()
        .map(|(key, steps)| Category {
            name: page.tv("category", &key),
            steps,
        })
        .collect();
    let now = Utc::now();
    let visits = visits
        .iter()
        .filter(|v| v.status.is_active())
        .filter(|v| v.slot.as_ref().is_none_or(|s| s.ends_at > now))
        .map(|v| {
            let when = match &v.slot {
                Some(slot) => format!(
                    "{}, {}–{}",
                    page.date(&slot.date),
                    slot.starts_at.format("%H:%M"),
                    slot.ends_at.format("%H:%M")
                ),
                None => v
                    .preferences
                    .first()
                    .map(|p| format!("{} ({})", page.date(&p.date), page.t("family.wanted")))
                    .unwrap_or_default(),
            };
            (
                when,
                names.detainee(v.detainee_id).to_owned(),
                page.tv("status", v.status.as_str()),
            )
        })
        .collect();
    let appointments = appointments
        .into_iter()
        .filter(|a| a.with_account == worker)
        .filter(|a| a.status != AppointmentStatus::Cancelled && a.starts_at > now)
        .map(|a| Appointment {
            when: crate::mail::format::instant(page.language, Brussels, a.starts_at),
            to_answer: a.proposed_by == "family" && a.status == AppointmentStatus::Proposed,
            detail: a,
        })
        .collect();
    let templates = templates
        .iter()
        .map(|t| {
            (
                t.key.clone(),
                pick(&t.title, page.language).unwrap_or(&t.key).to_owned(),
            )
        })
        .collect();
    let closed_on = family
        .closed_at
        .map(|at| crate::mail::format::instant(page.language, Brussels, at));
    FamilyPage {
        closed_on,
        page,
        family,
        visits,
        categories,
        overdue,
        appointments,
        templates,
    }
}

/// Whether `user` is an administrator who cannot open `family`'s page: it shows the family's
/// steps, which are its social workers' alone. A form about the family that an administrator
/// sends then leads them to a page of theirs.
pub(crate) fn family_page_is_not_theirs(user: &WebUser, family: FamilyId) -> bool {
    user.principal.is_admin() && steps::require_write(&user.principal, family).is_err()
}

#[get("/families/{id}")]
async fn family_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    require_any(&user, &[Role::SocialWorker])?;
    let family = FamilyId(path.into_inner());
    show_family(&req, &state, &user, family, None).await
}

/// The family page, with a refused form's problem at the top when there is one.
async fn show_family(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    family: FamilyId,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    let worker = user.principal.account_id;
    show(
        req,
        state,
        user,
        "family.title",
        Reading::Recorded,
        problem,
        move |conn, principal| load_family(conn, principal, family),
        |page, loaded| family_page_of(page, loaded, worker),
    )
    .await
}

#[derive(Debug, Deserialize)]
struct TemplateForm {
    #[serde(default)]
    csrf: String,
    template: String,
}

/// Adds a regional template's steps, through the API's own `apply_template_in`.
#[post("/families/{id}/steps/from-template")]
async fn apply_template(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<TemplateForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let family = FamilyId(path.into_inner());
    let key = form.into_inner().template;
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| {
            steps::require_write(principal, family)?;
            if key.is_empty() {
                return Err(ApiError::invalid(
                    "template_missing",
                    "template",
                    "choose a template",
                ));
            }
            steps_api::apply_template_in(conn, family, &key, None, principal.account_id)
        },
        &format!("/admin/families/{family}?done=template_applied"),
        |error| async move { show_family(req, state, user, family, Some((&error, "template"))).await },
    )
    .await
}

/// Closes the family's case, through the API's own `set_closed`: it is deleted with everything
/// about it after the retention period, unless reopened.
#[post("/families/{id}/close")]
async fn close_case(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    set_case(req, state, user, path.into_inner(), &form.csrf, true).await
}

/// Reopens a closed case: it is kept.
#[post("/families/{id}/reopen")]
async fn reopen_case(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    set_case(req, state, user, path.into_inner(), &form.csrf, false).await
}

async fn set_case(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    family: Uuid,
    csrf: &str,
    close: bool,
) -> WebResult {
    user.check_csrf(&req, csrf)?;
    let family = FamilyId(family);
    let done = if close {
        "case_closed"
    } else {
        "case_reopened"
    };
    // An administrator who is not one of the family's social workers sees what they did, or
    // why it was refused, in the family's entries of the audit log.
    let to_audit = family_page_is_not_theirs(&user, family);
    let next = if to_audit {
        admin::object_log(&family.to_string(), done)
    } else {
        format!("/admin/families/{family}?done={done}")
    };
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| families_api::set_closed(conn, principal, family, close).map(drop),
        &next,
        |error| async move {
            if to_audit {
                let family = family.to_string();
                admin::show_object_log(req, state, user, &family, (&error, "object")).await
            } else {
                show_family(req, state, user, family, Some((&error, "case"))).await
            }
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf: String,
    answer: String,
    #[serde(default)]
    note: String,
}

/// Accepts or declines a family's proposed appointment, through the same function as the API.
#[post("/families/{id}/appointments/{appointment}/answer")]
async fn answer_appointment(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, String)>,
    form: web::Form<AnswerForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let (family, appointment) = path.into_inner();
    let family = FamilyId(family);
    let form = form.into_inner();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| {
            steps::require_write(principal, family)?;
            let answer = match AppointmentReply::parse(&form.answer) {
                Some(a @ (AppointmentReply::Accepted | AppointmentReply::Declined)) => a,
                _ => {
                    return Err(ApiError::invalid(
                        "invalid_value",
                        "answer",
                        "accept or decline",
                    ));
                }
            };
            let request = AppointmentAnswerRequest {
                answer,
                starts_at: None,
                place: None,
                note: Some(form.note.trim().to_owned()).filter(|n| !n.is_empty()),
            };
            let staff = principal.account_id;
            appointments::answer_and_tell(conn, family, &appointment, request, staff, Utc::now())
        },
        &format!("/admin/families/{family}?done=appointment_answered"),
        |error| async move { show_family(req, state, user, family, Some((&error, "answer"))).await },
    )
    .await
}

#[derive(Template)]
#[template(path = "admin/enrolment_code.html")]
struct CodePage {
    page: Page,
    family: String,
    member: String,
    code: String,
    expires: String,
    qr: String,
}

/// Issues an enrolment code for a member and shows it once, printable with a QR code that holds
/// the code (the app's scanner fills it in).
#[post("/families/{id}/members/{member}/enrolment-code")]
async fn enrolment_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let language = user.language;
    let (family, member) = path.into_inner();
    let (family, member) = (FamilyId(family), MemberId(member));
    let ttl = state.config.auth.enrolment_code_ttl_hours;
    let principal = user.principal.clone();
    let (record, code) = state
        .write(move |conn| {
            let code = families_api::issue_code(conn, &principal, family, member, ttl, false)?;
            let record = crate::families::load_family(conn, family)?;
            Ok((record, code))
        })
        .await
        .lang(language)?;
    let member_name = record
        .members
        .iter()
        .find(|m| m.id == member)
        .map(|m| m.display_name.clone())
        .unwrap_or_default();
    let qr = qr_svg(&code.code).lang(language)?;
    let page = Page::new(&user, &req, "code.title");
    let expires = crate::mail::format::instant(language, Brussels, code.expires_at);
    render(
        &CodePage {
            page,
            family: record.label,
            member: member_name,
            code: code.code,
            expires,
            qr,
        },
        language,
    )
}

/// The code as a QR code, in SVG (markup, no script: the page's policy allows it).
fn qr_svg(code: &str) -> ApiResult<String> {
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(ApiError::internal)?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: no XML declaration; the code is printed beside it, so the picture is
    // hidden from screen readers.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen("<svg", "<svg aria-hidden=\"true\" focusable=\"false\"", 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_enrolment_code_becomes_an_svg_qr_code() {
        let svg = super::qr_svg("ABCD-EFGH-JKMN").expect("renders");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        assert!(!svg.contains("<script") && !svg.contains("<?xml"));
        assert!(svg.starts_with("<svg aria-hidden=\"true\""));
    }
}
