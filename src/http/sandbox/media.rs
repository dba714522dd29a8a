//! Media as the sandbox serves it: `GET /sandbox/graph/<version>/<media_id>?phone_number_id=` answers
//! like Meta's media lookup (a short-lived URL, the type, the hash and size), and that URL serves a small
//! PNG drawn from the media id, only with the number's own token (Meta refuses the download without it).
//!
//! The lookup shares its path shape with the number lookup (`GET /sandbox/graph/<version>/<id>`), so it
//! is ranked first and steps aside (forwards) when the id is a sandbox number's or not a media id.

use super::{SandboxCall, meta_error};
use crate::store::{Db, connections};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{get, routes};
use serde_json::{Value, json};
use sha2::Digest;

pub fn routes() -> Vec<rocket::Route> {
    let mut all = routes![sandbox_media_info, sandbox_media_download];
    // Ahead of the number lookup (rank -6 by default for its shape); the attribute takes no negative rank.
    all[0].rank = -7;
    all
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
    let image = picture(media_id);
    (
        Status::Ok,
        Json(json!({
            "messaging_product": "whatsapp",
            "url": format!("{}/sandbox/media/{number}/{media_id}", call.config.server.public_url),
            "mime_type": "image/png",
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
    fn only_long_digit_runs_are_media() {
        assert!(looks_like_media("1037543291543636"));
        assert!(!looks_like_media("message_templates"));
        assert!(!looks_like_media("12"));
    }
}
