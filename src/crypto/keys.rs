//! The RS256 key set: PKCS#8 PEM files in `keys/`, kids from RFC 7638 thumbprints, and the JWKS.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
    RSAKeyType, ThumbprintHash,
};

use crate::crypto::token::b64url;

const PEM_TAG: &str = "PRIVATE KEY";

/// One RSA key: parsed once, used for every signature it makes.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    jwk: Jwk,
    decoding: DecodingKey,
    path: PathBuf,
    created: SystemTime,
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8], path: PathBuf, created: SystemTime) -> anyhow::Result<Self> {
        let pair = KeyPair::from_pkcs8(der)
            .map_err(|e| anyhow::anyhow!("{}: not an RSA PKCS#8 key: {e}", path.display()))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: b64url(&public.n),
                e: b64url(&public.e),
            }),
        };
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        let decoding = DecodingKey::from_jwk(&jwk)?;
        Ok(Self {
            kid,
            pair,
            jwk,
            decoding,
            path,
            created,
        })
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The parsed key pair that signs.
    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }

    /// The public key as a JWK (public members only).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The public key for verification.
    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The PEM file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When its file was written.
    pub fn created(&self) -> SystemTime {
        self.created
    }
}

/// Every published key, and the one that signs.
#[derive(Clone)]
pub struct KeySet {
    keys: Arc<[Arc<SigningKey>]>,
    signing: Arc<SigningKey>,
    jwks: Arc<JwkSet>,
}

impl KeySet {
    /// Loads every key in `dir`, generating an RSA-2048 key first if there is none. Replicas
    /// sharing the folder may start together: an exclusive lock makes exactly one of them
    /// generate, and the others load that key.
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join(".generate.lock"))
            .with_context(|| format!("opening the key lock in {}", dir.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", dir.display()))?;
        if read_keys(dir)?.is_empty() {
            generate(dir)?;
        }
        lock.unlock()?;
        Self::load(dir)
    }

    /// Loads every key in `dir`; the newest one signs.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut keys = read_keys(dir)?;
        if keys.is_empty() {
            bail!("no keys in {}", dir.display());
        }
        keys.sort_by_key(|k| (k.created, k.kid.clone()));
        let keys: Vec<Arc<SigningKey>> = keys.into_iter().map(Arc::new).collect();
        let signing = keys.last().cloned().context("no signing key")?;
        let jwks = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        Ok(Self {
            keys: keys.into(),
            signing,
            jwks: Arc::new(jwks),
        })
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// A published key by kid.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| k.as_ref())
    }

    /// Every published key, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().map(|k| k.as_ref())
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

fn read_keys(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let meta = fs::metadata(&path)?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "private key file is readable by group or others; chmod 600 it");
        }
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let pem = pem::parse(text).with_context(|| format!("{} is not PEM", path.display()))?;
        if pem.tag() != PEM_TAG {
            bail!(
                "{}: expected a PKCS#8 \"{PEM_TAG}\" PEM, found \"{}\"",
                path.display(),
                pem.tag()
            );
        }
        keys.push(SigningKey::from_pkcs8(pem.contents(), path, meta.modified()?)?);
    }
    Ok(keys)
}

/// Generates an RSA-2048 key into `dir` as `<kid>.pem`, mode 0600; returns its path.
pub fn generate(dir: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let pair =
        KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let der = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("PKCS#8 encoding failed"))?;
    let key = SigningKey::from_pkcs8(der.as_ref(), PathBuf::new(), SystemTime::UNIX_EPOCH)?;
    let path = dir.join(format!("{}.pem", key.kid()));
    let text = pem::encode(&pem::Pem::new(PEM_TAG, der.as_ref().to_vec()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    tracing::info!(kid = key.kid(), path = %path.display(), "generated an RS256 signing key");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_survives_a_reload_with_the_same_kid() {
        let dir = std::env::temp_dir().join(format!("keyward-keys-{}", uuid::Uuid::new_v4()));
        let first = KeySet::load_or_generate(&dir).unwrap();
        let again = KeySet::load_or_generate(&dir).unwrap();
        assert_eq!(first.signing().kid(), again.signing().kid());
        assert_eq!(again.keys().count(), 1);
        let file = fs::metadata(first.signing().path()).unwrap();
        assert_eq!(file.permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn jwk_has_public_members_only() {
        let dir = std::env::temp_dir().join(format!("keyward-keys-{}", uuid::Uuid::new_v4()));
        let keys = KeySet::load_or_generate(&dir).unwrap();
        let json = serde_json::to_value(keys.jwks()).unwrap();
        let jwk = &json["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["kid"], keys.signing().kid());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private} leaked");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
