//! Flamegraphs: on-CPU, off-CPU and wall-clock, as folded stacks and inferno
//! SVGs.
//!
//! In: a [`Trace`], a closure that names a leaf-first stack of one process
//! (normally [`crate::stacks::Symbols::names`]) and a closure that gives an
//! off-CPU cause its wait kind and plain words. Out: up to six files in the
//! output directory, and the artifact roles written:
//!
//! | role            | file             | weight                                  |
//! |-----------------|------------------|-----------------------------------------|
//! | `oncpu_folded`  | `oncpu.folded`   | samples                                 |
//! | `oncpu_svg`     | `flamegraph.svg` | samples                                 |
//! | `offcpu_folded` | `offcpu.folded`  | blocked µs (+ runqueue µs)              |
//! | `offcpu_svg`    | `offcpu.svg`     | same, leaf = `[kind]`, coloured by kind |
//! | `wall_folded`   | `wall.folded`    | µs: a sample counts `1e6 / freq_hz`     |
//! | `wall_svg`      | `wall.svg`       | same                                    |
//!
//! Every folded line is `process;thread;frames...;leaf COUNT`, root first:
//! the process frame is `comm pid`, the thread frame `name tid`. An off-CPU
//! interval adds its blocked time under `[kind]` and its runqueue time (woken
//! but not yet running) under `[cpu-contention]`, both below the kernel stack
//! of the switch-out; where there is no stack, the cause's plain words stand
//! in for it. A graph with no weight is not written.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use inferno::flamegraph::color::{BasicPalette, Color, Palette, PaletteMap};
use inferno::flamegraph::{self, Options};

use crate::model::trace::{CauseId, ThreadTrace, Trace};

/// Names a leaf-first address stack of process `pid`, leaf first.
pub type NameFn<'a> = &'a dyn Fn(&[u64], i32) -> Vec<String>;
/// Gives a cause its wait kind (contract spelling) and plain words.
pub type KindFn<'a> = &'a dyn Fn(CauseId) -> (String, String);

/// Folded stacks: root-first frame list -> weight.
pub type Folded = BTreeMap<String, u64>;

/// Fixed colours of the wait-kind leaf frames.
pub const KIND_COLORS: &[(&str, (u8, u8, u8))] = &[
    ("disk", (214, 96, 77)),
    ("network", (67, 147, 195)),
    ("sleep", (150, 150, 150)),
    ("lock", (203, 24, 29)),
    ("ipc", (153, 112, 171)),
    ("child", (90, 174, 97)),
    ("terminal", (191, 129, 45)),
    ("cpu-contention", (253, 174, 97)),
    ("other", (120, 120, 160)),
];

/// The leaf frame of an off-CPU stack of this kind.
pub fn kind_frame(kind: &str) -> String {
    format!("[{kind}]")
}

/// The three folded graphs of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graphs {
    pub oncpu: Folded,
    pub offcpu: Folded,
    pub wall: Folded,
}

/// Frame text safe inside a folded line.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ';' => ':',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn roots(trace: &Trace, th: &ThreadTrace) -> String {
    let comm = trace
        .processes
        .get(&th.pid)
        .map(|p| p.comm.as_str())
        .filter(|c| !c.is_empty())
        .unwrap_or(th.comm.as_str());
    format!("{} {};{} {}", clean(comm), th.pid, clean(&th.comm), th.tid)
}

/// `root;frames` with `frames` given leaf first.
fn line(root: &str, leaf_first: &[String], leaf: Option<&str>) -> String {
    let mut s = String::from(root);
    for f in leaf_first.iter().rev() {
        s.push(';');
        s.push_str(&clean(f));
    }
    if let Some(l) = leaf {
        s.push(';');
        s.push_str(l);
    }
    s
}

fn add(f: &mut Folded, key: String, w: u64) {
    if w > 0 {
        *f.entry(key).or_insert(0) += w;
    }
}

/// Build the three folded graphs.
pub fn fold(trace: &Trace, names: NameFn<'_>, kind_of: KindFn<'_>) -> Graphs {
    let mut g = Graphs::default();
    let mut kinds: BTreeMap<CauseId, (String, String)> = BTreeMap::new();
    for th in trace.threads.values() {
        let root = roots(trace, th);
        let mut on: BTreeMap<String, u64> = BTreeMap::new();
        for (&id, &n) in &th.sample_stacks {
            let frames = names(trace.stacks.get(id), th.pid);
            add(&mut on, line(&root, &frames, None), n as u64);
        }
        for (k, n) in on {
            if let Some(us) = (n * 1_000_000).checked_div(trace.freq_hz) {
                add(&mut g.wall, k.clone(), us);
            }
            add(&mut g.oncpu, k, n);
        }
        // Sum the intervals by (cause, user stack) first: a busy thread has
        // many thousands of intervals but few distinct stacks, and naming a
        // stack is the expensive part.
        let mut sums: HashMap<(CauseId, Option<u32>), (u64, u64)> = HashMap::new();
        for iv in &th.offcpu {
            let state = trace.causes.get(iv.cause).state;
            let e = sums.entry((iv.cause, iv.ustack)).or_default();
            e.0 += iv.blocked_ns(state);
            e.1 += iv.runqueue_ns(state);
        }
        let mut sums: Vec<_> = sums.into_iter().collect();
        sums.sort_unstable_by_key(|&(k, _)| k);
        for ((cause, ustack), (blocked, runq)) in sums {
            let (kind, what) = kinds.entry(cause).or_insert_with(|| kind_of(cause));
            let lines = offcpu_lines(
                trace,
                th,
                &root,
                (cause, ustack),
                (blocked, runq),
                kind,
                what,
                names,
            );
            for (k, us) in lines {
                add(&mut g.offcpu, k.clone(), us);
                add(&mut g.wall, k, us);
            }
        }
    }
    g
}

/// The folded lines of the off-CPU time of one (cause, user stack): blocked
/// time under its kind, runqueue time under `[cpu-contention]`.
#[allow(clippy::too_many_arguments)]
fn offcpu_lines(
    trace: &Trace,
    th: &ThreadTrace,
    root: &str,
    (cause, ustack): (CauseId, Option<u32>),
    (blocked_ns, runq_ns): (u64, u64),
    kind: &str,
    what: &str,
    names: NameFn<'_>,
) -> Vec<(String, u64)> {
    let cause = trace.causes.get(cause);
    let mut frames = cause
        .kstack
        .map(|k| names(trace.kstacks.get(k), th.pid))
        .unwrap_or_default();
    if let Some(u) = ustack {
        frames.extend(names(trace.stacks.get(u), th.pid));
    }
    if frames.is_empty() && !what.is_empty() {
        frames.push(what.to_string());
    }
    let blocked = blocked_ns / 1000;
    let runq = runq_ns / 1000;
    let mut out = Vec::with_capacity(2);
    if blocked > 0 {
        out.push((line(root, &frames, Some(&kind_frame(kind))), blocked));
    }
    if runq > 0 {
        out.push((
            line(root, &frames, Some(&kind_frame("cpu-contention"))),
            runq,
        ));
    }
    out
}

/// Folded text: one `stack weight` line per stack, sorted.
pub fn folded_text(f: &Folded) -> String {
    let mut s = String::new();
    for (k, w) in f {
        s.push_str(k);
        s.push(' ');
        s.push_str(&w.to_string());
        s.push('\n');
    }
    s
}

fn kind_palette() -> PaletteMap {
    let mut map = PaletteMap::default();
    for &(kind, (r, g, b)) in KIND_COLORS {
        map.insert(kind_frame(kind), Color { r, g, b });
    }
    map
}

/// Render folded stacks as an SVG flamegraph.
pub fn svg(f: &Folded, title: &str, count_name: &str, kinds: bool) -> anyhow::Result<Vec<u8>> {
    let text = folded_text(f);
    let mut palette = kind_palette();
    let mut opts = Options::default();
    opts.title = title.to_string();
    opts.count_name = count_name.to_string();
    opts.hash = true;
    opts.colors = Palette::Basic(if kinds {
        BasicPalette::Aqua
    } else {
        BasicPalette::Hot
    });
    if kinds {
        opts.palette_map = Some(&mut palette);
    }
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opts, text.lines(), &mut out).context("rendering a flamegraph")?;
    Ok(out)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    let mut f =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Write the flamegraphs of `trace` into `dir` and return the artifact roles
/// written (role -> file name). A graph with nothing in it is skipped.
pub fn write_flamegraphs(
    dir: &Path,
    trace: &Trace,
    names: NameFn<'_>,
    kind_of: KindFn<'_>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let g = fold(trace, names, kind_of);
    let specs: [(&Folded, &str, &str, &str, &str, bool); 3] = [
        (
            &g.oncpu,
            "oncpu",
            "flamegraph.svg",
            "On-CPU time",
            "samples",
            false,
        ),
        (
            &g.offcpu,
            "offcpu",
            "offcpu.svg",
            "Off-CPU time",
            "µs",
            true,
        ),
        (
            &g.wall,
            "wall",
            "wall.svg",
            "Wall-clock time (on- and off-CPU)",
            "µs",
            true,
        ),
    ];
    let mut roles = BTreeMap::new();
    for (folded, role, svg_name, title, unit, kinds) in specs {
        if folded.is_empty() {
            continue;
        }
        let folded_name = format!("{role}.folded");
        write_file(dir, &folded_name, folded_text(folded).as_bytes())?;
        roles.insert(format!("{role}_folded"), folded_name);
        write_file(dir, svg_name, &svg(folded, title, unit, kinds)?)?;
        roles.insert(format!("{role}_svg"), svg_name.to_string());
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    //! Golden tests on a small synthetic trace: the folded files are compared
    //! with `tests/fixtures/stacks/*.folded`; `WALLPROF_BLESS=1` rewrites them.

    use super::*;
    use crate::model::trace::{Cause, OffCpu, ProcessTrace, SwitchState};

    const MS: u64 = 1_000_000;

    fn thread(pid: i32, tid: i32, comm: &str) -> ThreadTrace {
        ThreadTrace {
            pid,
            tid,
            comm: comm.into(),
            ..Default::default()
        }
    }

    fn iv(start: u64, wake: Option<u64>, end: u64, cause: CauseId) -> OffCpu {
        OffCpu {
            ustack: None,
            start,
            wake,
            end,
            cause,
            waker: None,
        }
    }

    /// Process 100 `app` with a main thread and a worker.
    fn synthetic() -> Trace {
        let mut t = Trace {
            freq_hz: 1000,
            ..Default::default()
        };
        t.processes.insert(
            100,
            ProcessTrace {
                pid: 100,
                comm: "app".into(),
                threads: vec![100, 101],
                ..Default::default()
            },
        );
        let hot = t.stacks.intern(&[0x30, 0x20, 0x10]);
        let other = t.stacks.intern(&[0x21, 0x10]);
        let in_kernel = t.stacks.intern(&[0xffff_ffff_8100_0040, 0x30, 0x20, 0x10]);
        let recv = t
            .kstacks
            .intern(&[0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020]);
        let net = t.causes.intern(Cause {
            state: SwitchState::Sleeping,
            kstack: Some(recv),
            ..Default::default()
        });
        let sleep = t.causes.intern(Cause {
            state: SwitchState::Sleeping,
            syscall_name: Some("nanosleep".into()),
            ..Default::default()
        });
        let preempt = t.causes.intern(Cause {
            state: SwitchState::Preempted,
            ..Default::default()
        });
        let mut main = thread(100, 100, "app");
        main.sample_stacks = [(hot, 30), (other, 5), (in_kernel, 2)].into();
        main.offcpu = vec![
            iv(0, Some(20 * MS), 21 * MS, net),
            iv(40 * MS, None, 45 * MS, preempt),
        ];
        let mut worker = thread(100, 101, "worker;1");
        worker.sample_stacks = [(other, 3)].into();
        worker.offcpu = vec![iv(0, Some(100 * MS), 100 * MS, sleep)];
        t.threads.insert(100, main);
        t.threads.insert(101, worker);
        t
    }

    fn names(stack: &[u64], _pid: i32) -> Vec<String> {
        stack
            .iter()
            .map(|&a| {
                if crate::stacks::is_kernel(a) {
                    format!("k{:x}_[k]", a & 0xff)
                } else {
                    format!("f{a:x}")
                }
            })
            .collect()
    }

    fn kinds(c: CauseId) -> (String, String) {
        match c {
            0 => ("network".into(), "recvfrom() on a TCP socket".into()),
            1 => ("sleep".into(), "nanosleep()".into()),
            _ => ("cpu-contention".into(), "preempted".into()),
        }
    }

    fn golden(name: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stacks")
            .join(name);
        if std::env::var_os("WALLPROF_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with WALLPROF_BLESS=1)", path.display()));
        assert_eq!(actual, expected, "{name} differs from its fixture");
    }

    #[test]
    fn folded_graphs_match_their_fixtures() {
        let g = fold(&synthetic(), &names, &kinds);
        golden("oncpu.folded", &folded_text(&g.oncpu));
        golden("offcpu.folded", &folded_text(&g.offcpu));
        golden("wall.folded", &folded_text(&g.wall));
    }

    #[test]
    fn wall_adds_up_to_time() {
        let g = fold(&synthetic(), &names, &kinds);
        let total: u64 = g.wall.values().sum();
        // 40 samples at 1 kHz = 40 ms, + 21 ms + 5 ms + 100 ms off-CPU.
        assert_eq!(total, (40 + 21 + 5 + 100) * 1000);
        assert_eq!(g.oncpu.values().sum::<u64>(), 40);
    }

    #[test]
    fn writes_only_graphs_with_weight() {
        let dir = tempfile::tempdir().unwrap();
        let roles = write_flamegraphs(dir.path(), &synthetic(), &names, &kinds).unwrap();
        let want = [
            ("offcpu_folded", "offcpu.folded"),
            ("offcpu_svg", "offcpu.svg"),
            ("oncpu_folded", "oncpu.folded"),
            ("oncpu_svg", "flamegraph.svg"),
            ("wall_folded", "wall.folded"),
            ("wall_svg", "wall.svg"),
        ];
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(r, f)| (r.to_string(), f.to_string()))
            .collect();
        assert_eq!(roles, want);
        for f in roles.values() {
            assert!(dir.path().join(f).is_file(), "{f} missing");
        }
        let svg = std::fs::read_to_string(dir.path().join("offcpu.svg")).unwrap();
        assert!(svg.contains("rgb(67,147,195)"), "network colour missing");
        assert!(svg.contains("[network]"));

        let mut on_only = synthetic();
        on_only.threads.values_mut().for_each(|t| t.offcpu.clear());
        let dir = tempfile::tempdir().unwrap();
        let roles = write_flamegraphs(dir.path(), &on_only, &names, &kinds).unwrap();
        assert!(!roles.contains_key("offcpu_svg"));
        assert!(!dir.path().join("offcpu.folded").exists());
        assert_eq!(roles["wall_svg"], "wall.svg");

        let empty = Trace::default();
        let roles = write_flamegraphs(dir.path(), &empty, &names, &kinds).unwrap();
        assert!(roles.is_empty());
    }
}
