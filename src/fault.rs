//! What can go wrong beneath a protocol, whatever the protocol: too many password checks at
//! once, a backing service out of reach, or a fault of ours. Each surface's error type maps
//! these three to its own answer (503 with `Retry-After`, or 500); the sorting is done here once.

use crate::crypto::password::Overloaded;

/// An error sorted by what the client should be told.
#[derive(Debug)]
pub enum Fault {
    /// Password hashing is at capacity: retry in a second.
    Overloaded,
    /// The database or Redis could not be reached, or no key can sign: retry shortly.
    Unavailable(anyhow::Error),
    /// A bug or an unexpected state: logged, never shown.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Fault {
    fn from(err: anyhow::Error) -> Self {
        if err.downcast_ref::<Overloaded>().is_some() {
            Fault::Overloaded
        } else if let Some(service) = crate::store::unavailable_service(&err) {
            crate::telemetry::dependency_error(service);
            Fault::Unavailable(err)
        } else if err
            .downcast_ref::<crate::crypto::keyset::NoSigningKey>()
            .is_some()
        {
            Fault::Unavailable(err)
        } else {
            Fault::Internal(err)
        }
    }
}
