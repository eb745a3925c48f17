//! fork, hold on a pipe, exec: [`spawn_held`] in, a [`HeldChild`] out;
//! [`HeldChild::release`] turns it into a [`Running`] target or a
//! [`LaunchError`] naming why exec failed.
//!
//! Everything the child needs (C strings, the argv pointer array) is built
//! before `fork`, so the child only makes raw, async-signal-safe system calls.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{os_error, LaunchError, Running};
use crate::collect::monotonic_ns;
use crate::model::trace::Ns;

/// A forked target that has not exec'd yet: it waits on the hold pipe.
/// Dropping it without [`release`](HeldChild::release) kills and reaps it.
#[derive(Debug)]
pub struct HeldChild {
    pub pid: i32,
    /// CLOCK_MONOTONIC ns just before fork.
    pub launched: Ns,
    program: String,
    hold_w: Option<OwnedFd>,
    err_r: Option<OwnedFd>,
}

/// Fork the target; the child waits until [`HeldChild::release`] to exec
/// `argv` (searched in PATH like a shell does). Call it while wallprof is
/// still single-threaded.
pub fn spawn_held(argv: &[String]) -> Result<HeldChild, LaunchError> {
    let program = argv
        .first()
        .ok_or_else(|| LaunchError::Other("empty command line".into()))?;
    let cargs = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| LaunchError::Other("an argument contains a NUL byte".into()))?;
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let (hold_r, hold_w) = cloexec_pipe()?;
    let (err_r, err_w) = cloexec_pipe()?;
    let launched = monotonic_ns();
    // SAFETY: fork; the child below only makes async-signal-safe calls.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("fork"));
    }
    if pid == 0 {
        drop_in_child(&hold_w, &err_r);
        child_main(hold_r.as_raw_fd(), err_w.as_raw_fd(), &ptrs);
    }
    drop(hold_r);
    drop(err_w);
    Ok(HeldChild {
        pid,
        launched,
        program: program.clone(),
        hold_w: Some(hold_w),
        err_r: Some(err_r),
    })
}

impl HeldChild {
    /// Let the child exec. Returns once exec succeeded (the error pipe was
    /// closed by close-on-exec) or failed (the child's errno was read, the
    /// child reaped).
    pub fn release(mut self) -> Result<Running, LaunchError> {
        let hold_w = self.hold_w.take().expect("held child released twice");
        let err_r = self.err_r.take().expect("held child released twice");
        let go = [1u8];
        // SAFETY: writes one byte from a live buffer to a pipe we own.
        let n = unsafe { libc::write(hold_w.as_raw_fd(), go.as_ptr().cast(), 1) };
        drop(hold_w);
        if n != 1 {
            let err = os_error("releasing the held child");
            kill_and_reap(self.pid);
            return Err(err);
        }
        match read_errno(err_r.as_raw_fd()) {
            None => Ok(Running {
                pid: self.pid,
                exec_at: monotonic_ns(),
            }),
            Some(errno) => {
                reap(self.pid);
                Err(exec_error(&self.program, errno))
            }
        }
    }

    /// Kill and reap the held child (wallprof aborts before release).
    pub fn abort(mut self) {
        self.hold_w = None;
        self.err_r = None;
        kill_and_reap(self.pid);
    }
}

impl Drop for HeldChild {
    fn drop(&mut self) {
        if self.hold_w.take().is_some() {
            kill_and_reap(self.pid);
        }
    }
}

/// Map the child's exec errno to the error a shell would report.
fn exec_error(program: &str, errno: i32) -> LaunchError {
    match errno {
        libc::ENOENT | libc::ENOTDIR => LaunchError::NotFound(program.to_string()),
        libc::EACCES | libc::EPERM | libc::ENOEXEC | libc::EISDIR => {
            LaunchError::NotExecutable(program.to_string())
        }
        _ => LaunchError::Other(format!(
            "exec {program}: {}",
            std::io::Error::from_raw_os_error(errno)
        )),
    }
}

/// Read the 4-byte errno the child writes when exec fails; `None` at EOF
/// (exec succeeded and close-on-exec closed the pipe).
fn read_errno(fd: i32) -> Option<i32> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled part of a live buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if errno() == libc::EINTR => continue,
            _ => break,
        }
    }
    (got == buf.len()).then(|| i32::from_ne_bytes(buf))
}

fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd), LaunchError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error("pipe2"));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// In the child: close the parent's ends without running Rust destructors
/// that might do more than `close`.
fn drop_in_child(hold_w: &OwnedFd, err_r: &OwnedFd) {
    // SAFETY: closing fds in the forked child; the OwnedFds are never used
    // there again because child_main does not return.
    unsafe {
        libc::close(hold_w.as_raw_fd());
        libc::close(err_r.as_raw_fd());
    }
}

/// The child between fork and exec. Async-signal-safe calls only.
fn child_main(hold_r: i32, err_w: i32, argv: &[*const libc::c_char]) -> ! {
    // SAFETY: raw syscalls on values prepared before fork; never returns.
    unsafe {
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        let mut b = 0u8;
        loop {
            let n = libc::read(hold_r, (&mut b as *mut u8).cast(), 1);
            if n == 1 {
                break;
            }
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            libc::_exit(125); // wallprof went away before releasing us
        }
        libc::execvp(argv[0], argv.as_ptr());
        let e = errno().to_ne_bytes();
        libc::write(err_w, e.as_ptr().cast(), e.len());
        libc::_exit(127);
    }
}

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always readable.
    unsafe { *libc::__errno_location() }
}

fn kill_and_reap(pid: i32) {
    // SAFETY: signal a child we forked and have not reaped yet.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid);
}

/// Blocking waitpid on one child, retrying on EINTR.
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on our own child, status written into a local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && errno() == libc::EINTR {}
}
