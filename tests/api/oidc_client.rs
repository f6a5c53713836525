//! Standard clients end to end over a real port: the `openidconnect` crate as a relying party,
//! and a resource server that verifies access tokens with the JWKS alone.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse,
};

use crate::helpers::TestApp;

#[tokio::test]
async fn openidconnect_crate_discovers_signs_in_verifies_refreshes_and_reads_userinfo() {
    let (app, issuer) = TestApp::serve().await;
    let client = app.full_client().await;
    let user_id = app.user("ada@example.com", "correct horse battery").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Discovery: the crate checks that `issuer` equals the URL it asked (OIDC Discovery §4.3)
    // and fetches the JWKS.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
        .await
        .unwrap();
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret.clone().unwrap())),
    );

    let username = ResourceOwnerUsername::new("ada@example.com".into());
    let password = ResourceOwnerPassword::new("correct horse battery".into());
    let tokens = oidc
        .exchange_password(&username, &password)
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("email".into()))
        .request_async(&http)
        .await
        .unwrap();

    // The ID token verifies against the published JWKS: signature, iss, aud, exp.
    let id_token = tokens.id_token().expect("an ID token for scope openid");
    let verifier = oidc.id_token_verifier();
    let claims = id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    // at_hash binds the access token to the ID token (OIDC Core §3.1.3.6).
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    let refreshed = oidc
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
    let refreshed_id = refreshed
        .id_token()
        .unwrap()
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(refreshed_id.subject().as_str(), user_id);

    let userinfo: CoreUserInfoClaims = oidc
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), user_id);
    assert_eq!(userinfo.email().unwrap().as_str(), "ada@example.com");
}

#[tokio::test]
async fn a_resource_server_verifies_access_tokens_with_the_jwks_alone() {
    let (app, issuer) = TestApp::serve().await;
    let client = app.client(&["client_credentials"], "api:read").await;
    let token = app.client_credentials(&client).await.str("access_token");

    // What a resource server does: fetch the JWKS once, pick the key by kid, verify RS256, iss, aud.
    let jwks: JwkSet = reqwest::get(format!("{issuer}/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[&issuer]);
    let data =
        jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap();
    assert_eq!(data.claims["client_id"], client.id);
    assert_eq!(data.claims["scope"], "api:read");
}
