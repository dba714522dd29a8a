//! Outgoing email. With `[smtp]` configured, messages go to that server; without it, each message is
//! written as an `.eml` file under `<data_dir>/outbox/` and logged, so a fresh install still works (and
//! an operator can read password-reset links there).

use crate::config::{Config, SmtpSecurity};
use crate::error::{Error, Result};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Clone)]
pub struct Mailer {
    /// The configured product name, which every email signs with.
    pub product_name: String,
    from: Mailbox,
    delivery: Delivery,
}

#[derive(Clone)]
enum Delivery {
    Smtp(SmtpTransport),
    Outbox(PathBuf),
}

impl Mailer {
    pub fn new(config: &Config) -> Result<Mailer> {
        let smtp = &config.smtp;
        let from: Mailbox = smtp.from.parse().map_err(|e| {
            Error::invalid(
                "smtp.from",
                format!("{:?} is not an address: {e}", smtp.from),
            )
        })?;
        if smtp.host.is_empty() {
            return Ok(Mailer {
                product_name: config.branding.product_name.clone(),
                from,
                delivery: Delivery::Outbox(config.storage.data_dir.join("outbox")),
            });
        }
        let smtp_error =
            |e: lettre::transport::smtp::Error| Error::invalid("smtp.host", e.to_string());
        let mut builder = match smtp.security {
            SmtpSecurity::Starttls => {
                SmtpTransport::starttls_relay(&smtp.host).map_err(smtp_error)?
            }
            SmtpSecurity::Tls => SmtpTransport::relay(&smtp.host).map_err(smtp_error)?,
            SmtpSecurity::None => SmtpTransport::builder_dangerous(&smtp.host),
        }
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(password) = &smtp.password {
            builder = builder.credentials(Credentials::new(
                smtp.username.clone(),
                password.expose().to_owned(),
            ));
        }
        Ok(Mailer {
            product_name: config.branding.product_name.clone(),
            from,
            delivery: Delivery::Smtp(builder.build()),
        })
    }

    /// Sends (or files) the message on a blocking thread.
    pub async fn send(&self, email: Email) -> Result<()> {
        let mailer = self.clone();
        crate::blocking::run("mail", move || mailer.send_blocking(&email)).await?
    }

    pub fn send_blocking(&self, email: &Email) -> Result<()> {
        self.send_blocking_with_headers(email, &[])
    }

    /// Sends with extra header fields (such as `List-Unsubscribe`), each value encoded by lettre.
    pub fn send_blocking_with_headers(
        &self,
        email: &Email,
        headers: &[(&'static str, String)],
    ) -> Result<()> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| Error::invalid("email", "not an email address"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            .header(ContentType::TEXT_PLAIN);
        for (name, value) in headers {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.clone(),
            ));
        }
        let message = builder
            .body(email.text.clone())
            .map_err(|e| Error::Internal(anyhow::anyhow!("cannot build the email: {e}")))?;
        match &self.delivery {
            Delivery::Smtp(transport) => {
                transport
                    .send(&message)
                    .map_err(|e| Error::Unavailable(format!("the mail server refused: {e}")))?;
                tracing::info!(to = %email.to, subject = %email.subject, "email sent");
            }
            Delivery::Outbox(dir) => {
                let path = write_to_outbox(dir, &message.formatted())?;
                tracing::info!(to = %email.to, path = %path.display(), "no [smtp] configured: email written to the outbox");
            }
        }
        Ok(())
    }
}

fn write_to_outbox(dir: &std::path::Path, bytes: &[u8]) -> Result<PathBuf> {
    let io = |e: std::io::Error| {
        Error::Internal(anyhow::anyhow!(
            "cannot write to the outbox {}: {e}",
            dir.display()
        ))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(dir)
        .map_err(io)?;
    let name = format!(
        "{}-{}.eml",
        crate::store::now_ms(),
        hex::encode(crate::crypto::random_bytes::<4>()?)
    );
    let path = dir.join(name);
    // Private: these files carry sign-in links.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    Ok(path)
}
