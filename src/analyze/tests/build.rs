//! A small builder of synthetic traces. Times are given in milliseconds from
//! launch; the builder emulates what the perf collector measures (on-CPU as
//! the complement of the off-CPU intervals).

use crate::model::trace::{
    Cause, FdKind, Fidelity, Ns, OffCpu, ProcessTrace, SwitchState, ThreadTrace, Tid, Trace,
};

pub const T0: Ns = 1_000_000_000;

pub fn ms(x: f64) -> Ns {
    T0 + (x * 1e6).round() as Ns
}

pub struct B {
    pub t: Trace,
}

impl B {
    /// A run launched at 0 ms and reaped at `wall_ms`, root pid `root`.
    pub fn new(root: i32, wall_ms: f64) -> B {
        let t = Trace {
            launched: ms(0.0),
            exec: Some(ms(0.0)),
            reaped: ms(wall_ms),
            root_pid: root,
            freq_hz: 999,
            ..Trace::default()
        };
        B { t }
    }

    pub fn process(mut self, pid: i32, ppid: i32, exe: &str) -> B {
        let p = ProcessTrace {
            pid,
            ppid,
            exe: Some(exe.into()),
            argv: vec![exe.into()],
            ..ProcessTrace::default()
        };
        self.t.processes.insert(pid, p);
        self
    }

    pub fn thread(mut self, tid: Tid, pid: i32, start_ms: f64, end_ms: f64) -> B {
        let th = ThreadTrace {
            tid,
            pid,
            comm: format!("t{tid}"),
            start: ms(start_ms),
            end: Some(ms(end_ms)),
            timeline: Fidelity::Switches,
            ..ThreadTrace::default()
        };
        self.t.threads.insert(tid, th);
        if let Some(p) = self.t.processes.get_mut(&pid) {
            p.threads.push(tid);
        }
        self
    }

    /// An off-CPU interval: blocked [s, wake), runnable [wake, e).
    pub fn off(
        mut self,
        tid: Tid,
        s: f64,
        wake: f64,
        e: f64,
        cause: Cause,
        waker: Option<Tid>,
    ) -> B {
        let cause = self.t.causes.intern(cause);
        let o = OffCpu {
            ustack: None,
            start: ms(s),
            wake: Some(ms(wake)),
            end: ms(e),
            cause,
            waker,
        };
        self.t.threads.get_mut(&tid).expect("thread").offcpu.push(o);
        self
    }

    /// Mark a thread's timeline as reconstructed from /proc (no wakeups).
    pub fn sampled(mut self, tid: Tid) -> B {
        let th = self.t.threads.get_mut(&tid).expect("thread");
        th.timeline = Fidelity::Sampled;
        for o in &mut th.offcpu {
            o.waker = None;
        }
        self
    }

    pub fn done(mut self) -> Trace {
        for th in self.t.threads.values_mut() {
            th.offcpu.sort_by_key(|o| o.start);
            let life = th.end.unwrap_or(self.t.reaped) - th.start;
            let off: Ns = th.offcpu.iter().map(|o| o.end - o.start).sum();
            th.on_cpu_ns = Some(life - off);
            th.samples_user = (life - off) / 1_000_000;
        }
        self.t
    }
}

pub fn sys(nr: i64) -> Cause {
    Cause {
        state: SwitchState::Sleeping,
        syscall_nr: Some(nr),
        ..Cause::default()
    }
}

pub fn sleep() -> Cause {
    sys(230)
}

pub fn wait4() -> Cause {
    sys(61)
}

pub fn futex(op: u32) -> Cause {
    Cause {
        futex_op: Some(op),
        ..sys(202)
    }
}

pub fn accept() -> Cause {
    Cause {
        fd_kind: Some(FdKind::TcpSocket),
        fd: Some(3),
        ..sys(288)
    }
}

pub fn recv() -> Cause {
    Cause {
        fd_kind: Some(FdKind::TcpSocket),
        fd: Some(3),
        ..sys(45)
    }
}

pub fn preempted() -> Cause {
    Cause {
        state: SwitchState::Preempted,
        ..Cause::default()
    }
}
