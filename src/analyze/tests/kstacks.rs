//! The classifier against real stacks in `tests/fixtures/kstacks/`: each
//! fixture is checked with all its evidence, with the kernel stack alone, and
//! (for /proc captures) with the /proc fallback (syscall, fd kind, wchan).

use std::collections::BTreeMap;

use crate::analyze::waitkind::{classify, Classified, Dependency};
use crate::model::trace::{Cause, FdKind, SwitchState, Trace};

struct Fixture {
    name: String,
    headers: BTreeMap<String, String>,
    frames: Vec<String>,
}

fn load_all() -> Vec<Fixture> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kstacks");
    let mut out: Vec<Fixture> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            parse(
                p.file_stem().unwrap().to_string_lossy().into(),
                &std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 12,
        "expected the captured fixtures, found {}",
        out.len()
    );
    out
}

fn parse(name: String, text: &str) -> Fixture {
    let mut headers = BTreeMap::new();
    let mut frames = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            if let Some((k, v)) = h.split_once(": ") {
                headers.insert(k.to_string(), v.trim().to_string());
            }
        } else if let Some(sym) = line.split_whitespace().nth(1) {
            frames.push(sym.split('+').next().unwrap().to_string());
        }
    }
    Fixture {
        name,
        headers,
        frames,
    }
}

fn fd_kind(s: &str) -> Option<FdKind> {
    Some(match s.split_whitespace().next()? {
        "Pipe" => FdKind::Pipe,
        "TcpSocket" => FdKind::TcpSocket,
        "UdpSocket" => FdKind::UdpSocket,
        "UnixSocket" => FdKind::UnixSocket,
        "Tty" => FdKind::Tty,
        "RegularFile" => FdKind::RegularFile,
        "Epoll" => FdKind::Epoll,
        _ => return None,
    })
}

fn state(s: Option<&String>) -> SwitchState {
    match s.map(|s| s.as_str()) {
        Some(s) if s.starts_with('R') => SwitchState::Preempted,
        Some("D") => SwitchState::DiskSleep,
        Some("S") => SwitchState::Sleeping,
        _ => SwitchState::Unknown,
    }
}

/// Evidence of a fixture: which parts to include.
fn cause(f: &Fixture, trace: &mut Trace, kstack: bool, proc: bool) -> Cause {
    let mut c = Cause {
        state: state(f.headers.get("state")),
        ..Cause::default()
    };
    if kstack {
        let ips: Vec<u64> = f.frames.iter().map(|n| address_of(trace, n)).collect();
        c.kstack = Some(trace.kstacks.intern(&ips));
    }
    if proc {
        let sc: Vec<&str> = f
            .headers
            .get("syscall")
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        c.syscall_nr = sc.first().and_then(|n| n.parse().ok());
        if c.syscall_nr == Some(202) {
            c.futex_op = sc
                .get(2)
                .and_then(|op| u32::from_str_radix(op.trim_start_matches("0x"), 16).ok());
        }
        c.fd_kind = f.headers.get("fd-kind").and_then(|s| fd_kind(s));
        c.wchan = f.headers.get("wchan").cloned();
    }
    c
}

/// Give each frame name a synthetic kernel address (kallsyms stays sorted).
fn address_of(trace: &mut Trace, name: &str) -> u64 {
    if let Some((a, _)) = trace.kallsyms.iter().find(|(_, n)| n == name) {
        return *a + 0x10;
    }
    let addr = 0xffff_ffff_8100_0000 + 0x1000 * trace.kallsyms.len() as u64;
    trace.kallsyms.push((addr, name.to_string()));
    addr + 0x10
}

fn dep(s: &str) -> Dependency {
    match s {
        "leaf" => Dependency::Leaf,
        "child" => Dependency::Child,
        "pipe" => Dependency::Pipe,
        "signal" => Dependency::Signal,
        "poll" => Dependency::Poll,
        other => panic!("unknown dependency {other}"),
    }
}

fn check(f: &Fixture, got: &Classified, kind: &str, dependency: &str, how: &str) {
    assert_eq!(got.kind.as_str(), kind, "{} ({how}): {got:?}", f.name);
    assert_eq!(
        got.dependency,
        dep(dependency),
        "{} ({how}): {got:?}",
        f.name
    );
}

#[test]
fn all_evidence() {
    for f in load_all() {
        let mut trace = Trace::default();
        let c = cause(&f, &mut trace, true, true);
        let got = classify(&trace, &c);
        check(
            &f,
            &got,
            &f.headers["expect-kind"],
            &f.headers["expect-dependency"],
            "all evidence",
        );
        if let Some(what) = f.headers.get("expect-what") {
            assert_eq!(&got.what, what, "{}", f.name);
        }
    }
}

#[test]
fn kernel_stack_alone() {
    for f in load_all() {
        let mut trace = Trace::default();
        let c = cause(&f, &mut trace, true, false);
        let got = classify(&trace, &c);
        let expect = f
            .headers
            .get("expect-kstack-only")
            .map(|s| s.split_once(' ').unwrap());
        let (kind, d) =
            expect.unwrap_or((&f.headers["expect-kind"], &f.headers["expect-dependency"]));
        check(&f, &got, kind, d, "kernel stack alone");
    }
}

#[test]
fn proc_fallback_without_stack() {
    for f in load_all()
        .into_iter()
        .filter(|f| f.headers.contains_key("syscall"))
    {
        let mut trace = Trace::default();
        let c = cause(&f, &mut trace, false, true);
        let got = classify(&trace, &c);
        check(
            &f,
            &got,
            &f.headers["expect-kind"],
            &f.headers["expect-dependency"],
            "/proc fallback",
        );
    }
}

#[test]
fn wchan_alone() {
    // Only wchan and the state: what /proc gives when the syscall file raced.
    for f in load_all() {
        let Some(w) = f.headers.get("wchan").filter(|w| *w != "0") else {
            continue;
        };
        let c = Cause {
            state: state(f.headers.get("state")),
            wchan: Some(w.clone()),
            ..Cause::default()
        };
        let got = classify(&Trace::default(), &c);
        let expect = f.headers["expect-kind"].as_str();
        let ambiguous = [
            "wait_woken",
            "futex_do_wait",
            "poll_schedule_timeout.constprop.0",
            "do_epoll_wait",
        ];
        if ambiguous.contains(&w.as_str()) {
            assert_ne!(got.kind.as_str(), "cpu-contention", "{}", f.name);
        } else {
            assert_eq!(got.kind.as_str(), expect, "{} (wchan {w}): {got:?}", f.name);
        }
    }
}

#[test]
fn real_kallsyms_names_a_stack() {
    let syms = crate::analyze::kallsyms::parse(
        "ffffffff81000000 T _text\nffffffff81100000 t do_nanosleep\nffffffff81100400 T hrtimer_nanosleep\n",
    );
    let mut trace = Trace {
        kallsyms: syms,
        ..Trace::default()
    };
    let id = trace
        .kstacks
        .intern(&[0xffffffff81100010, 0xffffffff81100410]);
    let c = Cause {
        state: SwitchState::Sleeping,
        kstack: Some(id),
        ..Cause::default()
    };
    assert_eq!(classify(&trace, &c).what, "clock_nanosleep()");
}

/// A disk stack on a wait in S is not the wait's own (a stack learned at a
/// shared `read()` call site): the syscall and fd kind decide.
#[test]
fn disk_stack_on_an_interruptible_wait_yields_to_the_fd() {
    let syms = crate::analyze::kallsyms::parse(
        "ffffffff81000000 T _text\nffffffff81100000 t folio_wait_bit_common\nffffffff81100400 T filemap_read\n",
    );
    let mut trace = Trace {
        kallsyms: syms,
        ..Trace::default()
    };
    let id = trace
        .kstacks
        .intern(&[0xffffffff81100010, 0xffffffff81100410]);
    let mut c = Cause {
        state: SwitchState::DiskSleep,
        kstack: Some(id),
        syscall_nr: Some(0),
        fd: Some(5),
        fd_kind: Some(FdKind::Tty),
        ..Cause::default()
    };
    assert_eq!(classify(&trace, &c).kind, crate::model::WaitKind::Disk);
    c.state = SwitchState::Sleeping;
    let got = classify(&trace, &c);
    assert_eq!(got.kind, crate::model::WaitKind::Terminal, "{got:?}");
}
