//! Collectors: perf events ([`perf`]) and /proc ([`procfs`]). Each records
//! into a [`Trace`](crate::model::trace::Trace); [`merge`] combines them.

pub mod bpf;
pub mod jit;
pub mod merge;
pub mod perf;
pub mod procfs;

use crate::model::trace::Ns;

/// CLOCK_MONOTONIC now, in ns: the clock every timestamp in a trace uses.
pub fn monotonic_ns() -> Ns {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
