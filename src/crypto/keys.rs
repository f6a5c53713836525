//! Signing keys: PKCS#8 PEM files in `keys/` (RSA, P-256 or Ed25519), kids from RFC 7638
//! thumbprints, their public JWKs, and the signatures they make.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use anyhow::{Context, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType,
    Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, RSAKeyParameters, RSAKeyType,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};

use crate::crypto::token::b64url;

const PEM_TAG: &str = "PRIVATE KEY";

/// A JWS algorithm keyward signs with (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 on RSA-2048: what OIDC requires of every provider.
    RS256,
    /// ECDSA on P-256 with SHA-256: short signatures, fast signing.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name, as in the `alg` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The same algorithm in jsonwebtoken's terms, for verification.
    pub fn jsonwebtoken(self) -> Algorithm {
        match self {
            Alg::RS256 => Algorithm::RS256,
            Alg::ES256 => Algorithm::ES256,
            Alg::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        Alg::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .with_context(|| format!("unknown signing algorithm {s:?}: use RS256, ES256 or EdDSA"))
    }
}

/// The parsed private key.
enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key: parsed once, used for every signature it makes.
pub struct SigningKey {
    alg: Alg,
    kid: String,
    pair: Pair,
    jwk: Jwk,
    path: PathBuf,
    modified: SystemTime,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key of any algorithm we sign with.
    pub fn from_pkcs8(der: &[u8], path: PathBuf, modified: SystemTime) -> anyhow::Result<Self> {
        let (alg, pair, params) = if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            let params = AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: b64url(&public.n),
                e: b64url(&public.e),
            });
            (Alg::RS256, Pair::Rsa(pair), params)
        } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // An uncompressed point: 0x04, then x and y, 32 bytes each (SEC 1 §2.3.3).
            let point = pair.public_key().as_ref();
            let (x, y) = point[1..].split_at(32);
            let params = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: b64url(x),
                y: b64url(y),
            });
            (Alg::ES256, Pair::Ecdsa(pair), params)
        } else if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            let params = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: b64url(pair.public_key().as_ref()),
            });
            (Alg::EdDSA, Pair::Ed25519(pair), params)
        } else {
            bail!("{}: not an RSA, P-256 or Ed25519 PKCS#8 key", path.display());
        };
        let jwk = public_jwk(alg, params)?;
        let kid = jwk.common.key_id.clone().context("kid")?;
        Ok(Self {
            alg,
            kid,
            pair,
            jwk,
            path,
            modified,
        })
    }

    /// Generates a new key for `alg`, as PKCS#8 DER.
    pub fn generate_pkcs8(alg: Alg) -> anyhow::Result<Vec<u8>> {
        let failed = || anyhow::anyhow!("{alg} key generation failed");
        Ok(match alg {
            Alg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| failed())?
                .as_der()
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| failed())?
                .to_pkcs8v1()
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            Alg::EdDSA => Ed25519KeyPair::generate()
                .map_err(|_| failed())?
                .to_pkcs8v1()
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
        })
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (public members only), with `kid`, `alg` and `use`.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The PEM file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When its file was last written.
    pub fn modified(&self) -> SystemTime {
        self.modified
    }

    /// The JWS signature of `input` (RFC 7515 §5.1): PKCS#1 v1.5 for RS256, the fixed-width
    /// `r || s` of RFC 7518 §3.4 for ES256, plain Ed25519 for EdDSA.
    pub fn sign(&self, input: &[u8]) -> anyhow::Result<Vec<u8>> {
        let failed = || anyhow::anyhow!("{} signing failed", self.alg);
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut signature)
                    .map_err(|_| failed())?;
                Ok(signature)
            }
            Pair::Ecdsa(pair) => Ok(pair
                .sign(&SystemRandom::new(), input)
                .map_err(|_| failed())?
                .as_ref()
                .to_vec()),
            Pair::Ed25519(pair) => Ok(pair.sign(input).as_ref().to_vec()),
        }
    }
}

/// A public JWK with its RFC 7638 thumbprint as `kid`.
fn public_jwk(alg: Alg, params: AlgorithmParameters) -> anyhow::Result<Jwk> {
    let key_algorithm = match alg {
        Alg::RS256 => KeyAlgorithm::RS256,
        Alg::ES256 => KeyAlgorithm::ES256,
        Alg::EdDSA => KeyAlgorithm::EdDSA,
    };
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm),
            ..CommonParameters::default()
        },
        algorithm: params,
    };
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256)?);
    Ok(jwk)
}

/// A published public key: what verifies a signature, and what JWKS shows.
pub struct PublicKey {
    pub alg: Alg,
    pub jwk: Jwk,
    pub decoding: DecodingKey,
}

impl PublicKey {
    /// From a stored public JWK.
    pub fn from_jwk(alg: Alg, jwk: Jwk) -> anyhow::Result<Self> {
        let decoding = DecodingKey::from_jwk(&jwk)?;
        Ok(Self { alg, jwk, decoding })
    }
}

/// Reads every `*.pem` key in `dir` (none when the folder does not exist).
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
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
        keys.push(read_file(&path)?);
    }
    Ok(keys)
}

/// Reads one PEM key file.
pub fn read_file(path: &Path) -> anyhow::Result<SigningKey> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "private key file is readable by group or others; chmod 600 it");
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let pem = pem::parse(text).with_context(|| format!("{} is not PEM", path.display()))?;
    if pem.tag() != PEM_TAG {
        bail!(
            "{}: expected a PKCS#8 \"{PEM_TAG}\" PEM, found \"{}\"",
            path.display(),
            pem.tag()
        );
    }
    SigningKey::from_pkcs8(pem.contents(), path.to_owned(), meta.modified()?)
}

/// Generates a key for `alg` into `dir` as `<kid>.pem`, mode 0600, and returns it.
pub fn generate(dir: &Path, alg: Alg) -> anyhow::Result<SigningKey> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let der = SigningKey::generate_pkcs8(alg)?;
    let key = SigningKey::from_pkcs8(&der, PathBuf::new(), SystemTime::UNIX_EPOCH)?;
    let path = dir.join(format!("{}.pem", key.kid()));
    let text = pem::encode(&pem::Pem::new(PEM_TAG, der));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    tracing::info!(kid = key.kid(), %alg, path = %path.display(), "generated a signing key");
    read_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_survives_a_reload_with_the_same_kid_and_mode_0600() {
        let dir = tempfile_dir();
        for alg in Alg::ALL {
            let made = generate(&dir, alg).unwrap();
            let again = read_file(made.path()).unwrap();
            assert_eq!(made.kid(), again.kid());
            assert_eq!(again.alg(), alg);
            let file = fs::metadata(made.path()).unwrap();
            assert_eq!(file.permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(read_dir(&dir).unwrap().len(), 3);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn jwks_have_public_members_only_with_alg_and_use() {
        let dir = tempfile_dir();
        for (alg, kty, members) in [
            (Alg::RS256, "RSA", &["n", "e"][..]),
            (Alg::ES256, "EC", &["crv", "x", "y"][..]),
            (Alg::EdDSA, "OKP", &["crv", "x"][..]),
        ] {
            let key = generate(&dir, alg).unwrap();
            let jwk = serde_json::to_value(key.jwk()).unwrap();
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["kid"], key.kid());
            for member in members {
                assert!(jwk.get(member).is_some(), "{alg}: {member} missing");
            }
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk.get(private).is_none(), "{alg}: {private} leaked");
            }
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn algorithm_names_parse_case_insensitively() {
        assert_eq!("es256".parse::<Alg>().unwrap(), Alg::ES256);
        assert_eq!("EdDSA".parse::<Alg>().unwrap(), Alg::EdDSA);
        assert!("HS256".parse::<Alg>().is_err());
        assert!("none".parse::<Alg>().is_err());
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("keyward-keys-{}", uuid::Uuid::new_v4()))
    }
}
