//! A write deadline on a connection: a write that can make no progress for the deadline
//! fails with `TimedOut`, so a client that stops reading a response (or a WebSocket stream)
//! can't hold its connection slot and buffers for ever. Reads are untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `inner` with a deadline on writes that make no progress.
#[derive(Debug)]
pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Running while a write is blocked; reset by any progress.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    /// Wraps `inner`; blocked writes fail after `limit`.
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, timer: None }
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Polls `op`; while it is pending, the deadline runs.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>>
    where
        S: Unpin,
    {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Ready(res) => {
                self.timer = None;
                Poll::Ready(res)
            }
            Poll::Pending => {
                let limit = self.limit;
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                ready!(timer.as_mut().poll(cx));
                self.timer = None;
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write deadline passed")))
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |s, cx| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_the_deadline_fails() {
        // A pipe whose reader never reads: 64 bytes fit, then writes block.
        let (writer, _reader) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(writer, Duration::from_secs(5));
        w.write_all(&[0; 64]).await.expect("fits");
        let err = w.write_all(&[0; 64]).await.expect_err("blocked for good");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn progress_resets_the_deadline() {
        let (writer, mut reader) = tokio::io::duplex(8);
        let mut w = WriteDeadline::new(writer, Duration::from_secs(5));
        let drain = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let _ = tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await;
            }
        });
        // 64 bytes through an 8-byte pipe read every 3 s: slow, but never 5 s without progress.
        w.write_all(&[0; 64]).await.expect("slow but steady writes succeed");
        drain.abort();
    }
}
