//! Launch the target held on a pipe, let it exec, wait for it, forward signals.
//!
//! In: the target's argv. Out: a [`HeldChild`] (forked, not yet exec'd, so the
//! collectors can attach to its pid first), then a [`Running`] target, then
//! its [`ExitInfo`] (exit code or signal, when it was reaped, the signals
//! wallprof forwarded, orphans reaped).
//!
//! Sequence, and why:
//! 1. [`prepare`] on the main thread before any other thread exists: wallprof
//!    becomes a child subreaper (orphans of the tree reparent to it, so the
//!    collectors still find them and they get reaped), and SIGCHLD, SIGTERM,
//!    SIGHUP, SIGINT and SIGQUIT are blocked. Threads started later inherit
//!    the mask, so these signals stay pending until [`Running::wait`] takes
//!    them synchronously with `sigtimedwait`.
//! 2. [`spawn_held`] forks. The child stays in wallprof's process group (so
//!    it keeps the terminal's foreground), restores default dispositions and
//!    an empty mask, then blocks reading the hold pipe.
//! 3. [`HeldChild::release`] writes to the hold pipe; the child execs.
//!    Success is seen as EOF on a close-on-exec error pipe; failure as the
//!    errno the child wrote into it.
//! 4. [`Running::wait`] until the root exits; [`reap_exited`] afterwards.
//!
//! Descendants still running when the root exits are left running: wallprof
//! stops following them then, and the profile lists them as still running.

mod child;
mod wait;

pub use crate::model::trace::Ns;
pub use child::{spawn_held, HeldChild};
pub use wait::{reap_exited, ExitInfo, Running};

/// Why the target could not be launched. The message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("command not found: {0} (check the spelling, give a path, or fix PATH)")]
    NotFound(String),
    #[error("cannot execute {0}: permission denied or not an executable (check `ls -l`, add +x, or run it through its interpreter)")]
    NotExecutable(String),
    #[error("could not launch the target: {0}")]
    Other(String),
}

impl LaunchError {
    /// The shell's convention: 127 not found, 126 not executable, 125 other.
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::NotFound(_) => 127,
            LaunchError::NotExecutable(_) => 126,
            LaunchError::Other(_) => 125,
        }
    }
}

/// The signals wallprof blocks and takes synchronously in [`Running::wait`].
pub(crate) const WAITED_SIGNALS: [i32; 5] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
];

/// The blocked set as a `sigset_t`.
pub(crate) fn waited_sigset() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and edit the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in WAITED_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Call once at startup on the main thread, before any other thread exists:
/// makes wallprof a child subreaper and blocks the signals
/// [`Running::wait`] handles, in the calling thread (later threads inherit).
pub fn prepare() -> Result<(), LaunchError> {
    // SAFETY: plain prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(os_error("prctl(PR_SET_CHILD_SUBREAPER)"));
    }
    let set = waited_sigset();
    // SAFETY: pthread_sigmask reads the set we pass; old mask not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(LaunchError::Other(format!(
            "pthread_sigmask: {}",
            std::io::Error::from_raw_os_error(rc)
        )));
    }
    Ok(())
}

/// `LaunchError::Other` from the last OS error, naming the call.
pub(crate) fn os_error(what: &str) -> LaunchError {
    LaunchError::Other(format!("{what}: {}", std::io::Error::last_os_error()))
}

#[cfg(test)]
mod tests;
