//! A source: public HTTPS mirrors, read in chunks so that a stop or a limit takes effect
//! mid-download.

use std::io::Read;
use std::time::Duration;

use super::{FetchEvent, Sources, INTERRUPTED, MAX_DOWNLOAD_BYTES, UNREACHABLE};

/// Downloads `url` (the file `file`), reporting progress, while `stop()` stays false.
pub(super) fn download(
    url: &str,
    file: &str,
    sources: &Sources,
    on_event: &mut dyn FnMut(FetchEvent),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<u8>, String> {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(sources.connect_timeout))
        .timeout_global(Some(Duration::from_secs(300)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(_)
        | ureq::Error::Io(_) => format!("{UNREACHABLE}: {e}"),
        e => e.to_string(),
    })?;
    let total = response.body().content_length();
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .reader();
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if stop() {
            return Err(INTERRUPTED.into());
        }
        let n = reader.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        on_event(FetchEvent::Downloading {
            file: file.into(),
            url: url.into(),
            done: bytes.len() as u64,
            total,
        });
    }
    if let Some(total) = total {
        if total != bytes.len() as u64 {
            return Err(format!(
                "the server promised {total} bytes and sent {}",
                bytes.len()
            ));
        }
    }
    Ok(bytes)
}
