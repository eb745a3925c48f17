//! The BPF scheduler collector: context switches and wakeups of the target's
//! tree from BPF programs on the `sched_switch`, `sched_waking`,
//! `sched_process_fork` and `sched_process_exec` tracepoints
//! (`sched.bpf.c`), instead of CPU-wide perf tracepoint records.
//!
//! Why: in a VM every perf record costs the task that triggers it about
//! 1 µs, and a blocking call needs three (its switch-out, its wakeup, its
//! switch-in); the BPF programs cost a few hundred ns per switch and write
//! one record per switch, with the wakeup folded into the switch-in
//! (docs/performance.md). perf keeps on-CPU sampling, the side-band records
//! (fork, exit, exec, mappings) and the rate-limited kernel-stack event.
//!
//! Where permitted (root, or CAP_BPF with CAP_PERFMON; a kernel with BTF,
//! 5.18 or later) and built in (clang at build time, see `build.rs`), the
//! perf collector uses it at `--perf-scope cpu` unless `--no-bpf` is given;
//! otherwise it says why in `collectors` and records with perf tracepoints.
//!
//! The programs are loaded on a thread of their own ([`preload`]) while
//! wallprof spawns the target and opens its perf events: parsing the
//! kernel's BTF and relocating the programs take tens of milliseconds.

use crate::model::trace::{Ns, Pid, Tid};

/// The drain's record type for a BPF record in its merge arena, next to
/// perf's own record types (which stay below 0x10000).
pub const RECORD_SCHED: u32 = 0x5750_0001;

/// Record kinds: the u32 after the time in every record.
pub const KIND_SWITCH: u32 = 1;
pub const KIND_DETAIL: u32 = 2;

/// One record of the BPF collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BpfRecord<'a> {
    Switch(SchedEvent),
    Detail(DetailEvent<'a>),
}

impl BpfRecord<'_> {
    /// Parse a record by its kind; `None` for a kind or size not known.
    pub fn parse(b: &[u8]) -> Option<BpfRecord<'_>> {
        let kind = u32::from_ne_bytes(b.get(8..12)?.try_into().ok()?);
        match kind {
            KIND_SWITCH => SchedEvent::parse(b).map(BpfRecord::Switch),
            KIND_DETAIL => DetailEvent::parse(b).map(BpfRecord::Detail),
            _ => None,
        }
    }
}

/// The detail of one blocking switch-out (`struct detail`): its kernel stack
/// (leaf first, starting in the BPF program and the tracepoint's own
/// frames), and the user registers and stack to unwind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetailEvent<'a> {
    pub time: Ns,
    pub tid: Tid,
    pub pid: Pid,
    kstack: &'a [u8],
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The user stack from `sp` up.
    pub ustack: &'a [u8],
}

impl<'a> DetailEvent<'a> {
    /// Kernel frames at most, and user stack bytes.
    pub const KSTACK_MAX: usize = 64;
    pub const USTACK_BYTES: usize = 8192;
    const HEADER: usize = 56;
    pub const SIZE: usize = Self::HEADER + Self::KSTACK_MAX * 8 + Self::USTACK_BYTES;

    pub fn parse(b: &'a [u8]) -> Option<DetailEvent<'a>> {
        if b.len() != Self::SIZE {
            return None;
        }
        let u64_at = |at: usize| u64::from_ne_bytes(b[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        let klen = (u32_at(12) as usize).min(Self::KSTACK_MAX * 8) & !7;
        let ulen = (u32_at(48) as usize).min(Self::USTACK_BYTES);
        let kstart = Self::HEADER;
        let ustart = kstart + Self::KSTACK_MAX * 8;
        Some(DetailEvent {
            time: u64_at(0),
            tid: u32_at(16) as i32,
            pid: u32_at(20) as i32,
            ip: u64_at(24),
            sp: u64_at(32),
            bp: u64_at(40),
            kstack: &b[kstart..kstart + klen],
            ustack: &b[ustart..ustart + ulen],
        })
    }

    /// The kernel stack's return addresses, leaf first.
    pub fn kernel_frames(&self) -> impl Iterator<Item = u64> + '_ {
        self.kstack
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
    }

    /// The bytes `sched.bpf.c` writes for a detail record (tests).
    pub fn encode(
        time: Ns,
        tid: Tid,
        pid: Pid,
        kstack: &[u64],
        regs: [u64; 3],
        ustack: &[u8],
    ) -> Vec<u8> {
        let mut b = vec![0u8; Self::SIZE];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        let k = kstack.len().min(Self::KSTACK_MAX);
        let u = ustack.len().min(Self::USTACK_BYTES);
        put(0, &time.to_ne_bytes());
        put(8, &KIND_DETAIL.to_ne_bytes());
        put(12, &((k * 8) as u32).to_ne_bytes());
        put(16, &tid.to_ne_bytes());
        put(20, &pid.to_ne_bytes());
        put(24, &regs[0].to_ne_bytes());
        put(32, &regs[1].to_ne_bytes());
        put(40, &regs[2].to_ne_bytes());
        put(48, &(u as u32).to_ne_bytes());
        for (i, ip) in kstack[..k].iter().enumerate() {
            put(Self::HEADER + i * 8, &ip.to_ne_bytes());
        }
        put(Self::HEADER + Self::KSTACK_MAX * 8, &ustack[..u]);
        b
    }
}

/// `event.flags` in `sched.bpf.c`.
pub mod flags {
    /// The task switched out is of the tree: its state and registers.
    pub const OUT: u32 = 1;
    /// The task switched in is of the tree.
    pub const IN: u32 = 2;
    /// The task switched out was preempted.
    pub const PREEMPT: u32 = 4;
    /// The switch-in carries the wakeup that ended its wait.
    pub const WAKE: u32 = 8;
    /// That wakeup came from interrupt context (no task woke it).
    pub const WAKE_IRQ: u32 = 16;
}

/// One context switch that involves the target's tree, as `sched.bpf.c`
/// writes it (`struct event`, 120 bytes, native endian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedEvent {
    pub time: Ns,
    pub flags: u32,
    pub prev_tid: Tid,
    pub prev_pid: Pid,
    pub next_tid: Tid,
    pub next_pid: Pid,
    /// The switched-out task's raw state (`__state`).
    pub prev_state: u32,
    pub exit_state: i32,
    /// The switched-out task's user registers: DI, SI, DX, R10 (a
    /// syscall's first four arguments) and IP (its call site).
    pub di: u64,
    pub si: u64,
    pub dx: u64,
    pub r10: u64,
    pub ip: u64,
    /// The syscall the switched-out task is in (`orig_ax`), -1 outside one
    /// (a page fault, a preemption in user mode).
    pub nr: i64,
    /// When the task switched in was woken (with [`flags::WAKE`]).
    pub wake: Ns,
    pub waker_tid: Tid,
    pub waker_pid: Pid,
    /// The CPU time each side has run in all (`se.sum_exec_runtime`, ns),
    /// 0 for a side not of the tree: what a switch the kernel never
    /// reported hides is recovered from it.
    pub prev_runtime: u64,
    pub next_runtime: u64,
}

impl SchedEvent {
    pub const SIZE: usize = 120;

    /// Parse a record; `None` when it is not [`Self::SIZE`] bytes.
    pub fn parse(b: &[u8]) -> Option<SchedEvent> {
        if b.len() != Self::SIZE {
            return None;
        }
        let u64_at = |at: usize| u64::from_ne_bytes(b[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        let i32_at = |at: usize| u32_at(at) as i32;
        Some(SchedEvent {
            time: u64_at(0),
            flags: u32_at(12),
            prev_tid: i32_at(16),
            prev_pid: i32_at(20),
            next_tid: i32_at(24),
            next_pid: i32_at(28),
            prev_state: u32_at(32),
            exit_state: i32_at(36),
            di: u64_at(40),
            si: u64_at(48),
            dx: u64_at(56),
            r10: u64_at(64),
            ip: u64_at(72),
            nr: u64_at(80) as i64,
            wake: u64_at(88),
            waker_tid: i32_at(96),
            waker_pid: i32_at(100),
            prev_runtime: u64_at(104),
            next_runtime: u64_at(112),
        })
    }

    /// The bytes `sched.bpf.c` writes for this event (tests and fixtures).
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(0, &self.time.to_ne_bytes());
        put(8, &KIND_SWITCH.to_ne_bytes());
        put(12, &self.flags.to_ne_bytes());
        put(16, &self.prev_tid.to_ne_bytes());
        put(20, &self.prev_pid.to_ne_bytes());
        put(24, &self.next_tid.to_ne_bytes());
        put(28, &self.next_pid.to_ne_bytes());
        put(32, &self.prev_state.to_ne_bytes());
        put(36, &self.exit_state.to_ne_bytes());
        put(40, &self.di.to_ne_bytes());
        put(48, &self.si.to_ne_bytes());
        put(56, &self.dx.to_ne_bytes());
        put(64, &self.r10.to_ne_bytes());
        put(72, &self.ip.to_ne_bytes());
        put(80, &self.nr.to_ne_bytes());
        put(88, &self.wake.to_ne_bytes());
        put(96, &self.waker_tid.to_ne_bytes());
        put(100, &self.waker_pid.to_ne_bytes());
        put(104, &self.prev_runtime.to_ne_bytes());
        put(112, &self.next_runtime.to_ne_bytes());
        b
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The switched-out task's state as the `sched_switch` tracepoint
    /// reports it (`__trace_sched_switch_state`): a preemption is
    /// `TASK_REPORT_MAX` (0x100), otherwise the highest `TASK_REPORT` bit
    /// of the state and exit state, with `TASK_IDLE` as 0x80 and an
    /// rt-mutex wait as uninterruptible.
    pub fn report_state(&self) -> i64 {
        const TASK_REPORT: u32 = 0x7f;
        const TASK_IDLE: u32 = 0x402; // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
        const TASK_RTLOCK_WAIT: u32 = 0x1000;
        if self.has(flags::PREEMPT) {
            return 0x100;
        }
        let s = self.prev_state;
        let bits = if s == TASK_IDLE {
            0x80
        } else if s == TASK_RTLOCK_WAIT {
            0x2
        } else {
            (s | self.exit_state as u32) & TASK_REPORT
        };
        if bits == 0 {
            0
        } else {
            1i64 << (31 - bits.leading_zeros())
        }
    }
}

/// The programs' losses, counted in the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Switches not recorded because the ring buffer was full.
    pub ring_full: u64,
    /// New tasks not followed because the task map was full.
    pub tasks_full: u64,
}

/// Ring buffer size (bytes, a power of two; `RING_BYTES` in `sched.bpf.c`
/// is the same). About 250 ms of a ping-pong switching 160,000 times a
/// second; the reader drains every 50 ms and is woken early at an eighth.
pub const RING_BYTES: u32 = 8 << 20;

/// The programs, being loaded on a thread of their own.
pub struct Preload(Option<std::thread::JoinHandle<Result<Loaded, String>>>);

/// Start loading the programs (the caller has already forked the target:
/// it is forked while wallprof is single-threaded).
pub fn preload() -> Preload {
    Preload(
        std::thread::Builder::new()
            .name("wallprof-bpf".into())
            .spawn(imp::load)
            .ok(),
    )
}

impl Preload {
    /// The loaded and attached programs, or why they are not available.
    pub fn get(mut self) -> Result<Loaded, String> {
        match self.0.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("the BPF loader thread panicked".into()),
            None => Err("cannot start the BPF loader thread".into()),
        }
    }
}

pub use imp::Loaded;

#[cfg(wallprof_bpf)]
mod imp {
    use super::{Losses, RING_BYTES};
    use aya::maps::{HashMap, MapData, PerCpuArray, RingBuf};
    use aya::programs::RawTracePoint;
    use aya::{Ebpf, EbpfLoader};
    use std::os::fd::{AsRawFd, RawFd};

    /// `sched.bpf.c`, compiled by build.rs; aligned for the ELF parser.
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static OBJECT: &Aligned<[u8]> =
        &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/sched.bpf.o")));

    /// `struct task_info` in `sched.bpf.c`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct TaskInfo {
        tgid: u32,
        pending: u32,
        wake: u64,
        waker_tid: i32,
        waker_tgid: i32,
        wake_irq: u32,
        _pad: u32,
        last_detail: u64,
        last_site: u64,
    }
    // SAFETY: plain old data, no padding beyond the explicit field.
    unsafe impl aya::Pod for TaskInfo {}

    const PROGRAMS: [(&str, &str); 4] = [
        ("on_fork", "sched_process_fork"),
        ("on_exec", "sched_process_exec"),
        ("on_waking", "sched_waking"),
        ("on_switch", "sched_switch"),
    ];

    /// The attached programs and their maps.
    pub struct Loaded {
        ebpf: Ebpf,
        ring: RingBuf<MapData>,
    }

    /// `what`, the error and its causes (first lines only: a verifier log
    /// follows some of them), and what to do about a refusal.
    fn explain(what: &str, e: &dyn std::error::Error) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        while let Some(err) = cur {
            let line = err.to_string();
            let line = line.lines().next().unwrap_or_default().to_string();
            if !line.is_empty() && !parts.iter().any(|p| p.contains(&line)) {
                parts.push(line);
            }
            cur = err.source();
        }
        let text = parts.join(": ");
        if text.contains("Operation not permitted") || text.contains("Permission denied") {
            format!("{what}: {text} (needs root, or CAP_BPF with CAP_PERFMON)")
        } else {
            format!("{what}: {text}")
        }
    }

    pub(super) fn load() -> Result<Loaded, String> {
        if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err("the kernel has no BTF (/sys/kernel/btf/vmlinux): built without CONFIG_DEBUG_INFO_BTF".into());
        }
        // The loader reads the kernel's BTF itself (about 20 ms) and
        // relocates the programs' field offsets against it. Raw tracepoints
        // need nothing more.
        let t0 = std::time::Instant::now();
        let timing = std::env::var_os("WALLPROF_TIMING").is_some();
        let mut loader = EbpfLoader::new();
        let parsed = t0.elapsed();
        let mut ebpf = loader
            .map_max_entries("events", RING_BYTES)
            .load(&OBJECT.0)
            .map_err(|e| explain("the BPF object was refused", &e))?;
        for (name, tracepoint) in PROGRAMS {
            let prog: &mut RawTracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| format!("program {name} is missing from the BPF object"))?
                .try_into()
                .map_err(|e| explain(name, &e))?;
            prog.load()
                .map_err(|e| explain(&format!("the kernel refused {name}"), &e))?;
            prog.attach(tracepoint)
                .map_err(|e| explain(&format!("cannot attach {name}"), &e))?;
        }
        if timing {
            eprintln!(
                "wallprof: bpf: kernel BTF {:.1} ms, loaded and attached {:.1} ms",
                parsed.as_secs_f64() * 1e3,
                (t0.elapsed() - parsed).as_secs_f64() * 1e3
            );
        }
        let ring = ebpf
            .take_map("events")
            .ok_or("the ring buffer is missing from the BPF object")?;
        let ring = RingBuf::try_from(ring).map_err(|e| explain("the ring buffer", &e))?;
        Ok(Loaded { ebpf, ring })
    }

    impl Loaded {
        /// Follow `pid` and everything it starts from now on.
        pub fn track(&mut self, pid: i32) -> Result<(), String> {
            if std::env::var_os("EXP_NOTRACK").is_some() {
                return Ok(());
            }
            let map = self.ebpf.map_mut("tasks").ok_or("no task map")?;
            let mut tasks: HashMap<_, u32, TaskInfo> =
                HashMap::try_from(map).map_err(|e| explain("the task map", &e))?;
            let info = TaskInfo {
                tgid: pid as u32,
                ..TaskInfo::default()
            };
            tasks
                .insert(pid as u32, info, 0)
                .map_err(|e| explain("cannot follow the target", &e))
        }

        /// The ring buffer's fd, readable when records wait.
        pub fn fd(&self) -> RawFd {
            self.ring.as_raw_fd()
        }

        /// Hand every waiting record to `f`.
        pub fn read(&mut self, mut f: impl FnMut(&[u8])) {
            while let Some(item) = self.ring.next() {
                f(&item);
            }
        }

        pub fn losses(&self) -> Losses {
            let sum = |i: u32| -> u64 {
                self.ebpf
                    .map("stats")
                    .and_then(|m| PerCpuArray::<_, u64>::try_from(m).ok())
                    .and_then(|a| a.get(&i, 0).ok())
                    .map(|v| v.iter().sum())
                    .unwrap_or(0)
            };
            Losses {
                ring_full: sum(0),
                tasks_full: sum(1),
            }
        }
    }
}

#[cfg(not(wallprof_bpf))]
mod imp {
    use super::Losses;
    use std::os::fd::RawFd;

    /// Never constructed: this build has no BPF collector.
    pub enum Loaded {}

    pub(super) fn load() -> Result<Loaded, String> {
        Err(if cfg!(target_arch = "x86_64") {
            "this wallprof was built without its BPF collector (clang was not found at build time)"
                .into()
        } else {
            "the BPF collector is written for x86-64".into()
        })
    }

    impl Loaded {
        pub fn track(&mut self, _pid: i32) -> Result<(), String> {
            match *self {}
        }
        pub fn fd(&self) -> RawFd {
            match *self {}
        }
        pub fn read(&mut self, _f: impl FnMut(&[u8])) {
            match *self {}
        }
        pub fn losses(&self) -> Losses {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_through_its_bytes() {
        let ev = SchedEvent {
            time: 123_456_789,
            flags: flags::OUT | flags::IN | flags::WAKE,
            prev_tid: 10,
            prev_pid: 9,
            next_tid: 11,
            next_pid: 11,
            prev_state: 1,
            exit_state: 0,
            di: 3,
            si: 0x7fff_0000,
            dx: 1,
            r10: 0,
            ip: 0x7f00_dead_beef,
            nr: 0,
            wake: 123_000_000,
            waker_tid: 12,
            waker_pid: 12,
            prev_runtime: 5_000_000,
            next_runtime: 7_000_000,
        };
        assert_eq!(SchedEvent::parse(&ev.to_bytes()), Some(ev));
        assert_eq!(SchedEvent::parse(&ev.to_bytes()[..119]), None);
        assert_eq!(
            BpfRecord::parse(&ev.to_bytes()),
            Some(BpfRecord::Switch(ev))
        );
    }

    #[test]
    fn detail_keeps_only_what_was_written() {
        let ustack: Vec<u8> = (0..100u8).collect();
        let b = DetailEvent::encode(
            5,
            7,
            6,
            &[0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020],
            [1, 2, 3],
            &ustack,
        );
        assert_eq!(b.len(), DetailEvent::SIZE);
        let Some(BpfRecord::Detail(d)) = BpfRecord::parse(&b) else {
            panic!("not a detail record");
        };
        assert_eq!((d.time, d.tid, d.pid, d.ip, d.sp, d.bp), (5, 7, 6, 1, 2, 3));
        assert_eq!(
            d.kernel_frames().collect::<Vec<_>>(),
            vec![0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020]
        );
        assert_eq!(d.ustack, &ustack[..]);
        assert_eq!(BpfRecord::parse(&b[..b.len() - 1]), None);
        let mut unknown = b.clone();
        unknown[8] = 9;
        assert_eq!(BpfRecord::parse(&unknown), None);
    }

    #[test]
    fn report_state_matches_the_tracepoint() {
        let st = |prev_state: u32, exit_state: i32, preempt: bool| {
            SchedEvent {
                prev_state,
                exit_state,
                flags: if preempt { flags::PREEMPT } else { 0 },
                ..SchedEvent::default()
            }
            .report_state()
        };
        assert_eq!(st(0, 0, true), 0x100, "preempted");
        assert_eq!(st(1, 0, true), 0x100, "preempted while going to sleep");
        assert_eq!(st(0, 0, false), 0, "runnable (woken before the switch)");
        assert_eq!(st(0x1, 0, false), 1, "S");
        assert_eq!(st(0x2001, 0, false), 1, "S | TASK_FREEZABLE (nanosleep)");
        assert_eq!(st(0x2, 0, false), 2, "D");
        assert_eq!(st(0x2102, 0, false), 2, "TASK_KILLABLE | FREEZABLE (vfork)");
        assert_eq!(st(0x402, 0, false), 0x80, "TASK_IDLE");
        assert_eq!(st(0x1000, 0, false), 2, "rt-mutex wait");
        assert_eq!(st(0x80, 0x20, false), 0x20, "TASK_DEAD, zombie");
    }
}
