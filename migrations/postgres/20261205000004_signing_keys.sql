-- The signing keys' lifecycle, shared by every replica. Private keys stay PEM files in keys/;
-- the public JWK is kept here so that every replica publishes and verifies the same set even
-- before its copy of the folder has the file.
create table signing_keys (
    kid text primary key,
    alg text not null,
    public_jwk text not null,
    created_at bigint not null,
    activates_at bigint not null,
    -- set when retired by hand (a compromised key): unpublished from then on
    retired_at bigint
);

-- One row per algorithm: the automatic rotation a replica claimed last, so that one replica
-- rotates while the others see the claim and wait.
create table key_rotations (
    alg text primary key,
    claimed_at bigint not null
);
