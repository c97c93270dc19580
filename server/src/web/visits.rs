//! Coordinators' pages: the queue of visit requests and each request's decision, the prisons
//! they run, a week of slots with how full each is, and the printable day list with a visitor
//! pass per visit (and the same list as CSV).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use reguide_protocol::visits::{
    DayView, Decision, DeclineReason, Slot, SlotChoice, VisitRequest, VisitStatus,
};
use reguide_protocol::{PrisonId, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::prisons;
use crate::state::AppState;
use crate::visits::api::{self as visits_api, RequestFilter};
use crate::visits::names::{self, RequestNames};
use crate::visits::{access, dayview, prison_api};
use crate::web::session::WebUser;
use crate::web::{InLanguage, Page, Reading, WebError, WebResult, act, render, require_any, show};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(queue)
        .service(request_page)
        .service(decide)
        .service(cancel)
        .service(prison_list)
        .service(week)
        .service(day)
        .service(day_csv);
}

/// A request as a row of the queue, in words.
#[derive(Debug)]
struct Row {
    id: Uuid,
    reference: String,
    family: String,
    detainee: String,
    prison: String,
    visit_type: String,
    preferences: Vec<String>,
    status: String,
    flagged: bool,
}

fn choice_words(page: &Page, names: &RequestNames, choice: &SlotChoice) -> String {
    format!("{}, {}", page.date(&choice.date), names.hours(choice))
}

fn row(page: &Page, names: &RequestNames, r: &VisitRequest) -> Row {
    let preferences = match (&r.slot, r.status) {
        (Some(slot), VisitStatus::Confirmed | VisitStatus::Proposed) => vec![choice_words(
            page,
            names,
            &SlotChoice {
                template_id: slot.template_id,
                date: slot.date,
            },
        )],
        _ => r
            .preferences
            .iter()
            .map(|c| choice_words(page, names, c))
            .collect(),
    };
    Row {
        id: r.id,
        reference: r.reference.clone(),
        family: names.family(r.family_id).to_owned(),
        detainee: names.detainee(r.detainee_id).to_owned(),
        prison: names.prison(r.prison_id).to_owned(),
        visit_type: page.tv("visit_type", r.visit_type.as_str()),
        preferences,
        status: page.tv("status", r.status.as_str()),
        flagged: r.flagged,
    }
}

#[derive(Debug, Deserialize)]
struct QueueQuery {
    prison: Option<Uuid>,
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/queue.html")]
struct QueuePage {
    page: Page,
    rows: Vec<Row>,
    /// (id, name, chosen) of each prison the filter offers.
    prisons: Vec<(PrisonId, String, bool)>,
    /// (value, words, chosen) of each status the filter offers.
    statuses: Vec<(&'static str, String, bool)>,
}

/// The prisons the signed-in person runs visits for (all of them for administrators).
fn managed_prisons(
    conn: &mut crate::db::DbConn,
    user: &crate::auth::principal::Principal,
) -> ApiResult<Vec<reguide_protocol::api::Prison>> {
    Ok(prisons::list_prisons(conn)?
        .into_iter()
        .filter(|p| access::manages_prison(user, p.id))
        .collect())
}

/// Requests to decide, flagged ones first, then by the first date wanted.
#[get("/visits")]
async fn queue(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    query: web::Query<QueueQuery>,
) -> WebResult {
    require_any(&user, &[Role::Coordinator])?;
    let language = user.language;
    let QueueQuery { prison, status } = query.into_inner();
    let status = status.unwrap_or_else(|| "pending".to_owned());
    let filter = RequestFilter {
        prison_id: prison,
        status: (status != "all").then(|| status.clone()),
        ..RequestFilter::default()
    };
    let principal = user.principal.clone();
    let (mut list, names, prisons) = state
        .db(move |conn| {
            let prisons = managed_prisons(conn, &principal)?;
            let mut list = visits_api::list_visible(conn, &principal, &filter)?;
            // A coordinator who is also a social worker sees their prisons' queue here.
            list.retain(|r| access::manages_prison(&principal, r.prison_id));
            let names = names::for_requests(conn, &list)?;
            Ok((list, names, prisons))
        })
        .await
        .lang(language)?;
    list.sort_by_key(|r| {
        (
            !r.flagged,
            r.preferences.iter().map(|p| p.date).min(),
            r.created_at,
        )
    });
    let page = Page::new(&user, &req, "queue.title");
    let rows = list.iter().map(|r| row(&page, &names, r)).collect();
    let statuses = ["pending", "proposed", "confirmed", "declined", "all"]
        .iter()
        .map(|s| (*s, page.tv("status", s), *s == status))
        .collect();
    let prisons = prisons
        .into_iter()
        .map(|p| (p.id, p.name, Some(p.id.0) == prison))
        .collect();
    render(
        &QueuePage {
            rows,
            prisons,
            statuses,
            page,
        },
        language,
    )
}

#[derive(Template)]
#[template(path = "admin/request.html")]
struct RequestPage {
    page: Page,
    row: Row,
    request: VisitRequest,
    visitors: Vec<String>,
    needs: Vec<String>,
    /// (rank, words) of each preference.
    choices: Vec<(usize, String)>,
    /// Open slots another date could be proposed in: (value, words).
    open_slots: Vec<(String, String)>,
    reasons: Vec<(&'static str, String)>,
    history: Vec<(String, String)>,
    decidable: bool,
    /// Still holds or seeks a place: a coordinator may call it off.
    cancellable: bool,
}

/// Everything the request page shows, loaded in one go.
struct Loaded {
    request: VisitRequest,
    names: RequestNames,
    open: Vec<Slot>,
}

fn load_request(
    conn: &mut crate::db::DbConn,
    principal: &crate::auth::principal::Principal,
    id: Uuid,
) -> ApiResult<Loaded> {
    let (stored, _) = visits_api::visible_request(conn, principal, id)?;
    access::require_prison_manager(principal, stored.prison)?;
    let request = crate::visits::requests::load_one(conn, &stored.id)?;
    let names = names::for_requests(conn, std::slice::from_ref(&request))?;
    let open = if request.status == VisitStatus::Pending {
        prison_api::slots_between(
            conn,
            request.prison_id,
            None,
            None,
            Some(request.visit_type),
        )?
        .into_iter()
        .filter(|s| s.bookable && s.open > 0)
        .collect()
    } else {
        Vec::new()
    };
    Ok(Loaded {
        request,
        names,
        open,
    })
}

fn request_page_of(page: Page, loaded: Loaded) -> RequestPage {
    let Loaded {
        request,
        names,
        open,
    } = loaded;
    let choices = request
        .preferences
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, choice_words(&page, &names, c)))
        .collect();
    let open_slots = open
        .iter()
        .map(|s| {
            (
                format!("{}|{}", s.template_id, s.date),
                format!(
                    "{}, {}–{} ({} {})",
                    page.date(&s.date),
                    s.starts_at.format("%H:%M"),
                    s.ends_at.format("%H:%M"),
                    s.open,
                    page.t("week.open")
                ),
            )
        })
        .collect();
    let reasons = DeclineReason::ALL
        .iter()
        .map(|r| (r.as_str(), page.tv("decline_reason", r.as_str())))
        .collect();
    let history = request
        .events
        .iter()
        .map(|e| {
            (
                e.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                page.tv("event", &e.kind),
            )
        })
        .collect();
    let needs = request
        .support_needs
        .iter()
        .map(|n| page.tv("support_need", n.as_str()))
        .collect();
    let visitors = request
        .visitors
        .iter()
        .map(|m| names.member(*m).to_owned())
        .collect();
    RequestPage {
        row: row(&page, &names, &request),
        decidable: request.status == VisitStatus::Pending,
        cancellable: request.status.is_active(),
        visitors,
        needs,
        choices,
        open_slots,
        reasons,
        history,
        request,
        page,
    }
}

#[get("/visits/{id}")]
async fn request_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    show_request(&req, &state, &user, path.into_inner(), None).await
}

/// A request's page, with a refused decision's problem when there is one.
async fn show_request(
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
        "request.title",
        Reading::Plain,
        problem,
        move |conn, principal| load_request(conn, principal, id),
        request_page_of,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    action: String,
    rank: Option<u8>,
    reason: Option<String>,
    note: Option<String>,
    slot: Option<String>,
}

impl DecisionForm {
    fn decision(&self) -> ApiResult<Decision> {
        match self.action.as_str() {
            "confirm" => Ok(Decision::Confirm {
                rank: self.rank.ok_or_else(|| {
                    ApiError::invalid("invalid_value", "rank", "choose a preference")
                })?,
            }),
            "decline" => {
                let reason = self
                    .reason
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .and_then(DeclineReason::parse)
                    .ok_or_else(|| {
                        ApiError::invalid("reason_missing", "reason", "choose a reason")
                    })?;
                let note = self
                    .note
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
                Ok(Decision::Decline { reason, note })
            }
            "propose" => {
                let (template, date) = self
                    .slot
                    .as_deref()
                    .and_then(|s| s.split_once('|'))
                    .and_then(|(t, d)| Some((t.parse().ok()?, d.parse::<NaiveDate>().ok()?)))
                    .ok_or_else(|| {
                        ApiError::invalid("slot_missing", "slot", "choose a slot to propose")
                    })?;
                Ok(Decision::Propose {
                    slot: SlotChoice {
                        template_id: template,
                        date,
                    },
                })
            }
            _ => Err(ApiError::invalid(
                "invalid_value",
                "action",
                "confirm, decline or propose",
            )),
        }
    }
}

/// A coordinator's decision, through the API's own `decide_in`. A refused decision shows the
/// request again with the problem linked to its field.
#[post("/visits/{id}/decision")]
async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<DecisionForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let (done, field) = match form.action.as_str() {
        "decline" => ("declined", "reason"),
        "propose" => ("proposed", "slot"),
        _ => ("confirmed", "rank"),
    };
    let decision = form.decision();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| visits_api::decide_in(conn, principal, id, &decision?),
        &format!("/admin/visits?done={done}"),
        |error| async move { show_request(req, state, user, id, Some((&error, field))).await },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// A coordinator calls a visit off, with the reason the family reads (the API's `cancel_in`).
#[post("/visits/{id}/cancel")]
async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CancelForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let reason = form.into_inner().reason;
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| {
            let (stored, _) = visits_api::visible_request(conn, principal, id)?;
            access::require_prison_manager(principal, stored.prison)?;
            if reason.trim().is_empty() {
                return Err(ApiError::invalid(
                    "reason_required",
                    "cancel_reason",
                    "say why the visit is cancelled",
                ));
            }
            visits_api::cancel_in(conn, principal, id, Some(reason.trim()))
        },
        "/admin/visits?done=cancelled",
        |error| async move {
            show_request(req, state, user, id, Some((&error, "cancel_reason"))).await
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "admin/prisons.html")]
struct PrisonsPage {
    page: Page,
    prisons: Vec<reguide_protocol::api::Prison>,
    today: NaiveDate,
    /// Administrators add prisons here.
    can_create: bool,
}

#[get("/prisons")]
async fn prison_list(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    show_prisons(&req, &state, &user, None).await
}

/// The prisons the signed-in person runs, with a refused new prison's problem when there is one.
pub(super) async fn show_prisons(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    require_any(user, &[Role::Coordinator])?;
    let can_create = user.principal.is_admin();
    show(
        req,
        state,
        user,
        "prisons.title",
        Reading::Plain,
        problem,
        managed_prisons,
        |page, prisons| PrisonsPage {
            page,
            prisons,
            today: Utc::now().date_naive(),
            can_create,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct WeekQuery {
    from: Option<NaiveDate>,
}

/// A slot of the week calendar, in words and numbers.
#[derive(Debug)]
struct WeekSlot {
    hours: String,
    visit_type: String,
    room: String,
    booked: i32,
    capacity: i32,
    /// `empty`, `some`, `full` or `blocked`: a colour, always with words beside it.
    fill: &'static str,
    fill_words: String,
}

#[derive(Debug)]
struct WeekDay {
    date: NaiveDate,
    words: String,
    slots: Vec<WeekSlot>,
}

#[derive(Template)]
#[template(path = "admin/week.html")]
struct WeekPage {
    page: Page,
    prison: reguide_protocol::api::Prison,
    days: Vec<WeekDay>,
    previous: NaiveDate,
    next: NaiveDate,
    monday: NaiveDate,
}

/// A week of slots (Monday to Sunday) with how full each is.
#[get("/prisons/{id}/week")]
async fn week(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    query: web::Query<WeekQuery>,
) -> WebResult {
    let language = user.language;
    let id = PrisonId(path.into_inner());
    access::require_prison_manager(&user.principal, id).lang(language)?;
    let from = query.from.unwrap_or_else(|| Utc::now().date_naive());
    let monday = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
    let (prison, slots) = state
        .db(move |conn| {
            let prison = prisons::load_prison(conn, id)?;
            let slots = prison_api::slots_between(
                conn,
                id,
                Some(monday),
                Some(monday + Duration::days(6)),
                None,
            )?;
            Ok((prison, slots))
        })
        .await
        .lang(language)?;
    let page = Page::new(&user, &req, "week.title");
    let days = (0..7)
        .map(|offset| {
            let date = monday + Duration::days(offset);
            let slots = slots
                .iter()
                .filter(|s| s.date == date)
                .map(|s| {
                    let fill = if s.blocked {
                        "blocked"
                    } else if s.booked >= s.capacity {
                        "full"
                    } else if s.booked == 0 {
                        "empty"
                    } else {
                        "some"
                    };
                    WeekSlot {
                        hours: format!(
                            "{}–{}",
                            s.starts_at.format("%H:%M"),
                            s.ends_at.format("%H:%M")
                        ),
                        visit_type: page.tv("visit_type", s.visit_type.as_str()),
                        room: s.room.clone(),
                        booked: s.booked,
                        capacity: s.capacity,
                        fill,
                        fill_words: page.t(&format!("week.fill_{fill}")).to_owned(),
                    }
                })
                .collect();
            WeekDay {
                date,
                words: page.date(&date),
                slots,
            }
        })
        .collect();
    render(
        &WeekPage {
            page,
            prison,
            days,
            previous: monday - Duration::days(7),
            next: monday + Duration::days(7),
            monday,
        },
        language,
    )
}

#[derive(Debug, Deserialize)]
struct DayQuery {
    date: Option<NaiveDate>,
}

#[derive(Template)]
#[template(path = "admin/day.html")]
struct DayPage {
    page: Page,
    view: DayView,
    words: String,
    previous: NaiveDate,
    next: NaiveDate,
    visits: usize,
}

/// The day list: every session and its visits, printable on A4 with a visitor pass per visit.
/// Reading it is recorded in the audit log, as on the API.
#[get("/prisons/{id}/day")]
async fn day(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    query: web::Query<DayQuery>,
) -> WebResult {
    let language = user.language;
    let id = PrisonId(path.into_inner());
    let date = query.date.unwrap_or_else(|| Utc::now().date_naive());
    let principal = user.principal.clone();
    let view = state
        .write(move |conn| prison_api::read_day(conn, &principal, id, date))
        .await
        .lang(language)?;
    let page = Page::new(&user, &req, "day.title");
    render(
        &DayPage {
            words: page.date(&date),
            visits: view.sessions.iter().map(|s| s.visits.len()).sum(),
            previous: date - Duration::days(1),
            next: date + Duration::days(1),
            view,
            page,
        },
        language,
    )
}

/// The day list as CSV, for a spreadsheet.
#[get("/prisons/{id}/day.csv")]
async fn day_csv(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    query: web::Query<DayQuery>,
) -> Result<HttpResponse, WebError> {
    let language = user.language;
    let id = PrisonId(path.into_inner());
    let date = query.date.unwrap_or_else(|| Utc::now().date_naive());
    let principal = user.principal;
    let view = state
        .write(move |conn| prison_api::read_day(conn, &principal, id, date))
        .await
        .lang(language)?;
    Ok(crate::csv::attachment(
        &format!("visits-{date}.csv"),
        dayview::day_csv(&view),
    ))
}
