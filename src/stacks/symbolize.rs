//! Name the addresses of recorded stacks, once, after the target has exited.
//!
//! In: a [`Trace`] (its recorded MMAP2 mappings per process, kallsyms, and the
//! stacks to name) or any set of `(pid, address)` pairs. Out: [`Symbols`],
//! which maps each pair to its [`Frame`]s, inlined frames expanded (innermost
//! first). Nothing here reads a live `/proc`: a user address is placed in the
//! mapping that covered it (later mappings override earlier ones), turned into
//! a file offset (`addr - start + pgoff`) and symbolized from the file with
//! blazesym (ELF symbols, DWARF lines and inlining, Rust and C++ demangling).
//! Each file is symbolized once with all its offsets. Kernel addresses are
//! named from `Trace::kallsyms`; addresses in no file mapping are looked up in
//! the process's `/tmp/perf-PID.map` (JIT code).
//!
//! A frame that cannot be named is never dropped: it becomes
//! `module+0xOFFSET` (module = file basename, offset = file offset), and an
//! address in no mapping at all becomes `[unknown]+0xADDR`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};

use super::perfmap::PerfMap;
use super::{is_kernel, module_name};
use crate::model::trace::{Mapping, Pid, Trace};

/// One named frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    /// File basename, `[kernel]`, `[jit]` or `[unknown]`.
    pub module: String,
    /// The function was inlined into the frame that follows it.
    pub inlined: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl Frame {
    fn bare(name: String, module: &str) -> Frame {
        Frame {
            name,
            module: module.to_string(),
            inlined: false,
            file: None,
            line: None,
        }
    }
}

/// What to consult.
#[derive(Clone, Debug)]
pub struct SymbolizeOptions {
    /// Where `perf-PID.map` files are (`/tmp`); `None` turns JIT maps off.
    pub perf_map_dir: Option<PathBuf>,
    /// Read DWARF (source lines, inlined frames) besides ELF symbols.
    pub debug_info: bool,
}

impl Default for SymbolizeOptions {
    fn default() -> Self {
        SymbolizeOptions {
            perf_map_dir: Some(PathBuf::from("/tmp")),
            debug_info: true,
        }
    }
}

/// Pid under which kernel addresses are stored (they are the same in every
/// process).
const KERNEL_PID: Pid = -1;

/// Names for `(pid, address)` pairs.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// Looked up for every frame of every stack drawn or named: a fast
    /// non-cryptographic hasher (the keys are pids and addresses).
    frames: HashMap<(Pid, u64), Box<[Frame]>, foldhash::fast::RandomState>,
}

/// File offsets wanted from one file, each with the `(pid, address)` pairs
/// that map to it.
pub(super) type Wanted = BTreeMap<u64, Vec<(Pid, u64)>>;

/// A process's address space at the end of the run: non-overlapping
/// intervals, each pointing at the mapping that covered it last.
struct AddressSpace<'a> {
    /// start -> (end, mapping)
    intervals: BTreeMap<u64, (u64, &'a Mapping)>,
}

impl<'a> AddressSpace<'a> {
    fn new(mappings: &'a [Mapping]) -> Self {
        let mut intervals: BTreeMap<u64, (u64, &Mapping)> = BTreeMap::new();
        for m in mappings.iter().filter(|m| m.end > m.start) {
            let hit: Vec<(u64, (u64, &Mapping))> = intervals
                .range(..m.end)
                .rev()
                .take_while(|(_, (end, _))| *end > m.start)
                .map(|(s, v)| (*s, *v))
                .collect();
            for (s, (e, old)) in hit {
                intervals.remove(&s);
                if s < m.start {
                    intervals.insert(s, (m.start, old));
                }
                if e > m.end {
                    intervals.insert(m.end, (e, old));
                }
            }
            intervals.insert(m.start, (m.end, m));
        }
        AddressSpace { intervals }
    }

    fn find(&self, addr: u64) -> Option<&'a Mapping> {
        let (_, (end, m)) = self.intervals.range(..=addr).next_back()?;
        (addr < *end).then_some(*m)
    }
}

impl Symbols {
    /// Name every address of every stack in `trace`: on-CPU sample stacks
    /// (in the pid of the thread that took them) and kernel stacks of
    /// off-CPU causes.
    pub fn for_trace(trace: &Trace, opts: &SymbolizeOptions) -> Symbols {
        Self::for_trace_with(trace, opts, None)
    }

    /// [`Symbols::for_trace`], on the service thread that read the files
    /// ahead while the target ran, when there is one.
    pub fn for_trace_with(
        trace: &Trace,
        opts: &SymbolizeOptions,
        service: Option<&super::service::SymbolService>,
    ) -> Symbols {
        // Each distinct stack once per process: off-CPU intervals share
        // (borrow) a handful of stacks, and a blocking-heavy run has a
        // million of them.
        let mut stacks: std::collections::BTreeSet<(Pid, u32)> = Default::default();
        for th in trace.threads.values() {
            stacks.extend(th.sample_stacks.keys().map(|&id| (th.pid, id)));
            stacks.extend(
                th.offcpu
                    .iter()
                    .filter_map(|o| o.ustack)
                    .map(|id| (th.pid, id)),
            );
        }
        let mut addrs: Vec<(Pid, u64)> = Vec::new();
        for (pid, id) in stacks {
            addrs.extend(trace.stacks.get(id).iter().map(|&a| (pid, a)));
        }
        for s in &trace.kstacks.stacks {
            addrs.extend(s.iter().map(|&a| (KERNEL_PID, a)));
        }
        Self::resolve_with(trace, addrs, opts, service)
    }

    /// Name the given `(pid, address)` pairs, using the mappings and kernel
    /// symbols recorded in `trace`.
    pub fn resolve(
        trace: &Trace,
        addrs: impl IntoIterator<Item = (Pid, u64)>,
        opts: &SymbolizeOptions,
    ) -> Symbols {
        Self::resolve_with(trace, addrs, opts, None)
    }

    fn resolve_with(
        trace: &Trace,
        addrs: impl IntoIterator<Item = (Pid, u64)>,
        opts: &SymbolizeOptions,
        service: Option<&super::service::SymbolService>,
    ) -> Symbols {
        let mut unique: Vec<(Pid, u64)> = addrs
            .into_iter()
            .map(|(pid, a)| {
                if is_kernel(a) {
                    (KERNEL_PID, a)
                } else {
                    (pid, a)
                }
            })
            .collect();
        unique.sort_unstable();
        unique.dedup();
        let mut out = Symbols::default();
        // file path -> (file offset -> keys wanting it)
        let mut by_file: HashMap<&str, Wanted> = HashMap::new();
        let mut spaces: HashMap<Pid, AddressSpace> = HashMap::new();
        let mut jit: HashMap<Pid, Option<PerfMap>> = HashMap::new();
        for &(pid, addr) in &unique {
            if pid == KERNEL_PID {
                out.insert(pid, addr, kernel_frame(trace, addr));
                continue;
            }
            let space = spaces.entry(pid).or_insert_with(|| {
                let maps = trace.processes.get(&pid).map(|p| &p.mappings[..]);
                AddressSpace::new(maps.unwrap_or(&[]))
            });
            let mapping = space.find(addr);
            if mapping.is_none_or(|m| is_anonymous(&m.path)) {
                let map = jit.entry(pid).or_insert_with(|| {
                    opts.perf_map_dir
                        .as_deref()
                        .and_then(|d| PerfMap::load(d, pid))
                });
                if let Some(name) = map.as_ref().and_then(|m| m.lookup(addr)) {
                    out.insert(pid, addr, vec![Frame::bare(name.to_string(), "[jit]")]);
                    continue;
                }
            }
            match mapping {
                Some(m) if m.path != "//anon" => {
                    let off = addr - m.start + m.pgoff;
                    let files = by_file.entry(m.path.as_str()).or_default();
                    files.entry(off).or_default().push((pid, addr));
                }
                _ => {
                    let name = format!("[unknown]+{addr:#x}");
                    out.insert(pid, addr, vec![Frame::bare(name, "[unknown]")]);
                }
            }
        }
        if let Some(service) = service {
            let files: Vec<(String, Wanted)> = by_file
                .into_iter()
                .map(|(p, w)| (p.to_string(), w))
                .collect();
            let lost = files.clone();
            match service.resolve(files) {
                Some(s) => out.frames.extend(s.frames),
                None => Self::symbolize_here(&mut out, lost, opts),
            }
            return out;
        }
        let files = by_file
            .into_iter()
            .map(|(p, w)| (p.to_string(), w))
            .collect();
        Self::symbolize_here(&mut out, files, opts);
        out
    }

    fn symbolize_here(out: &mut Symbols, files: Vec<(String, Wanted)>, opts: &SymbolizeOptions) {
        let symbolizer = Symbolizer::builder()
            .enable_code_info(opts.debug_info)
            .enable_inlined_fns(opts.debug_info)
            .enable_demangling(true)
            .build();
        for (path, offsets) in files {
            out.symbolize_file(&symbolizer, &path, &offsets, opts.debug_info);
        }
    }

    fn insert(&mut self, pid: Pid, addr: u64, frames: Vec<Frame>) {
        self.frames.insert((pid, addr), frames.into_boxed_slice());
    }

    pub(super) fn symbolize_file(
        &mut self,
        symbolizer: &Symbolizer,
        path: &str,
        offsets: &Wanted,
        debug_info: bool,
    ) {
        let module = module_name(path);
        let offs: Vec<u64> = offsets.keys().copied().collect();
        let results = if path.ends_with(" (deleted)") || !path.starts_with('/') {
            Vec::new()
        } else {
            let mut elf = Elf::new(path);
            elf.debug_syms = debug_info;
            let src = Source::Elf(elf);
            symbolizer
                .symbolize(&src, Input::FileOffset(&offs))
                .unwrap_or_default()
        };
        for (i, (off, keys)) in offsets.iter().enumerate() {
            let frames = match results.get(i) {
                Some(Symbolized::Sym(sym)) => sym_frames(sym, module),
                _ => vec![Frame::bare(format!("{module}+{off:#x}"), module)],
            };
            for &(pid, addr) in keys {
                self.insert(pid, addr, frames.clone());
            }
        }
    }

    /// The frames for `addr` in `pid`, innermost inlined frame first; `None`
    /// when the address was not among those resolved.
    pub fn frames(&self, pid: Pid, addr: u64) -> Option<&[Frame]> {
        let pid = if is_kernel(addr) { KERNEL_PID } else { pid };
        self.frames.get(&(pid, addr)).map(|f| &f[..])
    }

    /// Display names of a leaf-first stack, leaf first, inlined frames
    /// expanded. Kernel frames end in `_[k]`, JIT frames in `_[j]` and
    /// inlined frames in `_[i]` (the suffixes inferno colours by).
    pub fn names(&self, stack: &[u64], pid: Pid) -> Vec<String> {
        let mut out = Vec::with_capacity(stack.len());
        for &addr in stack {
            match self.frames(pid, addr) {
                Some(frames) => out.extend(frames.iter().map(display_name)),
                None if is_kernel(addr) => out.push(format!("[kernel]+{addr:#x}_[k]")),
                None => out.push(format!("[unknown]+{addr:#x}")),
            }
        }
        out
    }

    /// The function of the program's own code that a user stack (leaf
    /// first) is in: the first frame in the process's executable (`exe`
    /// basename) or in JIT code, skipping system libraries and the runtime.
    /// `None` when no such frame is named (an interpreter without perf maps,
    /// a stripped binary).
    pub fn user_function(&self, stack: &[u64], pid: Pid, exe: Option<&str>) -> Option<String> {
        let exe = exe.map(module_name);
        for &addr in stack.iter().filter(|a| !is_kernel(**a)) {
            for f in self.frames(pid, addr).into_iter().flatten() {
                let own = exe.is_some_and(|e| f.module == e) || f.module == "[jit]";
                if own && !f.name.contains("+0x") && !f.name.starts_with('_') {
                    return Some(f.name.clone());
                }
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

fn display_name(f: &Frame) -> String {
    let suffix = match f.module.as_str() {
        "[kernel]" => "_[k]",
        "[jit]" => "_[j]",
        _ if f.inlined => "_[i]",
        _ => "",
    };
    format!("{}{}", f.name, suffix)
}

fn kernel_frame(trace: &Trace, addr: u64) -> Vec<Frame> {
    let name = trace
        .ksym(addr)
        .map_or_else(|| format!("[kernel]+{addr:#x}"), str::to_string);
    vec![Frame::bare(name, "[kernel]")]
}

/// Mappings that are not files: JIT code lives there (`//anon` is what
/// MMAP2 reports for anonymous executable memory).
fn is_anonymous(path: &str) -> bool {
    path == "//anon"
        || path.starts_with("/memfd:")
        || path.starts_with("/dev/zero")
        || !path.starts_with('/')
}

/// A blazesym symbol as frames, innermost inlined function first.
fn sym_frames(sym: &blazesym::symbolize::Sym<'_>, module: &str) -> Vec<Frame> {
    let loc = |ci: Option<&blazesym::symbolize::CodeInfo<'_>>| {
        ci.map_or((None, None), |c| {
            (Some(c.file.to_string_lossy().into_owned()), c.line)
        })
    };
    let mut frames = Vec::with_capacity(1 + sym.inlined.len());
    for f in sym.inlined.iter().rev() {
        let (file, line) = loc(f.code_info.as_ref());
        frames.push(Frame {
            name: f.name.to_string(),
            module: module.to_string(),
            inlined: true,
            file,
            line,
        });
    }
    let (file, line) = loc(sym.code_info.as_deref());
    frames.push(Frame {
        name: sym.name.to_string(),
        module: module.to_string(),
        inlined: false,
        file,
        line,
    });
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(start: u64, end: u64, pgoff: u64, path: &str) -> Mapping {
        Mapping {
            start,
            end,
            pgoff,
            path: path.into(),
        }
    }

    #[test]
    fn later_mappings_override_earlier_ones() {
        let maps = [
            m(0x1000, 0x5000, 0, "/a"),
            m(0x2000, 0x3000, 0x10000, "/b"),
            m(0x8000, 0x9000, 0, "/c"),
        ];
        let space = AddressSpace::new(&maps);
        assert_eq!(space.find(0x1800).unwrap().path, "/a");
        assert_eq!(space.find(0x2800).unwrap().path, "/b");
        assert_eq!(space.find(0x3000).unwrap().path, "/a");
        assert_eq!(space.find(0x4fff).unwrap().path, "/a");
        assert!(space.find(0x5000).is_none());
        assert!(space.find(0x0fff).is_none());
        assert_eq!(space.find(0x8000).unwrap().path, "/c");
    }

    #[test]
    fn unnamed_frames_are_kept() {
        let mut trace = Trace {
            kallsyms: vec![(0xffff_ffff_8100_0000, "schedule".into())],
            ..Default::default()
        };
        let mut p = crate::model::trace::ProcessTrace::default();
        p.mappings
            .push(m(0x40_0000, 0x40_1000, 0x2000, "/gone/app (deleted)"));
        p.mappings
            .push(m(0x50_0000, 0x50_1000, 0, "/nonexistent/lib.so"));
        trace.processes.insert(9, p);
        let opts = SymbolizeOptions {
            perf_map_dir: None,
            debug_info: false,
        };
        let addrs = [
            (9, 0x40_0010),
            (9, 0x50_0020),
            (9, 0x60_0000),
            (9, 0xffff_ffff_8100_0010),
            (9, 0xffff_ffff_8000_0000),
        ];
        let syms = Symbols::resolve(&trace, addrs, &opts);
        let names = syms.names(&addrs.map(|a| a.1), 9);
        assert_eq!(
            names,
            [
                "app+0x2010",
                "lib.so+0x20",
                "[unknown]+0x600000",
                "schedule_[k]",
                "[kernel]+0xffffffff80000000_[k]",
            ]
        );
        assert_eq!(syms.frames(9, 0x40_0010).unwrap()[0].module, "app");
    }

    #[test]
    fn jit_code_is_named_from_the_perf_map() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("perf-9.map"),
            "7f0000001000 40 JS:*fib /app/x.js:1:1\n7f0000003000 10 py::main:/a.py\n",
        )
        .unwrap();
        let mut trace = Trace::default();
        let mut p = crate::model::trace::ProcessTrace::default();
        p.mappings
            .push(m(0x7f00_0000_0000, 0x7f00_0000_2000, 0, "//anon"));
        trace.processes.insert(9, p);
        let opts = SymbolizeOptions {
            perf_map_dir: Some(dir.path().to_path_buf()),
            debug_info: false,
        };
        // In an //anon mapping, outside it, and in neither map nor mapping.
        let stack = [0x7f00_0000_1010, 0x7f00_0000_3004, 0x7f00_0000_1800];
        let syms = Symbols::resolve(&trace, stack.map(|a| (9, a)), &opts);
        assert_eq!(
            syms.names(&stack, 9),
            [
                "JS:*fib /app/x.js:1:1_[j]",
                "py::main:/a.py_[j]",
                "[unknown]+0x7f0000001800"
            ]
        );
    }
}
