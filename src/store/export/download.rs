//! Handing an export to a browser: its file name, and a writer that streams the document from the
//! blocking thread that writes it to the async response.

use std::io::Write;

/// A file name for a download: `whatsapi-<what>-<id>-<YYYY-MM-DD>.json`.
pub fn file_name(what: &str, id: i64, now: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(now)
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    format!("whatsapi-{what}-{id}-{day}.json")
}

/// Writes into a channel in chunks, for streaming a document written on a blocking thread to an async
/// response. A receiver that went away (the browser stopped the download) ends the export with an error.
pub struct ChannelWriter {
    tx: rocket::tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: rocket::tokio::sync::mpsc::Sender<Vec<u8>>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download ended"))
    }
}
