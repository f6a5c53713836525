//! Configuration: built-in defaults, overridden by `keyward.toml`, overridden by `KEYWARD_*` variables.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything keyward reads at start. Durations are humantime strings (`15m`, `14d`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The issuer URL, exactly as it appears in `iss` and in discovery.
    pub issuer: String,
    /// Listen address.
    pub bind: String,
    /// `sqlite://…` (the file and its folder are created) or `postgres://…`.
    pub database_url: String,
    /// `redis://…` (or several comma-separated seed URLs of a Redis Cluster): refresh families
    /// and the access-token denylist live there instead of in SQL.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so that several deployments or tests can share one Redis.
    pub redis_prefix: String,
    /// Folder of the private signing keys (PKCS#8 PEM, mode 0600), shared by every replica.
    pub keys_dir: PathBuf,
    /// What access tokens are signed with: `RS256`, `ES256` or `EdDSA`. ID tokens are always
    /// RS256, which OIDC requires.
    pub access_token_alg: crate::crypto::keys::Alg,
    /// `Cache-Control: max-age` of the JWKS.
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
    /// How long a new key is published before it signs; twice `jwks_max_age` when unset, so
    /// that every cache holds it first.
    #[serde(with = "humantime_serde")]
    pub key_publish_ahead: Option<Duration>,
    /// Rotate the signing keys automatically this long after the newest one activated (`90d`);
    /// off when unset.
    #[serde(with = "humantime_serde")]
    pub key_rotation: Option<Duration>,
    /// `aud` of access tokens; the issuer when unset.
    pub audience: Option<String>,
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// A refresh token unused for this long dies.
    #[serde(with = "humantime_serde")]
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after sign-in, however it is used.
    #[serde(with = "humantime_serde")]
    pub refresh_absolute_ttl: Duration,
    /// How long after a rotation the previous refresh token may be presented again without revoking.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_leeway: Duration,
    /// Consecutive failed password logins (per account, and per client address) before a lockout.
    pub login_max_failures: u32,
    /// The first lockout; each further failure doubles it.
    #[serde(with = "humantime_serde")]
    pub login_lockout: Duration,
    /// The longest lockout.
    #[serde(with = "humantime_serde")]
    pub login_lockout_max: Duration,
    /// Argon2id computations allowed at once; 0 means one per CPU.
    pub password_concurrency: usize,
    /// Password checks that may wait for a free computation; more are answered 503 at once.
    /// 0 means twice `password_concurrency`.
    pub password_queue: usize,
    /// Requests in progress at once; more wait for a turn. 0 means 32 per CPU.
    pub max_in_flight: usize,
    /// How long a request waits for a turn before it is answered 503 with `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub admission_wait: Duration,
    /// How long a stopping server waits for in-flight requests before exiting anyway.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Comma-separated addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    /// Whether anyone may create an account through `POST /api/v1/users`.
    pub signup: Signup,
    /// `smtp://`, `smtps://` or `smtp://…?tls=required` URL of the mail relay.
    pub smtp_url: Option<String>,
    /// A folder that receives every outgoing email as an `.eml` file, instead of SMTP.
    pub mail_outbox: Option<PathBuf>,
    /// The `From` of outgoing email; `keyward <noreply@ISSUER-HOST>` when unset.
    pub mail_from: Option<String>,
    /// How long an email-verification link works.
    #[serde(with = "humantime_serde")]
    pub email_verification_ttl: Duration,
    /// How long a process believes a client or account it has read; `0s` reads every time.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// The name every sign-in page shows.
    pub site_name: String,
    /// A browser sign-in session unused for this long ends.
    #[serde(with = "humantime_serde")]
    pub session_idle_ttl: Duration,
    /// A browser sign-in session ends this long after the password was entered, however used.
    #[serde(with = "humantime_serde")]
    pub session_absolute_ttl: Duration,
    /// How long a password-reset link works.
    #[serde(with = "humantime_serde")]
    pub password_reset_ttl: Duration,
    /// Comma-separated origins (`https://app.example.com`) that may call the token, revocation and
    /// UserInfo endpoints from a browser, besides those of registered redirect URIs.
    pub cors_origins: String,
    /// Listen address of `GET /metrics` (Prometheus), a listener of its own; off when unset.
    pub metrics_bind: Option<String>,
}

/// Whether sign-up is open to anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signup {
    Open,
    Closed,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/keyward.db".into(),
            redis_url: None,
            redis_prefix: "keyward:".into(),
            keys_dir: "keys".into(),
            access_token_alg: crate::crypto::keys::Alg::RS256,
            jwks_max_age: Duration::from_secs(300),
            key_publish_ahead: None,
            key_rotation: None,
            audience: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_idle_ttl: Duration::from_secs(14 * 24 * 3600),
            refresh_absolute_ttl: Duration::from_secs(90 * 24 * 3600),
            refresh_reuse_leeway: Duration::ZERO,
            login_max_failures: 5,
            login_lockout: Duration::from_secs(30),
            login_lockout_max: Duration::from_secs(15 * 60),
            password_concurrency: 0,
            password_queue: 0,
            max_in_flight: 0,
            admission_wait: Duration::from_millis(50),
            trusted_proxies: String::new(),
            shutdown_grace: Duration::from_secs(10),
            signup: Signup::Open,
            smtp_url: None,
            mail_outbox: None,
            mail_from: None,
            email_verification_ttl: Duration::from_secs(24 * 3600),
            cache_ttl: Duration::from_secs(2),
            site_name: "keyward".into(),
            session_idle_ttl: Duration::from_secs(24 * 3600),
            session_absolute_ttl: Duration::from_secs(14 * 24 * 3600),
            password_reset_ttl: Duration::from_secs(3600),
            cors_origins: String::new(),
            metrics_bind: None,
        }
    }
}

impl Config {
    /// Reads `file` (if it exists) and the `KEYWARD_*` environment over the defaults.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("KEYWARD_").ignore(&["config"]))
            .extract()?;
        config.validated()
    }

    fn validated(mut self) -> anyhow::Result<Self> {
        // `iss` must equal the discovery `issuer` byte for byte (OIDC Discovery §4.3), so one
        // canonical form: no trailing slash.
        while self.issuer.ends_with('/') {
            self.issuer.pop();
        }
        anyhow::ensure!(
            self.issuer.starts_with("https://") || self.issuer.starts_with("http://"),
            "KEYWARD_ISSUER must be an http(s) URL, got {:?}",
            self.issuer
        );
        anyhow::ensure!(
            !self.access_token_ttl.is_zero(),
            "KEYWARD_ACCESS_TOKEN_TTL must be positive"
        );
        self.trusted_proxy_addrs()?;
        anyhow::ensure!(
            self.smtp_url.is_none() || self.mail_outbox.is_none(),
            "set KEYWARD_SMTP_URL or KEYWARD_MAIL_OUTBOX, not both"
        );
        anyhow::ensure!(
            self.refresh_idle_ttl <= self.refresh_absolute_ttl,
            "KEYWARD_REFRESH_IDLE_TTL must not exceed KEYWARD_REFRESH_ABSOLUTE_TTL"
        );
        anyhow::ensure!(
            self.session_idle_ttl <= self.session_absolute_ttl,
            "KEYWARD_SESSION_IDLE_TTL must not exceed KEYWARD_SESSION_ABSOLUTE_TTL"
        );
        anyhow::ensure!(
            !self.site_name.trim().is_empty() && self.site_name.chars().count() <= 100,
            "KEYWARD_SITE_NAME must have 1 to 100 characters"
        );
        self.cors_origin_list()?;
        // A replica learns of a new key within its reload interval and caches hold the JWKS for
        // max-age: a shorter window would let a key sign before some cache has seen it.
        anyhow::ensure!(
            self.publish_ahead() >= self.jwks_max_age + crate::keyring::RELOAD_EVERY,
            "KEYWARD_KEY_PUBLISH_AHEAD must be at least KEYWARD_JWKS_MAX_AGE plus {:?}",
            crate::keyring::RELOAD_EVERY
        );
        anyhow::ensure!(
            self.key_rotation.is_none_or(|r| r > self.publish_ahead()),
            "KEYWARD_KEY_ROTATION must be longer than the publish-ahead window ({:?})",
            self.publish_ahead()
        );
        Ok(self)
    }

    /// The parsed `trusted_proxies`.
    pub fn trusted_proxy_addrs(&self) -> anyhow::Result<Vec<IpAddr>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| anyhow::anyhow!("KEYWARD_TRUSTED_PROXIES: {s:?} is not an IP address"))
            })
            .collect()
    }

    /// The parsed `cors_origins`: each an origin (`scheme://host[:port]`, no path).
    pub fn cors_origin_list(&self) -> anyhow::Result<Vec<String>> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let url = url::Url::parse(s)
                    .map_err(|_| anyhow::anyhow!("KEYWARD_CORS_ORIGINS: {s:?} is not a URL"))?;
                let origin = url.origin().ascii_serialization();
                anyhow::ensure!(
                    url.origin().is_tuple() && s.trim_end_matches('/') == origin,
                    "KEYWARD_CORS_ORIGINS: {s:?} is not an origin such as https://app.example.com"
                );
                Ok(origin)
            })
            .collect()
    }

    /// Whether the issuer is served over TLS: cookies are then `Secure` with the `__Host-`
    /// prefix, and pages send HSTS.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The `From` address of outgoing email.
    pub fn mail_sender(&self) -> String {
        match &self.mail_from {
            Some(from) => from.clone(),
            None => {
                let host = self.issuer.split("://").nth(1).unwrap_or("localhost");
                let host = host.split(['/', ':']).next().unwrap_or("localhost");
                format!("keyward <noreply@{host}>")
            }
        }
    }

    /// How long a new key is published before it signs.
    pub fn publish_ahead(&self) -> Duration {
        self.key_publish_ahead.unwrap_or(self.jwks_max_age * 2)
    }

    /// The `aud` of access tokens.
    pub fn access_token_audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.issuer)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("keys_dir", &self.keys_dir)
            .field("access_token_alg", &self.access_token_alg)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("key_publish_ahead", &self.key_publish_ahead)
            .field("key_rotation", &self.key_rotation)
            .field("audience", &self.audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_idle_ttl", &self.refresh_idle_ttl)
            .field("refresh_absolute_ttl", &self.refresh_absolute_ttl)
            .field("refresh_reuse_leeway", &self.refresh_reuse_leeway)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lockout", &self.login_lockout)
            .field("login_lockout_max", &self.login_lockout_max)
            .field("password_concurrency", &self.password_concurrency)
            .field("password_queue", &self.password_queue)
            .field("max_in_flight", &self.max_in_flight)
            .field("admission_wait", &self.admission_wait)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("signup", &self.signup)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_outbox", &self.mail_outbox)
            .field("mail_from", &self.mail_from)
            .field("email_verification_ttl", &self.email_verification_ttl)
            .field("cache_ttl", &self.cache_ttl)
            .field("site_name", &self.site_name)
            .field("session_idle_ttl", &self.session_idle_ttl)
            .field("session_absolute_ttl", &self.session_absolute_ttl)
            .field("password_reset_ttl", &self.password_reset_ttl)
            .field("cors_origins", &self.cors_origins)
            .field("metrics_bind", &self.metrics_bind)
            .finish()
    }
}

/// A URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:<redacted>@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_database_password() {
        let config = Config {
            database_url: "postgres://app:hunter2@db/keyward".into(),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:<redacted>@db/keyward"));
        assert_eq!(redact_url("postgres://app@db/k"), "postgres://app@db/k");
    }

    #[test]
    fn issuer_loses_its_trailing_slash() {
        let config = Config {
            issuer: "https://id.example.com/".into(),
            ..Config::default()
        }
        .validated()
        .unwrap();
        assert_eq!(config.issuer, "https://id.example.com");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn key_settings_parse_and_a_publish_window_shorter_than_caches_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KEYWARD_ACCESS_TOKEN_ALG", "ES256");
            jail.set_env("KEYWARD_KEY_ROTATION", "90d");
            let config = Config::load(Path::new("absent.toml")).unwrap();
            assert_eq!(config.access_token_alg, crate::crypto::keys::Alg::ES256);
            assert_eq!(config.publish_ahead(), Duration::from_secs(600));
            assert_eq!(config.key_rotation, Some(Duration::from_secs(90 * 86_400)));
            jail.set_env("KEYWARD_KEY_PUBLISH_AHEAD", "5m");
            let refused = Config::load(Path::new("absent.toml")).unwrap_err();
            assert!(
                refused.to_string().contains("KEYWARD_KEY_PUBLISH_AHEAD"),
                "{refused}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn environment_overrides_defaults_with_humantime_durations() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KEYWARD_ACCESS_TOKEN_TTL", "5m");
            jail.set_env("KEYWARD_LOGIN_MAX_FAILURES", "3");
            let config = Config::load(Path::new("absent.toml")).unwrap();
            assert_eq!(config.access_token_ttl, Duration::from_secs(300));
            assert_eq!(config.login_max_failures, 3);
            Ok(())
        });
    }
}
