//! Cryptography: signing keys and JWTs, Argon2id passwords, opaque tokens and their hashes.

/// JSON Web Tokens: signing with the cached key pair, verification through the key set.
pub mod jwt;
/// Signing keys on disk (RS256, ES256, EdDSA), their kids (RFC 7638) and public JWKs.
pub mod keys;
/// One replica's key set: which key signs and which are published at a given time.
pub mod keyset;
/// The key lifecycle (pending, active, retiring, gone) computed from dates.
pub mod lifecycle;
/// Argon2id password hashing off the async runtime.
pub mod password;
/// Opaque tokens and secrets, stored only as SHA-256 hashes.
pub mod token;
/// JWTs whose signature was verified already.
pub mod verified;
