//! Redirect URIs: which may be registered (RFC 6749 §3.1.2; RFC 8252 §7 for native apps; RFC
//! 9700 §2.1) and when a requested one matches a registered one: exactly, by simple string
//! comparison (RFC 9700 §4.1.3), except that a loopback IP redirect URI matches on any port
//! (RFC 8252 §7.3).

use std::net::IpAddr;

use url::{Host, Url};

/// The longest redirect URI accepted.
const MAX_LEN: usize = 2000;

/// Why `uri` may not be registered, if it may not.
pub fn check_registrable(uri: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("redirect URI {uri:?} {why}"));
    if uri.len() > MAX_LEN || uri.contains(char::is_whitespace) {
        return refuse("is too long or contains a space");
    }
    let Ok(url) = Url::parse(uri) else {
        return refuse("must be an absolute URI (RFC 6749 §3.1.2)");
    };
    if url.fragment().is_some() || uri.contains('#') {
        return refuse("must not contain a fragment (RFC 6749 §3.1.2)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not contain credentials");
    }
    match url.scheme() {
        "https" => Ok(()),
        // RFC 9700 §2.1 and RFC 8252 §8.3: plain http only where it never leaves the machine.
        "http" if is_local(&url) => Ok(()),
        "http" => refuse("may use http only for localhost or a loopback IP; use https"),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            refuse("uses a scheme that cannot be a redirect target")
        }
        // RFC 8252 §7.1: a native app's private-use scheme, named after a domain it owns.
        scheme if scheme.contains('.') => Ok(()),
        _ => {
            refuse("must use https, http on loopback, or a reverse-domain private-use scheme (RFC 8252 §7.1)")
        }
    }
}

/// Whether the `requested` redirect URI is one of `registered`.
pub fn is_registered(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|r| matches(r, requested))
}

/// Whether `requested` matches `registered`: the same string, or the same loopback IP URI on
/// another port.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(requested)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    loopback_ip(&registered).is_some()
        && loopback_ip(&registered) == loopback_ip(&requested)
        && registered.scheme() == "http"
        && requested.scheme() == "http"
        && registered.path() == requested.path()
        && registered.query() == requested.query()
        && requested.fragment().is_none()
        && requested.username().is_empty()
        && requested.password().is_none()
}

/// The loopback IP literal a URL names (`127.0.0.1`, `[::1]`): not `localhost`, which DNS or a
/// hosts file could send elsewhere (RFC 8252 §8.3).
fn loopback_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) if ip.is_loopback() => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) if ip.is_loopback() => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

fn is_local(url: &Url) -> bool {
    loopback_ip(url).is_some() || url.host_str() == Some("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly() {
        // RFC 9700 §4.1.3: simple string comparison; no prefix, no case folding, no normalising.
        let registered = "https://app.example.com/callback";
        assert!(matches(registered, "https://app.example.com/callback"));
        for other in [
            "https://app.example.com/callback/",
            "https://app.example.com/callback?x=1",
            "https://app.example.com/callbackx",
            "https://APP.example.com/callback",
            "https://app.example.com:443/callback",
            "https://app.example.com.evil.test/callback",
            "http://app.example.com/callback",
        ] {
            assert!(!matches(registered, other), "{other}");
        }
    }

    #[test]
    fn loopback_ip_redirect_uris_match_on_any_port() {
        // RFC 8252 §7.3: "MUST allow any port to be specified at the time of the request".
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"));
        assert!(matches("http://127.0.0.1:8080/cb", "http://127.0.0.1:9/cb"));
        assert!(matches("http://[::1]:80/cb", "http://[::1]:4000/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:5000/other"));
        assert!(!matches("http://127.0.0.1/cb", "http://[::1]:5000/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:5000/cb?a=2"
        ));
        assert!(!matches("http://127.0.0.1/cb", "http://user@127.0.0.1:5000/cb"));
        // Not for names: localhost may resolve anywhere.
        assert!(!matches("http://localhost:3000/cb", "http://localhost:3001/cb"));
    }

    #[test]
    fn only_safe_redirect_uris_can_be_registered() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8000/cb",
            "http://localhost:3000/api/auth/callback/keyward",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_registrable(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "myapp:/cb",
            "https://user:pw@app.example.com/cb",
            "https://app.example.com/a b",
        ] {
            assert!(check_registrable(bad).is_err(), "{bad}");
        }
    }
}
