//! Checks of the text people type, shared by every domain: trimmed, bounded, no control
//! characters, with a `400 invalid_value` naming the field otherwise.

use crate::error::{ApiError, ApiResult};

/// One line of text: trimmed, 1 to `max` characters, no control characters.
pub fn line(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_value",
            field.to_owned(),
            format!("{field} must have 1 to {max} characters on one line"),
        ));
    }
    Ok(value.to_owned())
}

/// One line of text that may be left empty: `""` when blank, else as [`line`].
pub fn optional_line(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        line(raw, field, max)
    }
}

/// Text for HTML: `&`, `<`, `>` and both quotes escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Free text of up to `max` characters (possibly none), line breaks and tabs allowed
/// (`\r\n` becomes `\n`).
pub fn free_text(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    let value = raw.trim().replace("\r\n", "\n");
    if value.chars().count() > max
        || value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            "invalid_value",
            field.to_owned(),
            format!("{field} must have at most {max} characters, without control characters"),
        ));
    }
    Ok(value)
}
