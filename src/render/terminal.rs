//! The short summary wallprof prints on stderr after a run: wall time, CPU,
//! the critical path and its top waits, the verdict and first
//! recommendation, the collectors' status, losses, and where the files are.

use std::fmt::Write;
use std::path::Path;

use crate::model::profile::Profile;
use crate::run::RunMeta;

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub fn summary(p: &Profile, out: &Path, meta: &RunMeta) -> String {
    let mut s = String::new();
    let exit = match (&p.target.exit.code, &p.target.exit.signal) {
        (Some(c), _) => format!("exited {c}"),
        (None, Some(sig)) => format!("killed by {sig}"),
        _ => "ended".into(),
    };
    let nthreads: usize = p.processes.iter().map(|pr| pr.threads.len()).sum();
    let _ = writeln!(
        s,
        "\nwallprof: `{}` {exit} after {:.2} s",
        p.target.argv.join(" "),
        p.wall_s
    );
    let _ = writeln!(
        s,
        "  cpu         {:.2} s user, {:.2} s system, {:.2} s waiting for a CPU  ({} process{}, {} thread{})",
        p.time.user_s,
        p.time.system_s,
        p.time.runqueue_s,
        p.processes.len(),
        if p.processes.len() == 1 { "" } else { "es" },
        nthreads,
        if nthreads == 1 { "" } else { "s" },
    );
    if p.wall_s > 0.0 {
        let _ = writeln!(
            s,
            "  wall time   {:.2} s on CPU ({}), {:.2} s waiting ({})",
            p.critical_path.on_cpu_s,
            pct(p.critical_path.on_cpu_s / p.wall_s),
            p.critical_path.waiting_s,
            pct(p.critical_path.waiting_s / p.wall_s),
        );
    }
    for (i, w) in p.waits.iter().take(4).enumerate() {
        let what = w
            .detail
            .first()
            .map(|d| format!(": {}", d.what))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<11} {:<14} {:>7.2} s  {:>4}{what}",
            if i == 0 { "waits" } else { "" },
            w.kind,
            w.seconds,
            pct(w.share),
        );
    }
    let _ = writeln!(
        s,
        "  verdict     {} (confidence {:.2})",
        p.verdict.class, p.verdict.confidence
    );
    for r in p.verdict.reasons.iter().take(3) {
        let _ = writeln!(s, "              {r}");
    }
    if let Some(r) = p.recommendations.first() {
        let speedup = if let Some([lo, hi]) = r.estimated_range.filter(|[lo, hi]| hi > lo) {
            format!(" (estimated {lo:.1}x to {hi:.1}x)")
        } else if r.estimated_speedup > 1.0 {
            format!(" (estimated {:.1}x)", r.estimated_speedup)
        } else {
            String::new()
        };
        let _ = writeln!(s, "  try         {}{speedup}: {}", r.strategy, r.why);
    }
    for f in p.findings.iter().take(3) {
        let _ = writeln!(s, "  finding     [{}] {}: {}", f.severity, f.id, f.message);
    }
    let cols: Vec<String> = p
        .collectors
        .iter()
        .map(|c| match &c.reason {
            Some(r) if c.status != "ok" => format!("{} {} ({r})", c.name, c.status),
            _ => format!("{} {}", c.name, c.status),
        })
        .collect();
    let _ = writeln!(s, "  collectors  {}", cols.join(", "));
    if p.samples.lost > 0 {
        let _ = writeln!(
            s,
            "  lost        {} records were lost: the timeline has gaps (try a lower --freq)",
            p.samples.lost
        );
    }
    for n in &meta.notes {
        let _ = writeln!(s, "  note        {n}");
    }
    if let Some(r) = &p.run.partial_reason {
        let _ = writeln!(s, "  partial     {r}");
    }
    let mut files = vec![out.join("profile.json").display().to_string()];
    files.extend(
        p.artifacts
            .values()
            .map(|a| out.join(a).display().to_string()),
    );
    let _ = writeln!(s, "  files       {}", files.join(", "));
    s
}
