//! The local web viewer over the agent-otel store: a sessions list (`/`),
//! a session's turns, tool calls and events (`/sessions/{id}`), an overview
//! of tokens, API latency and tool success (`/overview`), and the same
//! data as JSON (`/api/sessions`, `/api/sessions/{id}`, `/api/overview`).
//!
//! Pages are rendered on the server as HTML with inline SVG charts; there
//! is no script, and every response carries a Content-Security-Policy that
//! forbids scripts and remote loads, so a value received from an agent
//! (a tool name such as `<img src=x onerror=...>`) is shown as text and
//! runs nothing. Everything works offline.
//!
//! ```no_run
//! use std::sync::Arc;
//! use agent_otel_store::Store;
//! use agent_otel_viewer::{Viewer, DEFAULT_ADDR};
//! let store = Arc::new(Store::in_memory(10_000)?);
//! let viewer = Viewer::start(store, DEFAULT_ADDR.parse()?)?;
//! println!("viewer at {}", viewer.url());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod data;
pub mod html;
pub mod pages;
mod server;

pub use server::{Viewer, ViewerError, router};

/// Where the viewer listens unless told otherwise (loopback only).
pub const DEFAULT_ADDR: &str = "127.0.0.1:4319";
