//! Browser sign-in sessions, the single sign-on of the authorization endpoint (OIDC Core
//! §3.1.2.3): after a password sign-in the browser holds a cookie with an opaque 256-bit secret,
//! of which the server keeps only the hash, with an idle and an absolute lifetime. Every refresh
//! family started through a sign-in session ends with it.

use std::sync::Arc;

use crate::app::AppState;
use crate::clock::seconds;
use crate::crypto::token::{PlainToken, TokenHash};
use crate::store::families::FamilyStore;
use crate::store::signins::{self, SigninSession};
use crate::store::users::{User, UserStatus};

/// A cookie longer than this is not ours; it is not even hashed.
const MAX_SECRET_LEN: usize = 128;
/// Idle expiry counts from the last use, written at most this often, so that a page view is
/// usually a read alone.
const TOUCH_EVERY: i64 = 60;

/// The browser's live sign-in session and its account.
#[derive(Debug, Clone)]
pub struct Signin {
    pub session: SigninSession,
    pub user: Arc<User>,
}

/// The live sign-in session named by the cookie `secret`, of an account that exists and is
/// enabled.
pub async fn current(app: &AppState, secret: Option<&str>) -> anyhow::Result<Option<Signin>> {
    let Some(secret) = secret.filter(|s| !s.is_empty() && s.len() <= MAX_SECRET_LEN) else {
        return Ok(None);
    };
    let now = app.clock.now();
    let idle = seconds(app.config.session_idle_ttl);
    let Some(session) = signins::find_live(&app.db, &TokenHash::of(secret), now, idle).await? else {
        return Ok(None);
    };
    let Some(user) = app
        .user(&session.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
    else {
        return Ok(None);
    };
    if now - session.last_seen_at >= TOUCH_EVERY {
        signins::touch(&app.db, &session.id, now, false).await?;
    }
    Ok(Some(Signin { session, user }))
}

/// Signs `user` in on this browser, their password just checked. The browser's session goes on
/// if it is the same user's (its `auth_time` becomes now); another user's session on this
/// browser ends, since the cookie that named it is replaced. Returns the session, and the
/// secret for a new cookie when a new session began.
pub async fn sign_in(
    app: &AppState,
    existing: Option<Signin>,
    user: &User,
) -> anyhow::Result<(SigninSession, Option<PlainToken>)> {
    let now = app.clock.now();
    if let Some(Signin { mut session, .. }) = existing {
        if session.user_id == user.id {
            signins::touch(&app.db, &session.id, now, true).await?;
            session.auth_time = now;
            session.last_seen_at = now;
            return Ok((session, None));
        }
        end(app, &session.id, "another account signed in").await?;
    }
    let secret = PlainToken::generate();
    let session = SigninSession {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        auth_time: now,
        last_seen_at: now,
        absolute_expires_at: now.saturating_add(seconds(app.config.session_absolute_ttl)),
    };
    signins::create(&app.db, &session, &secret.hashed(), now).await?;
    tracing::info!(user_id = %user.id, signin_id = %session.id, "signed in");
    Ok((session, Some(secret)))
}

/// Ends a sign-in session and every refresh family started through it; returns how many
/// families were active.
pub async fn end(app: &AppState, signin_id: &str, reason: &str) -> anyhow::Result<u64> {
    let now = app.clock.now();
    signins::end(&app.db, signin_id, now).await?;
    let ended = app.families.revoke_signin(signin_id, reason, now).await?;
    tracing::info!(%signin_id, ended, reason, "sign-in session ended");
    Ok(ended)
}

/// Ends every sign-in session of a user and every session (refresh family) but `except`: after a
/// password change or reset, nothing signed in with the old password goes on.
pub async fn end_all(
    app: &AppState,
    user_id: &str,
    except: Option<&str>,
    reason: &str,
) -> anyhow::Result<u64> {
    let now = app.clock.now();
    signins::end_user(&app.db, user_id, now).await?;
    app.families.revoke_user(user_id, except, reason, now).await
}

/// How long a new session cookie should live: until the session's absolute expiry.
pub fn cookie_max_age(app: &AppState, session: &SigninSession) -> i64 {
    (session.absolute_expires_at - app.clock.now()).max(0)
}
