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

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use inferno::flamegraph::color::{BasicPalette, Color, Palette, PaletteMap};
use inferno::flamegraph::{self, Options};

use crate::model::trace::{CauseId, OffCpu, ThreadTrace, Trace};

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
            if trace.freq_hz > 0 {
                add(&mut g.wall, k.clone(), n * 1_000_000 / trace.freq_hz);
            }
            add(&mut g.oncpu, k, n);
        }
        for iv in &th.offcpu {
            let (kind, what) = kinds.entry(iv.cause).or_insert_with(|| kind_of(iv.cause));
            for (k, us) in offcpu_lines(trace, th, &root, iv, kind, what, names) {
                add(&mut g.offcpu, k.clone(), us);
                add(&mut g.wall, k, us);
            }
        }
    }
    g
}

/// The folded lines of one off-CPU interval: blocked time under its kind,
/// runqueue time under `[cpu-contention]`.
fn offcpu_lines(
    trace: &Trace,
    th: &ThreadTrace,
    root: &str,
    iv: &OffCpu,
    kind: &str,
    what: &str,
    names: NameFn<'_>,
) -> Vec<(String, u64)> {
    let cause = trace.causes.get(iv.cause);
    let state = cause.state;
    let mut frames = cause
        .kstack
        .map(|k| names(trace.kstacks.get(k), th.pid))
        .unwrap_or_default();
    if frames.is_empty() && !what.is_empty() {
        frames.push(what.to_string());
    }
    let blocked = iv.blocked_ns(state) / 1000;
    let runq = iv.runqueue_ns(state) / 1000;
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
