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
//! - **User CPU in calls into the committing library.** When the commit
//!   routine lies in a shared library (SQLite, not the C library and not
//!   the program's own executable), the program reaches its commits through
//!   calls into that library, and with one commit per call the library's
//!   work is nearly all the transaction's: measured with SQLite from
//!   CPython (perf at 20 kHz, bare), 2000 autocommitted INSERTs spend
//!   0.10 s of user CPU in libsqlite3, the same INSERTs in one transaction
//!   0.005 s. That includes calls that do no file I/O themselves: preparing
//!   `BEGIN` and `COMMIT`, formatting the journal's name. So the user CPU
//!   of every call into the library (identified by its call site, the
//!   caller's return address) goes with batching, unless one call site
//!   holds most of the thread's user CPU (then the library is the program's
//!   runtime, as libpython is for a script that calls `os.fsync`). A
//!   library doing heavy work per row inside each transaction would make
//!   the estimate too high; the program's own code and the binding that
//!   calls the library stay (about 0.03 s in that SQLite run: the estimate
//!   errs low there). Until session 6 only the calls that wrote, synced,
//!   created, deleted or locked files counted (0.03 s of the 0.10 s).
//! - **Kernel CPU that moves the data.** Reading (read-side system calls,
//!   page faults, exec) and copying or pinning the bytes written: a batched
//!   program reads and writes the same bytes, so this part of the committing
//!   threads' kernel CPU stays; the rest (system call entry, file-system
//!   metadata and journal, block requests, device notification) is the I/O
//!   stack's work per commit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::analyze::critical_path::{Path, PathWait};
use crate::analyze::waitkind::{frame_matches, normalize};
use crate::model::trace::{Mapping, OffCpu, Pid, Tid, Trace};

/// A frame is common to the commits when the user stacks of at least this
/// share of the stacked commit waits (by count) contain it.
pub const COMMON_SHARE: f64 = 0.9;
/// The stacks must cover at least this share of the waits for the commit
/// frame to be trusted (switch-out stacks are rate-limited and borrowed).
pub const MIN_STACKED_SHARE: f64 = 0.25;
/// A frame under which the thread runs more than this share of its
/// user-mode samples is its main loop, not a commit routine.
pub const MAX_ROUTINE_USER_SHARE: f64 = 0.5;

/// Objects that are never a committing library: the C library and the
/// dynamic loader (system call wrappers), by file name.
const NOT_A_LIBRARY: &[&str] = &[
    "libc.so*",
    "libc-*",
    "libpthread*",
    "ld-linux*",
    "ld-*.so*",
    "ld.so*",
    "[vdso]",
];

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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitCpu {
    /// User-mode CPU inside the commit routine (goes away with batching).
    pub routine_user_s: f64,
    /// Kernel CPU that reads, copies or pins the data (stays).
    pub data_kernel_s: f64,
    /// User-mode CPU in the committing library's transactional calls,
    /// outside the commit routine (goes away with batching).
    pub library_user_s: f64,
    /// The committing library's file name, when there is one.
    pub library: Option<String>,
}

/// The executable mapping holding `addr` in a process (the latest one
/// recorded, since an address range can be mapped again).
fn object_of(maps: &[Mapping], addr: u64) -> Option<&str> {
    maps.iter()
        .rev()
        .find(|m| m.start <= addr && addr < m.end)
        .map(|m| m.path.as_str())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The committing library of a process: the object of the first frame of
/// its commit routine's chain (deepest first) that is not in the C library
/// or the loader, when that object is a shared library, not the program's
/// executable.
pub fn committing_library<'t>(trace: &'t Trace, pid: Pid, routine: &[u64]) -> Option<&'t str> {
    let p = trace.processes.get(&pid)?;
    let obj = routine.iter().find_map(|&a| {
        let o = object_of(&p.mappings, a)?;
        let name = file_name(o);
        (!NOT_A_LIBRARY.iter().any(|pat| frame_matches(name, pat))).then_some(o)
    })?;
    let exe = p.exe.as_deref();
    let is_exe = exe.is_some_and(|e| e == obj || file_name(e) == file_name(obj));
    (!is_exe && file_name(obj).contains(".so")).then_some(obj)
}

/// Where a stack (leaf first) enters `lib` from outside it: the return
/// address in the caller of the outermost run of frames in the library.
fn entry_site(stack: &[u64], maps: &[Mapping], lib: &str) -> Option<u64> {
    let user: Vec<u64> = stack
        .iter()
        .copied()
        .filter(|&a| a < KERNEL_START)
        .collect();
    let mut site = None;
    // From the root: the first frame in the library whose caller is not.
    for w in user.windows(2).rev() {
        let (callee, caller) = (w[0], w[1]);
        if object_of(maps, callee) == Some(lib) && object_of(maps, caller) != Some(lib) {
            site = Some(caller);
            break;
        }
    }
    site
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
/// `commits` are the path's commit waits (their user stacks mark the
/// library calls that commit).
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
        let maps = trace
            .processes
            .get(&th.pid)
            .map(|p| &p.mappings[..])
            .unwrap_or(&[]);
        let lib = routine.and_then(|r| committing_library(trace, th.pid, r));
        let (mut all, mut user, mut in_routine, mut data) = (0u64, 0u64, 0u64, 0u64);
        let mut by_site: HashMap<u64, u64> = HashMap::new();
        for (&id, &n) in &th.sample_stacks {
            let n = n as u64;
            all += n;
            let st = trace.stacks.get(id);
            match st.first() {
                Some(&ip) if ip < KERNEL_START => {
                    user += n;
                    if routine.is_some_and(|r| inside(st, r)) {
                        in_routine += n;
                    } else if let Some(site) = lib.and_then(|l| entry_site(st, maps, l)) {
                        *by_site.entry(site).or_insert(0) += n;
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
        let share = |n: u64| on_path_s * n as f64 / all as f64;
        if (in_routine as f64) <= MAX_ROUTINE_USER_SHARE * user as f64 {
            out.routine_user_s += share(in_routine);
        }
        // A call site under which the thread runs most of its user code is
        // the program's runtime, not a library call.
        let lib_n: u64 = by_site
            .values()
            .filter(|&&n| (n as f64) <= MAX_ROUTINE_USER_SHARE * user as f64)
            .sum();
        if lib_n > 0 {
            out.library_user_s += share(lib_n);
            out.library = lib.map(|l| file_name(l).to_string());
        }
        out.data_kernel_s += share(data);
    }
    out
}
