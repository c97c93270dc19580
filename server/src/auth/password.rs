//! Password hashing with argon2id at the OWASP floor (19 MiB, 2 iterations, 1 lane).

use std::sync::OnceLock;

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

use crate::error::ApiError;

pub const MIN_LEN: usize = 10;
/// Long enough for any passphrase, short enough that hashing it is no denial of service.
pub const MAX_LEN: usize = 256;

fn hasher() -> Argon2<'static> {
    // Constant, valid parameters: Params::new only fails outside argon2's documented ranges.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy; the error names the `password` field.
pub fn check_policy(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(ApiError::invalid(
            "weak_password",
            "password",
            format!("a password needs at least {MIN_LEN} characters"),
        ));
    }
    if chars > MAX_LEN {
        return Err(ApiError::invalid(
            "invalid_value",
            "password",
            format!("a password may have at most {MAX_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password into a PHC string. CPU-heavy: call from a blocking task.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Verifies a password against a stored PHC string, with the parameters the string records.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, so an unknown email answers no faster than a
/// wrong password.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("reguide-timing-equaliser").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_at_the_owasp_floor() {
        let stored = hash("correct horse battery").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn policy_names_the_field() {
        let err = check_policy("short").expect_err("too short");
        assert_eq!(err.code(), "weak_password");
        assert_eq!(err.body().field.as_deref(), Some("password"));
        assert!(check_policy("long enough pass").is_ok());
        assert!(check_policy(&"x".repeat(MAX_LEN + 1)).is_err());
    }
}
