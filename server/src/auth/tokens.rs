//! Opaque bearer tokens and one-time codes: random, shown once, stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "rgd_";

/// A new bearer token: 256 random bits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a token or a code.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new Automerge actor id for a device: 16 random bytes, hex.
pub fn new_actor_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Letters and digits that cannot be confused when read aloud or copied from paper
/// (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 12;

/// A one-time enrolment code, `XXXX-XXXX-XXXX` (about 59 bits; expiring and throttled).
pub fn new_enrolment_code() -> String {
    let mut rng = OsRng;
    let chars: Vec<char> = (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a code as typed by a person: case, spaces and dashes do not matter.
/// `None` when it cannot be a code at all.
pub fn normalise_enrolment_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// A login name for people without an email address: `fam-` and six readable characters.
pub fn new_username() -> String {
    let mut rng = OsRng;
    let tail: String = (0..6)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    format!("fam-{}", tail.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_digest_stably() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(new_actor_id().len(), 32);
    }

    #[test]
    fn enrolment_codes_survive_how_people_type_them() {
        let code = new_enrolment_code();
        assert_eq!(code.len(), 14);
        let canonical = normalise_enrolment_code(&code).expect("valid");
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalise_enrolment_code(&typed), Some(canonical));
        assert_eq!(
            normalise_enrolment_code("ABCD-EFGH-JKL0"),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(normalise_enrolment_code("short"), None);
    }
}
