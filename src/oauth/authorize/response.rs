//! The authorization response (RFC 6749 §4.1.2) and its errors (§4.1.2.1), sent to the
//! registered redirect URI in the query (§4.1.2) or as an auto-submitted form (OAuth 2.0 Form
//! Post Response Mode), always with `iss` (RFC 9207 §2).

use url::form_urlencoded;

/// How the response reaches the client (OAuth 2.0 Multiple Response Type Encoding Practices §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query; the default for `code`.
    Query,
    /// Parameters POSTed by the browser to the redirect URI from an HTML form.
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` parameter; `None` for a value not served.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("query") => Some(ResponseMode::Query),
            Some("form_post") => Some(ResponseMode::FormPost),
            Some(_) => None,
        }
    }
}

/// A response for the client: where it goes, how, and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    /// An error response (§4.1.2.1) with `state` when the request had one, and `iss`.
    pub fn error(
        redirect_uri: &str,
        mode: ResponseMode,
        state: Option<&str>,
        issuer: &str,
        error: &'static str,
        description: &str,
    ) -> Self {
        let mut params = vec![
            ("error", error.to_owned()),
            ("error_description", description_chars(description)),
        ];
        if let Some(state) = state {
            params.push(("state", state.to_owned()));
        }
        params.push(("iss", issuer.to_owned()));
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The URL the browser is sent to in query mode: the redirect URI exactly as registered,
    /// its own query kept (§3.1.2), with the parameters added.
    pub fn location(&self) -> String {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter().map(|(n, v)| (*n, v.as_str())))
            .finish();
        let separator = if self.redirect_uri.contains('?') { '&' } else { '?' };
        format!("{}{separator}{encoded}", self.redirect_uri)
    }
}

/// §4.1.2.1: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E; bounded in length.
fn description_chars(text: &str) -> String {
    crate::oauth::error::bounded(text)
        .chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uri_keeps_its_query() {
        // RFC 6749 §3.1.2: the query component MUST be retained when adding parameters.
        let response = AuthorizationResponse {
            redirect_uri: "https://app.example/cb?tenant=a b".into(),
            mode: ResponseMode::Query,
            params: vec![("code", "x/y".into()), ("state", "s&t".into())],
        };
        assert_eq!(
            response.location(),
            "https://app.example/cb?tenant=a b&code=x%2Fy&state=s%26t"
        );
    }

    #[test]
    fn error_descriptions_hold_only_the_allowed_characters() {
        let response = AuthorizationResponse::error(
            "https://app.example/cb",
            ResponseMode::Query,
            None,
            "https://id.example",
            "invalid_request",
            "bad \"quote\" \\ and § and\nnewline",
        );
        assert_eq!(
            response.get("error_description"),
            Some("bad quote  and  andnewline")
        );
        assert_eq!(response.get("iss"), Some("https://id.example"));
    }
}
