//! CORS (Fetch standard) for browser apps: the token, revocation and UserInfo endpoints answer
//! the origins of registered redirect URIs and `KEYWARD_CORS_ORIGINS`; discovery and the JWKS
//! answer any origin. Never with credentials: these endpoints take no cookies.

use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::app::AppState;

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// For the endpoints a browser app calls with its tokens.
pub fn for_clients(state: &AppState) -> CorsLayer {
    let app = state.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(move |origin: HeaderValue, _| {
            let app = app.clone();
            async move { allowed(&app, &origin).await }
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// For public documents: discovery and the JWKS.
pub fn public() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// Whether `origin` is configured, or the origin of a registered redirect URI.
async fn allowed(app: &AppState, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if app
        .config
        .cors_origin_list()
        .is_ok_and(|list| list.iter().any(|o| o == origin))
    {
        return true;
    }
    let now = app.clock.now();
    let origins = app
        .redirect_origins
        .get_or_load("all", now, async {
            let uris = crate::store::clients::all_redirect_uris(&app.db).await?;
            Ok::<_, sqlx::Error>(Some(redirect_origins(&uris)))
        })
        .await;
    match origins {
        Ok(Some(origins)) => origins.iter().any(|o| o == origin),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "reading the redirect URIs for CORS failed");
            false
        }
    }
}

/// The web origins (`scheme://host[:port]`) of redirect URIs; native apps' schemes have none.
fn redirect_origins(uris: &[String]) -> Vec<String> {
    let mut origins: Vec<String> = uris
        .iter()
        .filter_map(|uri| url::Url::parse(uri).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(|url| url.origin().ascii_serialization())
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_web_redirect_uris_only() {
        let uris = [
            "https://app.example.com/callback".to_owned(),
            "https://app.example.com/other".to_owned(),
            "http://127.0.0.1:8081/cb".to_owned(),
            "com.example.app:/cb".to_owned(),
        ];
        assert_eq!(
            redirect_origins(&uris),
            ["http://127.0.0.1:8081", "https://app.example.com"]
        );
    }
}
