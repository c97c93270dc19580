//! `/api/v1/families/{id}/steps…` and `/api/v1/step-templates…`.

use actix_web::{HttpResponse, get, patch, post, put, web};
use automerge::transaction::Transaction;
use chrono::Utc;
use reguide_protocol::caseloads::{CaseloadFamily, WorkerService};
use reguide_protocol::doc::status::AppointmentStatus;
use reguide_protocol::steps::{
    ApplyTemplate, NewNote, NewStep, Region, StepChanges, StepDetail, StepTemplate, TickItem,
};
use reguide_protocol::{AccountId, FamilyId, Language};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::mail;
use crate::state::AppState;
use crate::steps::{self, templates, write};
use crate::sync::store;

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_steps)
        .service(create_step)
        .service(apply_template)
        .service(change_step)
        .service(tick_item)
        .service(add_note)
        .service(caseload)
        .service(list_templates)
        .service(get_template)
        .service(put_template);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(
    caseload,
    list_steps,
    create_step,
    apply_template,
    change_step,
    tick_item,
    add_note,
    list_templates,
    get_template,
    put_template,
))]
pub struct StepsDoc;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The family's steps as they are now in its document.
fn current(conn: &mut DbConn, family: FamilyId) -> ApiResult<Vec<StepDetail>> {
    store::view(conn, family, steps::all)
}

#[utoipa::path(get, path = "/api/v1/families/{family_id}/steps", tag = "steps",
    params(("family_id" = Uuid, Path)),
    responses((status = 200, description = "by category, then due date", body = [StepDetail]),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/families/{family_id}/steps")]
pub async fn list_steps(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    steps::access(&principal, family)?;
    let list = state.db(move |conn| current(conn, family)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/steps", tag = "steps",
    params(("family_id" = Uuid, Path)), request_body = NewStep,
    responses((status = 201, body = StepDetail), (status = 400, body = Err),
        (status = 403, description = "a family member: steps are the social workers'", body = Err),
        (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/steps")]
pub async fn create_step(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewStep>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    steps::require_write(&principal, family)?;
    let step = body.into_inner();
    let staff = principal.account_id;
    let created = state
        .write(move |conn| {
            let (created, plan) = store::edit_as_server_then(
                conn,
                family,
                |tx| write::create(tx, step, None, staff, now_ms()),
                |doc, id| Ok((steps::one(doc, &id)?, reminders(doc)?)),
            )?;
            mail::events::step_reminders(conn, family, &plan)?;
            Ok(created)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/steps/from-template", tag = "steps",
    params(("family_id" = Uuid, Path)), request_body = ApplyTemplate,
    responses((status = 201, description = "the steps created", body = [StepDetail]),
        (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/steps/from-template")]
pub async fn apply_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<ApplyTemplate>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    steps::require_write(&principal, family)?;
    let ApplyTemplate { template, language } = body.into_inner();
    let staff = principal.account_id;
    let created = state
        .write(move |conn| apply_template_in(conn, family, &template, language, staff))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Adds a template's steps to a family's document as `staff` (whose right to write was checked
/// with [`steps::require_write`]), in the template's language or the family's; answers with the
/// steps created.
pub fn apply_template_in(
    conn: &mut DbConn,
    family: FamilyId,
    template: &str,
    language: Option<Language>,
    staff: AccountId,
) -> ApiResult<Vec<StepDetail>> {
    let template = templates::get(conn, template).map_err(|_| {
        ApiError::invalid(
            "template_not_found",
            "template",
            "there is no step template with this key",
        )
    })?;
    let language = match language {
        Some(language) => language,
        None => crate::families::first_member_language(conn, family)?,
    };
    let (created, plan) = store::edit_as_server_then(
        conn,
        family,
        |tx| write::apply_template(tx, &template, language, steps::today(), staff, now_ms()),
        |doc, ids| {
            let mut created = ids
                .iter()
                .map(|id| steps::one(doc, id))
                .collect::<ApiResult<Vec<_>>>()?;
            steps::sort(&mut created);
            Ok((created, reminders(doc)?))
        },
    )?;
    mail::events::step_reminders(conn, family, &plan)?;
    Ok(created)
}

/// A worker's change to one step of `family`, written in as the server; answers with the step
/// as stored.
async fn change_one(
    state: web::Data<AppState>,
    principal: Principal,
    family: FamilyId,
    step: String,
    edit: impl FnOnce(&mut Transaction<'_>, &str, AccountId, i64) -> ApiResult<()> + Send + 'static,
) -> ApiResult<StepDetail> {
    steps::require_write(&principal, family)?;
    let staff = principal.account_id;
    state
        .write(move |conn| {
            let (changed, plan) = store::edit_as_server_then(
                conn,
                family,
                |tx| edit(tx, &step, staff, now_ms()),
                |doc, ()| Ok((steps::one(doc, &step)?, reminders(doc)?)),
            )?;
            mail::events::step_reminders(conn, family, &plan)?;
            Ok(changed)
        })
        .await
}

/// The step reminders the document now calls for (written after the change is stored).
fn reminders(doc: &automerge::Automerge) -> ApiResult<Vec<mail::events::StepReminder>> {
    mail::events::plan_step_reminders(doc, chrono::Utc::now())
}

#[utoipa::path(patch, path = "/api/v1/families/{family_id}/steps/{step_id}", tag = "steps",
    params(("family_id" = Uuid, Path), ("step_id" = String, Path)), request_body = StepChanges,
    responses((status = 200, body = StepDetail), (status = 400, body = Err),
        (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[patch("/families/{family_id}/steps/{step_id}")]
pub async fn change_step(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    body: Json<StepChanges>,
) -> ApiResult<HttpResponse> {
    let (family, step) = path.into_inner();
    let changes = body.into_inner();
    let changed = change_one(
        state,
        principal,
        FamilyId(family),
        step,
        |tx, step, staff, at| write::change(tx, step, changes, staff, at),
    )
    .await?;
    Ok(HttpResponse::Ok().json(changed))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/steps/{step_id}/checklist/{item_id}",
    tag = "steps",
    params(("family_id" = Uuid, Path), ("step_id" = String, Path), ("item_id" = String, Path)),
    request_body = TickItem,
    responses((status = 200, body = StepDetail), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/steps/{step_id}/checklist/{item_id}")]
pub async fn tick_item(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String, String)>,
    body: Json<TickItem>,
) -> ApiResult<HttpResponse> {
    let (family, step, item) = path.into_inner();
    let ticked = body.ticked;
    let changed = change_one(
        state,
        principal,
        FamilyId(family),
        step,
        move |tx, step, staff, at| write::tick(tx, step, &item, ticked, staff, at),
    )
    .await?;
    Ok(HttpResponse::Ok().json(changed))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/steps/{step_id}/notes", tag = "steps",
    params(("family_id" = Uuid, Path), ("step_id" = String, Path)), request_body = NewNote,
    responses((status = 201, body = StepDetail), (status = 400, body = Err),
        (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/steps/{step_id}/notes")]
pub async fn add_note(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    body: Json<NewNote>,
) -> ApiResult<HttpResponse> {
    let (family, step) = path.into_inner();
    let text = body.into_inner().text;
    let changed = change_one(
        state,
        principal,
        FamilyId(family),
        step,
        move |tx, step, staff, at| write::note(tx, step, &text, staff, at),
    )
    .await?;
    Ok(HttpResponse::Created().json(changed))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TemplateFilter {
    /// `brussels`, `flanders`, `wallonia` or `german_speaking`.
    region: Option<String>,
}

/// Social workers apply templates; administrators edit them.
fn require_template_reader(principal: &Principal) -> ApiResult<()> {
    if principal.is_admin() || principal.has_role(reguide_protocol::Role::SocialWorker) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

#[utoipa::path(get, path = "/api/v1/step-templates", tag = "steps", params(TemplateFilter),
    responses((status = 200, body = [StepTemplate]), (status = 400, body = Err),
        (status = 403, body = Err)),
    security(("bearer" = [])))]
#[get("/step-templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<TemplateFilter>,
) -> ApiResult<HttpResponse> {
    require_template_reader(&principal)?;
    let region = match filter.into_inner().region {
        None => None,
        Some(name) => Some(Region::parse(&name).ok_or_else(|| {
            ApiError::invalid(
                "invalid_value",
                "region",
                "brussels, flanders, wallonia or german_speaking",
            )
        })?),
    };
    let list = state.db(move |conn| templates::list(conn, region)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(get, path = "/api/v1/step-templates/{key}", tag = "steps",
    params(("key" = String, Path)),
    responses((status = 200, body = StepTemplate), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/step-templates/{key}")]
pub async fn get_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_template_reader(&principal)?;
    let key = path.into_inner();
    let template = state.db(move |conn| templates::get(conn, &key)).await?;
    Ok(HttpResponse::Ok().json(template))
}

#[utoipa::path(put, path = "/api/v1/step-templates/{key}", tag = "steps",
    params(("key" = String, Path)), request_body = StepTemplate,
    responses((status = 200, description = "replaced", body = StepTemplate),
        (status = 201, description = "created", body = StepTemplate),
        (status = 400, description = "a text missing in nl, fr or en names it", body = Err),
        (status = 403, body = Err)),
    security(("bearer" = [])))]
#[put("/step-templates/{key}")]
pub async fn put_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<StepTemplate>,
) -> ApiResult<HttpResponse> {
    principal.require_admin()?;
    let key = path.into_inner();
    let template = body.into_inner();
    if template.key != key {
        return Err(ApiError::invalid(
            "key_mismatch",
            "key",
            "the key in the body is the key in the address",
        ));
    }
    let admin = principal.account_id;
    let (created, template) = state
        .write(move |conn| {
            let created = templates::put(conn, &template, admin)?;
            audit::record(
                conn,
                Some(admin),
                "step_template_saved",
                Some(Object::new("step_template", &template.key)),
            )?;
            Ok((created, template))
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(template)
    } else {
        HttpResponse::Ok().json(template)
    })
}

#[utoipa::path(get, path = "/api/v1/caseload", tag = "steps",
    responses((status = 200, description = "the families the social worker follows, those with \
        overdue steps first", body = [CaseloadFamily]),
        (status = 401, body = Err), (status = 403, description = "not a social worker", body = Err)),
    security(("bearer" = [])))]
#[get("/caseload")]
pub async fn caseload(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let list = state.db(move |conn| caseload_of(conn, &principal)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The families a social worker follows, those with overdue steps first; refused to anyone
/// without the social worker role.
pub fn caseload_of(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<CaseloadFamily>> {
    if !principal.has_role(reguide_protocol::Role::SocialWorker) {
        return Err(ApiError::Forbidden(
            "the caseload is a social worker's".into(),
        ));
    }
    let worker = principal.account_id;
    let mut lines = Vec::new();
    for (family, label, service) in crate::accounts::caseload_lines(conn, worker)? {
        // One load of the document for both views.
        let (steps, appointments) = match store::load(conn, family)? {
            Some(doc) => (steps::all(&doc)?, crate::appointments::all(&doc)?),
            None => (Vec::new(), Vec::new()),
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mine = appointments.iter().filter(|a| a.with_account == worker);
        lines.push(CaseloadFamily {
            family_id: family,
            label,
            service: service.as_deref().and_then(WorkerService::parse),
            open_steps: count(steps.iter().filter(|s| s.status.is_open()).count()),
            overdue_steps: count(steps.iter().filter(|s| s.overdue).count()),
            appointments_to_answer: count(
                mine.clone()
                    .filter(|a| {
                        a.proposed_by == "family" && a.status == AppointmentStatus::Proposed
                    })
                    .count(),
            ),
            next_appointment: mine
                .filter(|a| {
                    matches!(
                        a.status,
                        AppointmentStatus::Accepted | AppointmentStatus::Tentative
                    ) && a.starts_at > Utc::now()
                })
                .map(|a| a.starts_at)
                .min(),
        });
    }
    lines.sort_by(|a, b| {
        (std::cmp::Reverse(a.overdue_steps), &a.label)
            .cmp(&(std::cmp::Reverse(b.overdue_steps), &b.label))
    });
    Ok(lines)
}
