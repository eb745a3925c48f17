//! A thread that owns the symbolizer for the whole run, so that the work of
//! reading the target's files (ELF symbol tables, DWARF, often compressed)
//! happens while the target runs instead of after it exits.
//!
//! The drain thread sends the path of each executable file the target maps
//! ([`Warmer::warm`]); the service reads it at `SCHED_IDLE` priority,
//! which runs only on a CPU that would otherwise be idle, so a target that
//! keeps every CPU busy is not slowed. After the target exits,
//! [`SymbolService::resolve`] puts the thread back to normal priority (from
//! the caller: a starved idle thread could not do it itself) and hands over
//! the final request, answered from the thread's caches. blazesym's
//! symbolizer is not `Send`, hence one thread for both.
//!
//! The idle priority is used only where the thread can return to normal
//! priority afterwards (root, or an RLIMIT_NICE that allows nice 0);
//! elsewhere nothing is read ahead and the result is the same, only later.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolizer};

use super::symbolize::{Symbols, Wanted};

enum Msg {
    Warm(String, u64),
    Resolve(Vec<(String, Wanted)>, Sender<Symbols>),
}

/// The handle the rest of wallprof talks to.
pub struct SymbolService {
    tx: Sender<Msg>,
    /// Set when the final request is sent: files still queued to be read
    /// ahead are skipped (what is needed is read on demand).
    done: Arc<AtomicBool>,
    /// The service thread's tid, once it runs at idle priority (0 before).
    idle_tid: Arc<AtomicI32>,
}

/// A cheap, cloneable sender of files to read ahead.
#[derive(Clone)]
pub struct Warmer(Sender<Msg>);

impl Warmer {
    /// Read `path` ahead (`offset`: a file offset inside its executable
    /// segment, where a lookup makes blazesym load the file's tables).
    pub fn warm(&self, path: &str, offset: u64) {
        let _ = self.0.send(Msg::Warm(path.to_string(), offset));
    }
}

impl SymbolService {
    /// Start the thread; `debug_info` as in
    /// [`super::symbolize::SymbolizeOptions`].
    pub fn start(debug_info: bool) -> Option<SymbolService> {
        let (tx, rx) = channel();
        let done = Arc::new(AtomicBool::new(false));
        let idle_tid = Arc::new(AtomicI32::new(0));
        let (done2, tid2) = (done.clone(), idle_tid.clone());
        // Detached: it ends after answering the final request, or when every
        // sender is gone.
        std::thread::Builder::new()
            .name("wallprof-symbols".into())
            .spawn(move || serve(rx, debug_info, &done2, &tid2))
            .ok()?;
        Some(SymbolService { tx, done, idle_tid })
    }

    pub fn warmer(&self) -> Warmer {
        Warmer(self.tx.clone())
    }

    /// Symbolize `files` (path, offsets wanted) on the service thread, with
    /// the `debug_info` it was started with. `None` when the thread is gone.
    pub(super) fn resolve(&self, files: Vec<(String, Wanted)>) -> Option<Symbols> {
        let (back, answer) = channel();
        self.done.store(true, Ordering::SeqCst);
        // Back to normal priority from here: at SCHED_IDLE on a machine
        // whose CPUs other programs keep busy, the thread would not run at
        // all, not even to read this request.
        let tid = self.idle_tid.swap(0, Ordering::SeqCst);
        if tid > 0 {
            set_policy_of(tid, libc::SCHED_OTHER);
        }
        self.tx.send(Msg::Resolve(files, back)).ok()?;
        answer.recv().ok()
    }
}

fn serve(rx: Receiver<Msg>, debug_info: bool, done: &AtomicBool, idle_tid: &AtomicI32) {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let idle = can_return_to_normal() && set_policy_of(tid, libc::SCHED_IDLE);
    if idle {
        idle_tid.store(tid, Ordering::SeqCst);
    }
    let symbolizer = Symbolizer::builder()
        .enable_code_info(debug_info)
        .enable_inlined_fns(debug_info)
        .enable_demangling(true)
        .build();
    let mut seen: HashSet<String> = HashSet::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Warm(path, offset) => {
                if !idle
                    || done.load(Ordering::SeqCst)
                    || !path.starts_with('/')
                    || !seen.insert(path.clone())
                {
                    continue;
                }
                let mut elf = Elf::new(&path);
                elf.debug_syms = debug_info;
                let _ = symbolizer.symbolize(&Source::Elf(elf), Input::FileOffset(&[offset]));
            }
            Msg::Resolve(files, back) => {
                let mut out = Symbols::default();
                for (path, offsets) in &files {
                    out.symbolize_file(&symbolizer, path, offsets, debug_info);
                }
                let _ = back.send(out);
                return;
            }
        }
    }
}

fn set_policy_of(tid: libc::pid_t, policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on a thread of this process with a valid
    // sched_param.
    unsafe { libc::sched_setscheduler(tid, policy, &param) == 0 }
}

/// Whether a thread at SCHED_IDLE may go back to SCHED_OTHER at nice 0:
/// CAP_SYS_NICE (taken as root here) or RLIMIT_NICE >= 20.
fn can_return_to_normal() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut rl) == 0 && rl.rlim_cur >= 20 }
}
