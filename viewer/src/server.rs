//! The HTTP server: routes, headers, and a viewer running on its own
//! thread until dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use agent_otel_store::{Store, StoreError};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{data, html, pages};

/// Why the viewer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime or thread could not be created.
    #[error("cannot start the viewer: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The viewer's routes over `store`.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(sessions_page))
        .route("/sessions/{id}", get(session_page))
        .route("/overview", get(overview_page))
        .route("/api/sessions", get(sessions_json))
        .route("/api/sessions/{id}", get(session_json))
        .route("/api/overview", get(overview_json))
        .route("/favicon.ico", get(favicon))
        .fallback(not_found)
        .with_state(store)
}

/// A running viewer; dropping it stops the server and joins its thread.
#[derive(Debug)]
pub struct Viewer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Viewer {
    /// Binds `addr` (port 0 picks one) and serves `store` on a thread of
    /// its own.
    pub fn start(store: Arc<Store>, addr: SocketAddr) -> Result<Viewer, ViewerError> {
        let bind = |source| ViewerError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let bound = listener.local_addr().map_err(bind)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(ViewerError::Runtime)?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind)?
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(store);
        let thread = std::thread::Builder::new()
            .name("agent-otel-viewer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .map_err(ViewerError::Runtime)?;
        Ok(Viewer {
            addr: bound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the viewer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Headers of every response: no script, no remote load, no sniffing.
fn with_headers(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(html::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html_page(status: StatusCode, body: String) -> Response {
    with_headers(status, "text/html; charset=utf-8", body)
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => with_headers(StatusCode::OK, "application/json", body),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    with_headers(status, "application/json", body)
}

/// Runs a store query off the async threads.
async fn query<T: Send + 'static>(
    store: Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the query did not finish: {e}")),
    }
}

async fn sessions_page(State(store): State<Arc<Store>>) -> Response {
    match query(store, data::sessions).await {
        Ok(rows) => html_page(StatusCode::OK, pages::sessions(&rows)),
        Err(e) => html_page(StatusCode::INTERNAL_SERVER_ERROR, pages::error(&e)),
    }
}

async fn session_page(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    let key = id.clone();
    match query(store, move |s| data::session(s, &key)).await {
        Ok(Some(view)) => html_page(StatusCode::OK, pages::session(&view)),
        Ok(None) => html_page(
            StatusCode::NOT_FOUND,
            pages::not_found(&format!("No session {id} in the store.")),
        ),
        Err(e) => html_page(StatusCode::INTERNAL_SERVER_ERROR, pages::error(&e)),
    }
}

async fn overview_page(State(store): State<Arc<Store>>) -> Response {
    match query(store, data::overview).await {
        Ok(o) => html_page(StatusCode::OK, pages::overview(&o)),
        Err(e) => html_page(StatusCode::INTERNAL_SERVER_ERROR, pages::error(&e)),
    }
}

async fn sessions_json(State(store): State<Arc<Store>>) -> Response {
    match query(store, data::sessions).await {
        Ok(rows) => json(&rows),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn session_json(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    match query(store, move |s| data::session(s, &id)).await {
        Ok(Some(view)) => json(&view),
        Ok(None) => json_error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn overview_json(State(store): State<Arc<Store>>) -> Response {
    match query(store, data::overview).await {
        Ok(o) => json(&o),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// An empty icon, so a browser asking for `/favicon.ico` logs no 404.
async fn favicon() -> Response {
    with_headers(StatusCode::NO_CONTENT, "image/x-icon", String::new())
}

async fn not_found() -> Response {
    html_page(StatusCode::NOT_FOUND, pages::not_found("No such page."))
}
