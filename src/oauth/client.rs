//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3),
//! and registering clients with server-generated credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use std::sync::Arc;

use crate::app::AppState;
use crate::clock::UnixTime;
use crate::crypto::token::{PlainToken, TokenHash, random_bytes};
use crate::oauth::OAuthError;
use crate::oauth::params::{Params, form_decode};
use crate::oauth::redirect_uri;
use crate::oauth::request::{AUTHORIZATION_CODE, CLIENT_CREDENTIALS, GRANT_TYPES};
use crate::oauth::scope::Scope;
use crate::store::{self, Db, clients::Client};

/// The credentials a request carried, before they are checked.
#[derive(Debug)]
pub enum ClientCredentials {
    /// None at all.
    Absent,
    /// `client_secret_basic`: HTTP Basic with form-urlencoded id and secret (Appendix B).
    Basic { id: String, secret: PlainToken },
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    Post { id: String, secret: PlainToken },
    /// `client_id` alone: a public client identifying itself (§2.1, §3.2.1).
    IdOnly { id: String },
}

impl ClientCredentials {
    /// Reads credentials from the `Authorization` header value and the body parameters.
    /// Using two methods at once is `invalid_request` (§2.3).
    pub fn from_request(authorization: Option<&str>, params: &Params) -> Result<Self, OAuthError> {
        let basic = authorization.map(parse_basic).transpose()?.flatten();
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        match (basic, body_id, body_secret) {
            (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
                "the client authenticated with both HTTP Basic and client_secret; use one method",
            )),
            // A client_id beside Basic is tolerated when it names the same client, as many
            // client libraries send it.
            (Some((id, _)), Some(body_id), None) if body_id != id => Err(OAuthError::invalid_request(
                "client_id does not match the client in the Authorization header",
            )),
            (Some((id, secret)), _, None) => Ok(Self::Basic { id, secret }),
            (None, Some(id), Some(secret)) => Ok(Self::Post {
                id: id.to_owned(),
                secret: PlainToken::presented(secret),
            }),
            (None, None, Some(_)) => Err(OAuthError::invalid_request("client_secret without client_id")),
            (None, Some(id), None) => Ok(Self::IdOnly { id: id.to_owned() }),
            (None, None, None) => Ok(Self::Absent),
        }
    }
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))`; another scheme is not ours to read.
fn parse_basic(header: &str) -> Result<Option<(String, PlainToken)>, OAuthError> {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || OAuthError::InvalidClient("malformed HTTP Basic credentials".into());
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id.as_bytes()).map_err(|_| malformed())?;
    let secret = form_decode(secret.as_bytes()).map_err(|_| malformed())?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, PlainToken::presented(secret))))
}

/// Checks credentials against the registered client. Every failure reads the same to the caller.
pub async fn authenticate(app: &AppState, credentials: ClientCredentials) -> Result<Arc<Client>, OAuthError> {
    let unauthenticated = || OAuthError::InvalidClient("client authentication failed".into());
    let (id, secret) = match credentials {
        ClientCredentials::Absent => {
            return Err(OAuthError::InvalidClient(
                "client authentication is required".into(),
            ));
        }
        ClientCredentials::Basic { id, secret } | ClientCredentials::Post { id, secret } => {
            (id, Some(secret))
        }
        ClientCredentials::IdOnly { id } => (id, None),
    };
    let client = app.client(&id).await?.ok_or_else(unauthenticated)?;
    let authentic = match (&client.secret_hash, secret) {
        // Constant-time comparison of the hashes: no timing oracle on the stored value.
        (Some(stored), Some(secret)) => stored.matches(&secret.hashed()),
        (None, None) => true,
        _ => false,
    };
    if !authentic {
        tracing::info!(client_id = %client.id, "client authentication failed");
        return Err(unauthenticated());
    }
    Ok(client)
}

/// What an operator asks for when registering a client.
#[derive(Debug, Default)]
pub struct ClientSpec {
    pub name: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
}

/// Registers a client with a generated id and, unless public, a generated 256-bit secret that is
/// returned once and stored only as its hash.
pub async fn register(
    db: &Db,
    spec: ClientSpec,
    now: UnixTime,
) -> Result<(Client, Option<PlainToken>), RegisterError> {
    register_with_id(db, &generate_client_id(), spec, now).await
}

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

macro_rules! ensure_valid {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(RegisterError::Invalid(format!($($message)+)));
        }
    };
}

/// As [`register`], with a chosen id (the `--dev` demo client).
pub async fn register_with_id(
    db: &Db,
    id: &str,
    mut spec: ClientSpec,
    now: UnixTime,
) -> Result<(Client, Option<PlainToken>), RegisterError> {
    ensure_valid!(!spec.name.trim().is_empty(), "a client needs a name");
    ensure_valid!(
        spec.name.chars().count() <= 200,
        "a client name has at most 200 characters"
    );
    ensure_valid!(
        uuid::Uuid::parse_str(id).is_err(),
        "a client id must not have the form of a user id (a UUID)"
    );
    if spec.grant_types.is_empty() {
        spec.grant_types = if spec.public {
            vec!["password".into(), "refresh_token".into()]
        } else {
            vec![CLIENT_CREDENTIALS.into()]
        };
    }
    for grant in &spec.grant_types {
        ensure_valid!(
            GRANT_TYPES.contains(&grant.as_str()),
            "unsupported grant type {grant:?}; supported: {}",
            GRANT_TYPES.join(", ")
        );
    }
    ensure_valid!(
        !(spec.public && spec.grant_types.iter().any(|g| g == CLIENT_CREDENTIALS)),
        "client_credentials is only for confidential clients (RFC 6749 §4.4)"
    );
    let scopes =
        Scope::parse(&spec.scopes.join(" ")).map_err(|e| RegisterError::Invalid(e.description().into()))?;
    for uri in spec.redirect_uris.iter().chain(&spec.post_logout_redirect_uris) {
        redirect_uri::check_registrable(uri).map_err(RegisterError::Invalid)?;
    }
    ensure_valid!(
        spec.redirect_uris.len() <= 20 && spec.post_logout_redirect_uris.len() <= 20,
        "a client has at most 20 redirect URIs of each kind"
    );
    ensure_valid!(
        !spec.grant_types.iter().any(|g| g == AUTHORIZATION_CODE) || !spec.redirect_uris.is_empty(),
        "the authorization_code grant needs at least one redirect URI (RFC 6749 §3.1.2.2)"
    );
    let secret = (!spec.public).then(PlainToken::generate);
    let hash = secret.as_ref().map(PlainToken::hashed);
    let scopes: Vec<String> = scopes.iter().map(str::to_owned).collect();
    let created = store::clients::create(
        db,
        store::clients::NewClient {
            id,
            name: spec.name.trim(),
            secret_hash: hash.as_ref(),
            grant_types: &spec.grant_types,
            scopes: &scopes,
            redirect_uris: &spec.redirect_uris,
            post_logout_redirect_uris: &spec.post_logout_redirect_uris,
            first_party: spec.first_party,
        },
        now,
    )
    .await;
    match created {
        Ok(client) => Ok((client, secret)),
        Err(e) if store::is_unique_violation(&e) => Err(RegisterError::Invalid(format!(
            "a client with id {id:?} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a confidential client's secret; the old one stops working at once.
pub async fn rotate_secret(db: &Db, id: &str, now: UnixTime) -> anyhow::Result<Option<PlainToken>> {
    let secret = PlainToken::generate();
    let hash: TokenHash = secret.hashed();
    Ok(store::clients::set_secret_hash(db, id, &hash, now)
        .await?
        .then_some(secret))
}

/// 128 random bits as 26 characters of lowercase base32 (RFC 4648 alphabet): safe in URLs, in
/// Basic credentials and on a command line (never a leading `-`), and never the shape of a UUID,
/// so a client's `sub` can never equal a user's.
fn generate_client_id() -> String {
    base32_lower(&random_bytes::<16>())
}

/// RFC 4648 §6 base32, lowercase, without padding.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut id = String::with_capacity(26);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        // Only the low `bits` bits are pending; older ones are shifted out and masked off.
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            id.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        id.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(body: &str) -> Params {
        Params::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        // Appendix B: id and secret are form-urlencoded before Basic encoding.
        let header = format!("Basic {}", STANDARD.encode("my%20client:p%3Ass+w"));
        match ClientCredentials::from_request(Some(&header), &params("")).unwrap() {
            ClientCredentials::Basic { id, secret } => {
                assert_eq!(id, "my client");
                assert_eq!(secret.expose(), "p:ss w");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = ClientCredentials::from_request(Some(&header), &params("client_id=a&client_secret=b"))
            .unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        let err = ClientCredentials::from_request(Some("Basic !!!"), &params("")).unwrap_err();
        assert_eq!(err.code(), "invalid_client");
    }

    #[test]
    fn base32_matches_rfc4648() {
        // Expected value from Python: base64.b32encode(bytes(range(16))).lower().rstrip("=")
        assert_eq!(
            base32_lower(&(0u8..16).collect::<Vec<_>>()),
            "aaaqeayeaudaocajbifqydiob4"
        );
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn generated_client_ids_are_plain_lowercase_and_never_uuids() {
        for _ in 0..200 {
            let id = generate_client_id();
            assert_eq!(id.len(), 26);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
                "{id}"
            );
            assert!(uuid::Uuid::parse_str(&id).is_err());
        }
    }
}
