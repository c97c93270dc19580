//! Links that act without signing in, sent by email: a social worker accepts or declines an
//! appointment the family proposed from the message itself.
//!
//! A link is `/links/<token>`: 256 random bits, of which only the SHA-256 is stored, bound to
//! one appointment, one worker and one answer. It works once and until it expires. Opening it
//! (`GET`) only shows what it will do, with a button: mail scanners that fetch every link change
//! nothing. Pressing the button (`POST`) takes the link (one conditional `UPDATE`, so two
//! presses cannot both act) and answers the appointment as that worker, in the same
//! transaction. A used, expired or unknown link gets a plain page saying so, and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use reguide_protocol::appointments::{AppointmentAnswerRequest, AppointmentReply};
use reguide_protocol::{AccountId, FamilyId};

use crate::auth::principal::parse_id;
use crate::auth::tokens;
use crate::db::schema::action_links as links;
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::sync::store;

/// What a link does.
pub const APPOINTMENT_ANSWER: &str = "appointment_answer";
/// How long an emailed answer link works.
pub const LINK_DAYS: i64 = 7;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(act);
}

/// Makes a link for `worker` to give `answer` (accepted or declined) to an appointment of
/// `family`; returns its token (to put in the email; it is not kept).
pub fn mint_appointment_answer(
    conn: &mut DbConn,
    family: FamilyId,
    appointment: &str,
    worker: AccountId,
    answer: AppointmentReply,
) -> ApiResult<String> {
    if !matches!(
        answer,
        AppointmentReply::Accepted | AppointmentReply::Declined
    ) {
        return Err(ApiError::internal(anyhow::anyhow!(
            "an answer link accepts or declines"
        )));
    }
    let token = tokens::new_token();
    diesel::insert_into(links::table)
        .values((
            links::id.eq(uuid::Uuid::new_v4().to_string()),
            links::token_hash.eq(tokens::digest(&token)),
            links::purpose.eq(APPOINTMENT_ANSWER),
            links::family_id.eq(family.to_string()),
            links::object_id.eq(appointment),
            links::account_id.eq(worker.to_string()),
            links::answer.eq(answer.as_str()),
            links::expires_at.eq(now() + Duration::days(LINK_DAYS)),
            links::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(token)
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// A link as stored, found by its token.
fn find(conn: &mut DbConn, token: &str) -> ApiResult<Option<Row>> {
    Ok(links::table
        .filter(links::token_hash.eq(tokens::digest(token)))
        .select((
            links::id,
            links::family_id,
            links::object_id,
            links::account_id,
            links::answer,
            links::expires_at,
            links::used_at,
        ))
        .first(conn)
        .optional()?)
}

/// Why a link does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dead {
    Unknown,
    Used,
    Expired,
}

fn state_of(row: &Option<Row>) -> Result<(), Dead> {
    match row {
        None => Err(Dead::Unknown),
        Some((.., Some(_))) => Err(Dead::Used),
        Some((.., expires, None)) if *expires <= now() => Err(Dead::Expired),
        Some(_) => Ok(()),
    }
}

pub(crate) use crate::text::escape_html as escape;

/// A page to answer with, built where the database work runs and rendered outside it.
#[derive(Debug)]
pub struct Page {
    status: StatusCode,
    title: String,
    body: String,
}

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Page {
    Page {
        status,
        title: title.to_owned(),
        body: body.to_owned(),
    }
}

pub(crate) fn render(page: Page) -> HttpResponse {
    let Page {
        status,
        title,
        body,
    } = page;
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} – reguide</title></head>\
         <body><main><h1>{}</h1>{body}</main></body></html>",
        escape(&title),
        escape(&title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(html)
}

fn dead_page(dead: Dead) -> Page {
    match dead {
        Dead::Unknown => page(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "<p>It may have been copied incompletely. Nothing was changed. Sign in to reguide to \
             answer.</p>",
        ),
        Dead::Used => page(
            StatusCode::GONE,
            "This link was already used",
            "<p>Each link works once. Nothing was changed now. Sign in to reguide to see the \
             appointment.</p>",
        ),
        Dead::Expired => page(
            StatusCode::GONE,
            "This link has expired",
            "<p>Nothing was changed. Sign in to reguide to answer.</p>",
        ),
    }
}

fn what(answer: &str) -> &'static str {
    if answer == AppointmentReply::Accepted.as_str() {
        "accept"
    } else {
        "decline"
    }
}

/// The appointment's time and purpose, for the page.
fn describe(conn: &mut DbConn, family: FamilyId, appointment: &str) -> ApiResult<String> {
    let Some(doc) = store::load(conn, family)? else {
        return Ok(String::new());
    };
    let found = crate::appointments::one(&doc, appointment).ok();
    Ok(match found {
        Some(a) => {
            let local = a
                .starts_at
                .with_timezone(&reguide_protocol::time::DEFAULT_TIME_ZONE)
                .format("%A %e %B %Y, %H:%M");
            format!(
                "<p><strong>{}</strong><br>{local}<br>{}</p>",
                escape(&a.purpose),
                escape(&a.place)
            )
        }
        None => String::new(),
    })
}

#[get("/links/{token}")]
pub async fn show(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let shown = state
        .db(move |conn| {
            let row = find(conn, &token)?;
            if let Err(dead) = state_of(&row) {
                return Ok(dead_page(dead));
            }
            let Some((_, family, appointment, _, answer, ..)) = row else {
                return Ok(dead_page(Dead::Unknown));
            };
            let family: FamilyId = parse_id(&family)?;
            let details = describe(conn, family, &appointment)?;
            let verb = what(&answer);
            Ok(page(
                StatusCode::OK,
                &format!(
                    "{}{} the appointment",
                    &verb[..1].to_uppercase(),
                    &verb[1..]
                ),
                &format!(
                    "{details}<form method=\"post\"><button type=\"submit\">Yes, {verb} it\
                     </button></form><p>This link works once.</p>"
                ),
            ))
        })
        .await?;
    Ok(render(shown))
}

#[post("/links/{token}")]
pub async fn act(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let done = state
        .write(move |conn| {
            let row = find(conn, &token)?;
            if let Err(dead) = state_of(&row) {
                return Ok(dead_page(dead));
            }
            let Some((id, family, appointment, account, answer, ..)) = row else {
                return Ok(dead_page(Dead::Unknown));
            };
            // Taken once: a second press (or a race) finds it used.
            let taken = diesel::update(
                links::table
                    .find(&id)
                    .filter(links::used_at.is_null())
                    .filter(links::expires_at.gt(now())),
            )
            .set(links::used_at.eq(now()))
            .execute(conn)?;
            if taken == 0 {
                return Ok(dead_page(Dead::Used));
            }
            let family: FamilyId = parse_id(&family)?;
            let worker: AccountId = parse_id(&account)?;
            let reply = AppointmentReply::parse(&answer)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a stored link's answer")))?;
            let answered = crate::appointments::answer_and_tell(
                conn,
                family,
                &appointment,
                AppointmentAnswerRequest {
                    answer: reply,
                    starts_at: None,
                    place: None,
                    note: None,
                },
                worker,
                Utc::now(),
            );
            // The appointment changed meanwhile (called off, answered in the app): say so; the
            // link stays used, as the worker saw the page.
            if let Err(e) = answered {
                return Ok(page(
                    StatusCode::CONFLICT,
                    "The appointment changed meanwhile",
                    &format!(
                        "<p>{} Nothing was changed. Sign in to reguide to see it.</p>",
                        escape(&e.to_string())
                    ),
                ));
            }
            crate::audit::record(
                conn,
                Some(worker),
                "appointment_answered_by_link",
                Some(crate::audit::Object::new("family", &family)),
            )?;
            let verb = what(&answer);
            Ok(page(
                StatusCode::OK,
                if verb == "accept" {
                    "You accepted the appointment"
                } else {
                    "You declined the appointment"
                },
                "<p>The family sees your answer in the app.</p>",
            ))
        })
        .await?;
    Ok(render(done))
}
