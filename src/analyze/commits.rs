//! The CPU a program spends once per synchronous commit, which grouping the
//! commits (the `batch` recommendation) removes, and the CPU that stays.
//!
//! In: the path's synchronous commits and the committing threads' other
//! write-side disk waits (see `verdict::batch_rec`), and the trace's stacks.
//! Out: a [`CommitCpu`] for the committing threads, on the path:
//!
//! - **User CPU inside the commit routine.** The commit routine is found from
//!   the user stacks captured at the commits' switch-outs: the deepest frame,
//!   counted from the root, that (nearly) all of them contain. sqlite's
//!   autocommit, for instance, syncs the journal and the database from
//!   different call sites and deletes the journal from a third, all under one
//!   call to its commit function; its pager and journal code run under that
//!   call once per commit. Frames are compared by address (return address −
//!   1, the unwinder's convention), per process, so this needs no symbols.
//!   An on-CPU sample is inside the routine when its stack holds the frame
//!   with the same callers (as far as both stacks go). When every commit
//!   comes from one call site (a loop of `write` + `fsync`), the common frame
//!   is the system call itself and no user CPU is counted: the code around
//!   the call may be the program's own work, which stays. A frame under which
//!   the thread runs most of its user code is its main loop, not a commit
//!   routine, and is not used either.
//! - **Kernel CPU that moves the data.** Reading (read-side system calls,
//!   page faults, exec) and copying or pinning the bytes written: a batched
//!   program reads and writes the same bytes, so this part of the committing
//!   threads' kernel CPU stays; the rest (system call entry, file-system
//!   metadata and journal, block requests, device notification) is the I/O
//!   stack's work per commit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::analyze::critical_path::{Path, PathWait};
use crate::analyze::waitkind::{frame_matches, normalize};
use crate::model::trace::{OffCpu, Pid, Tid, Trace};

/// A frame is common to the commits when the user stacks of at least this
/// share of the stacked commit waits (by count) contain it.
pub const COMMON_SHARE: f64 = 0.9;
/// The stacks must cover at least this share of the waits for the commit
/// frame to be trusted (switch-out stacks are rate-limited and borrowed).
pub const MIN_STACKED_SHARE: f64 = 0.25;
/// A frame under which the thread runs more than this share of its
/// user-mode samples is its main loop, not a commit routine.
pub const MAX_ROUTINE_USER_SHARE: f64 = 0.5;

/// x86_64 kernel addresses start here; sample stacks hold kernel frames first.
const KERNEL_START: u64 = 0xffff_8000_0000_0000;

/// Kernel functions that move the data itself (see the module docs):
/// patterns as in the wait classifier (`*` at either end).
const DATA_FRAMES: &[&str] = &[
    // reading: read-side calls, page faults, exec
    "vfs_read",
    "vfs_readv",
    "ksys_read",
    "ksys_pread64",
    "__x64_sys_pread64",
    "__x64_sys_preadv",
    "exc_page_fault",
    "bprm_execve",
    // the bytes written: copied into the page cache, or pinned for the
    // device by a direct write
    "copy_page_from_iter*",
    "*copy_from_iter*",
    "iov_iter_extract_pages",
    "bio_iov_iter_get_pages",
    "*get_user_pages*",
];

/// The committing threads' CPU on the path, split as the batch estimate
/// needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommitCpu {
    /// User-mode CPU inside the commit routine (goes away with batching).
    pub routine_user_s: f64,
    /// Kernel CPU that reads, copies or pins the data (stays).
    pub data_kernel_s: f64,
}

/// The off-CPU interval a path wait was cut from.
pub fn interval_of<'t>(trace: &'t Trace, w: &PathWait) -> Option<&'t OffCpu> {
    let th = trace.threads.get(&w.tid)?;
    let i = th.offcpu.partition_point(|o| o.end <= w.start);
    th.offcpu.get(i).filter(|o| o.start <= w.start)
}

/// The commit routine of each committing process: the deepest frame (from
/// the root) of the heaviest commit stack that at least [`COMMON_SHARE`] of
/// the stacked commits contain, with its callers (root last). Commits are
/// counted, not weighted by duration, so that one slow commit elsewhere
/// (creating a table, at start-up) cannot move the routine.
pub fn commit_routines(trace: &Trace, commits: &[&PathWait]) -> BTreeMap<Pid, Vec<u64>> {
    let mut by_pid: BTreeMap<Pid, (HashMap<u32, f64>, f64)> = BTreeMap::new();
    for w in commits {
        let Some(th) = trace.threads.get(&w.tid) else {
            continue;
        };
        let e = by_pid.entry(th.pid).or_default();
        e.1 += 1.0;
        if let Some(u) = interval_of(trace, w).and_then(|o| o.ustack) {
            *e.0.entry(u).or_insert(0.0) += 1.0;
        }
    }
    by_pid
        .into_iter()
        .filter_map(|(pid, (stacks, all))| Some((pid, common_frames(trace, &stacks, all)?)))
        .collect()
}

/// The root-side frames the stacks share, down to where they diverge: the
/// chain from the deepest shared frame to the root, in stack order.
fn common_frames(trace: &Trace, stacks: &HashMap<u32, f64>, all: f64) -> Option<Vec<u64>> {
    let stacked: f64 = stacks.values().sum();
    if stacked <= 0.0 || stacked < MIN_STACKED_SHARE * all {
        return None;
    }
    let mut cover: HashMap<u64, f64> = HashMap::new();
    for (&id, &n) in stacks {
        let distinct: HashSet<u64> = trace.stacks.get(id).iter().copied().collect();
        for a in distinct {
            *cover.entry(a).or_insert(0.0) += n;
        }
    }
    let (&heaviest, _) = stacks
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))?;
    let frames = trace.stacks.get(heaviest);
    let common = |a: &u64| cover.get(a).copied().unwrap_or(0.0) >= COMMON_SHARE * stacked;
    // From the root: skip frames only some stacks reach (copies cut at
    // different depths), then follow the shared frames down to where the
    // stacks diverge.
    let mut deepest = None;
    for (i, a) in frames.iter().enumerate().rev() {
        if common(a) {
            deepest = Some(i);
        } else if deepest.is_some() {
            break;
        }
    }
    Some(frames[deepest?..].to_vec())
}

/// Whether a sample's stack runs inside the routine: it holds the routine's
/// frame, not as its leaf, with the same callers as far as both go.
fn inside(stack: &[u64], routine: &[u64]) -> bool {
    let Some(&frame) = routine.first() else {
        return false;
    };
    stack
        .iter()
        .enumerate()
        .skip(1)
        .any(|(i, &a)| a == frame && stack[i..].iter().zip(routine).all(|(x, y)| x == y))
}

fn data_frame(name: &str) -> bool {
    let name = normalize(name);
    DATA_FRAMES.iter().any(|p| frame_matches(&name, p))
}

/// The committing threads' [`CommitCpu`] on the path: each thread's on-path
/// on-CPU time times the share of its on-CPU samples in each part.
pub fn commit_cpu(
    trace: &Trace,
    path: &Path,
    committers: &BTreeSet<Tid>,
    routines: &BTreeMap<Pid, Vec<u64>>,
) -> CommitCpu {
    let mut out = CommitCpu::default();
    for tid in committers {
        let (Some(th), Some(on_path)) = (trace.threads.get(tid), path.per_thread.get(tid)) else {
            continue;
        };
        let on_path_s = on_path.0 / 1e9;
        let routine = routines.get(&th.pid).map(Vec::as_slice);
        let (mut all, mut user, mut in_routine, mut data) = (0u64, 0u64, 0u64, 0u64);
        for (&id, &n) in &th.sample_stacks {
            let n = n as u64;
            all += n;
            let st = trace.stacks.get(id);
            match st.first() {
                Some(&ip) if ip < KERNEL_START => {
                    user += n;
                    if routine.is_some_and(|r| inside(st, r)) {
                        in_routine += n;
                    }
                }
                Some(_) => {
                    let moves = st
                        .iter()
                        .take_while(|&&ip| ip >= KERNEL_START)
                        .filter_map(|&ip| trace.ksym(ip))
                        .any(data_frame);
                    if moves {
                        data += n;
                    }
                }
                None => {}
            }
        }
        if all == 0 {
            continue;
        }
        if (in_routine as f64) <= MAX_ROUTINE_USER_SHARE * user as f64 {
            out.routine_user_s += on_path_s * in_routine as f64 / all as f64;
        }
        out.data_kernel_s += on_path_s * data as f64 / all as f64;
    }
    out
}
