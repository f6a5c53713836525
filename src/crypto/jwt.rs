//! JWTs: signed with the cached aws-lc-rs key pair (RS256, ES256 or EdDSA), verified with
//! jsonwebtoken against the key their `kid` names, in that key's algorithm only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Validation;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::UnixTime;
use crate::crypto::keys::SigningKey;
use crate::crypto::keyset::KeySet;
use crate::crypto::token::b64url;
use crate::crypto::verified::VerifiedTokens;

/// `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

/// Why a JWT was not accepted; callers answer all of these the same way to the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("algorithm is not the one its key signs with")]
    Algorithm,
    #[error("signed by an unknown key")]
    UnknownKey,
    #[error("signature or claims are invalid")]
    Invalid,
    #[error("wrong token type")]
    Type,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `claims` as a compact JWS with the key's algorithm and kid.
pub fn sign(key: &SigningKey, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
    let header = serde_json::to_vec(&Header {
        alg: key.alg().as_str(),
        typ,
        kid: key.kid(),
    })?;
    let claims = serde_json::to_vec(claims)?;
    let mut jws = b64url(&header);
    jws.push('.');
    jws.push_str(&b64url(&claims));
    let signature = key.sign(jws.as_bytes())?;
    jws.push('.');
    jws.push_str(&b64url(&signature));
    Ok(jws)
}

/// Verifies signature, algorithm, `typ` and `iss`, with a key published at `now`. Expiry is
/// checked by the caller against the application clock, so tests can move time.
pub fn verify<C: DeserializeOwned>(
    keys: &KeySet,
    now: UnixTime,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<C, JwtError> {
    verify_with_kid(keys, now, token, typ, issuer).map(|(claims, _)| claims)
}

/// As [`verify`], with the kid of the key that verified it.
fn verify_with_kid<C: DeserializeOwned>(
    keys: &KeySet,
    now: UnixTime,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<(C, String), JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if !header.typ.as_deref().is_some_and(|t| typ_matches(t, typ)) {
        return Err(JwtError::Type);
    }
    let kid = header.kid.ok_or(JwtError::UnknownKey)?;
    let key = keys.published(&kid, now).ok_or(JwtError::UnknownKey)?;
    // `alg: none`, HS256 (even keyed with our public key) and every algorithm but the one the
    // named key signs with stop here: a key is never used with another algorithm.
    if header.alg != key.alg.jsonwebtoken() {
        return Err(JwtError::Algorithm);
    }
    let mut validation = Validation::new(key.alg.jsonwebtoken());
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["iss", "exp", "sub"]);
    let claims = jsonwebtoken::decode::<C>(token, &key.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|_| JwtError::Invalid)?;
    Ok((claims, kid))
}

/// As [`verify`], through `cache`: a token whose signature verified before is only parsed, as
/// long as its key is still published. One cache serves one `typ` and issuer, since a hit skips
/// their checks too.
pub fn verify_cached<C: DeserializeOwned>(
    keys: &KeySet,
    now: UnixTime,
    cache: &VerifiedTokens,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<C, JwtError> {
    if let Some((kid, payload)) = cache.get(token) {
        // A key retired by hand takes its tokens with it, cached or not.
        if keys.published(&kid, now).is_none() {
            return Err(JwtError::UnknownKey);
        }
        return serde_json::from_slice(&payload).map_err(|_| JwtError::Invalid);
    }
    let (claims, kid) = verify_with_kid(keys, now, token, typ, issuer)?;
    if let Some(payload) = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
    {
        cache.insert(token, kid.into(), payload.into());
    }
    Ok(claims)
}

/// RFC 9068 §4: `at+jwt`, also written `application/at+jwt`, compared case-insensitively.
fn typ_matches(found: &str, expected: &str) -> bool {
    let found = found.strip_prefix("application/").unwrap_or(found);
    found.eq_ignore_ascii_case(expected)
}

/// Left half of SHA-256 of the access token, base64url: `at_hash` (OIDC Core §3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    b64url(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_accepts_the_media_type_form() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256_base64url() {
        // OIDC Core §3.1.3.6; expected value computed independently with Python's hashlib:
        // urlsafe_b64encode(sha256(token).digest()[:16]).rstrip("=")
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNEY"), "Czmsaz2LvSwSdZhaxEYMyA");
    }
}
