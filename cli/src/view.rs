//! `agent-otel view --db FILE`: the local web viewer over a store file
//! until Ctrl-C; and the `--ui` viewer `collect` and `demo` start.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, mpsc};

use agent_otel_store::Store;
use agent_otel_viewer::Viewer;

use crate::style::Style;
use crate::{EXIT_OK, EXIT_USAGE};

/// Starts the viewer over `store` at `addr` and says where it is; `None`
/// (after saying why) when it cannot listen.
pub fn start(store: Arc<Store>, addr: SocketAddr) -> Option<Viewer> {
    match Viewer::start(store, addr) {
        Ok(viewer) => {
            eprintln!("viewer: {}", viewer.url());
            Some(viewer)
        }
        Err(e) => {
            eprintln!("{} {e}", Style::stderr().bad("error:"));
            None
        }
    }
}

/// Blocks until Ctrl-C / SIGTERM; `false` when the handler could not be
/// installed (said on standard error).
pub fn wait_for_ctrl_c() -> bool {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!(
            "{} cannot install the Ctrl-C handler: {e}",
            Style::stderr().bad("error:")
        );
        return false;
    }
    // A closed channel means the handler is gone.
    let _ = stop_rx.recv();
    true
}

/// `view`: serve the store file `db` at `addr` until Ctrl-C.
pub fn run(db: &Path, addr: SocketAddr) -> u8 {
    let err = Style::stderr();
    if !db.is_file() {
        eprintln!("{} no store file {}", err.bad("error:"), db.display());
        return EXIT_USAGE;
    }
    let store = match Store::open(db) {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_USAGE;
        }
    };
    let Some(viewer) = start(store, addr) else {
        return EXIT_USAGE;
    };
    eprintln!("showing {} (Ctrl-C to stop)", db.display());
    if !wait_for_ctrl_c() {
        return EXIT_USAGE;
    }
    drop(viewer);
    EXIT_OK
}
