//! Wait for the running target: a [`Running`] root pid in, its [`ExitInfo`]
//! out, with SIGCHLD/SIGTERM/SIGHUP/SIGINT/SIGQUIT taken synchronously with
//! `sigtimedwait` (they were blocked by [`prepare`](super::prepare)).
//!
//! Every wakeup, signal or 100 ms timeout, reaps all exited children with
//! `waitpid(-1, WNOHANG)`, so a SIGCHLD delivered elsewhere or coalesced is
//! never missed. SIGTERM and SIGHUP are forwarded to the root; SIGINT and
//! SIGQUIT are not (the terminal already sent them to the whole foreground
//! process group, the target included).

use super::waited_sigset;
use crate::collect::monotonic_ns;
use crate::model::trace::Ns;

/// A target that exec'd successfully.
#[derive(Debug)]
pub struct Running {
    pub pid: i32,
    /// CLOCK_MONOTONIC ns when wallprof saw the exec succeed.
    pub exec_at: Ns,
}

/// How the root process ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// CLOCK_MONOTONIC ns when the root was reaped.
    pub reaped: Ns,
    /// Signals wallprof forwarded to the root, in order.
    pub forwarded: Vec<i32>,
    /// Other children (orphans reparented to wallprof) reaped meanwhile.
    pub orphans_reaped: u32,
}

impl ExitInfo {
    /// The exit code a shell would report: the code, or 128 + signal.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 125,
        }
    }

    /// The terminating signal's name, such as "SIGKILL".
    pub fn signal_name(&self) -> Option<String> {
        let sig = self.signal?;
        Some(match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => s.as_str().to_string(),
            Err(_) => format!("SIG{sig}"),
        })
    }
}

const POLL: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

impl Running {
    /// Wait for the root to exit, reaping every exited child meanwhile and
    /// forwarding SIGTERM/SIGHUP to the root.
    pub fn wait(&self) -> ExitInfo {
        self.wait_until(&|| false)
            .expect("wait without a stop condition ends with the root")
    }

    /// Like [`wait`](Running::wait), but gives up and returns `None` when
    /// `should_stop` (polled about every 100 ms) returns true. The root is
    /// then neither signalled nor reaped.
    pub fn wait_until(&self, should_stop: &dyn Fn() -> bool) -> Option<ExitInfo> {
        let set = waited_sigset();
        let mut info = ExitInfo::default();
        let mut root_status = None;
        loop {
            // SAFETY: waits on a set we own; no siginfo wanted.
            let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &POLL) };
            if sig == libc::SIGTERM || sig == libc::SIGHUP {
                // SAFETY: signal our own, not yet reaped, child.
                unsafe { libc::kill(self.pid, sig) };
                info.forwarded.push(sig);
            }
            let none_left = reap_all(self.pid, &mut root_status, &mut info.orphans_reaped);
            if root_status.is_some() || none_left {
                // With no child left, someone else reaped the root: the
                // status is lost (code and signal stay None).
                info.reaped = monotonic_ns();
                if let Some(status) = root_status {
                    decode_status(status, &mut info);
                }
                return Some(info);
            }
            if should_stop() {
                return None;
            }
        }
    }
}

/// After the root exited: reap the children that have exited since,
/// without blocking. Returns how many were reaped.
pub fn reap_exited() -> u32 {
    let mut reaped = 0;
    let mut unused = None;
    reap_all(0, &mut unused, &mut reaped);
    reaped
}

/// `waitpid(-1, WNOHANG)` until nothing is left to reap. The status of
/// `root` goes to `root_status`, others count in `others`. Returns true
/// when wallprof has no child left at all (ECHILD).
fn reap_all(root: i32, root_status: &mut Option<i32>, others: &mut u32) -> bool {
    loop {
        let mut status = 0;
        // SAFETY: non-blocking waitpid, status written into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid < 0 {
            return std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
        }
        if pid == 0 {
            return false;
        }
        if pid == root && root > 0 {
            *root_status = Some(status);
        } else {
            *others += 1;
        }
    }
}

fn decode_status(status: i32, info: &mut ExitInfo) {
    if libc::WIFEXITED(status) {
        info.code = Some(libc::WEXITSTATUS(status));
    } else if libc::WIFSIGNALED(status) {
        info.signal = Some(libc::WTERMSIG(status));
    }
}
