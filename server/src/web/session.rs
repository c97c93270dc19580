//! Web admin sessions: a token in a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict), ended
//! by signing out, after `auth.web_idle_minutes` without use, `auth.web_absolute_hours` after
//! signing in, and at once when presented by an account without a staff role. Every form
//! carries a CSRF token derived from the session's secret, and a POST from another site is
//! refused before its token is even looked at.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::Duration;
use reguide_protocol::{Language, Role};
use sha2::{Digest, Sha256};

use crate::auth::principal::{Channel, Principal, load_for, revoke_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{InLanguage, WebError};

/// The session cookie. `__Host-` makes the browser refuse it unless it is Secure, has no Domain
/// and has `Path=/`: no other host or path can plant or read it.
pub const SESSION_COOKIE: &str = "__Host-reguide-session";
/// Before signing in there is no session to bind a CSRF token to: the sign-in form's token is a
/// random value in this cookie, which a page of another site can neither read nor set.
pub const SIGN_IN_COOKIE: &str = "__Host-reguide-sign-in";
/// The language chosen with the switch, for pages before and after signing in.
pub const LANGUAGE_COOKIE: &str = "__Host-reguide-language";

/// Roles that use the web admin. Family members use the app.
pub const STAFF_ROLES: [Role; 4] = [
    Role::Admin,
    Role::Coordinator,
    Role::SocialWorker,
    Role::Facilitator,
];

/// A signed-in member of staff, with the language their pages are in.
#[derive(Debug)]
pub struct WebUser {
    pub principal: Principal,
    pub name: String,
    pub language: Language,
    token: String,
}

impl WebUser {
    /// The token every form of this session carries.
    pub fn csrf(&self) -> String {
        csrf_token(&self.token)
    }

    /// Refuses a state-changing request that came from another site or without this
    /// session's token.
    pub fn check_csrf(&self, req: &HttpRequest, given: &str) -> Result<(), WebError> {
        same_site_request(req, self.language)?;
        if constant_time_eq(given.as_bytes(), self.csrf().as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Csrf {
                language: self.language,
            })
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.principal.has_role(role)
    }
}

/// The CSRF token of a session: derived from its secret, so a new session has a new one and
/// nothing extra is stored.
pub fn csrf_token(secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"reguide web admin csrf\0");
    hash.update(secret.as_bytes());
    hex::encode(hash.finalize())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Browsers say where a request comes from: `Sec-Fetch-Site` (all current ones) and `Origin`
/// (on every POST). Either naming another site is enough to refuse.
pub fn same_site_request(req: &HttpRequest, language: Language) -> Result<(), WebError> {
    if let Some(site) = req.headers().get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(WebError::Csrf { language });
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req.connection_info().host().to_owned();
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if origin_host != host {
            return Err(WebError::Csrf { language });
        }
    }
    Ok(())
}

/// The session cookie for a new session's token.
pub fn session_cookie(token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

/// The sign-in form's token cookie, valid for an hour.
pub fn sign_in_cookie(value: &str) -> Cookie<'static> {
    Cookie::build(SIGN_IN_COOKIE, value.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::hours(1))
        .finish()
}

pub fn language_cookie(language: Language) -> Cookie<'static> {
    Cookie::build(LANGUAGE_COOKIE, language.code())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(365))
        .finish()
}

/// The language of a request before anyone is known: the switch's cookie, else the browser's
/// first offered language the admin has, else Dutch.
pub fn request_language(req: &HttpRequest) -> Language {
    if let Some(language) = req
        .cookie(LANGUAGE_COOKIE)
        .and_then(|c| Language::from_code(c.value()))
    {
        return language;
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|part| part.split(';').next())
                .filter_map(|tag| Language::from_code(&tag.trim().get(..2)?.to_ascii_lowercase()))
                .next()
        })
        .unwrap_or(Language::Nl)
}

impl FromRequest for WebUser {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty() && t.len() <= 128);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let chosen = req
            .cookie(LANGUAGE_COOKIE)
            .and_then(|c| Language::from_code(c.value()));
        // After signing in, back to the page asked for; a form sent when the session had
        // ended cannot be sent again by a redirect, so that leads to the start page.
        let next = if req.method() == actix_web::http::Method::GET {
            req.uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()
        } else {
            "/admin".to_owned()
        };
        let fallback = request_language(req);
        Box::pin(async move {
            let Some(token) = token else {
                return Err(WebError::SignIn { next });
            };
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no state")))
                .lang(fallback)?;
            let idle = Duration::minutes(state.config.auth.web_idle_minutes);
            let secret = token.clone();
            let found = state
                .db(move |conn| {
                    let Some(principal) = load_for(conn, &secret, Channel::Web { idle })? else {
                        return Ok(None);
                    };
                    let staff = STAFF_ROLES.iter().any(|r| principal.has_role(*r));
                    if !staff {
                        // Opened while the account held a staff role, taken back since: the
                        // session ends here rather than when it idles out.
                        revoke_token(conn, &principal.token_id)?;
                    }
                    let (name, language) =
                        crate::accounts::name_and_language(conn, principal.account_id)?;
                    Ok(Some((principal, name, language, staff)))
                })
                .await
                .lang(fallback)?;
            let Some((principal, name, language, staff)) = found else {
                return Err(WebError::SignIn { next });
            };
            tracing::Span::current()
                .record("account_id", tracing::field::display(&principal.account_id));
            let language = chosen
                .or_else(|| Language::from_code(&language))
                .unwrap_or(Language::Nl);
            if !staff {
                return Err(WebError::NotStaff { language });
            }
            Ok(WebUser {
                principal,
                name,
                language,
                token,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_per_session_and_compared_whole() {
        let a = csrf_token("rgd_a");
        assert_eq!(a, csrf_token("rgd_a"));
        assert_ne!(a, csrf_token("rgd_b"));
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[..10]));
        assert!(!constant_time_eq(b"", a.as_bytes()));
    }

    #[test]
    fn cookies_are_host_only_secure_and_strict() {
        let cookie = session_cookie("rgd_x").to_string();
        for part in ["__Host-", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(!cookie.contains("Domain"));
        let gone = removal(SESSION_COOKIE).to_string();
        assert!(gone.contains("Max-Age=0"), "{gone}");
    }
}
