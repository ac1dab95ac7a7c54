//! `scratchgrad serve`: a local web app over the same library calls the commands make, with
//! the pages inside the binary (no build step, no network at run time). This module owns HTTP
//! only: who may call (security.rs), the JSON API (api.rs), the pages (assets.rs).

mod connections;
mod dashboard;
mod digits;
mod graph;
mod http;
mod live;
mod pages;
mod playground;
mod runs;
mod security;
mod text;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use clap::Args;

use crate::output::{errln, outln};
use crate::Failure;

/// Serve the learning pages on this machine: step through backpropagation, train small
/// networks live, watch real runs, draw digits
///
/// Pages, in the order a learner meets them: /graph (an expression's graph and its backward
/// pass, one operation at a time), /playground (a small network learns a 2-D data set on the
/// scalar engine; every neuron and weight shown), /dashboard (train on MNIST from the page:
/// curves, pictures, the network's health; runs in --runs), /digits (draw a digit for a model
/// in --runs; every layer, kernel and the saliency map), /text (write with a language model
/// in --runs, one character at a time: the next character's chances and, for a GPT, each
/// head's attention). The JSON API they use is documented in the README.
#[derive(Args)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port)
    #[arg(long, allow_negative_numbers = true, default_value_t = 8000)]
    port: u16,
    /// Address to listen on; anything but this machine's loopback makes the pages reachable
    /// from the network
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Another name the pages may be reached by when --host is not loopback (a name in your
    /// network's DNS); may be repeated
    #[arg(long, value_name = "NAME")]
    allow_host: Vec<String>,
    /// The folder of training runs whose models the digits page offers
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs: PathBuf,
    /// Where the dashboard's runs find data sets [default: $SCRATCHGRAD_DATA, else
    /// ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Open the pages in the system's browser
    #[arg(long)]
    open: bool,
    /// The most connections open at once (more wait their turn) [default: from the
    /// process's file-descriptor limit, 8 to 128]
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    max_connections: Option<u16>,
    /// Seconds a client may take to send a request's head, or stay idle between requests; a
    /// body, or reading an answer, may take three times as long
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// What every request handler can reach.
pub struct AppState {
    /// The folder of runs (`--runs`).
    pub runs: PathBuf,
    /// Where the dashboard's runs find data sets (`--data-dir`), if given.
    pub data_dir: Option<PathBuf>,
    /// The `Host` header values this server answers to.
    pub hosts: security::AllowedHosts,
    /// Loaded models, by run name.
    pub models: digits::ModelCache,
    /// The playground's sessions.
    pub playgrounds: playground::Sessions,
    /// The training dashboard's run.
    pub dashboard: dashboard::Dashboard,
    /// Set when the server is closing: live event streams end.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Connections' limits.
    pub limits: connections::Limits,
    /// Permits for live event streams, which hold a connection for a whole run: a quarter
    /// of the connections, so that streams alone never take every one.
    pub event_streams: Arc<tokio::sync::Semaphore>,
}

/// The routes: pages, assets, API; everything behind the host and origin checks.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/graph", get(pages::graph_page))
        .route("/digits", get(pages::digits_page))
        .route("/assets/{name}", get(pages::asset))
        .route("/favicon.ico", get(pages::no_icon))
        .route("/api/grad", post(graph::grad))
        .route("/api/models", get(digits::models))
        .route("/api/predict", post(digits::predict))
        .route("/api/models/{name}/units/{unit}", get(digits::unit))
        .route("/playground", get(pages::playground_page))
        .route("/api/playground", post(playground::create))
        .route(
            "/api/playground/{id}",
            get(playground::show).delete(playground::close),
        )
        .route("/api/playground/{id}/train", post(playground::train))
        .route("/api/playground/{id}/settings", post(playground::settings))
        .route("/api/playground/{id}/reset", post(playground::reset))
        .route("/api/playground/{id}/points", post(playground::points))
        .route(
            "/api/playground/{id}/point-graph",
            post(playground::point_graph),
        )
        .route("/api/playground/{id}/close", post(playground::close))
        .route("/text", get(pages::text_page))
        .route("/api/text/models", get(text::models))
        .route("/api/text/next", post(text::next))
        .route("/dashboard", get(pages::dashboard_page))
        .route("/api/dashboard", get(dashboard::current))
        .route("/api/dashboard/start", post(dashboard::start))
        .route("/api/dashboard/stop", post(dashboard::stop))
        .route("/api/dashboard/resume", post(dashboard::resume))
        .route("/api/dashboard/events", get(live::events))
        .route("/api/dashboard/pictures/{name}", get(dashboard::picture))
        .route("/api/runs", get(runs::list))
        .route("/api/runs/{name}", get(runs::show))
        .route("/api/runs/{name}/files/{file}", get(runs::file))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(http::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            connections::body_deadline,
        ))
        .layer(axum::middleware::from_fn(security::check_declared_size))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            security::check_host_and_origin,
        ))
        .layer(axum::middleware::from_fn(http::json_errors))
        .with_state(state)
}

/// Runs `scratchgrad serve` until Ctrl-C.
pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server: {e}")))?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    // A missing folder is fine (the dashboard's first run makes it); anything else is not.
    if let Some(kind) = scratchgrad::files::not_a_folder(&args.runs) {
        return Err(Failure::new(format!(
            "--runs {} is {kind}, not a folder: give the folder that holds (or will hold) your runs",
            args.runs.display(),
        )));
    }
    if let Some(bad) = args.allow_host.iter().find(|n| !security::is_host_name(n)) {
        return Err(Failure::new(format!(
            "--allow-host {}: give a host name (letters, digits, dots and dashes), without a port",
            scratchgrad::text::elide(bad, 60)
        )));
    }
    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .map_err(|e| {
            Failure::new(format!(
                "cannot listen on {}:{} ({e}): choose another --port (0 picks a free one)",
                args.host, args.port
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::new(format!("cannot read the address listened on: {e}")))?;
    if !args.host.is_loopback() {
        errln!("warning: listening on {} makes these pages reachable from other machines; they are meant for this one (the default, --host 127.0.0.1)", args.host);
    }
    let limits = connections::Limits {
        connections: args.max_connections.map_or_else(
            connections::Limits::connections_for_this_process,
            usize::from,
        ),
        idle: std::time::Duration::from_secs(args.timeout),
        transfer: std::time::Duration::from_secs(args.timeout * 3),
    };
    let state = Arc::new(AppState {
        runs: args.runs.clone(),
        data_dir: args.data_dir.clone(),
        hosts: security::AllowedHosts::new(addr, &args.allow_host, machine_name().as_deref()),
        models: digits::ModelCache::default(),
        playgrounds: playground::Sessions::default(),
        dashboard: dashboard::Dashboard::default(),
        closing: tokio::sync::watch::Sender::new(false),
        event_streams: Arc::new(tokio::sync::Semaphore::new(limits.event_streams())),
        limits,
    });
    let url = state.hosts.url();
    outln!(
        "serving on {url} (pages: graph, digits, text, playground, dashboard; runs in {}); Ctrl-C stops",
        args.runs.display()
    );
    if args.open {
        open_browser(&url);
    }
    // Idle playgrounds are dropped on time, whether or not another is opened.
    let sweeping = Arc::clone(&state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(playground::Sessions::SWEEP_EVERY);
        loop {
            every.tick().await;
            sweeping.playgrounds.drop_idle(std::time::Instant::now());
        }
    });
    let closing = Arc::clone(&state);
    connections::serve(
        listener,
        router(Arc::clone(&state)),
        state.limits,
        async move {
            stop_requested().await;
            closing.closing.send_replace(true);
        },
    )
    .await;
    // A run from the dashboard stops as Ctrl-C stops `train`: its last epoch is kept.
    state.dashboard.stop_and_wait();
    outln!("stopped");
    Ok(())
}

/// This machine's host name, if it has one.
fn machine_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Asks the desktop to open `url`, saying so when it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_err() {
        errln!(
            "--open: no browser could be started ({opener} is not available); open {url} yourself"
        );
    }
}
