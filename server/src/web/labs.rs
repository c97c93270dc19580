//! Facilitators' pages: the Living Lab sessions they run, and for each the invitations with
//! answers and needs, the waiting list, attendance and summary; inviting a social worker's
//! caseload, staff by role, or a guest by email.

use actix_web::{HttpRequest, get, post, web};
use askama::Template;
use reguide_protocol::living_labs::{
    Guest, LabOverview, LabSummary, LivingLab, NewInvitations, NewLivingLab, ParticipantRole, Place,
};
use reguide_protocol::{AccountId, Language, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts;
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::living_labs::{self as labs_domain, api as labs_api};
use crate::state::AppState;
use crate::web::session::WebUser;
use crate::web::{Page, Reading, WebResult, act, require_any, show};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(plan)
        .service(detail)
        .service(invite)
        .service(record_attendance)
        .service(publish_summary);
}

#[derive(Debug)]
struct Line {
    lab: LivingLab,
    when: String,
}

fn when(page: &Page, lab: &LivingLab) -> String {
    format!(
        "{}, {}–{}",
        page.date(&lab.date),
        lab.starts_at.format("%H:%M"),
        lab.ends_at.format("%H:%M")
    )
}

#[derive(Template)]
#[template(path = "admin/labs.html")]
struct ListPage {
    page: Page,
    labs: Vec<Line>,
}

/// The sessions the signed-in person runs (all of them for administrators), soonest first.
#[get("/living-labs")]
async fn list(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    show_labs(&req, &state, &user, None).await
}

/// The sessions, with a refused new session's problem when there is one.
async fn show_labs(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    require_any(user, &[Role::Facilitator])?;
    show(
        req,
        state,
        user,
        "labs.title",
        Reading::Plain,
        problem,
        labs_domain::run_by,
        |page, labs| ListPage {
            labs: labs
                .into_iter()
                .map(|lab| Line {
                    when: when(&page, &lab),
                    lab,
                })
                .collect(),
            page,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct PlanForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    capacity: String,
}

impl PlanForm {
    fn session(&self) -> ApiResult<NewLivingLab> {
        let invalid = |field: &'static str, message: &'static str| {
            ApiError::invalid("invalid_value", field, message)
        };
        Ok(NewLivingLab {
            title: self.title.clone(),
            theme: self.theme.clone(),
            description: self.description.clone(),
            date: self
                .date
                .trim()
                .parse()
                .map_err(|_| invalid("date", "enter a date"))?,
            starts_at: chrono::NaiveTime::parse_from_str(self.starts_at.trim(), "%H:%M")
                .map_err(|_| invalid("starts_at", "enter a time as HH:MM"))?,
            ends_at: chrono::NaiveTime::parse_from_str(self.ends_at.trim(), "%H:%M")
                .map_err(|_| invalid("ends_at", "enter a time as HH:MM"))?,
            time_zone: None,
            place: self.place.clone(),
            online_link: None,
            capacity: self
                .capacity
                .trim()
                .parse()
                .map_err(|_| invalid("capacity", "enter a whole number"))?,
            languages: Vec::new(),
            accessibility: String::new(),
            agenda: Vec::new(),
            facilitators: Vec::new(),
            repeat: None,
        })
    }
}

/// Plans a session through the API's `create_in`; its page is in the list.
#[post("/living-labs")]
async fn plan(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    form: web::Form<PlanForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let session = form.session();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| labs_api::create_in(conn, principal, &session?),
        "/admin/living-labs?done=planned",
        |error| async move { show_labs(req, state, user, Some((&error, "title"))).await },
    )
    .await
}

#[derive(Debug)]
struct Invited {
    id: Uuid,
    name: String,
    role: String,
    answer: String,
    place: String,
    needs: String,
    note: String,
    attended: String,
}

#[derive(Template)]
#[template(path = "admin/lab.html")]
struct DetailPage {
    page: Page,
    overview: LabOverview,
    when: String,
    invited: Vec<Invited>,
    waiting: Vec<(i64, String)>,
    needs: Vec<(String, i64)>,
    workers: Vec<(AccountId, String)>,
    roles: Vec<(&'static str, String)>,
    guest_roles: Vec<(&'static str, String)>,
    languages: Vec<(&'static str, &'static str)>,
    /// Attendance and the summary are for after the start.
    started: bool,
    summary: Option<LabSummary>,
}

struct Loaded {
    overview: LabOverview,
    workers: Vec<(AccountId, String)>,
    summary: Option<LabSummary>,
}

fn load(
    conn: &mut crate::db::DbConn,
    principal: &crate::auth::principal::Principal,
    id: Uuid,
) -> ApiResult<Loaded> {
    let lab = labs_domain::require_runs(conn, principal, id)?;
    let overview = labs_domain::overview(conn, &lab)?;
    let workers = accounts::holders_of(conn, Role::SocialWorker)?;
    let summary = labs_domain::summary_for(conn, principal, &lab).ok();
    Ok(Loaded {
        overview,
        workers,
        summary,
    })
}

fn detail_of(page: Page, loaded: Loaded) -> DetailPage {
    let Loaded {
        overview,
        workers,
        summary,
    } = loaded;
    let yes_no = |b: Option<bool>| match b {
        Some(true) => page.t("labs.attended_yes").to_owned(),
        Some(false) => page.t("labs.attended_no").to_owned(),
        None => "—".to_owned(),
    };
    let invited = overview
        .invitations
        .iter()
        .map(|i| Invited {
            id: i.id,
            name: i.name.clone(),
            role: page.tv("participant_role", i.role.as_str()),
            answer: i
                .answer
                .map(|a| page.tv("rsvp", a.as_str()))
                .unwrap_or_else(|| page.t("labs.no_answer").to_owned()),
            place: match i.place {
                Place::None => String::new(),
                other => page.tv("place", other.as_str()),
            },
            needs: i
                .needs
                .iter()
                .map(|n| page.tv("need", n.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            note: i.note.clone().unwrap_or_default(),
            attended: yes_no(i.attended),
        })
        .collect();
    let mut waiting: Vec<(i64, String)> = overview
        .invitations
        .iter()
        .filter(|i| i.place == Place::Waiting)
        .map(|i| (i.position.unwrap_or(0), i.name.clone()))
        .collect();
    waiting.sort();
    let needs = overview
        .needs
        .iter()
        .map(|(need, count)| (page.tv("need", need.as_str()), *count))
        .collect();
    let staff_roles = [Role::SocialWorker, Role::Coordinator, Role::Facilitator];
    let roles = staff_roles
        .iter()
        .map(|r| (r.as_str(), page.tv("role", r.as_str())))
        .collect();
    let guest_roles = ParticipantRole::ALL
        .iter()
        .filter(|r| **r != ParticipantRole::Family)
        .map(|r| (r.as_str(), page.tv("participant_role", r.as_str())))
        .collect();
    let languages = crate::web::i18n::OFFERED
        .iter()
        .map(|l| (l.code(), crate::web::i18n::endonym(*l)))
        .collect();
    DetailPage {
        started: overview.living_lab.starts_at <= chrono::Utc::now(),
        summary,
        when: when(&page, &overview.living_lab),
        page,
        invited,
        waiting,
        needs,
        workers,
        roles,
        guest_roles,
        languages,
        overview,
    }
}

#[get("/living-labs/{id}")]
async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    show_lab(&req, &state, &user, path.into_inner(), None).await
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    caseload_of: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    guest_email: String,
    #[serde(default)]
    guest_name: String,
    #[serde(default)]
    guest_role: String,
    #[serde(default)]
    guest_language: String,
}

impl InviteForm {
    fn invitations(&self) -> ApiResult<NewInvitations> {
        let caseload_of = Some(self.caseload_of.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<AccountId>().map_err(|_| {
                    ApiError::invalid("invalid_value", "caseload_of", "choose a social worker")
                })
            })
            .transpose()?;
        let roles = self
            .role
            .iter()
            .map(|r| {
                Role::parse(r)
                    .ok_or_else(|| ApiError::invalid("invalid_value", "role", "unknown role"))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let mut guests = Vec::new();
        if !self.guest_email.trim().is_empty() || !self.guest_name.trim().is_empty() {
            let role = ParticipantRole::parse(&self.guest_role).ok_or_else(|| {
                ApiError::invalid("invalid_value", "guest_role", "choose the guest's part")
            })?;
            guests.push(Guest {
                email: self.guest_email.trim().to_owned(),
                name: self.guest_name.trim().to_owned(),
                role,
                language: Language::from_code(&self.guest_language),
            });
        }
        if caseload_of.is_none() && roles.is_empty() && guests.is_empty() {
            return Err(ApiError::invalid(
                "nobody_invited",
                "caseload_of",
                "choose whom to invite",
            ));
        }
        Ok(NewInvitations {
            caseload_of,
            roles,
            guests,
            ..NewInvitations::default()
        })
    }
}

/// Sends invitations through the API's own `invite_in`.
#[post("/living-labs/{id}/invitations")]
async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<InviteForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let who = form.invitations();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| labs_api::invite_in(conn, principal, id, &who?),
        &format!("/admin/living-labs/{id}?done=invited"),
        |error| async move {
            let field = match &error {
                ApiError::Invalid { field: Some(f), .. } if f.starts_with("guest") => "guest_email",
                _ => "caseload_of",
            };
            show_lab(req, state, user, id, Some((&error, field))).await
        },
    )
    .await
}

/// Runs a facilitator's change of a session and shows it again: with a notice when it went
/// through, with the problem at its field when it was refused.
async fn change_lab<T: Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: Uuid,
    done: &str,
    field: &str,
    change: impl FnOnce(&mut DbConn, &Principal) -> ApiResult<T> + Send + 'static,
) -> WebResult {
    act(
        state,
        user,
        change,
        &format!("/admin/living-labs/{id}?done={done}"),
        |error| async move { show_lab(req, state, user, id, Some((&error, field))).await },
    )
    .await
}

/// A session's page, with a refused form's problem when there is one.
async fn show_lab(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: Uuid,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "labs.session",
        Reading::Plain,
        problem,
        move |conn, principal| load(conn, principal, id),
        detail_of,
    )
    .await
}

/// Who came: each invitation ticked attended, the others not (through `attendance_in`).
#[post("/living-labs/{id}/attendance")]
async fn record_attendance(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> WebResult {
    let fields = form.into_inner();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    user.check_csrf(&req, csrf)?;
    let id = path.into_inner();
    let attended = fields
        .iter()
        .filter(|(k, _)| k == "attended")
        .map(|(_, v)| {
            v.parse::<Uuid>()
                .map_err(|_| ApiError::invalid("invalid_id", "attended", "not an invitation"))
        })
        .collect::<ApiResult<Vec<_>>>();
    change_lab(
        &req,
        &state,
        &user,
        id,
        "attendance",
        "attendance",
        move |conn, principal| labs_api::attendance_in(conn, principal, id, &attended?),
    )
    .await
}

#[derive(Debug, Deserialize)]
struct SummaryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    next_steps: String,
}

/// Publishes what was agreed and the next steps to those who came (through `summary_in`).
#[post("/living-labs/{id}/summary")]
async fn publish_summary(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<SummaryForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let text = LabSummary {
        summary: form.summary,
        next_steps: form.next_steps,
    };
    change_lab(
        &req,
        &state,
        &user,
        id,
        "summary",
        "summary",
        move |conn, principal| labs_api::summary_in(conn, principal, id, &text),
    )
    .await
}
