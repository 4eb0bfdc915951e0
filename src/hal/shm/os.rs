//! The Linux calls the shared-memory transport stands on: abstract Unix sockets, passing a file
//! descriptor, shared futexes, memfds.

use core::sync::atomic::AtomicU32;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

use super::{HELLO_SIZE, REPLY_SIZE};

/// The abstract socket name of the device process serving `name`.
fn address(name: &str) -> io::Result<SocketAddr> {
    let name = name.strip_prefix('/').unwrap_or(name);
    SocketAddr::from_abstract_name(format!("ttrt-sim/{name}"))
}

pub fn connect(name: &str) -> io::Result<UnixStream> {
    let link = UnixStream::connect_addr(&address(name)?)?;
    // The attach exchange is bounded; afterwards the link carries nothing.
    link.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(link)
}

pub fn listen(name: &str) -> io::Result<UnixListener> {
    UnixListener::bind_addr(&address(name)?)
}

/// Sends the hello, reads the reply and the descriptor that comes with it.
pub fn exchange(
    link: &UnixStream,
    hello: &[u8; HELLO_SIZE],
) -> io::Result<([u8; REPLY_SIZE], Option<OwnedFd>)> {
    (&*link).write_all(hello)?;
    let mut reply = [0u8; REPLY_SIZE];
    let mut fd = None;
    let mut got = 0;
    while got < REPLY_SIZE {
        let (n, f) = recv_with_fd(link, &mut reply[got..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the device process hung up",
            ));
        }
        fd = fd.or(f);
        got += n;
    }
    Ok((reply, fd))
}

/// Reads a client's hello.
pub fn read_hello(link: &UnixStream) -> io::Result<[u8; HELLO_SIZE]> {
    link.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut hello = [0u8; HELLO_SIZE];
    (&*link).read_exact(&mut hello)?;
    link.set_read_timeout(None)?;
    Ok(hello)
}

/// Sends `reply`, with `fd` attached when given.
pub fn send_reply(
    link: &UnixStream,
    reply: &[u8; REPLY_SIZE],
    fd: Option<&OwnedFd>,
) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: reply.as_ptr().cast_mut().cast(),
        iov_len: reply.len(),
    };
    // Room for one descriptor's control message, aligned for cmsghdr.
    let mut space = [0u64; 8];
    // SAFETY: msghdr is plain data; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is a size computation.
        let len = unsafe { libc::CMSG_SPACE(core::mem::size_of::<libc::c_int>() as u32) } as usize;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = len as _;
        // SAFETY: the control buffer holds one cmsghdr with one int (len <= 64 bytes).
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<libc::c_int>() as u32) as _;
            core::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd.as_raw_fd());
        }
    }
    // SAFETY: msg describes valid buffers; MSG_NOSIGNAL turns a gone peer into EPIPE.
    let n = unsafe { libc::sendmsg(link.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != reply.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short reply"));
    }
    Ok(())
}

fn recv_with_fd(link: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut space = [0u64; 8];
    // SAFETY: as in `send_reply`.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = core::mem::size_of_val(&space) as _;
    // SAFETY: msg describes valid buffers; received descriptors are close-on-exec.
    let n = unsafe { libc::recvmsg(link.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fd = None;
    // SAFETY: the kernel filled the control buffer; walk its messages.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = core::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                if raw >= 0 && fd.is_none() {
                    fd = Some(OwnedFd::from_raw_fd(raw));
                } else if raw >= 0 {
                    libc::close(raw);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, fd))
}

/// Whether the peer of `link` has gone: the link carries nothing after the attach, so any
/// readiness to read is its end of file (or an error).
pub fn hung_up(link: &UnixStream) -> bool {
    let mut p = libc::pollfd {
        fd: link.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout does not block.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents != 0
}

/// Spins this many times (then yields as many) watching `word` before a wait sleeps: a
/// command the other side answers within a few microseconds costs no sleep and wake-up.
const SPINS: u32 = 4000;
const YIELDS: u32 = 20;

/// Waits while `word` holds `seen`, at most about `ms` milliseconds (spurious returns are
/// fine): first watching it, then asleep on the futex.
pub fn futex_wait(word: &AtomicU32, seen: u32, ms: u32) {
    for i in 0..SPINS + YIELDS {
        if word.load(core::sync::atomic::Ordering::Acquire) != seen {
            return;
        }
        if i < SPINS {
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    let t = libc::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    // SAFETY: a shared futex wait on an aligned word in a mapping that outlives the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &t as *const libc::timespec,
        );
    }
}

/// Wakes every waiter on `word`, in any process.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: a shared futex wake on an aligned word.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// A new anonymous shared memory object of `len` bytes (pages cost memory once touched).
pub fn memfd(name: &str, len: u64) -> io::Result<OwnedFd> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: a NUL-terminated name; the result is checked.
    let raw = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let file = std::fs::File::from(fd);
    file.set_len(len)?;
    Ok(OwnedFd::from(file))
}

/// Gives the pages of `len` bytes at `offset` of `fd` back: they read as 0 afterwards.
pub fn punch_hole(fd: &OwnedFd, offset: u64, len: u64) -> io::Result<()> {
    // SAFETY: fallocate on a descriptor we hold.
    let rc = unsafe {
        libc::fallocate(
            fd.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset as libc::off_t,
            len as libc::off_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
