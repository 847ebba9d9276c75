//! What every `agent-otel` binary test needs: the command with a clean
//! environment, and files in a temporary folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;

/// `agent-otel`, with the caller's `OTEL_*` and `TRACEPARENT` variables
/// removed (they must not leak into what is tested), no colours, and a
/// 120 s bound.
pub fn agent_otel() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(cargo_bin("agent-otel"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("OTEL_") || name == "TRACEPARENT" {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}
