//! Parse perf ring-buffer records into borrowed views, without allocating.
//!
//! In: one record's bytes (header included, contiguous) and the [`Layout`]
//! of the events that share the buffer. Out: a [`Rec`] borrowing from those
//! bytes. Every event wallprof opens sets the same sample-id fields
//! (`TID | TIME | CPU | IDENTIFIER`), so the trailer of non-sample records has
//! one layout whichever event wrote it, and samples start with the event
//! identifier, which tells which event (and so which sample layout) wrote them.
//!
//! Layouts follow `perf_event_open(2)`; the parser is tested on byte records
//! built by hand and on records captured from this machine.

/// `perf_event_header.type` values wallprof reads.
pub const RECORD_MMAP: u32 = 1;
pub const RECORD_LOST: u32 = 2;
pub const RECORD_COMM: u32 = 3;
pub const RECORD_EXIT: u32 = 4;
pub const RECORD_FORK: u32 = 7;
pub const RECORD_SAMPLE: u32 = 9;
pub const RECORD_MMAP2: u32 = 10;
pub const RECORD_SWITCH: u32 = 14;
/// A switch seen by a CPU-wide event: the sample id is the task switched in
/// (or out), the body the other task; wallprof only needs the former.
pub const RECORD_SWITCH_CPU_WIDE: u32 = 15;
pub const RECORD_LOST_SAMPLES: u32 = 13;

pub const MISC_CPUMODE_MASK: u16 = 0x7;
pub const MISC_KERNEL: u16 = 1;
pub const MISC_USER: u16 = 2;
pub const MISC_COMM_EXEC: u16 = 1 << 13;
pub const MISC_SWITCH_OUT: u16 = 1 << 13;
pub const MISC_SWITCH_OUT_PREEMPT: u16 = 1 << 14;

/// Callchain context markers (`PERF_CONTEXT_*`), as u64.
pub const CONTEXT_KERNEL: u64 = (-128i64) as u64;
pub const CONTEXT_USER: u64 = (-512i64) as u64;
pub const CONTEXT_MAX: u64 = (-4095i64) as u64;

/// `PERF_SAMPLE_*` bits.
pub const SAMPLE_IP: u64 = 1 << 0;
pub const SAMPLE_TID: u64 = 1 << 1;
pub const SAMPLE_TIME: u64 = 1 << 2;
pub const SAMPLE_CPU: u64 = 1 << 7;
pub const SAMPLE_PERIOD: u64 = 1 << 8;
pub const SAMPLE_CALLCHAIN: u64 = 1 << 5;
pub const SAMPLE_RAW: u64 = 1 << 10;
pub const SAMPLE_REGS_USER: u64 = 1 << 12;
pub const SAMPLE_STACK_USER: u64 = 1 << 13;
pub const SAMPLE_IDENTIFIER: u64 = 1 << 16;

/// The sample-id fields every event sets, and the trailer they give.
pub const SAMPLE_ID_ALL_FIELDS: u64 = SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_IDENTIFIER;
const TRAILER_LEN: usize = 8 + 8 + 8 + 8;

/// Which of wallprof's events wrote a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    CpuClock,
    SchedSwitch,
    SchedWaking,
    /// A second sched_switch event that samples the kernel stack and the
    /// user stack of a rate-limited subset of blocking switch-outs.
    SwitchDetail,
}

/// The sample layout of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLayout {
    pub id: u64,
    pub kind: EventKind,
    pub sample_type: u64,
    /// Number of registers in `sample_regs_user` (popcount of the mask).
    pub nr_user_regs: usize,
}

/// The layouts of every event writing into one buffer.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub events: Vec<EventLayout>,
}

impl Layout {
    fn find(&self, id: u64) -> Option<&EventLayout> {
        self.events.iter().find(|e| e.id == id)
    }
}

/// The sample-id trailer of a non-sample record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleId {
    pub pid: i32,
    pub tid: i32,
    pub time: u64,
    pub cpu: u32,
    pub id: u64,
}

/// A callchain as recorded: instruction pointers with context markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callchain<'a> {
    raw: &'a [u8],
}

impl<'a> Callchain<'a> {
    /// A callchain over recorded bytes (8-byte instruction pointers), for
    /// tests that build records by hand.
    #[cfg(test)]
    pub fn from_raw(raw: &'a [u8]) -> Self {
        Callchain { raw }
    }

    pub fn len(&self) -> usize {
        self.raw.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The instruction pointers, context markers included.
    pub fn raw_ips(&self) -> impl Iterator<Item = u64> + 'a {
        self.raw
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
    }

    /// Copy the frames (markers dropped) into `out`, leaf first. Kernel
    /// frames come first; user frames follow.
    pub fn frames_into(&self, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.raw_ips().filter(|&ip| ip < CONTEXT_MAX));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample<'a> {
    pub kind: EventKind,
    pub misc: u16,
    pub ip: Option<u64>,
    pub pid: i32,
    pub tid: i32,
    pub time: u64,
    pub cpu: u32,
    pub period: Option<u64>,
    pub callchain: Option<Callchain<'a>>,
    pub raw: Option<&'a [u8]>,
    /// User registers in mask order, when the task had a user context.
    pub user_regs: Option<&'a [u8]>,
    /// The copy of the user stack from the stack pointer up, cut to the
    /// size the kernel actually copied.
    pub user_stack: Option<&'a [u8]>,
}

impl Sample<'_> {
    /// The n-th sampled user register (in mask order).
    pub fn user_reg(&self, n: usize) -> Option<u64> {
        let regs = self.user_regs?;
        let b = regs.get(n * 8..n * 8 + 8)?;
        Some(u64::from_ne_bytes(b.try_into().unwrap()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rec<'a> {
    Sample(Sample<'a>),
    Fork {
        pid: i32,
        ppid: i32,
        tid: i32,
        ptid: i32,
        time: u64,
    },
    Exit {
        pid: i32,
        ppid: i32,
        tid: i32,
        ptid: i32,
        time: u64,
    },
    Comm {
        pid: i32,
        tid: i32,
        comm: &'a str,
        exec: bool,
        time: u64,
    },
    Mmap {
        pid: i32,
        tid: i32,
        addr: u64,
        len: u64,
        pgoff: u64,
        exec: bool,
        path: &'a str,
        time: u64,
    },
    Switch {
        out: bool,
        preempt: bool,
        id: SampleId,
        /// CPU-wide records: the other task of the switch (the one switched
        /// out, for a switch-in), pid and tid; -1 for per-task records.
        other_pid: i32,
        other_tid: i32,
    },
    Lost {
        lost: u64,
        time: u64,
    },
    /// A record of the BPF collector ([`crate::collect::bpf`]), stored in
    /// the drain's arena as a record of type
    /// [`crate::collect::bpf::RECORD_SCHED`].
    Bpf(crate::collect::bpf::BpfRecord<'a>),
    Other {
        ty: u32,
        time: Option<u64>,
    },
}

impl Rec<'_> {
    /// Timestamp (CLOCK_MONOTONIC ns), when the record carries one.
    pub fn time(&self) -> Option<u64> {
        match self {
            Rec::Sample(s) => Some(s.time),
            Rec::Fork { time, .. }
            | Rec::Exit { time, .. }
            | Rec::Comm { time, .. }
            | Rec::Mmap { time, .. }
            | Rec::Lost { time, .. } => Some(*time),
            Rec::Switch { id, .. } => Some(id.time),
            Rec::Bpf(crate::collect::bpf::BpfRecord::Switch(ev)) => Some(ev.time),
            Rec::Bpf(crate::collect::bpf::BpfRecord::Detail(d)) => Some(d.time),
            Rec::Other { time, .. } => *time,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Truncated,
    UnknownEvent(u64),
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn u64(&mut self) -> Result<u64, ParseError> {
        let v = self
            .b
            .get(self.at..self.at + 8)
            .ok_or(ParseError::Truncated)?;
        self.at += 8;
        Ok(u64::from_ne_bytes(v.try_into().unwrap()))
    }

    fn u32(&mut self) -> Result<u32, ParseError> {
        let v = self
            .b
            .get(self.at..self.at + 4)
            .ok_or(ParseError::Truncated)?;
        self.at += 4;
        Ok(u32::from_ne_bytes(v.try_into().unwrap()))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let v = self
            .b
            .get(self.at..self.at + n)
            .ok_or(ParseError::Truncated)?;
        self.at += n;
        Ok(v)
    }

    /// A NUL-padded string up to `end` (the start of the trailer).
    fn cstr(&mut self, end: usize) -> Result<&'a str, ParseError> {
        let v = self.b.get(self.at..end).ok_or(ParseError::Truncated)?;
        self.at = end;
        let n = v.iter().position(|&c| c == 0).unwrap_or(v.len());
        Ok(std::str::from_utf8(&v[..n]).unwrap_or("?"))
    }
}

/// Parse the trailer that ends every non-sample record.
pub fn parse_trailer(rec: &[u8]) -> Result<SampleId, ParseError> {
    if rec.len() < 8 + TRAILER_LEN {
        return Err(ParseError::Truncated);
    }
    let mut c = Cursor {
        b: rec,
        at: rec.len() - TRAILER_LEN,
    };
    let pid = c.u32()? as i32;
    let tid = c.u32()? as i32;
    let time = c.u64()?;
    let cpu = c.u32()?;
    let _res = c.u32()?;
    let id = c.u64()?;
    Ok(SampleId {
        pid,
        tid,
        time,
        cpu,
        id,
    })
}

/// Parse one whole record (header included).
pub fn parse<'a>(rec: &'a [u8], layout: &Layout) -> Result<Rec<'a>, ParseError> {
    if rec.len() < 8 {
        return Err(ParseError::Truncated);
    }
    let ty = u32::from_ne_bytes(rec[0..4].try_into().unwrap());
    let misc = u16::from_ne_bytes(rec[4..6].try_into().unwrap());
    let mut c = Cursor { b: rec, at: 8 };
    match ty {
        RECORD_SAMPLE => parse_sample(c, misc, layout).map(Rec::Sample),
        RECORD_FORK | RECORD_EXIT => {
            let pid = c.u32()? as i32;
            let ppid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let ptid = c.u32()? as i32;
            let time = c.u64()?;
            Ok(if ty == RECORD_FORK {
                Rec::Fork {
                    pid,
                    ppid,
                    tid,
                    ptid,
                    time,
                }
            } else {
                Rec::Exit {
                    pid,
                    ppid,
                    tid,
                    ptid,
                    time,
                }
            })
        }
        RECORD_COMM => {
            let sid = parse_trailer(rec)?;
            let pid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let comm = c.cstr(rec.len() - TRAILER_LEN)?;
            Ok(Rec::Comm {
                pid,
                tid,
                comm,
                exec: misc & MISC_COMM_EXEC != 0,
                time: sid.time,
            })
        }
        RECORD_MMAP2 | RECORD_MMAP => {
            let sid = parse_trailer(rec)?;
            let pid = c.u32()? as i32;
            let tid = c.u32()? as i32;
            let addr = c.u64()?;
            let len = c.u64()?;
            let pgoff = c.u64()?;
            let mut exec = true;
            if ty == RECORD_MMAP2 {
                // maj, min / build id (8 + 8 + 8), ino_generation... then prot, flags
                c.bytes(8 + 8 + 8)?;
                let prot = c.u32()?;
                let _flags = c.u32()?;
                exec = prot & 0x4 != 0;
            }
            let path = c.cstr(rec.len() - TRAILER_LEN)?;
            Ok(Rec::Mmap {
                pid,
                tid,
                addr,
                len,
                pgoff,
                exec,
                path,
                time: sid.time,
            })
        }
        RECORD_SWITCH | RECORD_SWITCH_CPU_WIDE => {
            let id = parse_trailer(rec)?;
            let (other_pid, other_tid) = if ty == RECORD_SWITCH_CPU_WIDE {
                (c.u32()? as i32, c.u32()? as i32)
            } else {
                (-1, -1)
            };
            Ok(Rec::Switch {
                out: misc & MISC_SWITCH_OUT != 0,
                preempt: misc & MISC_SWITCH_OUT_PREEMPT != 0,
                id,
                other_pid,
                other_tid,
            })
        }
        RECORD_LOST => {
            let sid = parse_trailer(rec)?;
            let _id = c.u64()?;
            let lost = c.u64()?;
            Ok(Rec::Lost {
                lost,
                time: sid.time,
            })
        }
        crate::collect::bpf::RECORD_SCHED => crate::collect::bpf::BpfRecord::parse(&rec[8..])
            .map(Rec::Bpf)
            .ok_or(ParseError::Truncated),
        RECORD_LOST_SAMPLES => {
            let sid = parse_trailer(rec)?;
            let lost = c.u64()?;
            Ok(Rec::Lost {
                lost,
                time: sid.time,
            })
        }
        _ => Ok(Rec::Other {
            ty,
            time: parse_trailer(rec).ok().map(|s| s.time),
        }),
    }
}

fn parse_sample<'a>(
    mut c: Cursor<'a>,
    misc: u16,
    layout: &Layout,
) -> Result<Sample<'a>, ParseError> {
    let id = c.u64()?;
    let ev = layout.find(id).ok_or(ParseError::UnknownEvent(id))?;
    let st = ev.sample_type;
    let ip = if st & SAMPLE_IP != 0 {
        Some(c.u64()?)
    } else {
        None
    };
    let (pid, tid) = if st & SAMPLE_TID != 0 {
        (c.u32()? as i32, c.u32()? as i32)
    } else {
        (0, 0)
    };
    let time = if st & SAMPLE_TIME != 0 { c.u64()? } else { 0 };
    let cpu = if st & SAMPLE_CPU != 0 {
        let cpu = c.u32()?;
        c.u32()?;
        cpu
    } else {
        0
    };
    let period = if st & SAMPLE_PERIOD != 0 {
        Some(c.u64()?)
    } else {
        None
    };
    let callchain = if st & SAMPLE_CALLCHAIN != 0 {
        let nr = c.u64()? as usize;
        Some(Callchain {
            raw: c.bytes(nr.checked_mul(8).ok_or(ParseError::Truncated)?)?,
        })
    } else {
        None
    };
    let raw = if st & SAMPLE_RAW != 0 {
        let size = c.u32()? as usize;
        Some(c.bytes(size)?)
    } else {
        None
    };
    let user_regs = if st & SAMPLE_REGS_USER != 0 {
        let abi = c.u64()?;
        if abi != 0 {
            Some(c.bytes(ev.nr_user_regs * 8)?)
        } else {
            None
        }
    } else {
        None
    };
    let user_stack = if st & SAMPLE_STACK_USER != 0 {
        let size = c.u64()? as usize;
        if size > 0 {
            let data = c.bytes(size)?;
            let dyn_size = c.u64()? as usize;
            Some(&data[..dyn_size.min(size)])
        } else {
            None
        }
    } else {
        None
    };
    Ok(Sample {
        kind: ev.kind,
        misc,
        ip,
        pid,
        tid,
        time,
        cpu,
        period,
        callchain,
        raw,
        user_regs,
        user_stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ty: u32, misc: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&misc.to_ne_bytes());
        v.extend_from_slice(&((8 + body.len()) as u16).to_ne_bytes());
        v.extend_from_slice(body);
        v
    }

    fn trailer(pid: u32, tid: u32, time: u64, cpu: u32, id: u64) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [pid, tid] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&time.to_ne_bytes());
        v.extend_from_slice(&cpu.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&id.to_ne_bytes());
        v
    }

    fn layout() -> Layout {
        Layout {
            events: vec![
                EventLayout {
                    id: 11,
                    kind: EventKind::CpuClock,
                    sample_type: SAMPLE_ID_ALL_FIELDS
                        | SAMPLE_IP
                        | SAMPLE_PERIOD
                        | SAMPLE_CALLCHAIN,
                    nr_user_regs: 0,
                },
                EventLayout {
                    id: 12,
                    kind: EventKind::SchedSwitch,
                    sample_type: SAMPLE_ID_ALL_FIELDS
                        | SAMPLE_CALLCHAIN
                        | SAMPLE_RAW
                        | SAMPLE_REGS_USER,
                    nr_user_regs: 2,
                },
            ],
        }
    }

    #[test]
    fn parses_switch_with_preempt_flag() {
        let rec = header(
            RECORD_SWITCH,
            MISC_SWITCH_OUT | MISC_SWITCH_OUT_PREEMPT,
            &trailer(5, 6, 77, 1, 11),
        );
        let r = parse(&rec, &layout()).unwrap();
        assert_eq!(
            r,
            Rec::Switch {
                out: true,
                preempt: true,
                id: SampleId {
                    pid: 5,
                    tid: 6,
                    time: 77,
                    cpu: 1,
                    id: 11
                },
                other_pid: -1,
                other_tid: -1,
            }
        );
    }

    /// A CPU-wide switch-in: the sample id is the task switched in, the body
    /// the task switched out (here the idle task).
    #[test]
    fn parses_cpu_wide_switch_in_with_the_other_task() {
        let mut body = Vec::new();
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend(trailer(9, 9, 78, 0, 11));
        let rec = header(RECORD_SWITCH_CPU_WIDE, 0, &body);
        let r = parse(&rec, &layout()).unwrap();
        assert!(matches!(
            r,
            Rec::Switch {
                out: false,
                id: SampleId {
                    tid: 9,
                    time: 78,
                    ..
                },
                other_pid: 0,
                other_tid: 0,
                ..
            }
        ));
    }

    #[test]
    fn parses_comm_exec() {
        let mut body = Vec::new();
        body.extend_from_slice(&42u32.to_ne_bytes());
        body.extend_from_slice(&42u32.to_ne_bytes());
        body.extend_from_slice(b"python3.11\0\0\0\0\0\0");
        body.extend(trailer(42, 42, 1000, 0, 11));
        let rec = header(RECORD_COMM, MISC_COMM_EXEC, &body);
        match parse(&rec, &layout()).unwrap() {
            Rec::Comm {
                pid,
                comm,
                exec,
                time,
                ..
            } => {
                assert_eq!((pid, comm, exec, time), (42, "python3.11", true, 1000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_cpu_clock_sample_with_callchain() {
        let mut body = Vec::new();
        body.extend_from_slice(&11u64.to_ne_bytes()); // identifier
        body.extend_from_slice(&0x4000u64.to_ne_bytes()); // ip
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&8u32.to_ne_bytes());
        body.extend_from_slice(&123u64.to_ne_bytes()); // time
        body.extend_from_slice(&1u32.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend_from_slice(&1001u64.to_ne_bytes()); // period
        let chain = [CONTEXT_USER, 0x4000, 0x3000];
        body.extend_from_slice(&(chain.len() as u64).to_ne_bytes());
        for ip in chain {
            body.extend_from_slice(&ip.to_ne_bytes());
        }
        let rec = header(RECORD_SAMPLE, MISC_USER, &body);
        let Rec::Sample(s) = parse(&rec, &layout()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.kind, s.pid, s.tid, s.time, s.cpu),
            (EventKind::CpuClock, 7, 8, 123, 1)
        );
        assert_eq!(s.period, Some(1001));
        let mut frames = Vec::new();
        s.callchain.unwrap().frames_into(&mut frames);
        assert_eq!(frames, vec![0x4000, 0x3000]);
    }

    #[test]
    fn parses_tracepoint_sample_with_raw_and_regs() {
        let mut body = Vec::new();
        body.extend_from_slice(&12u64.to_ne_bytes());
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&500u64.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend_from_slice(&2u64.to_ne_bytes());
        body.extend_from_slice(&CONTEXT_KERNEL.to_ne_bytes());
        body.extend_from_slice(&0xffff_ffff_8100_0000u64.to_ne_bytes());
        body.extend_from_slice(&4u32.to_ne_bytes());
        body.extend_from_slice(&[1, 2, 3, 4]);
        body.extend_from_slice(&2u64.to_ne_bytes()); // abi 64
        body.extend_from_slice(&5u64.to_ne_bytes());
        body.extend_from_slice(&0x80u64.to_ne_bytes());
        let rec = header(RECORD_SAMPLE, MISC_KERNEL, &body);
        let Rec::Sample(s) = parse(&rec, &layout()).unwrap() else {
            panic!()
        };
        assert_eq!(s.kind, EventKind::SchedSwitch);
        assert_eq!(s.raw, Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(
            (s.user_reg(0), s.user_reg(1), s.user_reg(2)),
            (Some(5), Some(0x80), None)
        );
    }

    #[test]
    fn truncated_and_unknown_are_errors_not_panics() {
        let rec = header(RECORD_SAMPLE, 0, &99u64.to_ne_bytes());
        assert_eq!(parse(&rec, &layout()), Err(ParseError::UnknownEvent(99)));
        let rec = header(RECORD_FORK, 0, &[0; 6]);
        assert_eq!(parse(&rec, &layout()), Err(ParseError::Truncated));
        assert_eq!(parse(&[1, 2], &layout()), Err(ParseError::Truncated));
    }
}
