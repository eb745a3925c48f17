//! A thread that owns the symbolizer for the whole run, so that the work of
//! reading the target's files (ELF symbol tables, DWARF, often compressed)
//! happens while the target runs instead of after it exits.
//!
//! The drain thread sends the path of each executable file the target maps
//! ([`SymbolService::warm`]); the service reads it at `SCHED_IDLE` priority,
//! which runs only on a CPU that would otherwise be idle, so a target that
//! keeps every CPU busy is not slowed. After the target exits,
//! [`SymbolService::resolve`] hands over the final request; the thread
//! returns to normal priority for it and answers from its caches. blazesym's
//! symbolizer is not `Send`, hence one thread for both.
//!
//! The idle priority is used only where the thread can return to normal
//! priority afterwards (root, or an RLIMIT_NICE that allows nice 0);
//! elsewhere nothing is read ahead and the result is the same, only later.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolizer};

use super::symbolize::{Symbols, Wanted};

enum Msg {
    Warm(String, u64),
    Resolve(Vec<(String, Wanted)>, bool, Sender<Symbols>),
}

/// The handle the rest of wallprof talks to.
pub struct SymbolService {
    tx: Mutex<Sender<Msg>>,
    /// Set when the final request is sent: files still queued to be read
    /// ahead are skipped (what is needed is read on demand).
    done: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        let done2 = done.clone();
        let thread = std::thread::Builder::new()
            .name("wallprof-symbols".into())
            .spawn(move || serve(rx, debug_info, &done2))
            .ok()?;
        Some(SymbolService {
            tx: Mutex::new(tx),
            done,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn warmer(&self) -> Warmer {
        Warmer(self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Symbolize `files` (path, offsets wanted) on the service thread.
    /// `None` when the thread is gone.
    pub(super) fn resolve(
        &self,
        files: Vec<(String, Wanted)>,
        debug_info: bool,
    ) -> Option<Symbols> {
        let (back, answer) = channel();
        self.done.store(true, Ordering::SeqCst);
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Msg::Resolve(files, debug_info, back))
            .ok()?;
        answer.recv().ok()
    }
}

impl Drop for SymbolService {
    fn drop(&mut self) {
        // Dropping the last sender ends the thread's loop; warmers held
        // elsewhere are clones of it, so the thread is not joined here.
        let _ = self.thread.lock().map(|mut t| t.take());
    }
}

fn serve(rx: Receiver<Msg>, debug_info: bool, done: &AtomicBool) {
    let idle = can_return_to_normal() && set_policy(libc::SCHED_IDLE);
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
            Msg::Resolve(files, debug_info, back) => {
                if idle {
                    set_policy(libc::SCHED_OTHER);
                }
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

fn set_policy(policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread (tid 0) with a valid
    // sched_param.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
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
