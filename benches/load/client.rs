//! One keep-alive HTTP/1.1 connection per worker (hyper's low-level client): the load generator
//! should cost as little CPU as it can, since it shares the machine with the server.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

pub struct Connection {
    port: u16,
    sender: SendRequest<Full<Bytes>>,
}

/// A response: status, body, and how long the round trip took.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub latency: Duration,
    pub retry_after: bool,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
}

impl Connection {
    pub async fn open(port: u16) -> Self {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { port, sender }
    }

    /// Sends one request; reconnects once if the server closed the connection.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Answer {
        if self.sender.ready().await.is_err() {
            *self = Self::open(self.port).await;
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).expect("request");
        let started = Instant::now();
        match self.sender.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let cookies = response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .collect();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Answer {
                    status,
                    body,
                    latency: started.elapsed(),
                    retry_after,
                    location,
                    cookies,
                }
            }
            Err(_) => {
                let latency = started.elapsed();
                *self = Self::open(self.port).await;
                Answer {
                    status: 0,
                    body: Bytes::new(),
                    latency,
                    retry_after: false,
                    location: None,
                    cookies: Vec::new(),
                }
            }
        }
    }
}
