//! The pages and their scripts and styles, compiled into the binary (plain HTML, CSS and
//! JavaScript: no build step, nothing fetched from the network).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::http::ApiError;

const INDEX: &str = include_str!("assets/index.html");
const GRAPH: &str = include_str!("assets/graph.html");
const DIGITS: &str = include_str!("assets/digits.html");
const PLAYGROUND: &str = include_str!("assets/playground.html");
const DASHBOARD: &str = include_str!("assets/dashboard.html");
const TEXT: &str = include_str!("assets/text.html");

/// The scripts and the style sheet, by name.
const ASSETS: [(&str, &str, &str); 7] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/graph.js"),
    ),
    (
        "digits.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/digits.js"),
    ),
    (
        "playground.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/playground.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    ),
    (
        "text.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/text.js"),
    ),
];

/// A page, with headers that keep it from being framed by another site or sniffed.
fn page(html: &'static str) -> Response {
    (
        [
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(html),
    )
        .into_response()
}

/// `GET /`.
pub async fn index() -> Response {
    page(INDEX)
}

/// `GET /graph`.
pub async fn graph_page() -> Response {
    page(GRAPH)
}

/// `GET /digits`.
pub async fn digits_page() -> Response {
    page(DIGITS)
}

/// `GET /playground`.
pub async fn playground_page() -> Response {
    page(PLAYGROUND)
}

/// `GET /dashboard`.
pub async fn dashboard_page() -> Response {
    page(DASHBOARD)
}

/// `GET /text`.
pub async fn text_page() -> Response {
    page(TEXT)
}

/// `GET /favicon.ico`: none (and no error in the browser's console for asking).
pub async fn no_icon() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `GET /assets/NAME`: one of the fixed files above, nothing else.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, kind, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such asset"))?;
    Ok((
        [
            (header::CONTENT_TYPE, *kind),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response())
}
