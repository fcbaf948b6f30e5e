//! A loopback TCP proxy for fault tests: it can cut every connection at once (a partition) and
//! measures what its clients send.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A loopback TCP proxy a test can cut, which also measures what its clients send: TLS passes
/// through untouched, so a client sees the real server (certificate included).
pub struct TcpProxy {
    pub port: u16,
    stats: Arc<ProxyStats>,
    cut: watch::Sender<bool>,
}

#[derive(Default)]
struct ProxyStats {
    /// Bytes clients sent.
    sent: AtomicU64,
    /// Connections whose client has not closed its side yet.
    open: AtomicI64,
}

impl TcpProxy {
    /// Forwards 127.0.0.1:<port> to 127.0.0.1:`target`.
    pub async fn start(target: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(ProxyStats::default());
        let (cut, cut_rx) = watch::channel(false);
        let accept_stats = stats.clone();
        tokio::spawn(async move {
            let mut stop = cut_rx.clone();
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                    _ = stop.wait_for(|cut| *cut) => return, // drops the listener
                };
                let stats = accept_stats.clone();
                let mut stop = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = async {
                        let _open = Open::count(&stats.open);
                        pump(cr, sw, Some(&stats.sent)).await;
                    };
                    // Dropping both halves on a cut closes the connection on both sides.
                    tokio::select! {
                        _ = async { tokio::join!(up, pump(sr, cw, None)) } => {},
                        _ = stop.wait_for(|cut| *cut) => {},
                    }
                });
            }
        });
        TcpProxy { port, stats, cut }
    }

    /// Stops accepting and closes every connection, as a network partition would.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    /// Bytes the proxy's clients have sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.stats.sent.load(Ordering::SeqCst)
    }

    /// Connections whose client side is still open.
    pub fn open_connections(&self) -> i64 {
        self.stats.open.load(Ordering::SeqCst)
    }
}

/// Counts a connection as open while it lives.
struct Open<'a>(&'a AtomicI64);

impl<'a> Open<'a> {
    fn count(open: &'a AtomicI64) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Open(open)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, count: Option<&AtomicU64>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(count) = count {
            count.fetch_add(n as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
