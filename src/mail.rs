//! Outgoing email through one seam with two real transports: an SMTP relay (lettre over rustls)
//! and a folder outbox of `.eml` files for development.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::Config;

/// One plain-text message.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The configured transport.
#[derive(Clone)]
pub enum Mailer {
    /// `KEYWARD_SMTP_URL`.
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// `KEYWARD_MAIL_OUTBOX`: each message becomes one `.eml` file in the folder.
    Outbox { dir: PathBuf, from: Mailbox },
    /// Neither is configured: messages are dropped with a warning (never with their content,
    /// which may hold a secret link).
    Disabled,
}

impl Mailer {
    /// The transport the configuration names.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_sender()
            .parse()
            .with_context(|| format!("KEYWARD_MAIL_FROM {:?} is not a mailbox", config.mail_sender()))?;
        if let Some(url) = &config.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .context("KEYWARD_SMTP_URL")?
                // A stalled relay must not hold a request for long.
                .timeout(Some(Duration::from_secs(10)))
                .build();
            return Ok(Mailer::Smtp { transport, from });
        }
        if let Some(dir) = &config.mail_outbox {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            return Ok(Mailer::Outbox {
                dir: dir.clone(),
                from,
            });
        }
        Ok(Mailer::Disabled)
    }

    /// Sends one message.
    pub async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        match self {
            Mailer::Smtp { transport, from } => {
                transport
                    .send(message(from, &mail)?)
                    .await
                    .context("sending through SMTP")?;
            }
            Mailer::Outbox { dir, from } => {
                let bytes = message(from, &mail)?.formatted();
                let name = format!("{}.eml", uuid::Uuid::now_v7());
                // Written whole, then renamed: a reader of the folder never sees half a message.
                let partial = dir.join(format!(".{name}.partial"));
                tokio::fs::write(&partial, bytes)
                    .await
                    .with_context(|| format!("writing {}", partial.display()))?;
                tokio::fs::rename(&partial, dir.join(&name)).await?;
            }
            Mailer::Disabled => {
                tracing::warn!(
                    subject = %mail.subject,
                    "no mail transport configured (KEYWARD_SMTP_URL or KEYWARD_MAIL_OUTBOX); message dropped"
                );
            }
        }
        Ok(())
    }
}

fn message(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    Ok(Message::builder()
        .from(from.clone())
        .to(mail.to.parse().context("recipient address")?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body(&mail.body))?)
}

/// Plain ASCII goes as 7bit, so links stay whole and readable in the raw message (lettre would
/// fold lines past 76 characters into quoted-printable, which 7bit does not need below 998, RFC
/// 5322 §2.1.1); anything else is left to lettre's choice of encoding.
fn body(text: &str) -> Body {
    if text.is_ascii() && text.lines().all(|line| line.len() <= 998) {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    }
}
