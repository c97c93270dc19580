//! Email addresses, parsed once at the edge.

use crate::error::{ApiError, ApiResult};

/// A plausible email address, trimmed and lower-cased. Deliverability is the mail server's
/// business; this only refuses what cannot be an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str, field: &'static str) -> ApiResult<Self> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err(ApiError::invalid(
                "invalid_email",
                field,
                "this is not an email address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            EmailAddress::parse("  Social@Example.ORG ", "email")
                .expect("valid")
                .as_str(),
            "social@example.org"
        );
        for bad in [
            "", "no-at", "a@b", "a@@b.be", "@b.be", "a b@c.be", "a@.be", "a@b.be.",
        ] {
            let err = EmailAddress::parse(bad, "email").expect_err(bad);
            assert_eq!(err.code(), "invalid_email");
        }
    }
}
