-- Browser sign-in: the authorization code flow, sign-in sessions (SSO), remembered consent,
-- RP-initiated logout and password-reset links.

-- Where a client may send the browser after logout (OIDC RP-Initiated Logout §3), and whether it
-- is the operator's own application, which needs no consent.
alter table clients add column post_logout_redirect_uris text not null default '';   -- space-separated
alter table clients add column first_party bigint not null default 0 check (first_party in (0, 1));

-- A sign-in session: the browser's single sign-on. The cookie holds a 256-bit secret; only its
-- SHA-256 is kept. The id is internal: refresh families started through the session point to it.
create table signin_sessions (
    id text primary key,                        -- uuid
    secret_hash text not null unique,
    user_id text not null references users (id) on delete cascade,
    auth_time bigint not null,                 -- when the password was checked
    created_at bigint not null,
    last_seen_at bigint not null,              -- idle expiry counts from here
    absolute_expires_at bigint not null,       -- never extended
    ended_at bigint                            -- logout, password reset, account disabled
);
create index signin_sessions_user on signin_sessions (user_id);

-- Families started through a sign-in session end with it.
alter table families add column signin_id text;
create index families_signin on families (signin_id);

-- Authorization codes (RFC 6749 §4.1.2), when no Redis is configured: the SHA-256 of the code,
-- the family its exchange starts (named in advance, so that a replay can revoke it, §4.1.2) and
-- what the code is bound to, as JSON (the same record Redis keeps). Used rows stay a while, so
-- that a replay is recognised.
create table authorization_codes (
    hash text primary key,
    family_id text not null,
    data text not null,
    expires_at bigint not null,
    used_at bigint
);
create index authorization_codes_expiry on authorization_codes (expires_at);

-- Consent a user gave a client: the union of the scopes granted so far.
create table consents (
    user_id text not null references users (id) on delete cascade,
    client_id text not null references clients (id) on delete cascade,
    scope text not null,                        -- space-separated
    updated_at bigint not null,
    primary key (user_id, client_id)
);

-- Password-reset links: single use, stored as the SHA-256 of the token in the link, like the
-- email-verification links.
create table password_resets (
    hash text primary key,
    user_id text not null references users (id) on delete cascade,
    email text not null,                        -- the address it was sent to: a changed email voids it
    expires_at bigint not null,
    created_at bigint not null
);
create index password_resets_user on password_resets (user_id);
