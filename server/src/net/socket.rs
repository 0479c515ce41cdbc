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
    /// Reads what is there without waiting (`WouldBlock` if nothing).
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Forgets the read readiness last observed (after a short read emptied the socket).
    fn clear_read_ready(&self);
    /// Waits until the socket may take a write.
    fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + Send;
}

macro_rules! socket_impl {
    ($t:ty) => {
        impl Socket for $t {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$t>::try_read(self, buf)
            }
            fn clear_read_ready(&self) {
                // Safe against data arriving meanwhile: tokio clears only the readiness this
                // call observed.
                let _ = self
                    .try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
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
