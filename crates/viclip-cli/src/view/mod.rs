//! `viclip view OUT`: a local web page over a scored run — distributions, pages of clips with the
//! frames the model saw, range-served videos, a threshold preview with its `viclip subset` command
//! and text search over the stored video embeddings (see `docs/view.md`).
//!
//! Safe by default: it binds to 127.0.0.1, serves only the compiled-in page and, by clip id (a row
//! of the run's shards), the run's rows, frames and videos under the video root; no part of a
//! request is ever used as a path; it never writes to the run.

pub mod api;
pub mod error;
pub mod export;
pub mod frames;
pub mod index;
pub mod layout;
pub mod query;
pub mod range;
pub mod rows;
pub mod search;
pub mod state;
pub mod threshold;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;

pub use error::{ViewError, ViewResult};
pub use state::{AppState, ModelSource};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// `viclip view OUT`.
#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// The output directory of `viclip score` (a run still being scored can be viewed).
    pub out: PathBuf,
    /// Address to listen on; other hosts can reach it only if you bind to one of their networks.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub bind: SocketAddr,
    /// Where the videos are now, if not where the run recorded them.
    #[arg(long)]
    pub video_root: Option<PathBuf>,
    /// The run's checkpoint for text search (default: the path the run recorded); its sha256 must
    /// equal the run's.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Config of --weights: a preset name or JSON path (default: the config the run recorded).
    #[arg(long, requires = "weights")]
    pub config: Option<String>,
    /// Device of the text tower: cpu, cuda, cuda:N or metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// dtype of the text tower: f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Load no model: no text search.
    #[arg(long, conflicts_with = "weights")]
    pub no_search: bool,
    /// Write the overview as static HTML into this directory (histograms, samples per score
    /// bucket with their frames) instead of serving.
    #[arg(long)]
    pub export: Option<PathBuf>,
}

impl ViewArgs {
    /// The options of a view of `out` with defaults (for tests and programs).
    pub fn new(out: PathBuf) -> Self {
        ViewArgs {
            out,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            video_root: None,
            weights: None,
            config: None,
            device: "cpu".into(),
            dtype: "f32".into(),
            no_search: false,
            export: None,
        }
    }

    fn model_source(&self) -> ModelSource {
        match (&self.weights, self.no_search) {
            (_, true) => ModelSource::Off,
            (Some(w), _) => ModelSource::Files {
                weights: w.clone(),
                config: self.config.clone(),
            },
            (None, false) => ModelSource::Recorded,
        }
    }
}

/// Opens the run (index, model) that `args` names.
pub fn open(args: &ViewArgs) -> Result<Arc<AppState>> {
    let layout = layout::Layout::read(&args.out, args.video_root.clone())?;
    let model = state::load_model(&layout, &args.model_source(), &args.device, &args.dtype)?;
    Ok(Arc::new(AppState::open(layout, model)?))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Headers on every response: no sniffing, no framing, nothing loaded from elsewhere.
async fn harden(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/api/summary", get(api::summary))
        .route("/api/histogram", get(api::histogram))
        .route("/api/clips", get(api::clip_page))
        .route("/api/clip/{id}", get(api::clip))
        .route("/api/samples", get(api::samples))
        .route("/api/threshold", get(api::threshold))
        .route("/api/scatter", get(api::scatter))
        .route("/api/search", get(api::search))
        .route("/clip/{id}/frames.png", get(api::frames))
        .route("/clip/{id}/video", get(api::video).head(api::video))
        .layer(axum::middleware::map_response(harden))
        .with_state(state)
}

/// A running server; stopped when dropped.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Blocks until the server ends (it runs until the process is stopped).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves `state` on `bind` from a thread of its own (port 0: any free port; see [`Server::addr`]).
pub fn serve(state: Arc<AppState>, bind: SocketAddr) -> Result<Server> {
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("listening on {bind}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = if addr.ip().is_loopback() {
        // A page of another site must not reach the server through a DNS name rebound to
        // 127.0.0.1: on loopback only the loopback names of this port are answered.
        let hosts: Arc<Vec<String>> = Arc::new(
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(|h| format!("{h}:{}", addr.port()))
                .collect(),
        );
        router(state).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let hosts = hosts.clone();
                async move {
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok());
                    if host.is_some_and(|h| hosts.iter().any(|a| a == h)) {
                        next.run(req).await
                    } else {
                        ViewError::Forbidden(format!(
                            "Host {host:?} is not this server's loopback address; open http://{}/",
                            hosts[0]
                        ))
                        .into_response()
                    }
                }
            },
        ))
    } else {
        router(state)
    };
    let thread = std::thread::Builder::new()
        .name("viclip-view".into())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(l) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        })?;
    Ok(Server {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// `viclip view`: serves the run (or exports it) and prints the URL.
pub fn run(args: &ViewArgs) -> Result<()> {
    if let Some(dir) = &args.export {
        let mut a = args.clone();
        a.no_search = true;
        let state = open(&a)?;
        let n = export::export(&state, dir)?;
        println!(
            "viclip view: wrote {} ({n} clips with frames)",
            dir.join("index.html").display()
        );
        return Ok(());
    }
    let state = open(args)?;
    if let Err(r) = &state.model {
        eprintln!("viclip view: text search is off: {r}");
    }
    let server = serve(state, args.bind)?;
    println!("viclip view: http://{}/", server.addr);
    server.wait();
    Ok(())
}
