//! Answer links for guests outside reguide: `/lab-links/<token>`, three per invitation (I will
//! come, maybe, I cannot come), each 256 random bits of which only the SHA-256 is stored, one
//! use, working until the session starts. Opening one (`GET`) shows the session and a form
//! for a note and needs, and changes nothing (mail scanners fetch links); sending the form
//! (`POST`) takes the link with one conditional `UPDATE` and answers in the same transaction.
//! A used, expired or unknown link gets a plain page and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use reguide_protocol::doc::Rsvp;
use reguide_protocol::living_labs::{Need, Place};

use crate::auth::tokens;
use crate::db::schema::living_lab_links as links;
use crate::db::{DbConn, now, to_naive};
use crate::error::{ApiError, ApiResult};
use crate::links::{Page, escape, page, render};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(act);
}

/// Makes a link that gives `answer` to `invitation` until `expires`; returns its token.
pub fn mint(
    conn: &mut DbConn,
    invitation: &str,
    answer: Rsvp,
    expires: DateTime<Utc>,
) -> ApiResult<String> {
    let token = tokens::new_token();
    diesel::insert_into(links::table)
        .values((
            links::id.eq(uuid::Uuid::new_v4().to_string()),
            links::token_hash.eq(tokens::digest(&token)),
            links::invitation_id.eq(invitation),
            links::answer.eq(answer.as_str()),
            links::expires_at.eq(to_naive(expires)),
            links::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// A live link: its id, invitation and answer.
fn live(conn: &mut DbConn, token: &str) -> ApiResult<Result<(String, String, Rsvp), Page>> {
    let row: Option<(
        String,
        String,
        String,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    )> = links::table
        .filter(links::token_hash.eq(tokens::digest(token)))
        .select((
            links::id,
            links::invitation_id,
            links::answer,
            links::expires_at,
            links::used_at,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => Err(page(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "<p>It may have been copied incompletely. Nothing was changed.</p>",
        )),
        Some((.., Some(_))) => Err(page(
            StatusCode::GONE,
            "This link was already used",
            "<p>Each link works once. Nothing was changed now. To change your answer, use another \
             link of the invitation.</p>",
        )),
        Some((_, _, _, expires, None)) if expires <= now() => Err(page(
            StatusCode::GONE,
            "This link has expired",
            "<p>The session has started. Nothing was changed.</p>",
        )),
        Some((id, invitation, answer, ..)) => Ok((
            id,
            invitation,
            Rsvp::parse(&answer)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a stored link's answer")))?,
        )),
    })
}

fn label(answer: Rsvp) -> &'static str {
    match answer {
        Rsvp::Accepted => "I will come",
        Rsvp::Tentative => "Maybe",
        Rsvp::Declined => "I cannot come",
    }
}

fn describe(conn: &mut DbConn, invitation: &str) -> ApiResult<String> {
    let row = super::load_invitation(conn, invitation)?;
    let lab = super::load(conn, crate::auth::principal::parse_id(&row.living_lab_id)?)?;
    Ok(format!(
        "<p><strong>{}</strong><br>{} {}–{}<br>{}</p>",
        escape(&lab.title),
        lab.date.format("%A %e %B %Y"),
        escape(&lab.starts_at),
        escape(&lab.ends_at),
        escape(&lab.where_text())
    ))
}

#[get("/lab-links/{token}")]
pub async fn show(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let shown = state
        .db(move |conn| {
            let (_, invitation, answer) = match live(conn, &token)? {
                Ok(link) => link,
                Err(dead) => return Ok(dead),
            };
            let needs: String = Need::ALL
                .iter()
                .map(|n| {
                    format!(
                        "<label><input type=\"checkbox\" name=\"need\" value=\"{0}\"> {0}</label><br>",
                        n.as_str()
                    )
                })
                .collect();
            Ok(page(
                StatusCode::OK,
                &format!("Your answer: {}", label(answer)),
                &format!(
                    "{}<form method=\"post\"><p><label for=\"note\">A note (optional)</label><br>\
                     <textarea id=\"note\" name=\"note\" maxlength=\"500\"></textarea></p>\
                     <fieldset><legend>What you need to take part</legend>{needs}</fieldset>\
                     <p><button type=\"submit\">{}</button></p></form>",
                    describe(conn, &invitation)?,
                    label(answer)
                ),
            ))
        })
        .await?;
    Ok(render(shown))
}

#[post("/lab-links/{token}")]
pub async fn act(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Option<web::Form<Vec<(String, String)>>>,
) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let fields = form.map(web::Form::into_inner).unwrap_or_default();
    let note: Option<String> = fields
        .iter()
        .find(|(k, _)| k == "note")
        .map(|(_, v)| v.clone());
    let needs: Vec<Need> = fields
        .iter()
        .filter(|(k, _)| k == "need")
        .filter_map(|(_, v)| Need::parse(v))
        .collect();
    let done = state
        .write(move |conn| {
            let (id, invitation, answer) = match live(conn, &token)? {
                Ok(link) => link,
                Err(dead) => return Ok(dead),
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
                return Ok(page(
                    StatusCode::GONE,
                    "This link was already used",
                    "<p>Nothing was changed now.</p>",
                ));
            }
            let place = match super::answer(
                conn,
                &invitation,
                answer,
                note.as_deref(),
                &needs,
                Utc::now(),
            ) {
                Ok((place, places)) => {
                    super::write_places(conn, &places)?;
                    place
                }
                Err(e @ ApiError::Conflict { .. }) => {
                    return Ok(page(
                        StatusCode::CONFLICT,
                        "The session changed",
                        &format!("<p>{} Nothing was changed.</p>", escape(&e.to_string())),
                    ));
                }
                Err(e) => return Err(e),
            };
            let said = match (answer, place) {
                (Rsvp::Accepted, Place::Held) => {
                    "You have a place. A calendar entry is on its way."
                }
                (Rsvp::Accepted, _) => {
                    "The session is full: you are on its waiting list, and will hear from us when \
                     a place frees."
                }
                (Rsvp::Tentative, _) => "Thank you: you said maybe.",
                (Rsvp::Declined, _) => "Thank you for letting us know.",
            };
            Ok(page(
                StatusCode::OK,
                "Your answer is recorded",
                &format!("<p>{said}</p>"),
            ))
        })
        .await?;
    Ok(render(done))
}
