//! keyward: an OAuth 2.0 / OpenID Connect authorization server.
#![deny(clippy::unwrap_used, clippy::expect_used)]

/// Accounts: sign-up, profiles, roles, administration.
pub mod accounts;
/// Application state and the router that serves it.
pub mod app;
/// The one place that reads the system time.
pub mod clock;
/// Configuration: defaults < keyward.toml < KEYWARD_* environment.
pub mod config;
/// Signing keys, JWTs, password hashing and opaque tokens.
pub mod crypto;
/// Overload, outages and internal faults, sorted once for every error type.
pub mod fault;
/// Axum handlers and extractors.
pub mod http;
/// Signing keys shared by every replica: dates in SQL, PEM files, reloads, rotation.
pub mod keyring;
/// Outgoing email: SMTP or a folder outbox.
pub mod mail;
/// Protocol rules of OAuth 2.0 and OpenID Connect, free of HTTP types.
pub mod oauth;
/// SQL storage and the refresh-family store.
pub mod store;
/// Prometheus metrics: names, bounded labels, the `/metrics` answer.
pub mod telemetry;
