//! Tokens: random secrets shown once, and the formats they are checked against.
//!
//! A plain token is `token_length` characters of URL-safe base64 (`A-Z a-z 0-9 - _`) drawn
//! from the operating system's random source, exactly as ecto_sessions makes them. A store
//! with a [prefix](crate::StoreBuilder::token_prefix) issues API-key tokens instead:
//! `prefix + random + checksum`, where the checksum is the CRC32 of `prefix + random`
//! written as six base62 characters. Secret scanners can recognise such keys, and a
//! mistyped key is refused before any database query.
//!
//! The checksum is no defence against forgery: CRC32 is public and keyless, so anyone can
//! compute a valid checksum for any key they make up. What stops a made-up key is the
//! 132 bits or more of randomness and the digest lookup; the checksum only screens typos
//! (and truncated copies) for free and lets scanners tell a real key from noise.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore as _;

use crate::error::{Error, Result};

/// The shortest token length accepted: 22 characters carry 132 bits.
pub const MIN_TOKEN_LENGTH: usize = 22;
/// The longest plain token accepted at lookup; longer input is refused without a query.
pub const MAX_TOKEN_LENGTH: usize = 1024;
/// The number of base62 characters of an API-key checksum.
pub const CHECKSUM_LENGTH: usize = 6;
/// How many random characters after the prefix are kept for display in `token_hint`.
pub const HINT_RANDOM_CHARS: usize = 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A plaintext token: the credential itself.
///
/// It is returned once, when a session is created, and never stored. Its `Debug` output is
/// redacted and it has no `Display`, so it cannot end up in a log by accident; call
/// [`Token::expose`] where the token must really be shown (a cookie, a one-time page).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token the caller chose (a tower-sessions id), kept as the store keeps its own.
    #[cfg(any(feature = "tower-sessions-014", feature = "tower-sessions-015"))]
    pub(crate) fn given(token: String) -> Token {
        Token(token)
    }

    /// The plaintext token. Show it to its owner once; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The plaintext token as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The shape of the tokens a store issues and accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFormat {
    prefix: Option<String>,
    length: usize,
}

impl TokenFormat {
    /// Plain tokens of `length` random characters.
    pub fn plain(length: usize) -> Result<Self> {
        check_length(length)?;
        Ok(Self {
            prefix: None,
            length,
        })
    }

    /// API-key tokens: `prefix`, `length` random characters, then a 6-character checksum.
    /// The prefix is made of ASCII letters, digits and `_`.
    pub fn prefixed(prefix: &str, length: usize) -> Result<Self> {
        check_length(length)?;
        if prefix.is_empty() || prefix.len() > 64 {
            return Err(Error::config(
                "token_prefix",
                "must be 1 to 64 characters long",
            ));
        }
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::config(
                "token_prefix",
                "may contain only ASCII letters, digits and `_`",
            ));
        }
        Ok(Self {
            prefix: Some(prefix.to_owned()),
            length,
        })
    }

    /// The prefix of API-key tokens, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The number of random characters in a new token.
    pub fn random_length(&self) -> usize {
        self.length
    }

    /// A fresh token from the operating system's random source.
    pub fn generate(&self) -> Result<Token> {
        let random = random_chars(self.length)?;
        Ok(Token(match &self.prefix {
            None => random,
            Some(prefix) => {
                let mut token = String::with_capacity(prefix.len() + random.len() + 6);
                token.push_str(prefix);
                token.push_str(&random);
                let sum = checksum(token.as_bytes());
                token.push_str(&sum);
                token
            }
        }))
    }

    /// Whether `token` could have been issued in this format. Cheap and query-free: a
    /// token that fails this check is never looked up.
    pub fn accepts(&self, token: &str) -> bool {
        match &self.prefix {
            None => !token.is_empty() && token.len() <= MAX_TOKEN_LENGTH && is_alphabet(token),
            Some(prefix) => {
                token.len() == prefix.len() + self.length + CHECKSUM_LENGTH
                    && has_valid_checksum(token, prefix)
            }
        }
    }

    /// The part of a token that may be stored for display: the prefix plus the first four
    /// random characters (`myapp_sk_ab12`). `None` for plain tokens.
    pub fn hint(&self, token: &Token) -> Option<String> {
        let prefix = self.prefix.as_ref()?;
        token
            .expose()
            .get(..prefix.len() + HINT_RANDOM_CHARS)
            .map(str::to_owned)
    }
}

/// Whether `candidate` has the shape of an API key with this `prefix`: the prefix, at least
/// [`MIN_TOKEN_LENGTH`] URL-safe base64 characters, and a valid CRC32/base62 checksum.
///
/// Meant for secret scanners and support tooling; it never touches a database.
///
/// ```
/// use sqlx_sessions::{looks_like_api_key, TokenFormat};
/// let format = TokenFormat::prefixed("myapp_sk_", 32).unwrap();
/// let key = format.generate().unwrap();
/// assert!(looks_like_api_key(key.expose(), "myapp_sk_"));
/// assert!(!looks_like_api_key("myapp_sk_not-a-real-key-at-all-000000", "myapp_sk_"));
/// ```
pub fn looks_like_api_key(candidate: &str, prefix: &str) -> bool {
    candidate.len() >= prefix.len() + MIN_TOKEN_LENGTH + CHECKSUM_LENGTH
        && has_valid_checksum(candidate, prefix)
}

/// The 6-character base62 CRC32 checksum of `input`.
pub fn checksum(input: &[u8]) -> String {
    let mut n = crc32fast::hash(input);
    let mut out = [b'0'; CHECKSUM_LENGTH];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

fn has_valid_checksum(token: &str, prefix: &str) -> bool {
    let Some(rest) = token.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() <= CHECKSUM_LENGTH || !rest.is_ascii() {
        return false;
    }
    let (random, sum) = rest.split_at(rest.len() - CHECKSUM_LENGTH);
    is_alphabet(random)
        && sum.bytes().all(|b| b.is_ascii_alphanumeric())
        && checksum(&token.as_bytes()[..token.len() - CHECKSUM_LENGTH]) == sum
}

fn is_alphabet(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_length(length: usize) -> Result<()> {
    if length < MIN_TOKEN_LENGTH {
        return Err(Error::config(
            "token_length",
            format!("must be at least {MIN_TOKEN_LENGTH} characters (132 bits), got {length}"),
        ));
    }
    if length > MAX_TOKEN_LENGTH {
        return Err(Error::config(
            "token_length",
            format!("must be at most {MAX_TOKEN_LENGTH} characters, got {length}"),
        ));
    }
    Ok(())
}

/// `length` characters of URL-safe base64 from the operating system's random source.
fn random_chars(length: usize) -> Result<String> {
    let mut bytes = vec![0u8; (length * 6).div_ceil(8)];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Random(e.to_string()))?;
    let mut text = URL_SAFE_NO_PAD.encode(&bytes);
    text.truncate(length);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tokens_have_the_length_and_alphabet() {
        let format = TokenFormat::plain(64).unwrap();
        let token = format.generate().unwrap();
        assert_eq!(token.expose().len(), 64);
        assert!(is_alphabet(token.expose()));
        assert!(format.accepts(token.expose()));
    }

    #[test]
    fn short_lengths_are_refused() {
        assert!(TokenFormat::plain(21).is_err());
        assert!(TokenFormat::plain(22).is_ok());
    }

    #[test]
    fn debug_is_redacted() {
        let token = TokenFormat::plain(22).unwrap().generate().unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains(token.expose()));
    }

    #[test]
    fn checksum_is_six_base62_chars() {
        assert_eq!(checksum(b""), "000000");
        // CRC32("123456789") = 0xCBF43926 = 3421780262
        let expected = {
            let mut n: u64 = 3_421_780_262;
            let mut s = Vec::new();
            for _ in 0..6 {
                s.push(BASE62[(n % 62) as usize]);
                n /= 62;
            }
            s.reverse();
            String::from_utf8(s).unwrap()
        };
        assert_eq!(checksum(b"123456789"), expected);
        assert_eq!(checksum(b"123456789"), "3jZRME");
    }
}
