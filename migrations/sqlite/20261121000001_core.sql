-- keyward core schema (SQLite). Times are Unix seconds; booleans are 0/1 integers, as the
-- PostgreSQL schema uses the same representation so that one set of queries serves both.

create table users (
    id text primary key,                        -- uuid
    email text not null,                        -- as entered
    email_normalized text not null,             -- trimmed and lowercased
    password_hash text,                         -- argon2id PHC string; null: no password login
    name text,
    status text not null default 'active' check (status in ('active', 'disabled')),
    email_verified integer not null default 0 check (email_verified in (0, 1)),
    created_at integer not null,
    updated_at integer not null,
    deleted_at integer                          -- soft delete: the row stays, sign-in stops
);
-- Emails are unique case-insensitively among users that are not deleted, so a deleted
-- account's address can sign up again.
create unique index users_email_live on users (email_normalized) where deleted_at is null;

create table user_roles (
    user_id text not null references users (id) on delete cascade,
    role text not null,
    primary key (user_id, role)
);

create table clients (
    id text primary key,
    name text not null,
    secret_hash text,                           -- sha-256 of the server-generated secret; null for public clients
    is_public integer not null default 0 check (is_public in (0, 1)),
    grant_types text not null,                  -- space-separated
    scopes text not null,                       -- space-separated, the most a client may ask for
    redirect_uris text not null,                -- space-separated (a URI holds no space)
    created_at integer not null,
    updated_at integer not null,
    -- a confidential client always has a secret, a public one never
    check ((is_public = 1 and secret_hash is null) or (is_public = 0 and secret_hash is not null))
);

-- A refresh family is one sign-in session; its id is the `sid` of every token it issues.
create table families (
    id text primary key,
    user_id text not null references users (id) on delete cascade,
    client_id text not null references clients (id) on delete cascade,
    scope text not null,
    auth_time integer not null,
    created_at integer not null,
    absolute_expires_at integer not null,       -- never extended
    current_hash text,                          -- the one live refresh token; null when none was issued
    previous_hash text,                         -- the token it replaced, for the reuse leeway
    generation integer not null default 0,
    rotated_at integer not null,                -- idle expiry counts from here
    status text not null default 'active' check (status in ('active', 'revoked')),
    revoked_reason text,
    revoked_at integer
);
create index families_user on families (user_id);
create unique index families_current on families (current_hash);

-- Every refresh token ever issued, so that a replayed old one is recognised as reuse.
create table refresh_tokens (
    hash text primary key,
    family_id text not null references families (id) on delete cascade,
    generation integer not null
);
create index refresh_tokens_family on refresh_tokens (family_id);

-- Revoked access tokens by jti, kept until the token would have expired anyway.
create table access_denylist (
    jti text primary key,
    expires_at integer not null
);

-- Consecutive failed password logins per key ('account:<email>' or 'addr:<ip>').
create table login_throttle (
    key text primary key,
    failures integer not null,
    locked_until integer not null,
    updated_at integer not null
);
