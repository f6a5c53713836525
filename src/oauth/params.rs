//! Form parameters: percent-decoded UTF-8, each name at most once (RFC 6749 §3.1, §3.2).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use percent_encoding::percent_decode;

use crate::oauth::OAuthError;

/// The parameters of one request. Names are case-sensitive; empty values count as omitted.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut values = HashMap::new();
        let mut seen = Vec::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = form_decode(parts.next().unwrap_or_default())?;
            let value = form_decode(parts.next().unwrap_or_default())?;
            // §3.1: "Request and response parameters MUST NOT be included more than once."
            if seen.contains(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name:?} is repeated"
                )));
            }
            seen.push(name.clone());
            // §3.1: "Parameters sent without a value MUST be treated as if they were omitted."
            if !value.is_empty()
                && let Entry::Vacant(slot) = values.entry(name)
            {
                slot.insert(value);
            }
        }
        Ok(Self(values))
    }

    /// A parameter's value, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The parameters form-urlencoded again, sorted by name: the same request always encodes the
    /// same, however it arrived.
    pub fn encode(&self) -> String {
        let mut pairs: Vec<(&String, &String)> = self.0.iter().collect();
        pairs.sort();
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name:?}")))
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
pub fn form_decode(raw: &[u8]) -> Result<String, OAuthError> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let text = percent_decode(&spaced)
        .decode_utf8()
        .map_err(|_| OAuthError::invalid_request("parameters must be UTF-8"))?;
    // No identifier, secret or value of ours holds a NUL, and PostgreSQL cannot even compare
    // text with one: refused here, it never reaches a query.
    if text.contains('\0') {
        return Err(OAuthError::invalid_request(
            "parameters must not contain NUL characters",
        ));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let p = Params::parse(b"username=a%2Bb%40example.com&password=p+w%26d").unwrap();
        assert_eq!(p.get("username"), Some("a+b@example.com"));
        assert_eq!(p.get("password"), Some("p w&d"));
    }

    #[test]
    fn encoding_round_trips() {
        let p = Params::parse(b"b=x+y&a=%26%3D&c=%C3%A9").unwrap();
        let again = Params::parse(p.encode().as_bytes()).unwrap();
        assert_eq!(again.get("a"), Some("&="));
        assert_eq!(again.get("b"), Some("x y"));
        assert_eq!(again.get("c"), Some("é"));
        assert_eq!(p.encode(), again.encode());
    }

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let err = Params::parse(b"scope=a&scope=b").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn empty_value_counts_as_omitted() {
        let p = Params::parse(b"scope=&grant_type=password").unwrap();
        assert_eq!(p.get("scope"), None);
        assert!(p.require("scope").is_err());
    }

    #[test]
    fn invalid_utf8_is_invalid_request() {
        assert_eq!(
            Params::parse(b"username=%FF%FE").unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            Params::parse(b"username=\xff").unwrap_err().code(),
            "invalid_request"
        );
    }
}
