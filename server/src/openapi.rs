//! The OpenAPI 3 document of the JSON API, generated from the handlers' annotations and the
//! protocol types, served at `/api/openapi.json`.

use actix_web::{HttpResponse, get};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::{accounts, audit, auth, families, health, prisons};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reguide API",
        description = "Family-centred companion for the families of detained people: visits, \
            administrative steps, appointments and Living Labs. Errors answer \
            `{\"error\": \"<stable_code>\", \"message\": \"…\", \"field\": \"…\"}`.",
    ),
    paths(
        health::health,
        health::ready,
        auth::api::login,
        auth::api::logout,
        auth::api::refresh,
        auth::api::enrol,
        auth::api::me,
        auth::api::my_devices,
        auth::api::revoke_device,
        families::api::list,
        families::api::create,
        families::api::get_one,
        families::api::close_case,
        families::api::reopen_case,
        families::api::add_member,
        families::api::link_detainee,
        families::api::create_enrolment_code,
        prisons::api::list,
        prisons::api::create,
        accounts::api::list,
        accounts::api::create,
        accounts::api::get_one,
        accounts::api::update,
        accounts::api::grant_role,
        accounts::api::revoke_role,
        accounts::api::assign_caseload,
        accounts::api::unassign_caseload,
        audit::api::list_audit,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Signing in, enrolment, devices"),
        (name = "families", description = "Families, members, detained persons"),
        (name = "prisons", description = "Prisons"),
        (name = "steps", description = "Administrative steps, their regional templates, appointments"),
        (name = "admin", description = "Accounts, roles, caseloads, audit log"),
        (name = "privacy", description = "Requests for a copy or the erasure of a person's data"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole document: the core paths plus each domain's own.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::visits::api::VisitsDoc::openapi());
    doc.merge(crate::family_days::api::FamilyDaysDoc::openapi());
    doc.merge(crate::sync::api::SyncDoc::openapi());
    doc.merge(crate::steps::api::StepsDoc::openapi());
    doc.merge(crate::appointments::api::AppointmentsDoc::openapi());
    doc.merge(crate::accounts::caseload_requests::CaseloadRequestsDoc::openapi());
    doc.merge(crate::mail::api::MailDoc::openapi());
    doc.merge(crate::privacy::api::PrivacyDoc::openapi());
    doc.merge(crate::living_labs::api::LivingLabsDoc::openapi());
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_extractor_responses(operation);
        }
    }
    doc
}

/// The answers every handler may give before it runs: a request limit, and those of the
/// extractors it takes: a bearer token (`Principal`), path segments and query strings
/// (`invalid_id`, `invalid_query`) and a JSON body (`crate::json::Json`). Added where the
/// handler's own annotation left them out.
fn add_extractor_responses(operation: &mut Operation) {
    let params = operation.parameters.iter().flatten();
    let in_path = params
        .clone()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let in_query = params
        .clone()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    // Request limits (`limits`) hold for every operation.
    let mut shared = vec![(
        "429",
        "`too_many_requests`: this device, session or address sent more than it may; \
         `Retry-After` says when to try again",
    )];
    if secured {
        shared.push(("401", "`unauthenticated`: no valid bearer token"));
    }
    if in_path {
        shared.push(("400", "`invalid_id`: a path segment is not valid"));
    }
    if in_query {
        shared.push(("400", "`invalid_query`: the query string is not valid"));
    }
    if json_body {
        shared.extend([
            (
                "400",
                "`malformed_json`, `missing_field`, `unknown_field` or `invalid_value`, with \
                 the path of the field at fault",
            ),
            ("413", "`payload_too_large`"),
            (
                "415",
                "`unsupported_media_type`: send the body as application/json",
            ),
        ]);
    }
    for (status, description) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
