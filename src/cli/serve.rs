//! `keyward serve`: the HTTP server, its housekeeping and its graceful stop.

use std::net::SocketAddr;

use anyhow::Context;

use keyward::app::{AppState, router};
use keyward::clock::Clock;
use keyward::config::Config;
use keyward::store;

use super::dev;

pub async fn run(mut config: Config, dev: bool) -> anyhow::Result<()> {
    if dev && config.smtp_url.is_none() && config.mail_outbox.is_none() {
        // Verification links land where the developer can open them.
        config.mail_outbox = Some("data/outbox".into());
    }
    let bind: SocketAddr = config
        .bind
        .parse()
        .with_context(|| format!("KEYWARD_BIND {:?}", config.bind))?;
    tracing::info!(?config, "starting");
    let state = AppState::build(config, Clock::system()).await?;
    if dev {
        dev::prepare(&state).await?;
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    tracing::info!(issuer = %state.config.issuer, %bind, "serving");
    tokio::spawn(prune_periodically(state.clone()));
    tokio::spawn(reload_keys_periodically(state.clone()));
    tokio::spawn(keyward::telemetry::upkeep_periodically());
    tokio::spawn(store::checkpoints::run_periodically(state.db.clone()));
    if let Some(metrics_bind) = &state.config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(metrics_bind)
            .await
            .with_context(|| format!("binding KEYWARD_METRICS_BIND {metrics_bind}"))?;
        tracing::info!(%metrics_bind, "serving /metrics");
        let metrics = keyward::http::metrics_router(state.clone());
        tokio::spawn(async move { axum::serve(listener, metrics).await });
    }
    let grace = state.config.shutdown_grace;
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!(
            ?grace,
            "stopping: no new connections; finishing requests in flight"
        );
        signalled.notify_one();
    });
    // In-flight requests get `grace` to finish; a stalled client cannot hold the process up.
    tokio::select! {
        served = server => served?,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("requests still in flight after the grace period; exiting anyway");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Every ten minutes, removes rows that can no longer change any answer.
async fn prune_periodically(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match state.prune().await {
            Ok(pruned) => tracing::debug!(?pruned, "pruned expired rows"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "pruning expired rows failed"),
        }
    }
}

/// Every few seconds, rereads the keys' dates (a key activated or retired on another replica or
/// by the CLI takes effect here), and rotates when automatic rotation is due.
async fn reload_keys_periodically(state: AppState) {
    let mut every = tokio::time::interval(keyward::keyring::RELOAD_EVERY);
    loop {
        every.tick().await;
        if let Err(e) = state.keys.reload().await {
            tracing::warn!(error = %format!("{e:#}"), "reloading the signing keys failed");
            continue;
        }
        if let Err(e) = state.keys.rotate_if_due(state.clock.now()).await {
            tracing::warn!(error = %format!("{e:#}"), "rotating the signing keys failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
