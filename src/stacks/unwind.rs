//! Online user-stack unwinding with DWARF CFI (framehop), one [`Unwinder`] per
//! run.
//!
//! In: MMAP2 records of executable mappings per process
//! ([`Unwinder::add_mapping`]), process lifecycle events (fork, exec, exit),
//! and per sample the user `IP`, `SP`, `BP` and the copied user stack (the
//! bytes at `SP` upwards, already trimmed to perf's `dyn_size`). Out: the
//! user frames of the sample, leaf first, as *lookup addresses* (the leaf IP
//! as is, every caller's return address minus one; see [`crate::stacks`]).
//!
//! Files are parsed lazily, on the first sample of a process that maps them,
//! and cached by device and inode across processes, so a hundred Python
//! workers share one parse of libpython. Section data is zero-copy (a shared
//! memory map). framehop's rule cache is shared across processes too, so a
//! warm sample allocates nothing. Where a module has no unwind information
//! (or the address is in no module, such as JIT code), framehop falls back to
//! frame pointers. Unwinding stops cleanly at the end of the copied stack.

use std::collections::HashMap;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{Module, Unwinder as _};

use super::elf::{Bytes, ElfUnwindInfo};
use crate::model::trace::{Mapping, Pid};

type Native = UnwinderX86_64<Bytes>;

/// Frames beyond this depth are dropped (guards against loops in corrupt
/// stacks; real stacks are far shallower).
pub const MAX_FRAMES: usize = 256;

/// Counters for the summary and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnwindStats {
    pub samples: u64,
    pub frames: u64,
    /// Samples whose walk ended on an unreadable stack address or a bad
    /// frame rather than at a recognised stack end.
    pub truncated: u64,
    /// Files parsed, and files that could not be read or parsed.
    pub files_parsed: u64,
    pub files_failed: u64,
}

/// Per-process state: framehop's module list plus mappings not loaded yet.
#[derive(Clone, Default)]
struct Proc {
    unwinder: Native,
    pending: Vec<Mapping>,
    /// Address ranges of the modules added, to replace overlapped ones.
    loaded: Vec<Range<u64>>,
}

/// Identity of a file on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    ino: u64,
}

/// Unwinds the user stacks of every process in a run.
pub struct Unwinder {
    procs: HashMap<Pid, Proc>,
    files: HashMap<FileKey, Option<Arc<ElfUnwindInfo>>>,
    cache: CacheX86_64,
    stats: UnwindStats,
}

impl Default for Unwinder {
    fn default() -> Self {
        Self::new()
    }
}

impl Unwinder {
    pub fn new() -> Self {
        Unwinder {
            procs: HashMap::new(),
            files: HashMap::new(),
            cache: CacheX86_64::new(),
            stats: UnwindStats::default(),
        }
    }

    pub fn stats(&self) -> UnwindStats {
        self.stats
    }

    /// Record an executable mapping of `pid`. Only mappings of real files
    /// count: the vdso, anonymous memory, memfd and deleted files are skipped
    /// (their frames are unwound with frame pointers and named
    /// `module+0xoffset` later). The file is read on the process's next
    /// sample.
    pub fn add_mapping(&mut self, pid: Pid, m: &Mapping) {
        if !is_loadable(&m.path) || m.end <= m.start {
            return;
        }
        self.procs.entry(pid).or_default().pending.push(m.clone());
    }

    /// The process exec'd: its old image is gone.
    pub fn on_exec(&mut self, pid: Pid) {
        self.procs.remove(&pid);
    }

    /// The process exited.
    pub fn on_exit(&mut self, pid: Pid) {
        self.procs.remove(&pid);
    }

    /// A new process `child` was forked from `parent`: it starts with the
    /// parent's mappings. Call it for processes only, not for new threads
    /// (threads share their process's state through its pid).
    pub fn on_fork(&mut self, parent: Pid, child: Pid) {
        if let Some(p) = self.procs.get(&parent) {
            let p = p.clone();
            self.procs.insert(child, p);
        }
    }

    /// Unwind one sample and append its user frames to `out`, leaf first:
    /// `ip` itself, then each caller's return address minus one. `stack` is
    /// the user stack copy starting at `sp`. With no mappings known for `pid`
    /// the walk uses frame pointers only.
    pub fn unwind(
        &mut self,
        pid: Pid,
        ip: u64,
        sp: u64,
        bp: u64,
        stack: &[u8],
        out: &mut Vec<u64>,
    ) {
        self.stats.samples += 1;
        if ip == 0 {
            return;
        }
        self.load_pending(pid);
        let proc = self.procs.entry(pid).or_default();
        let mut read = |addr: u64| read_u64(stack, sp, addr);
        let regs = UnwindRegsX86_64::new(ip, sp, bp);
        let mut frames = proc
            .unwinder
            .iter_frames(ip, regs, &mut self.cache, &mut read);
        let start = out.len();
        loop {
            match frames.next() {
                Ok(Some(f)) if out.len() - start < MAX_FRAMES => out.push(f.address_for_lookup()),
                Ok(Some(_)) | Err(_) => {
                    self.stats.truncated += 1;
                    break;
                }
                Ok(None) => break,
            }
        }
        self.stats.frames += (out.len() - start) as u64;
    }

    fn load_pending(&mut self, pid: Pid) {
        let Some(proc) = self.procs.get_mut(&pid) else {
            return;
        };
        if proc.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut proc.pending);
        for m in &pending {
            let Some(info) = file_info(&mut self.files, &mut self.stats, &m.path) else {
                continue;
            };
            let proc = self.procs.get_mut(&pid).expect("process present");
            add_module(proc, m, &info);
        }
    }
}

/// Whether a mapping's path names a file we can open later.
fn is_loadable(path: &str) -> bool {
    path.starts_with('/')
        && !path.ends_with(" (deleted)")
        && !path.starts_with("/memfd:")
        && !path.starts_with("//anon")
}

/// Parse (or find in the cache) the file at `path`.
fn file_info(
    files: &mut HashMap<FileKey, Option<Arc<ElfUnwindInfo>>>,
    stats: &mut UnwindStats,
    path: &str,
) -> Option<Arc<ElfUnwindInfo>> {
    let meta = std::fs::metadata(path).ok()?;
    let key = FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
    };
    files
        .entry(key)
        .or_insert_with(|| {
            let info = ElfUnwindInfo::open(Path::new(path));
            match info {
                Some(_) => stats.files_parsed += 1,
                None => stats.files_failed += 1,
            }
            info.map(Arc::new)
        })
        .clone()
}

/// Add `m` as a framehop module, replacing modules it overlaps (a library
/// unloaded and another mapped in its place).
fn add_module(proc: &mut Proc, m: &Mapping, info: &ElfUnwindInfo) {
    let range = m.start..m.end;
    proc.loaded.retain(|r| {
        let overlaps = r.start < range.end && range.start < r.end;
        if overlaps {
            proc.unwinder.remove_module(r.start);
        }
        !overlaps
    });
    if !info.has_unwind_info() {
        return;
    }
    let base = info.bias(m.start, m.pgoff);
    let module = Module::new(m.path.clone(), range.clone(), base, info.section_info());
    proc.unwinder.add_module(module);
    proc.loaded.push(range);
}

/// Read the 8 bytes at `addr` from the stack copy that starts at `sp`.
fn read_u64(stack: &[u8], sp: u64, addr: u64) -> Result<u64, ()> {
    let off = usize::try_from(addr.checked_sub(sp).ok_or(())?).map_err(|_| ())?;
    let bytes = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
    Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| ())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_inside_the_copy() {
        let stack: Vec<u8> = (0..32u8).collect();
        assert_eq!(read_u64(&stack, 0x1000, 0x1000), Ok(0x0706050403020100));
        assert_eq!(read_u64(&stack, 0x1000, 0x1018).map(|v| v & 0xff), Ok(24));
        assert_eq!(read_u64(&stack, 0x1000, 0x1019), Err(()));
        assert_eq!(read_u64(&stack, 0x1000, 0xff8), Err(()));
        assert_eq!(read_u64(&stack, 0x1000, u64::MAX), Err(()));
    }

    #[test]
    fn skips_what_cannot_be_loaded() {
        assert!(is_loadable("/usr/lib/libc.so.6"));
        assert!(!is_loadable("[vdso]"));
        assert!(!is_loadable("/tmp/a.out (deleted)"));
        assert!(!is_loadable("/memfd:jit (deleted)"));
        let mut u = Unwinder::new();
        let m = Mapping {
            start: 0x1000,
            end: 0x2000,
            pgoff: 0,
            path: "/nonexistent/file".into(),
        };
        u.add_mapping(7, &m);
        let mut out = Vec::new();
        u.unwind(7, 0x1234, 0x10, 0, &[], &mut out);
        assert_eq!(out, vec![0x1234]);
    }

    #[test]
    fn frame_pointers_without_modules() {
        // Two frames linked by rbp: [bp] = caller's bp, [bp+8] = return address.
        let sp = 0x7000u64;
        let mut stack = vec![0u8; 64];
        let put = |s: &mut Vec<u8>, at: u64, v: u64| {
            let o = (at - sp) as usize;
            s[o..o + 8].copy_from_slice(&v.to_le_bytes());
        };
        put(&mut stack, sp + 16, sp + 32); // frame 1: saved bp
        put(&mut stack, sp + 24, 0x40_1111); // frame 1: return address
        put(&mut stack, sp + 32, 0); // frame 2: end of chain
        put(&mut stack, sp + 40, 0x40_2222);
        let mut u = Unwinder::new();
        let mut out = vec![0xdead];
        u.unwind(1, 0x40_0000, sp, sp + 16, &stack, &mut out);
        assert_eq!(out[..3], [0xdead, 0x40_0000, 0x40_1110]);
    }
}
