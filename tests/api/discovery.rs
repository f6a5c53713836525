//! OIDC Discovery 1.0 §3/§4 and RFC 8414 §2/§3 metadata; the JWKS (RFC 7517).

use crate::helpers::TestApp;

#[tokio::test]
async fn both_metadata_documents_name_the_issuer_exactly_and_every_endpoint() {
    let app = TestApp::spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status, 200);
        assert!(response.header("cache-control").unwrap().contains("max-age"));
        let doc = response.json();
        // RFC 8414 §3.3 / OIDC Discovery §4.3: issuer identical to the configured issuer.
        assert_eq!(doc["issuer"], "https://id.test");
        assert_eq!(doc["token_endpoint"], "https://id.test/oauth/token");
        assert_eq!(doc["revocation_endpoint"], "https://id.test/oauth/revoke");
        assert_eq!(doc["introspection_endpoint"], "https://id.test/oauth/introspect");
        assert_eq!(doc["userinfo_endpoint"], "https://id.test/userinfo");
        assert_eq!(doc["jwks_uri"], "https://id.test/.well-known/jwks.json");
        assert!(doc["authorization_endpoint"].is_string());
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "password",
                "client_credentials",
                "refresh_token"
            ])
        );
        assert_eq!(doc["authorization_endpoint"], "https://id.test/oauth/authorize");
        assert_eq!(doc["end_session_endpoint"], "https://id.test/oauth/logout");
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "form_post"])
        );
        // RFC 8414 §2 / RFC 7636 §6.2: S256 only, so clients never fall back to plain.
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        // RFC 9207 §3: every authorization response carries `iss`.
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["prompt_values_supported"],
            serde_json::json!(["none", "login", "consent", "select_account"])
        );
        let claims = doc["claims_supported"].as_array().unwrap();
        for claim in ["nonce", "auth_time", "amr", "sid", "at_hash"] {
            assert!(claims.contains(&claim.into()), "{claim}");
        }
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&"offline_access".into())
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        let methods = doc["token_endpoint_auth_methods_supported"].as_array().unwrap();
        assert!(
            methods.contains(&"client_secret_basic".into()) && methods.contains(&"client_secret_post".into())
        );
        assert_eq!(
            doc["introspection_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
        assert!(doc["revocation_endpoint_auth_methods_supported"].is_array());
        for field in [
            "response_types_supported",
            "subject_types_supported",
            "scopes_supported",
            "claims_supported",
        ] {
            assert!(doc[field].as_array().is_some_and(|a| !a.is_empty()), "{field}");
        }
    }
}

#[tokio::test]
async fn jwks_publishes_public_members_only_with_kid_use_and_alg() {
    let app = TestApp::spawn().await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status, 200);
    assert!(response.header("cache-control").unwrap().starts_with("public"));
    let jwks = response.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], app.signing_key().kid());
    let members: Vec<&String> = key.as_object().unwrap().keys().collect();
    for member in members {
        assert!(
            ["kty", "use", "alg", "kid", "n", "e"].contains(&member.as_str()),
            "unexpected member {member}"
        );
    }
}

#[tokio::test]
async fn kid_is_the_rfc7638_thumbprint() {
    let app = TestApp::spawn().await;
    let jwks = app.get("/.well-known/jwks.json", None).await.json();
    let key = &jwks["keys"][0];
    // RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        key["e"].as_str().unwrap(),
        key["n"].as_str().unwrap()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(key["kid"], keyward::crypto::token::b64url(digest.as_ref()));
}

#[tokio::test]
async fn unknown_paths_answer_json_404() {
    let app = TestApp::spawn().await;
    let response = app.get("/nope", None).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"], "not_found");
}
