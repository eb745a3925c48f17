//! `report.html`: one self-contained page for people reading a run. It is
//! drawn from the [`Profile`] (what `profile.json` holds) and the flamegraph
//! files the profile lists; it loads nothing from anywhere else. The
//! flamegraphs keep their zoom and search: each is an `<iframe>` whose
//! source is the SVG itself, as a `data:` URL, so their scripts and ids do
//! not meet each other or the page's.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;

use crate::model::profile::Profile;

/// The flamegraph roles the report shows, in order, with their titles.
const FLAMEGRAPHS: &[(&str, &str, &str)] = &[
    (
        "wall_svg",
        "Wall time",
        "every thread's time, on and off CPU; off-CPU frames end in the wait's kind and cause",
    ),
    (
        "oncpu_svg",
        "On CPU",
        "where the CPU time went (user and kernel stacks)",
    ),
    (
        "offcpu_svg",
        "Off CPU",
        "what the threads waited on, under the stack that waited",
    ),
];

/// At most this many threads are listed; the rest are counted.
const MAX_THREAD_ROWS: usize = 500;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The height an inferno SVG asks for (its root's `height`), to size its frame.
fn svg_height(svg: &str) -> Option<u32> {
    let root = &svg[svg.find("<svg")?..];
    let root = &root[..root.find('>')?];
    let at = root.find(" height=\"")? + " height=\"".len();
    root[at..].split('"').next()?.parse().ok()
}

const STYLE: &str = r#"
:root { --fg:#1d2127; --muted:#5b6470; --line:#d9dde3; --bg:#fff; --cpu:#3b7dd8; }
* { box-sizing:border-box; }
body { font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg); background:var(--bg); margin:0 auto; padding:24px; max-width:1260px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:18px; margin:28px 0 8px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:15px; margin:16px 0 4px; }
code, .mono { font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace; font-size:13px; }
.muted { color:var(--muted); } .small { font-size:13px; }
.cmd { background:#f4f6f8; border:1px solid var(--line); border-radius:4px; padding:6px 10px; overflow-x:auto; white-space:pre; }
.verdict { font-size:20px; font-weight:600; }
.badge { display:inline-block; border-radius:4px; padding:1px 8px; color:#fff; }
.c-cpu-bound { background:#3b7dd8; } .c-io-bound { background:#2f9e6e; } .c-mixed { background:#8a63d2; }
.c-lock-bound { background:#d9534f; } .c-unknown { background:#7a828c; }
table { border-collapse:collapse; width:100%; margin:6px 0; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; font-size:13px; color:var(--muted); }
td.num, th.num { text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }
.bar { display:flex; height:26px; border-radius:4px; overflow:hidden; border:1px solid var(--line); margin:8px 0; }
.bar span { display:block; height:100%; }
.legend span.sw { display:inline-block; width:12px; height:12px; border-radius:2px; margin:0 4px -1px 12px; }
.k-on-cpu { background:var(--cpu); } .k-disk { background:#e08a2c; } .k-network { background:#2f9e6e; }
.k-sleep { background:#9aa5b1; } .k-lock { background:#d9534f; } .k-ipc { background:#b38b2d; }
.k-child { background:#6f7fb3; } .k-terminal { background:#5aa9b5; } .k-cpu-contention { background:#c25db0; }
.k-other { background:#c7ccd3; }
.sev-error { color:#b52a25; font-weight:600; } .sev-warning { color:#a3650c; font-weight:600; } .sev-info { color:var(--muted); font-weight:600; }
details > summary { cursor:pointer; }
iframe.flame { width:100%; border:1px solid var(--line); border-radius:4px; }
tr.proc td { background:#f4f6f8; font-weight:600; }
tr.idle td { color:var(--muted); }
.ok { color:#2f7d4f; } .degraded { color:#a3650c; } .unavailable, .failed { color:#b52a25; }
"#;

/// The page for `p`; the flamegraphs it lists are read from `out`.
pub fn html(p: &Profile, out: &Path) -> String {
    let mut h = String::with_capacity(64 << 10);
    let cmd = p.target.argv.join(" ");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>wallprof: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&cmd)
    );
    header(&mut h, p);
    verdict(&mut h, p);
    recommendations(&mut h, p);
    wall_time(&mut h, p);
    findings(&mut h, p);
    flamegraphs(&mut h, p, out);
    resources(&mut h, p);
    processes(&mut h, p);
    collection(&mut h, p);
    let _ = write!(
        h,
        "<footer class=\"muted small\"><p>{} {} · schema <code>{}</code> · the same data as \
         <a href=\"profile.json\">profile.json</a></p></footer>\n</body></html>\n",
        esc(&p.tool.name),
        esc(&p.tool.version),
        esc(&p.schema)
    );
    h
}

fn header(h: &mut String, p: &Profile) {
    let exit = match (&p.target.exit.code, &p.target.exit.signal) {
        (Some(c), _) => format!("exited {c}"),
        (None, Some(sig)) => format!("killed by {}", esc(sig)),
        _ => "ended".into(),
    };
    let nthreads: usize = p.processes.iter().map(|pr| pr.threads.len()).sum();
    let _ = write!(
        h,
        "<header><h1>wallprof report</h1><div class=\"cmd mono\">{}</div>\
         <p class=\"muted\">{exit} after <b>{:.2} s</b> · {} process{}, {} thread{} · \
         started {} on {} · sampling at {} Hz</p>",
        esc(&p.target.argv.join(" ")),
        p.wall_s,
        p.processes.len(),
        if p.processes.len() == 1 { "" } else { "es" },
        nthreads,
        if nthreads == 1 { "" } else { "s" },
        esc(&p.run.started_at),
        esc(&p.run.host),
        p.run.freq_hz,
    );
    if p.run.partial {
        let _ = write!(
            h,
            "<p class=\"sev-warning\">Partial run: {}</p>",
            esc(p
                .run
                .partial_reason
                .as_deref()
                .unwrap_or("the run was cut short"))
        );
    }
    h.push_str("</header>\n");
}

fn verdict(h: &mut String, p: &Profile) {
    let v = &p.verdict;
    let _ = write!(
        h,
        "<section id=\"verdict\"><h2>Verdict</h2><p class=\"verdict\">\
         <span class=\"badge c-{0}\">{0}</span> <span class=\"muted small\">confidence {1:.2}</span></p><ul>",
        esc(&v.class),
        v.confidence
    );
    for r in &v.reasons {
        let _ = write!(h, "<li>{}</li>", esc(r));
    }
    h.push_str("</ul></section>\n");
}

fn recommendations(h: &mut String, p: &Profile) {
    h.push_str(
        "<section id=\"recommendations\"><h2>What would make it faster</h2><table>\
         <tr><th>strategy</th><th class=\"num\">estimated speedup</th><th>why</th></tr>",
    );
    for r in &p.recommendations {
        let est = match r.estimated_range {
            Some([lo, hi]) if (hi - lo).abs() > 0.005 => format!("{lo:.2}–{hi:.2}x"),
            _ => format!("{:.2}x", r.estimated_speedup),
        };
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td class=\"num\">{est}</td><td>{}</td></tr>",
            esc(&r.strategy),
            esc(&r.why)
        );
    }
    h.push_str("</table></section>\n");
}

fn wall_time(h: &mut String, p: &Profile) {
    let _ = write!(
        h,
        "<section id=\"wall-time\"><h2>Where the wall time went</h2>\
         <p class=\"muted small\">The critical path: what the program's progress waited on, \
         {:.2} s in all. On CPU {:.2} s, waiting {:.2} s.</p><div class=\"bar\">",
        p.wall_s, p.critical_path.on_cpu_s, p.critical_path.waiting_s
    );
    let wall = p.wall_s.max(1e-9);
    let parts = std::iter::once(("on-cpu", p.critical_path.on_cpu_s))
        .chain(p.waits.iter().map(|w| (w.kind.as_str(), w.seconds)));
    let mut legend = String::new();
    for (kind, secs) in parts {
        let share = secs / wall;
        if share <= 0.0 {
            continue;
        }
        let _ = write!(
            h,
            "<span class=\"k-{0}\" style=\"width:{1:.3}%\" title=\"{0}: {2:.3} s ({3})\"></span>",
            esc(kind),
            share * 100.0,
            secs,
            pct(share)
        );
        if share >= 0.005 {
            let _ = write!(
                legend,
                "<span class=\"sw k-{0}\"></span>{0} {1}",
                esc(kind),
                pct(share)
            );
        }
    }
    let _ = write!(
        h,
        "</div><p class=\"legend small\">{legend}</p><table><tr><th>kind</th>\
         <th class=\"num\">seconds</th><th class=\"num\">share</th><th>what</th></tr>\
         <tr><td><span class=\"sw k-on-cpu\"></span>on CPU</td><td class=\"num\">{:.3}</td>\
         <td class=\"num\">{}</td><td></td></tr>",
        p.critical_path.on_cpu_s,
        pct(p.critical_path.on_cpu_s / wall)
    );
    for w in &p.waits {
        let what: Vec<String> = w
            .detail
            .iter()
            .map(|d| {
                format!(
                    "{} <span class=\"muted\">{:.3} s</span>",
                    esc(&d.what),
                    d.seconds
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&w.kind),
            w.seconds,
            pct(w.share),
            what.join("<br>")
        );
    }
    h.push_str("</table></section>\n");
}

fn findings(h: &mut String, p: &Profile) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>");
    if p.findings.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    }
    for f in &p.findings {
        let evidence = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
        let _ = write!(
            h,
            "<p><span class=\"sev-{0}\">{0}</span> <code>{1}</code>: {2}</p>\
             <details><summary class=\"small muted\">evidence</summary><pre class=\"mono\">{3}</pre></details>",
            esc(&f.severity),
            esc(&f.id),
            esc(&f.message),
            esc(&evidence)
        );
    }
    h.push_str("</section>\n");
}

fn flamegraphs(h: &mut String, p: &Profile, out: &Path) {
    let shown: Vec<_> = FLAMEGRAPHS
        .iter()
        .filter_map(|&(role, title, what)| {
            let file = p.artifacts.get(role)?;
            let svg = std::fs::read_to_string(out.join(file)).ok()?;
            Some((title, what, file, svg))
        })
        .collect();
    if shown.is_empty() {
        return;
    }
    h.push_str(
        "<section id=\"flamegraphs\"><h2>Flamegraphs</h2><p class=\"muted small\">Click a frame \
         to zoom; Search, at the top right of each graph, highlights a function.</p>",
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    for (title, what, file, svg) in shown {
        let height = svg_height(&svg).unwrap_or(600).clamp(120, 4000);
        let _ = write!(
            h,
            "<h3>{} <span class=\"muted small\">{} · <a href=\"{}\">{}</a></span></h3>\
             <iframe class=\"flame\" title=\"{}\" height=\"{height}\" loading=\"lazy\" \
             src=\"data:image/svg+xml;base64,{}\"></iframe>",
            esc(title),
            esc(what),
            esc(file),
            esc(file),
            esc(title),
            b64.encode(svg.as_bytes())
        );
    }
    h.push_str("</section>\n");
}

fn resources(h: &mut String, p: &Profile) {
    let t = &p.time;
    let _ = writeln!(
        h,
        "<section id=\"resources\"><h2>Resources</h2><p class=\"muted small\">Thread-seconds over \
         every thread of the tree (several threads add up); idle is the blocked time that was not \
         on the critical path.</p><table><tr><th>user</th><th>system</th><th>waiting for a CPU</th>\
         <th>blocked</th><th>of which idle</th><th>samples on / off CPU</th><th>lost</th></tr>\
         <tr><td>{:.3} s</td><td>{:.3} s</td><td>{:.3} s</td><td>{:.3} s</td><td>{:.3} s</td>\
         <td>{} / {}</td><td>{}</td></tr></table></section>",
        t.user_s,
        t.system_s,
        t.runqueue_s,
        t.blocked_s,
        t.idle_s,
        p.samples.on_cpu,
        p.samples.off_cpu,
        p.samples.lost
    );
}

fn processes(h: &mut String, p: &Profile) {
    h.push_str(
        "<section id=\"processes\"><h2>Processes and threads</h2><table><tr><th>pid / tid</th>\
         <th>runtime / name</th><th>command</th><th class=\"num\">on CPU s</th>\
         <th class=\"num\">runqueue s</th><th class=\"num\">blocked s</th><th>top waits</th></tr>",
    );
    let mut rows = 0usize;
    let mut hidden = 0usize;
    for pr in &p.processes {
        let sum = |f: fn(&crate::model::profile::Thread) -> f64| -> f64 {
            pr.threads.iter().map(f).sum()
        };
        let _ = write!(
            h,
            "<tr class=\"proc\"><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td></td></tr>",
            pr.pid,
            esc(&pr.runtime),
            esc(&pr.argv.join(" ")),
            sum(|t| t.on_cpu_s),
            sum(|t| t.runqueue_s),
            sum(|t| t.blocked_s)
        );
        for t in &pr.threads {
            if rows >= MAX_THREAD_ROWS {
                hidden += 1;
                continue;
            }
            rows += 1;
            let mut waits: Vec<(&String, &f64)> = t.waits.iter().collect();
            waits.sort_by(|a, b| b.1.total_cmp(a.1));
            let waits: Vec<String> = waits
                .iter()
                .take(3)
                .filter(|w| *w.1 >= 0.0005)
                .map(|(k, s)| format!("{} {:.3} s", esc(k), s))
                .collect();
            let _ = write!(
                h,
                "<tr{}><td class=\"mono\">{}</td><td>{}{}</td><td></td><td class=\"num\">{:.3}</td>\
                 <td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"small\">{}</td></tr>",
                if t.idle { " class=\"idle\"" } else { "" },
                t.tid,
                esc(&t.name),
                if t.idle { " <span class=\"small\">(idle)</span>" } else { "" },
                t.on_cpu_s,
                t.runqueue_s,
                t.blocked_s,
                waits.join(", ")
            );
        }
    }
    h.push_str("</table>");
    if hidden > 0 {
        let _ = write!(
            h,
            "<p class=\"muted small\">{hidden} more threads are in profile.json.</p>"
        );
    }
    h.push_str("</section>\n");
}

fn collection(h: &mut String, p: &Profile) {
    h.push_str("<section id=\"collectors\"><h2>How this was measured</h2><table><tr><th>collector</th><th>status</th><th>reason</th></tr>");
    for c in &p.collectors {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td class=\"small\">{}</td></tr>",
            esc(&c.name),
            esc(&c.status),
            esc(&c.status),
            esc(c.reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str(
        "</table><p class=\"muted small\">How each wait is classified and how the verdict and \
         the estimates are made: wallprof's docs/classification.md.</p></section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let svg = "<?xml version=\"1.0\"?><svg version=\"1.1\" width=\"1200\" height=\"3254\" \
                   onload=\"init(evt)\"><rect height=\"5\"/></svg>";
        assert_eq!(svg_height(svg), Some(3254));
        assert_eq!(svg_height("<svg width=\"1\">"), None);
    }
}
