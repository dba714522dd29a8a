//! Media as the sandbox serves it: `GET /sandbox/graph/<version>/<media_id>?phone_number_id=` answers
//! like Meta's media lookup (a short-lived URL, the type, the hash and size), and that URL serves a small
//! PNG drawn from the media id, only with the number's own token (Meta refuses the download without it).
//!
//! `POST /sandbox/graph/<version>/<phone_number_id>/media` takes an upload as Meta does (multipart:
//! `messaging_product`, `type`, `file`) and answers its id; the bytes are kept in memory, bounded
//! (`Uploads`), and served by the same lookup and download as a customer's media.
//!
//! The lookup shares its path shape with the number lookup (`GET /sandbox/graph/<version>/<id>`), so it
//! is ranked first and steps aside (forwards) when the id is a sandbox number's or not a media id.

use super::{SandboxCall, SandboxState, meta_error};
use crate::store::{Db, connections};
use parking_lot::Mutex;
use rocket::form::{Form, FromForm};
use rocket::fs::TempFile;
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, get, post, routes};
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::VecDeque;

pub fn routes() -> Vec<rocket::Route> {
    let mut all = routes![
        sandbox_media_info,
        sandbox_media_download,
        sandbox_media_upload
    ];
    // Ahead of the number lookup (rank -6 by default for its shape); the attribute takes no negative rank.
    all[0].rank = -7;
    all
}

/// Uploads the sandbox keeps, newest last; the oldest are forgotten past these bounds.
const MOST_UPLOADS: usize = 64;
const MOST_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// An uploaded file, for the number that uploaded it.
struct Upload {
    phone_number_id: String,
    id: String,
    mime: String,
    bytes: Vec<u8>,
}

/// Files uploaded to the sandbox, in memory and bounded (count and bytes).
#[derive(Default)]
pub struct Uploads {
    kept: Mutex<VecDeque<Upload>>,
}

impl Uploads {
    fn keep(&self, upload: Upload) {
        let mut kept = self.kept.lock();
        kept.push_back(upload);
        while kept.len() > MOST_UPLOADS
            || kept.iter().map(|u| u.bytes.len()).sum::<usize>() > MOST_UPLOAD_BYTES
        {
            kept.pop_front();
        }
    }

    /// The type and bytes of a file the number uploaded.
    fn find(&self, phone_number_id: &str, id: &str) -> Option<(String, Vec<u8>)> {
        self.kept
            .lock()
            .iter()
            .find(|u| u.id == id && u.phone_number_id == phone_number_id)
            .map(|u| (u.mime.clone(), u.bytes.clone()))
    }
}

/// A file the number uploaded to the sandbox: its type and bytes.
fn uploaded(call: &SandboxCall<'_>, phone_number_id: &str, id: &str) -> Option<(String, Vec<u8>)> {
    call.sandbox?.uploads.find(phone_number_id, id)
}

/// Meta's upload form.
#[derive(FromForm)]
struct UploadForm<'r> {
    messaging_product: Option<String>,
    #[field(name = "type")]
    kind: Option<String>,
    file: Option<TempFile<'r>>,
}

#[post("/sandbox/graph/<version>/<phone_number_id>/media", data = "<form>")]
async fn sandbox_media_upload(
    version: &str,
    phone_number_id: &str,
    form: Option<Form<UploadForm<'_>>>,
    call: SandboxCall<'_>,
    state: &State<SandboxState>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    if !call.authorised(phone_number_id).await {
        return meta_error(190, 401, "Invalid OAuth access token");
    }
    let Some(form) = form else {
        return meta_error(100, 400, "The parameter file is required");
    };
    if form.messaging_product.as_deref() != Some("whatsapp") {
        return meta_error(100, 400, "The parameter messaging_product is required");
    }
    let (Some(mime), Some(file)) = (form.kind.clone(), form.file.as_ref()) else {
        return meta_error(100, 400, "The parameters type and file are required");
    };
    let mut bytes = Vec::new();
    let read = match file.open().await {
        Ok(mut reader) => {
            use rocket::tokio::io::AsyncReadExt;
            reader.read_to_end(&mut bytes).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    if read.is_err() || bytes.is_empty() {
        return meta_error(100, 400, "The parameter file is empty");
    }
    let digits = crate::crypto::random_bytes::<8>()
        .map(u64::from_be_bytes)
        .unwrap_or_default();
    let id = format!("{}", 1_000_000_000_000_000 + digits % 8_999_999_999_999_999);
    state.uploads.keep(Upload {
        phone_number_id: phone_number_id.to_owned(),
        id: id.clone(),
        mime,
        bytes,
    });
    (Status::Ok, Json(json!({ "id": id })))
}

/// Meta's media ids are long runs of digits.
fn looks_like_media(id: &str) -> bool {
    (6..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// Passes when the path's id looks like media and is not a sandbox number's id; forwards otherwise.
pub struct MediaLookup;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MediaLookup {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        // sandbox / graph / <version> / <id>
        let Some(id) = req.routed_segment(3).filter(|id| looks_like_media(id)) else {
            return Outcome::Forward(Status::NotFound);
        };
        let Some(db) = req.rocket().state::<Db>() else {
            return Outcome::Forward(Status::NotFound);
        };
        let id = id.to_owned();
        let number = db
            .read_async(move |conn| connections::find_sandbox(conn, &id))
            .await;
        match number {
            Ok(None) => Outcome::Success(MediaLookup),
            _ => Outcome::Forward(Status::NotFound),
        }
    }
}

#[get("/sandbox/graph/<version>/<media_id>?<phone_number_id>")]
async fn sandbox_media_info(
    version: &str,
    media_id: &str,
    phone_number_id: Option<&str>,
    _media: MediaLookup,
    call: SandboxCall<'_>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    // Meta takes the number as an optional check; the sandbox needs it to know whose token to expect.
    let number = phone_number_id.unwrap_or_default();
    if !call.authorised(number).await {
        return meta_error(190, 401, "Invalid OAuth access token");
    }
    let (mime, image) = uploaded(&call, number, media_id)
        .unwrap_or_else(|| ("image/png".to_owned(), picture(media_id)));
    (
        Status::Ok,
        Json(json!({
            "messaging_product": "whatsapp",
            "url": format!("{}/sandbox/media/{number}/{media_id}", call.config.server.public_url),
            "mime_type": mime,
            "sha256": hex::encode(sha2::Sha256::digest(&image)),
            "file_size": image.len().to_string(),
            "id": media_id,
        })),
    )
}

/// The download behind the URL: the PNG, for the number's own token only.
#[get("/sandbox/media/<phone_number_id>/<media_id>")]
async fn sandbox_media_download(
    phone_number_id: &str,
    media_id: &str,
    call: SandboxCall<'_>,
) -> Result<(ContentType, Vec<u8>), (Status, Json<Value>)> {
    if !looks_like_media(media_id) {
        return Err(meta_error(100, 404, "Unknown media"));
    }
    if !call.authorised(phone_number_id).await {
        return Err(meta_error(190, 401, "Invalid OAuth access token"));
    }
    if let Some((mime, bytes)) = uploaded(&call, phone_number_id, media_id) {
        let kind = ContentType::parse_flexible(&mime).unwrap_or(ContentType::Binary);
        return Ok((kind, bytes));
    }
    Ok((ContentType::PNG, picture(media_id)))
}

/// A 24×24 PNG of two colours taken from the media id, so each id has its own picture.
pub fn picture(media_id: &str) -> Vec<u8> {
    const SIZE: usize = 24;
    let hash = sha2::Sha256::digest(media_id.as_bytes());
    let (light, dark) = (
        [hash[0] | 0x80, hash[1] | 0x80, hash[2] | 0x80],
        [hash[3] & 0x7f, hash[4] & 0x7f, hash[5] & 0x7f],
    );
    let mut pixels = Vec::with_capacity(SIZE * (1 + 3 * SIZE));
    for y in 0..SIZE {
        pixels.push(0); // no filter
        for x in 0..SIZE {
            let colour = if (x / 6 + y / 6) % 2 == 0 {
                light
            } else {
                dark
            };
            pixels.extend_from_slice(&colour);
        }
    }
    // zlib around one stored (uncompressed) deflate block.
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = pixels.len() as u16;
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&pixels);
    zlib.extend_from_slice(&adler32(&pixels).to_be_bytes());

    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&(SIZE as u32).to_be_bytes());
    header.extend_from_slice(&(SIZE as u32).to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", header.as_slice()),
        (b"IDAT", &zlib),
        (b"IEND", &[]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_is_a_png_of_its_own() {
        let png = picture("1037543291543636");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND's CRC");
        assert_ne!(png, picture("1037543291543637"));
    }

    #[test]
    fn checksums_match_their_definitions() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn uploads_are_kept_within_their_bounds() {
        let uploads = Uploads::default();
        for i in 0..(MOST_UPLOADS + 3) {
            uploads.keep(Upload {
                phone_number_id: "1".into(),
                id: i.to_string(),
                mime: "image/png".into(),
                bytes: vec![1; 10],
            });
        }
        assert!(uploads.find("1", "0").is_none(), "the oldest forgotten");
        assert!(uploads.find("1", &(MOST_UPLOADS + 2).to_string()).is_some());
        assert!(
            uploads.find("2", &(MOST_UPLOADS + 2).to_string()).is_none(),
            "another number's"
        );
        uploads.keep(Upload {
            phone_number_id: "1".into(),
            id: "big".into(),
            mime: "video/mp4".into(),
            bytes: vec![0; MOST_UPLOAD_BYTES],
        });
        assert_eq!(uploads.kept.lock().len(), 1, "bytes bound the memory too");
    }

    #[test]
    fn only_long_digit_runs_are_media() {
        assert!(looks_like_media("1037543291543636"));
        assert!(!looks_like_media("message_templates"));
        assert!(!looks_like_media("12"));
    }
}
