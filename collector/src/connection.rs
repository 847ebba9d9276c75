//! Accepted connections, bounded: at most `max_connections` open per
//! receiver (more wait in the listen backlog), and closed when silent.
//!
//! A connection must send its first bytes within the header-read timeout,
//! and then never stay longer than the idle timeout without a byte read or
//! written. Half-open and stalled clients so hold no connection slot for
//! long.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};

use crate::server::{Ctx, wait_shutdown};

/// Accepted connections waiting for their server to pick them up.
const ACCEPTED_BACKLOG: usize = 64;

/// A connection holding one of its receiver's slots, closed when silent.
pub(crate) struct Guarded<IO> {
    io: IO,
    _slot: OwnedSemaphorePermit,
    timer: Pin<Box<Sleep>>,
    /// When the current timeout started: accept, then the last byte moved.
    since: Instant,
    /// The timeout that applies now: header-read until the first byte
    /// arrives, then idle.
    limit: Duration,
    idle: Duration,
    ctx: Arc<Ctx>,
    timed_out: bool,
    /// Whether any byte arrived from the client yet.
    client_spoke: bool,
}

impl<IO> Guarded<IO> {
    fn new(io: IO, slot: OwnedSemaphorePermit, ctx: Arc<Ctx>) -> Self {
        let now = Instant::now();
        let limit = ctx.limits.header_read_timeout;
        Guarded {
            io,
            _slot: slot,
            timer: Box::pin(tokio::time::sleep_until(deadline(now, limit))),
            since: now,
            limit,
            idle: ctx.limits.idle_timeout,
            ctx,
            timed_out: false,
            client_spoke: false,
        }
    }

    /// Bytes arrived: the header-read timeout is met; idle time restarts.
    fn heard(&mut self) {
        self.client_spoke = true;
        self.since = Instant::now();
        self.limit = self.idle;
    }

    /// Bytes were sent: idle time restarts, but only once the client spoke
    /// (an HTTP/2 server writes its preface first; that must not excuse a
    /// silent client).
    fn spoke(&mut self) {
        if self.client_spoke {
            self.since = Instant::now();
        }
    }

    /// Whether the connection has been silent too long (registers a wake-up
    /// for when it would be).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let due = deadline(self.since, self.limit);
            if self.timer.deadline() != due {
                self.timer.as_mut().reset(due);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if deadline(self.since, self.limit) == due {
                if !self.timed_out {
                    self.timed_out = true;
                    self.ctx.shared.note(|st| st.timed_out_connections += 1);
                }
                return true;
            }
        }
    }
}

fn deadline(since: Instant, limit: Duration) -> Instant {
    since
        .checked_add(limit)
        .unwrap_or_else(|| since + Duration::from_secs(86_400 * 365))
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection silent for too long")
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.heard();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.spoke();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.spoke();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Guarded<TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Starts accepting connections on `listener`, at most `max_connections`
/// open at once; returns the accept loop task and the accepted
/// connections. The loop ends at shutdown or once the receiver is dropped.
pub(crate) fn accept(
    listener: TcpListener,
    ctx: Arc<Ctx>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::Receiver<(Guarded<TcpStream>, SocketAddr)>,
) {
    let (tx, rx) = mpsc::channel(ACCEPTED_BACKLOG);
    let slots = Arc::new(Semaphore::new(ctx.limits.max_connections.max(1)));
    let task = tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot,
                () = wait_shutdown(ctx.shutdown.clone()) => return,
                () = tx.closed() => return,
            };
            let Ok(slot) = slot else { return };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = wait_shutdown(ctx.shutdown.clone()) => return,
                () = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(conn) => conn,
                Err(err) if is_connection_error(&err) => continue,
                Err(err) => {
                    // Out of file descriptors and the like: back off a little
                    // instead of spinning (what hyper and axum do too).
                    tracing::warn!(%err, "collector cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // No Nagle delay: an OTLP answer is one small write.
            let _ = tcp.set_nodelay(true);
            if tx
                .send((Guarded::new(tcp, slot, Arc::clone(&ctx)), peer))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    (task, rx)
}

pub(crate) fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The accepted plaintext connections of the HTTP receiver, as an axum
/// listener.
pub(crate) struct PlainListener {
    pub(crate) accepted: mpsc::Receiver<(Guarded<TcpStream>, SocketAddr)>,
    pub(crate) local: SocketAddr,
}

impl axum::serve::Listener for PlainListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The accept loop ended (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
