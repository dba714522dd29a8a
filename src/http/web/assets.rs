//! Static files (CSS, JavaScript, logo) embedded in the binary. A reseller's `branding.static_dir` can
//! replace any of them by name; `brand.css` carries the configured colour, since inline styles are
//! forbidden by our Content-Security-Policy.

use crate::config::Config;
use rocket::http::{ContentType, Header, Status};
use rocket::response::Responder;
use rocket::{State, get, routes};
use rust_embed::RustEmbed;
use std::borrow::Cow;
use std::path::PathBuf;

#[derive(RustEmbed)]
#[folder = "assets/static"]
struct Embedded;

pub fn routes() -> Vec<rocket::Route> {
    routes![brand_css, static_file]
}

#[derive(Responder)]
pub struct StaticFile {
    body: Cow<'static, [u8]>,
    content_type: ContentType,
    cache: Header<'static>,
}

fn cache_header() -> Header<'static> {
    Header::new("Cache-Control", "public, max-age=3600")
}

#[get("/static/brand.css")]
fn brand_css(config: &State<Config>) -> StaticFile {
    let css = format!(
        ":root {{ --primary: {}; }}\n",
        config.branding.primary_color
    );
    StaticFile {
        body: Cow::Owned(css.into_bytes()),
        content_type: ContentType::CSS,
        cache: cache_header(),
    }
}

#[get("/static/<path..>", rank = 2)]
fn static_file(path: PathBuf, config: &State<Config>) -> Result<StaticFile, Status> {
    let name = path.to_str().ok_or(Status::NotFound)?;
    let content_type = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ContentType::from_extension)
        .unwrap_or(ContentType::Binary);
    // PathBuf from a request has no ".." or hidden segments (Rocket refuses them), so joining is safe.
    if let Some(dir) = &config.branding.static_dir
        && let Ok(bytes) = std::fs::read(dir.join(&path))
    {
        return Ok(StaticFile {
            body: Cow::Owned(bytes),
            content_type,
            cache: cache_header(),
        });
    }
    let file = Embedded::get(name).ok_or(Status::NotFound)?;
    Ok(StaticFile {
        body: file.data,
        content_type,
        cache: cache_header(),
    })
}
