//! RS256 JWTs: signed with the cached aws-lc-rs key pair, verified with jsonwebtoken.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::keys::{KeySet, SigningKey};
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
    #[error("algorithm is not RS256")]
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

/// Signs `claims` as a compact JWS with RS256 and the key's kid.
pub fn sign(key: &SigningKey, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
    let header = serde_json::to_vec(&Header {
        alg: "RS256",
        typ,
        kid: key.kid(),
    })?;
    let claims = serde_json::to_vec(claims)?;
    let mut jws = b64url(&header);
    jws.push('.');
    jws.push_str(&b64url(&claims));
    let mut signature = vec![0; key.pair().public_modulus_len()];
    key.pair()
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            jws.as_bytes(),
            &mut signature,
        )
        .map_err(|_| anyhow::anyhow!("RS256 signing failed"))?;
    jws.push('.');
    jws.push_str(&b64url(&signature));
    Ok(jws)
}

/// Verifies signature, algorithm, `typ` and `iss`. Expiry is checked by the caller against the
/// application clock, so tests can move time.
pub fn verify<C: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<C, JwtError> {
    // `alg: none`, HS256 (even keyed with our public key) and every other algorithm stop here:
    // only RS256 is ever accepted.
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(JwtError::Algorithm);
    }
    if !header.typ.as_deref().is_some_and(|t| typ_matches(t, typ)) {
        return Err(JwtError::Type);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(JwtError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["iss", "exp", "sub"]);
    jsonwebtoken::decode::<C>(token, key.decoding(), &validation)
        .map(|data| data.claims)
        .map_err(|_| JwtError::Invalid)
}

/// As [`verify`], through `cache`: a token whose signature verified before is only parsed. One
/// cache serves one `typ` and issuer, since a hit skips their checks too.
pub fn verify_cached<C: DeserializeOwned>(
    keys: &KeySet,
    cache: &VerifiedTokens,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<C, JwtError> {
    if let Some(payload) = cache.get(token) {
        return serde_json::from_slice(&payload).map_err(|_| JwtError::Invalid);
    }
    let claims = verify(keys, token, typ, issuer)?;
    if let Some(payload) = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
    {
        cache.insert(token, payload.into());
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
