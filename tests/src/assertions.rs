//! Assertions on responses that say what was asked and what came back when they fail.

use reguide_protocol::ErrorBody;
use reqwest::Response;
use serde::de::DeserializeOwned;

/// Asserts the status and parses the JSON body as `T`.
pub async fn expect_json<T: DeserializeOwned>(resp: Response, status: u16) -> T {
    let what = describe(&resp);
    let body = expect_status(resp, status).await;
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{what}: body does not parse as the expected type: {e}\n{body}"))
}

/// Asserts the status and returns the body as text.
pub async fn expect_status(resp: Response, status: u16) -> String {
    let what = describe(&resp);
    let actual = resp.status().as_u16();
    let body = resp
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: read body: {e}"));
    assert_eq!(
        actual, status,
        "{what}: expected {status}, got {actual}: {body}"
    );
    body
}

/// Asserts an error answer: the status, the JSON body `{"error": code, "message": ...}` with a
/// non-empty message. Returns the body for further checks (such as `field`).
pub async fn assert_error(resp: Response, status: u16, code: &str) -> ErrorBody {
    let what = describe(&resp);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = expect_status(resp, status).await;
    assert!(
        content_type.starts_with("application/json"),
        "{what}: error answered with content type {content_type:?}, not JSON: {body}"
    );
    let error: ErrorBody = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{what}: not an error body: {e}\n{body}"));
    assert_eq!(error.error, code, "{what}: wrong error code in {body}");
    assert!(
        !error.message.trim().is_empty(),
        "{what}: error without a message: {body}"
    );
    error
}

/// The request a response answers, for failure messages (reqwest does not keep the method).
fn describe(resp: &Response) -> String {
    let url = resp.url();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}
