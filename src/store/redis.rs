//! The Redis connection: one server (reconnecting by itself) or a cluster, with bounded
//! timeouts, a key prefix of the deployment's own, and scripts run by EVALSHA.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, ScriptInvocation};

/// How long a Redis call may take before the request fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A single Redis server or a cluster.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A connection and the prefix of every key this deployment writes.
#[derive(Clone)]
pub struct Redis {
    conn: Connection,
    prefix: String,
}

impl Redis {
    /// Connects to `url`: one `redis://` URL, or several comma-separated seed URLs (or a
    /// `redis+cluster://` URL) for a cluster.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !prefix.contains(['{', '}']),
            "KEYWARD_REDIS_PREFIX must not contain braces: they would break the per-family hash tag"
        );
        let seeds: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.replacen("redis+cluster://", "redis://", 1))
            .collect();
        let shown = crate::config::redact_url(url);
        let conn = if seeds.len() > 1 || url.starts_with("redis+cluster://") {
            let client = ClusterClientBuilder::new(seeds)
                .connection_timeout(TIMEOUT)
                .response_timeout(TIMEOUT)
                .build()
                .with_context(|| format!("Redis Cluster {shown}"))?;
            let conn = client
                .get_async_connection()
                .await
                .with_context(|| format!("connecting to Redis Cluster {shown}"))?;
            Connection::Cluster(conn)
        } else {
            let client = redis::Client::open(url).with_context(|| format!("Redis URL {shown}"))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            let conn = ConnectionManager::new_with_config(client, config)
                .await
                .with_context(|| format!("connecting to Redis {shown}"))?;
            Connection::Single(conn)
        };
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// `suffix` under this deployment's prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Whether Redis answers a PING.
    pub async fn ping(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }

    /// Runs a script: EVALSHA, falling back to EVAL (which loads it) after a restart or failover.
    pub async fn run<T: FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> anyhow::Result<T> {
        let result = match &self.conn {
            Connection::Single(c) => invocation.invoke_async(&mut c.clone()).await,
            Connection::Cluster(c) => invocation.invoke_async(&mut c.clone()).await,
        };
        result.context("Redis script failed")
    }

    /// Several commands on one key (one hash slot) in one round trip.
    pub async fn pipeline(&self, pipe: &redis::Pipeline) -> anyhow::Result<()> {
        let result: redis::RedisResult<()> = match &self.conn {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        };
        result.context("Redis pipeline failed")
    }

    /// One command.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> anyhow::Result<T> {
        let result = match &self.conn {
            Connection::Single(c) => cmd.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        };
        result.context("Redis command failed")
    }
}
