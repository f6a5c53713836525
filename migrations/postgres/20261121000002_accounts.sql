-- Accounts: roles made of permissions, profile fields, email-verification links.

-- A role is a name and a set of permissions. The built-in roles (user, staff, admin) cannot be
-- deleted; keyward's own admin API is open to holders of `admin`.
create table roles (
    name text primary key,
    permissions text not null default '',       -- space-separated
    builtin bigint not null default 0 check (builtin in (0, 1)),
    created_at bigint not null
);
insert into roles (name, permissions, builtin, created_at) values
    ('user', '', 1, 0),
    ('staff', '', 1, 0),
    ('admin', '', 1, 0);
-- Roles handed out before roles were defined become custom roles without permissions.
insert into roles (name, permissions, builtin, created_at)
    select distinct role, '', 0, 0 from user_roles where role not in ('user', 'staff', 'admin');

-- OIDC Core §5.1 profile claims a user may set on their own account.
alter table users add column given_name text;
alter table users add column family_name text;
alter table users add column locale text;

-- Email-verification links: single use, stored as the SHA-256 of the token in the link.
create table email_verifications (
    hash text primary key,
    user_id text not null references users (id) on delete cascade,
    email text not null,                        -- the address verified: a changed email voids it
    expires_at bigint not null,
    created_at bigint not null
);
create index email_verifications_user on email_verifications (user_id);
