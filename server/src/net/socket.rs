//! What a connection's task needs of its socket, for the two kinds it may have: a TCP
//! connection (plain HTTP and WebSocket), or the inner end of a Unix socket pair whose other
//! end the TLS bridge ([`super::tls`]) feeds with what it decrypts. Everything past the
//! accept (HTTP, the WebSocket session, the fan-out's vectored writes) is the same code over
//! either.

use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::{TcpStream, UnixStream};

use super::sender::Wire;

/// A non-blocking stream socket tokio drives.
pub trait Socket:
    AsyncRead + AsyncWrite + AsFd + Wire + Unpin + Send + Sync + std::fmt::Debug + 'static
{
    /// Polls for read readiness.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Reads what is there without waiting (`WouldBlock` if nothing, without a syscall when
    /// tokio last saw the socket empty). A read that did not fill `buf` emptied the socket:
    /// the readiness seen *before* it is forgotten then, so the next read waits for new data
    /// instead of failing first; readiness that came with data arriving during the read is
    /// kept.
    fn try_read_to_empty(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits until the socket may take a write.
    fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + Send;
}

macro_rules! socket_impl {
    ($t:ty) => {
        impl Socket for $t {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            fn try_read_to_empty(&self, buf: &mut [u8]) -> io::Result<usize> {
                // The read inside `try_io`, which notes the readiness before running it and,
                // on `WouldBlock`, clears that one only (a clear after the read would also
                // clear an event for data that arrived meanwhile, which would then wait for
                // the next packet).
                let mut short = None;
                let read = self.try_io(Interest::READABLE, || {
                    let n = <$t>::try_read(self, buf)?;
                    if n > 0 && n < buf.len() {
                        short = Some(n);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                });
                short.map_or(read, Ok)
            }
            fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + Send {
                <$t>::writable(self)
            }
        }

        impl Wire for $t {
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$t>::try_write_vectored(self, bufs)
            }
        }
    };
}

socket_impl!(TcpStream);
socket_impl!(UnixStream);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// Polls `s`'s read readiness once, without waiting.
    fn ready_now(s: &UnixStream) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(Socket::poll_read_ready(s, &mut cx), Poll::Ready(Ok(())))
    }

    #[tokio::test]
    async fn a_short_read_forgets_the_readiness_it_saw_and_new_data_brings_it_back() {
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let wait = Duration::from_secs(5);
        let mut buf = [0u8; 64];
        theirs.write_all(b"a").await.expect("write");
        tokio::time::timeout(wait, ours.readable()).await.expect("readable in 5 s").expect("ok");
        assert_eq!(ours.try_read_to_empty(&mut buf).expect("read"), 1);
        // Emptied: the next read is not tried (no syscall) until new data comes.
        assert!(!ready_now(&ours), "readiness kept after a short read");
        let again = ours.try_read_to_empty(&mut buf).expect_err("nothing to read");
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
        theirs.write_all(b"bc").await.expect("write");
        tokio::time::timeout(wait, ours.readable()).await.expect("readable in 5 s").expect("ok");
        assert_eq!(ours.try_read_to_empty(&mut buf).expect("read"), 2);
        assert_eq!(&buf[..2], b"bc");
        // A read that fills the buffer keeps the readiness: more may wait.
        theirs.write_all(&[7; 100]).await.expect("write");
        tokio::time::timeout(wait, ours.readable()).await.expect("readable in 5 s").expect("ok");
        assert_eq!(ours.try_read_to_empty(&mut buf).expect("read"), 64);
        assert!(ready_now(&ours), "a full read forgot the readiness");
        assert_eq!(ours.try_read_to_empty(&mut buf).expect("read"), 36);
    }
}
