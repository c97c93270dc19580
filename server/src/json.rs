//! The JSON body extractor of the API. Unlike `actix_web::web::Json` it answers every bad body
//! with our error shape and names the field at fault (`roles[0].role`), using the path serde
//! was at when it failed.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

/// Bodies of the JSON API are small; the sync endpoint sets its own limit.
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let limit = DEFAULT_LIMIT;
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared.is_some_and(|len| len > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ApiError::bad_request("incomplete_body", "the request body could not be read")
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(Json)
        })
    }
}

/// A JSON body that may be left out: a request with no body (no content type, no length or
/// length 0) gets `T::default()`; any body sent is parsed like [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        if !chunked && !typed && length.unwrap_or(0) == 0 {
            return Box::pin(async { Ok(OptionalJson(T::default())) });
        }
        let body = Json::<T>::from_request(req, payload);
        Box::pin(async move { body.await.map(|json| OptionalJson(json.0)) })
    }
}

/// Parses a body, turning serde's failure into an error that names the field.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde reads a JSON array into a struct field by field; every request body of the API is
    // an object, so anything else is refused before it can be misread.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(ApiError::bad_request(
                "malformed_json",
                "the request body is empty",
            ));
        }
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            return Err(ApiError::bad_request(
                "malformed_json",
                "the request body is not valid JSON",
            ));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_value",
                "body",
                "the request body must be a JSON object",
            ));
        }
    }
    if let Some(field) = nul_character(body) {
        return Err(ApiError::invalid(
            "invalid_value",
            field,
            "text may not hold the NUL character (\\u0000)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
    de.end().map_err(|_| {
        ApiError::bad_request("malformed_json", "the body has data after the JSON value")
    })?;
    Ok(value)
}

/// Where a string of the body holds U+0000, which no one types and PostgreSQL cannot store:
/// the path of the field (`inner[0].role`; the object for a key), or `body`. Found by looking for the `\u0000`
/// escape (JSON strings cannot hold the raw byte), so bodies without it are not read twice.
fn nul_character(body: &[u8]) -> Option<String> {
    let mut rest = body;
    let mut escaped_nul = false;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        if rest[at + 1..].starts_with(b"u0000") {
            escaped_nul = true;
            break;
        }
        // Skips the escaped character too, so `\\u0000` (a backslash, then text) is not taken.
        rest = rest.get(at + 2..)?;
    }
    if !escaped_nul {
        return None;
    }
    fn find(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) => s.contains('\0').then(|| path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| find(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
                if key.contains('\0') {
                    Some(path.to_owned())
                } else {
                    find(item, &join(key))
                }
            }),
            _ => None,
        }
    }
    // A body that is not JSON is left to the parser to describe.
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    find(&value, "").map(|path| if path.is_empty() { "body".into() } else { path })
}

fn describe(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if !matches!(inner.classify(), Category::Data) {
        return ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {inner}"),
        );
    }
    let message = inner.to_string();
    let quoted = message
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_default();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    // serde's message ends with " at line L column C", which means nothing to the reader of
    // an API error; the field says where.
    let human = message
        .rsplit_once(" at line ")
        .map(|(m, _)| m.to_owned())
        .unwrap_or(message.clone());
    if message.starts_with("unknown field") {
        // serde_path_to_error already records the unknown key as the last path segment.
        let field = if path.ends_with(&quoted) {
            path
        } else {
            join(&quoted)
        };
        ApiError::invalid("unknown_field", field, human)
    } else if message.starts_with("missing field") {
        ApiError::invalid("missing_field", join(&quoted), human)
    } else {
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::invalid("invalid_value", field, human)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        role: reguide_protocol::Role,
    }

    fn err(body: &str) -> (String, Option<String>) {
        let e = parse::<Outer>(body.as_bytes()).expect_err(body);
        (e.code().to_owned(), e.body().field)
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(err("{"), ("malformed_json".into(), None));
        assert_eq!(err(""), ("malformed_json".into(), None));
        assert_eq!(err("not json"), ("malformed_json".into(), None));
        assert_eq!(
            err(r#"["a", []]"#),
            ("invalid_value".into(), Some("body".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[]} x"#),
            ("malformed_json".into(), None)
        );
        assert_eq!(
            err(r#"{"inner":[]}"#),
            ("missing_field".into(), Some("name".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[],"nmae":1}"#),
            ("unknown_field".into(), Some("nmae".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[{"role":"king"}]}"#),
            ("invalid_value".into(), Some("inner[0].role".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[{"role":"admin","x":1}]}"#),
            ("unknown_field".into(), Some("inner[0].x".into()))
        );
        assert_eq!(
            err(r#"{"name":5,"inner":[]}"#),
            ("invalid_value".into(), Some("name".into()))
        );
        assert!(parse::<Outer>(br#"{"name":"a","inner":[{"role":"admin"}]}"#).is_ok());
    }

    #[test]
    fn nul_characters_are_refused_by_field() {
        assert_eq!(
            err(r#"{"name":"a\u0000b","inner":[]}"#),
            ("invalid_value".into(), Some("name".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[{"role":"\u0000"}]}"#),
            ("invalid_value".into(), Some("inner[0].role".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":[],"x\u0000":1}"#),
            ("invalid_value".into(), Some("body".into()))
        );
        // An escaped backslash followed by the letters is text, not a NUL character.
        let parsed = parse::<Outer>(br#"{"name":"a\\u0000","inner":[]}"#).expect("no NUL");
        assert_eq!(parsed.name, "a\\u0000");
    }
}
