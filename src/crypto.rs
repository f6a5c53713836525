//! Cryptography: RS256 keys and JWTs, Argon2id passwords, opaque tokens and their hashes.

/// RS256 JSON Web Tokens: signing with the cached key pair, verification through the key set.
pub mod jwt;
/// The RS256 key set on disk, its kids (RFC 7638) and the JWKS.
pub mod keys;
/// Argon2id password hashing off the async runtime.
pub mod password;
/// Opaque tokens and secrets, stored only as SHA-256 hashes.
pub mod token;
/// JWTs whose signature was verified already.
pub mod verified;
