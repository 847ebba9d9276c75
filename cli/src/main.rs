//! `agent-otel`: see the whole pipeline work in one command (`demo`),
//! receive OTLP logs locally (`collect`), ship JSON-lines events from any
//! agent (`emit`), check an `[otel]` config (`check`), look after the
//! disk spool (`spool`), and browse what was collected (`view`, `--ui`).
//!
//! Exit codes: 0 success; 1 the work ran but not everything reached the
//! collector (or some input lines were bad); 2 bad usage or configuration.

mod check;
mod collect;
mod demo;
mod emit;
mod export;
mod input;
mod lines;
mod metrics_summary;
mod printable;
mod printer;
mod setup;
mod simulate;
mod spool;
mod style;
mod summary;
mod view;
mod waterfall;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code: everything worked.
const EXIT_OK: u8 = 0;
/// Exit code: the command ran, but events were lost or lines were bad.
const EXIT_INCOMPLETE: u8 = 1;
/// Exit code: bad usage or configuration; nothing was attempted.
const EXIT_USAGE: u8 = 2;
/// Largest `--max-line-bytes`: 1 GiB.
const MAX_LINE_BYTES_LIMIT: u64 = 1 << 30;

#[derive(Debug, Parser)]
#[command(name = "agent-otel", version, about = "OpenTelemetry log events for AI coding agents", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The transports `demo` can use; value names as `--exporter` takes them.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DemoTransport {
    /// OTLP/HTTP with protobuf bodies.
    #[value(name = "otlp-http")]
    Http,
    /// OTLP/HTTP with JSON bodies.
    #[value(name = "otlp-http-json")]
    HttpJson,
    /// OTLP/gRPC.
    #[value(name = "otlp-grpc")]
    Grpc,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a simulated agent session against an embedded collector and show what arrived.
    Demo {
        /// Transport to the embedded collector.
        #[arg(long, value_enum, default_value = "otlp-http")]
        exporter: DemoTransport,
        /// Send to the collector this `[otel]` config names instead of the embedded one.
        #[arg(long, value_name = "FILE", conflicts_with = "exporter")]
        config: Option<PathBuf>,
        /// Keep the session in an in-memory store and serve the web viewer over it
        /// (default 127.0.0.1:4319) until Ctrl-C.
        #[arg(long, value_name = "ADDR", num_args = 0..=1,
              default_missing_value = agent_otel_viewer::DEFAULT_ADDR, conflicts_with = "config")]
        ui: Option<SocketAddr>,
    },
    /// Run a local OTLP receiver (logs, metrics, traces) until Ctrl-C: keep what it
    /// acknowledges, print each event.
    Collect {
        /// OTLP/HTTP listen address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
        http: SocketAddr,
        /// OTLP/gRPC listen address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
        grpc: SocketAddr,
        /// Append every received request to FILE as one OTLP-JSON line (written
        /// and synced before the request is acknowledged).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep everything in this SQLite file (created when missing); a request is
        /// acknowledged only once committed. Default: a bounded in-memory store.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Print only the summary, not a line per event.
        #[arg(long)]
        quiet: bool,
        /// Serve the web viewer over the store (default 127.0.0.1:4319).
        #[arg(long, value_name = "ADDR", num_args = 0..=1,
              default_missing_value = agent_otel_viewer::DEFAULT_ADDR)]
        ui: Option<SocketAddr>,
    },
    /// Serve the web viewer over a store file written by `collect --db` until Ctrl-C.
    View {
        /// The SQLite store file.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// Listen address (loopback unless told otherwise).
        #[arg(long, value_name = "ADDR", default_value = agent_otel_viewer::DEFAULT_ADDR)]
        addr: SocketAddr,
    },
    /// Send JSON-lines events through the exporter an `[otel]` config selects.
    Emit {
        /// TOML file with an `[otel]` table.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// JSON-lines input; `-` for standard input.
        #[arg(long, value_name = "FILE", default_value = "-")]
        input: PathBuf,
        /// `service.name` of the resource (default: OTEL_SERVICE_NAME, then codex-cli).
        #[arg(long, value_name = "NAME")]
        service_name: Option<String>,
        /// How long to wait for delivery at end of input (or Ctrl-C); the
        /// whole run after that point ends within it.
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
        shutdown_timeout: Duration,
        /// Longest input line kept; a longer one is reported and skipped.
        #[arg(long, value_name = "BYTES", default_value_t = lines::DEFAULT_MAX_LINE_BYTES,
              value_parser = clap::value_parser!(u64).range(1..=MAX_LINE_BYTES_LIMIT))]
        max_line_bytes: u64,
    },
    /// Load and resolve an `[otel]` config; with --probe, send one event and say what happened.
    Check {
        /// TOML file with an `[otel]` table.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Send one probe event to the configured collector.
        #[arg(long)]
        probe: bool,
    },
    /// Write one stored session (by `conversation.id`) as OTLP-JSON lines.
    Export {
        /// The SQLite file `collect --db` wrote.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// The session's `conversation.id`.
        #[arg(long, value_name = "ID")]
        session: String,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The disk spool of `[otel.spool]`: what waits, deliver it now, or discard it.
    Spool {
        #[command(subcommand)]
        action: SpoolCommand,
    },
}

/// `agent-otel spool ...`.
#[derive(Debug, Subcommand)]
enum SpoolCommand {
    /// What is waiting: records, bytes, oldest, per signal.
    Status(SpoolArgs),
    /// Deliver what is waiting now, oldest first, with progress.
    Replay(SpoolArgs),
    /// Discard what is waiting.
    Clear(SpoolArgs),
}

#[derive(Debug, Args)]
struct SpoolArgs {
    /// TOML file with an `[otel]` table and `[otel.spool]` (default spool:
    /// ~/.cache/agent-otel/spool; replay needs the file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a valid duration"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Demo {
            exporter,
            config,
            ui,
        } => demo::run(exporter, config.as_deref(), ui),
        Command::Collect {
            http,
            grpc,
            out,
            db,
            quiet,
            ui,
        } => collect::run(&collect::CollectArgs {
            http,
            grpc,
            out: out.as_deref(),
            db: db.as_deref(),
            quiet,
            ui,
        }),
        Command::View { db, addr } => view::run(&db, addr),
        Command::Emit {
            config,
            input,
            service_name,
            shutdown_timeout,
            max_line_bytes,
        } => emit::run(emit::EmitOptions {
            config,
            input,
            service_name,
            shutdown_timeout,
            // At most MAX_LINE_BYTES_LIMIT (clap checked), which fits.
            max_line_bytes: usize::try_from(max_line_bytes).unwrap_or(usize::MAX),
        }),
        Command::Check { config, probe } => check::run(&config, probe),
        Command::Export { db, session, out } => export::run(&db, &session, out.as_deref()),
        Command::Spool { action } => match action {
            SpoolCommand::Status(args) => spool::run(spool::Action::Status, args.config.as_deref()),
            SpoolCommand::Replay(args) => spool::run(spool::Action::Replay, args.config.as_deref()),
            SpoolCommand::Clear(args) => spool::run(spool::Action::Clear, args.config.as_deref()),
        },
    };
    ExitCode::from(code)
}
