//! A prison's own pages for its coordinators: visit rules per visit type, weekly sessions,
//! blocked dates, the visitor lists to approve, and family days with their registrations and
//! waiting list. Every change goes through the API's own function for it.

use actix_web::{HttpRequest, get, post, web};
use askama::Template;
use chrono::{NaiveDate, NaiveTime, Utc};
use reguide_protocol::api::Prison;
use reguide_protocol::family_days::{FamilyDay, Registration, RegistrationStatus};
use reguide_protocol::visits::{
    ApprovalBasis, ApprovalStatus, BlockedDate, LocalizedText, NewBlockedDate, NewSessionTemplate,
    PrisonDetail, PrisonInfo, SessionCapacity, SessionTemplate, VisitRules, VisitType,
    VisitorDecision,
};
use reguide_protocol::{Language, MemberId, PrisonId};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::family_days::{self as days, DayFilter, api as days_api};
use crate::prisons;
use crate::state::AppState;
use crate::visits::{access, api as visits_api, prison_api, rules, visitors};
use crate::web::session::WebUser;
use crate::web::{CsrfForm, InLanguage, Page, Reading, WebError, WebResult, act, see_other, show};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(prison_page)
        .service(set_info)
        .service(set_rules)
        .service(add_session)
        .service(remove_session)
        .service(block)
        .service(unblock)
        .service(visitor_lists)
        .service(decide_visitor)
        .service(family_days)
        .service(plan_family_day)
        .service(family_day)
        .service(family_day_csv)
        .service(cancel_family_day);
}

/// A form's fields as a browser sends them: text, parsed here with a problem per field.
fn number(value: &str, field: &'static str) -> ApiResult<i32> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid("invalid_number", field, "enter a whole number"))
}

fn date(value: &str, field: &'static str) -> ApiResult<NaiveDate> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid("invalid_date", field, "enter a date"))
}

fn time(value: &str, field: &'static str) -> ApiResult<NaiveTime> {
    NaiveTime::parse_from_str(value.trim(), "%H:%M")
        .map_err(|_| ApiError::invalid("invalid_time", field, "enter a time as HH:MM"))
}

/// A session as a line of the table.
#[derive(Debug)]
struct SessionLine {
    id: Uuid,
    weekday: String,
    hours: String,
    every_weeks: u8,
    valid: String,
    room: String,
    places: String,
}

/// A text families read, in each language: (field, legend, [(language code, name, text)]).
type TextGroup = (
    &'static str,
    String,
    Vec<(&'static str, &'static str, String)>,
);

#[derive(Template)]
#[template(path = "admin/prison.html")]
struct PrisonPage {
    page: Page,
    prison: Prison,
    detail: PrisonDetail,
    /// Each translated text the form edits.
    texts: Vec<TextGroup>,
    /// (code, name, offered) of each language families may be received in.
    languages: Vec<(&'static str, &'static str, bool)>,
    sessions: Vec<SessionLine>,
    blocked: Vec<(BlockedDate, String, usize)>,
    visit_types: Vec<(&'static str, String)>,
    weekdays: Vec<(u8, String)>,
    today: NaiveDate,
}

struct Loaded {
    prison: Prison,
    detail: PrisonDetail,
    sessions: Vec<SessionTemplate>,
    blocked: Vec<BlockedDate>,
}

fn load(conn: &mut DbConn, principal: &Principal, id: PrisonId) -> ApiResult<Loaded> {
    access::require_prison_manager(principal, id)?;
    Ok(Loaded {
        prison: prisons::load_prison(conn, id)?,
        detail: rules::load_detail(conn, id)?,
        sessions: prison_api::templates_of(conn, id)?,
        blocked: prison_api::blocked_of(conn, principal, id)?,
    })
}

fn weekday_name(page: &Page, weekday: u8) -> String {
    page.t(&format!("weekday.d{weekday}")).to_owned()
}

fn prison_page_of(page: Page, loaded: Loaded) -> PrisonPage {
    let Loaded {
        prison,
        detail,
        sessions,
        blocked,
    } = loaded;
    let texts = [
        (
            "arrival_advice",
            "prison.arrival_advice",
            &detail.arrival_advice,
        ),
        (
            "what_to_bring",
            "prison.what_to_bring",
            &detail.what_to_bring,
        ),
        (
            "accessibility",
            "prison.accessibility",
            &detail.accessibility,
        ),
    ]
    .into_iter()
    .map(|(field, legend, text)| {
        let by_language = crate::web::i18n::OFFERED
            .iter()
            .map(|l| {
                (
                    l.code(),
                    crate::web::i18n::endonym(*l),
                    text.get(l).cloned().unwrap_or_default(),
                )
            })
            .collect();
        (field, page.t(legend).to_owned(), by_language)
    })
    .collect();
    let languages = crate::web::i18n::OFFERED
        .iter()
        .map(|l| {
            (
                l.code(),
                crate::web::i18n::endonym(*l),
                detail.languages.contains(l),
            )
        })
        .collect();
    let sessions_text: Vec<SessionLine> = sessions
        .iter()
        .map(|s| SessionLine {
            id: s.id,
            weekday: weekday_name(&page, s.weekday),
            hours: format!(
                "{}–{}",
                s.starts_at.format("%H:%M"),
                s.ends_at.format("%H:%M")
            ),
            every_weeks: s.every_weeks,
            valid: match s.valid_to {
                Some(to) => format!("{} – {}", page.date(&s.valid_from), page.date(&to)),
                None => format!("{} –", page.date(&s.valid_from)),
            },
            room: s.room.clone(),
            places: s
                .capacities
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        c.capacity,
                        page.tv("visit_type", c.visit_type.as_str())
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let blocked = blocked
        .into_iter()
        .map(|b| {
            let what = match b
                .template_id
                .and_then(|t| sessions.iter().find(|s| s.id == t))
            {
                Some(s) => format!(
                    "{} {}–{}",
                    page.t("prison.session_only"),
                    s.starts_at.format("%H:%M"),
                    s.ends_at.format("%H:%M")
                ),
                None => page.t("prison.whole_day").to_owned(),
            };
            let flagged = b.flagged_requests.len();
            (b, what, flagged)
        })
        .collect();
    let visit_types = VisitType::ALL
        .iter()
        .filter(|t| **t != VisitType::FamilyDay)
        .map(|t| (t.as_str(), page.tv("visit_type", t.as_str())))
        .collect();
    let weekdays = (1..=7).map(|d| (d, weekday_name(&page, d))).collect();
    PrisonPage {
        page,
        prison,
        detail,
        texts,
        languages,
        sessions: sessions_text,
        blocked,
        visit_types,
        weekdays,
        today: Utc::now().date_naive(),
    }
}

async fn show_prison(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: PrisonId,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "prison.title",
        Reading::Plain,
        problem,
        move |conn, principal| load(conn, principal, id),
        prison_page_of,
    )
    .await
}

#[get("/prisons/{id}")]
async fn prison_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    show_prison(&req, &state, &user, PrisonId(path.into_inner()), None).await
}

/// Runs a change of a prison's set-up and shows the prison page again: with a notice when it
/// went through, with the problem at its field when it was refused.
async fn change_prison<T: Send + 'static>(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: PrisonId,
    field: &str,
    change: impl FnOnce(&mut DbConn, &Principal) -> ApiResult<T> + Send + 'static,
) -> WebResult {
    act(
        state,
        user,
        change,
        &format!("/admin/prisons/{id}?done=saved"),
        |error| async move { show_prison(req, state, user, id, Some((&error, field))).await },
    )
    .await
}

/// Saves the prison's practical information through the API's `update_info_in`. The form's
/// fields come as pairs (several languages, a text per language), read in order.
#[post("/prisons/{id}/info")]
async fn set_info(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> WebResult {
    let fields = form.into_inner();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    user.check_csrf(&req, &get("csrf"))?;
    let id = PrisonId(path.into_inner());
    let text = |field: &str| {
        crate::web::i18n::OFFERED
            .iter()
            .filter_map(|l| {
                let value = get(&format!("{field}_{}", l.code()));
                (!value.trim().is_empty()).then(|| (*l, value.trim().to_owned()))
            })
            .collect::<LocalizedText>()
    };
    let info = PrisonInfo {
        name: get("name"),
        city: get("city"),
        address: get("address"),
        languages: fields
            .iter()
            .filter(|(k, _)| k == "languages")
            .filter_map(|(_, v)| Language::from_code(v))
            .collect(),
        contact_phone: Some(get("contact_phone")),
        contact_email: Some(get("contact_email")),
        arrival_advice: text("arrival_advice"),
        what_to_bring: text("what_to_bring"),
        accessibility: text("accessibility"),
    };
    change_prison(&req, &state, &user, id, "name", move |conn, principal| {
        prison_api::update_info_in(conn, principal, id, &info)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct RulesForm {
    #[serde(default)]
    csrf: String,
    visit_type: String,
    min_notice_hours: String,
    max_days_ahead: String,
    max_visitors: String,
    max_adults: String,
    max_children: String,
    adult_from_age: String,
    cancel_cutoff_hours: String,
    #[serde(default)]
    auto_confirm: Option<String>,
}

impl RulesForm {
    fn rules(&self) -> ApiResult<VisitRules> {
        Ok(VisitRules {
            visit_type: VisitType::parse(&self.visit_type).ok_or_else(|| {
                ApiError::invalid("invalid_value", "visit_type", "choose a type of visit")
            })?,
            min_notice_hours: number(&self.min_notice_hours, "min_notice_hours")?,
            max_days_ahead: number(&self.max_days_ahead, "max_days_ahead")?,
            max_visitors: number(&self.max_visitors, "max_visitors")?,
            max_adults: number(&self.max_adults, "max_adults")?,
            max_children: number(&self.max_children, "max_children")?,
            adult_from_age: number(&self.adult_from_age, "adult_from_age")?,
            auto_confirm: self.auto_confirm.is_some(),
            cancel_cutoff_hours: number(&self.cancel_cutoff_hours, "cancel_cutoff_hours")?,
        })
    }
}

#[post("/prisons/{id}/rules")]
async fn set_rules(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<RulesForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = PrisonId(path.into_inner());
    let rules = form.rules();
    change_prison(
        &req,
        &state,
        &user,
        id,
        "visit_type",
        move |conn, principal| prison_api::put_rules_in(conn, principal, id, &rules?),
    )
    .await
}

#[derive(Debug, Deserialize)]
struct SessionForm {
    #[serde(default)]
    csrf: String,
    weekday: String,
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    every_weeks: String,
    valid_from: String,
    #[serde(default)]
    valid_to: String,
    room: String,
    #[serde(default)]
    table: String,
    #[serde(default)]
    closed: String,
    #[serde(default)]
    unsupervised: String,
    #[serde(default)]
    video: String,
}

impl SessionForm {
    fn session(&self) -> ApiResult<NewSessionTemplate> {
        let weekday = u8::try_from(number(&self.weekday, "weekday")?)
            .map_err(|_| ApiError::invalid("invalid_value", "weekday", "choose a day"))?;
        let every_weeks = if self.every_weeks.trim().is_empty() {
            1
        } else {
            u8::try_from(number(&self.every_weeks, "every_weeks")?)
                .map_err(|_| ApiError::invalid("invalid_value", "every_weeks", "enter 1 to 4"))?
        };
        let mut capacities = Vec::new();
        for (visit_type, value) in [
            (VisitType::Table, &self.table),
            (VisitType::Closed, &self.closed),
            (VisitType::Unsupervised, &self.unsupervised),
            (VisitType::Video, &self.video),
        ] {
            if value.trim().is_empty() {
                continue;
            }
            let capacity = number(value, visit_type.as_str())?;
            if capacity > 0 {
                capacities.push(SessionCapacity {
                    visit_type,
                    capacity,
                });
            }
        }
        Ok(NewSessionTemplate {
            weekday,
            starts_at: time(&self.starts_at, "starts_at")?,
            ends_at: time(&self.ends_at, "ends_at")?,
            every_weeks,
            valid_from: date(&self.valid_from, "valid_from")?,
            valid_to: Some(self.valid_to.trim())
                .filter(|v| !v.is_empty())
                .map(|v| date(v, "valid_to"))
                .transpose()?,
            room: self.room.trim().to_owned(),
            capacities,
        })
    }
}

#[post("/prisons/{id}/sessions")]
async fn add_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<SessionForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = PrisonId(path.into_inner());
    let session = form.session();
    change_prison(
        &req,
        &state,
        &user,
        id,
        "weekday",
        move |conn, principal| prison_api::create_template_in(conn, principal, id, &session?),
    )
    .await
}

#[post("/sessions/{id}/delete")]
async fn remove_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let template = path.into_inner();
    let principal = user.principal.clone();
    let prison = state
        .db(move |conn| rules::template_prison(conn, template))
        .await
        .lang(user.language)?;
    access::require_prison_manager(&principal, prison).lang(user.language)?;
    change_prison(
        &req,
        &state,
        &user,
        prison,
        "sessions",
        move |conn, principal| prison_api::delete_template_in(conn, principal, template),
    )
    .await
}

#[derive(Debug, Deserialize)]
struct BlockForm {
    #[serde(default)]
    csrf: String,
    date: String,
    #[serde(default)]
    session: String,
    reason: String,
}

#[post("/prisons/{id}/blocked")]
async fn block(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<BlockForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = PrisonId(path.into_inner());
    let block = (|| -> ApiResult<NewBlockedDate> {
        Ok(NewBlockedDate {
            date: date(&form.date, "date")?,
            template_id: Some(form.session.trim())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        ApiError::invalid("invalid_value", "session", "choose a session")
                    })
                })
                .transpose()?,
            reason: form.reason.clone(),
        })
    })();
    change_prison(&req, &state, &user, id, "date", move |conn, principal| {
        prison_api::block_date_in(conn, principal, id, &block?)
    })
    .await
}

#[post("/blocked/{id}/delete")]
async fn unblock(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let principal = user.principal.clone();
    let prison = state
        .write(move |conn| prison_api::unblock_in(conn, &principal, id))
        .await
        .lang(user.language)?;
    Ok(see_other(&format!("/admin/prisons/{prison}?done=saved")))
}

#[derive(Debug)]
struct WaitingLine {
    detainee: Uuid,
    detainee_name: String,
    member: MemberId,
    name: String,
    relation: String,
    close_family: bool,
}

#[derive(Template)]
#[template(path = "admin/visitors.html")]
struct VisitorsPage {
    page: Page,
    prison: Prison,
    waiting: Vec<WaitingLine>,
}

#[get("/prisons/{id}/visitors")]
async fn visitor_lists(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    let id = PrisonId(path.into_inner());
    show(
        &req,
        &state,
        &user,
        "visitors.title",
        Reading::Plain,
        None,
        move |conn, principal| {
            access::require_prison_manager(principal, id)?;
            Ok((
                prisons::load_prison(conn, id)?,
                visitors::waiting_in(conn, id)?,
            ))
        },
        |page, (prison, waiting)| VisitorsPage {
            waiting: waiting
                .into_iter()
                .map(|w| WaitingLine {
                    detainee: w.detainee_id.0,
                    detainee_name: w.detainee_name,
                    member: w.member_id,
                    name: w.member_name,
                    relation: page.tv("relation", w.relation.as_str()),
                    close_family: visitors::is_close_family(w.relation),
                })
                .collect(),
            page,
            prison,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct VisitorForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    basis: String,
    #[serde(default)]
    prison: String,
}

/// Approves or refuses a member on a visitor list, through the API's `decide_visitor_in`.
#[post("/detainees/{detainee}/visitors/{member}")]
async fn decide_visitor(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<VisitorForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let language = user.language;
    let (detainee, member) = path.into_inner();
    let status = match form.decision.as_str() {
        "approve" => ApprovalStatus::Approved,
        "refuse" => ApprovalStatus::Refused,
        _ => {
            return Err(WebError::api(
                ApiError::invalid("invalid_value", "decision", "approve or refuse"),
                language,
            ));
        }
    };
    let basis = ApprovalBasis::parse(&form.basis).ok_or_else(|| {
        WebError::api(
            ApiError::invalid("invalid_value", "basis", "choose the basis"),
            language,
        )
    })?;
    let decision = VisitorDecision {
        status,
        basis,
        note: None,
    };
    let principal = user.principal.clone();
    state
        .write(move |conn| {
            visits_api::decide_visitor_in(conn, &principal, detainee, MemberId(member), &decision)
        })
        .await
        .lang(language)?;
    let prison = form.prison.parse::<Uuid>().ok();
    Ok(see_other(&match prison {
        Some(prison) => format!("/admin/prisons/{prison}/visitors?done=saved"),
        None => "/admin/prisons?done=saved".to_owned(),
    }))
}

#[derive(Template)]
#[template(path = "admin/family_days.html")]
struct DaysPage {
    page: Page,
    prison: Prison,
    days: Vec<(FamilyDay, String)>,
}

#[get("/prisons/{id}/family-days")]
async fn family_days(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    show_days(&req, &state, &user, PrisonId(path.into_inner()), None).await
}

/// A prison's family days, with a refused new day's problem when there is one.
async fn show_days(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    id: PrisonId,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "days.title",
        Reading::Plain,
        problem,
        move |conn, principal| {
            days::access::require_manage_day(principal, id)?;
            let filter = DayFilter {
                prison: Some(id),
                from: None,
                to: None,
                include_cancelled: true,
            };
            Ok((
                prisons::load_prison(conn, id)?,
                days::list_days(conn, &filter)?,
            ))
        },
        |page, (prison, list)| DaysPage {
            days: list
                .into_iter()
                .map(|d| {
                    let when = format!(
                        "{}, {}–{}",
                        page.date(&d.date),
                        d.starts_at.format("%H:%M"),
                        d.ends_at.format("%H:%M")
                    );
                    (d, when)
                })
                .collect(),
            page,
            prison,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct DayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    programme: String,
    #[serde(default)]
    families: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    deadline: String,
}

/// A new family day through the API's `create_day_in`; the registration deadline is the
/// prison's local time.
#[post("/prisons/{id}/family-days")]
async fn plan_family_day(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<DayForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = PrisonId(path.into_inner());
    let form = form.into_inner();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| {
            let tz = days::prison_zone(conn, &id.to_string())?;
            let deadline =
                chrono::NaiveDateTime::parse_from_str(form.deadline.trim(), "%Y-%m-%dT%H:%M")
                    .ok()
                    .and_then(|local| {
                        use chrono::TimeZone;
                        tz.from_local_datetime(&local).earliest()
                    })
                    .map(|at| at.with_timezone(&Utc))
                    .ok_or_else(|| {
                        ApiError::invalid("invalid_date", "deadline", "enter a date and a time")
                    })?;
            let body = reguide_protocol::family_days::NewFamilyDay {
                title: form.title,
                date: date(&form.date, "date")?,
                starts_at: time(&form.starts_at, "starts_at")?,
                ends_at: time(&form.ends_at, "ends_at")?,
                programme: form.programme,
                capacity_families: number(&form.families, "families")?,
                capacity_people: number(&form.people, "people")?,
                min_child_age: 0,
                max_child_age: 17,
                registration_deadline: deadline,
            };
            days_api::create_day_in(conn, principal, id, body)
        },
        &format!("/admin/prisons/{id}/family-days?done=saved"),
        |error| async move { show_days(req, state, user, id, Some((&error, "title"))).await },
    )
    .await
}

#[derive(Template)]
#[template(path = "admin/family_day.html")]
struct DayPage {
    page: Page,
    day: FamilyDay,
    when: String,
    registered: Vec<Registration>,
    waiting: Vec<Registration>,
}

/// A family day's registrations, then its waiting list in order (reading it is recorded).
#[get("/family-days/{id}")]
async fn family_day(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    let id = path.into_inner();
    show(
        &req,
        &state,
        &user,
        "days.day",
        Reading::Recorded,
        None,
        move |conn, principal| {
            let (day, list) =
                days_api::registrations_in(conn, principal, id, "family_day_registrations_viewed")?;
            Ok((days::day_wire(conn, &day)?, list))
        },
        |page, (day, list)| {
            let (waiting, registered): (Vec<_>, Vec<_>) = list
                .into_iter()
                .filter(|r| r.status != RegistrationStatus::Cancelled)
                .partition(|r| r.status == RegistrationStatus::Waiting);
            DayPage {
                when: format!(
                    "{}, {}–{}",
                    page.date(&day.date),
                    day.starts_at.format("%H:%M"),
                    day.ends_at.format("%H:%M")
                ),
                page,
                day,
                registered,
                waiting,
            }
        },
    )
    .await
}

/// Calls a family day off (the API's `cancel_day_in`); the families registered are told.
#[post("/family-days/{id}/cancel")]
async fn cancel_family_day(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let principal = user.principal.clone();
    state
        .write(move |conn| days_api::cancel_day_in(conn, &principal, id))
        .await
        .lang(user.language)?;
    Ok(see_other(&format!("/admin/family-days/{id}?done=saved")))
}

/// A family day's registrations as CSV, for the organisers (recorded like the API's).
#[get("/family-days/{id}/registrations.csv")]
async fn family_day_csv(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
) -> WebResult {
    let id = path.into_inner();
    let principal = user.principal.clone();
    let (day, list) = state
        .write(move |conn| {
            days_api::registrations_in(conn, &principal, id, "family_day_registrations_exported")
        })
        .await
        .lang(user.language)?;
    Ok(crate::csv::attachment(
        &format!("family-day-{}.csv", day.row.date),
        days::export::registrations_csv(&list, day.tz),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_forms_are_read_field_by_field() {
        let form = SessionForm {
            csrf: String::new(),
            weekday: "3".into(),
            starts_at: "14:00".into(),
            ends_at: "15:30".into(),
            every_weeks: String::new(),
            valid_from: "2027-01-06".into(),
            valid_to: String::new(),
            room: " Salle B ".into(),
            table: "8".into(),
            closed: "0".into(),
            unsupervised: String::new(),
            video: String::new(),
        };
        let session = form.session().expect("valid");
        assert_eq!((session.weekday, session.every_weeks), (3, 1));
        assert_eq!(session.room, "Salle B");
        assert_eq!(session.capacities.len(), 1, "zero and empty offer nothing");
        let bad = SessionForm {
            starts_at: "2pm".into(),
            ..form
        };
        match bad.session() {
            Err(ApiError::Invalid { field, .. }) => {
                assert_eq!(field.as_deref(), Some("starts_at"))
            }
            other => panic!("{other:?}"),
        }
    }
}
