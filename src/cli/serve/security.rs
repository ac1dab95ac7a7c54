//! Who may call: a request must name this server in its `Host` header (a page on another site
//! that resolves its own name to 127.0.0.1, DNS rebinding, is refused), and a request that
//! changes anything (any method but GET and HEAD) from a browser must come from these pages'
//! own origin (a cross-site form or script is refused). And how much: a body declared larger
//! than the limit is refused before any of it is read.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::api::{ApiError, MAX_BODY_BYTES};
use super::AppState;

/// Refuses requests for another host and cross-origin requests that change state.
pub async fn check_host_and_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state
        .hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
    {
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own address (the Host header names another)",
        ));
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let ours = state
                .hosts
                .iter()
                .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
            if !ours {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross-origin request refused: only these pages may change anything",
                ));
            }
        }
    }
    Ok(next.run(request).await)
}

/// Refuses a request whose `Content-Length` is over [`MAX_BODY_BYTES`] at once, before reading
/// its body, so the client hears why instead of uploading megabytes for nothing (a body sent
/// without a length is cut off at the limit by the router's `DefaultBodyLimit`).
pub async fn check_declared_size(request: Request, next: Next) -> Result<Response, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(bytes) = declared.filter(|&n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is {bytes} bytes; the limit is {MAX_BODY_BYTES}"),
        ));
    }
    Ok(next.run(request).await)
}
