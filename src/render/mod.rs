//! Renderers: one file per output format. [`profile`] assembles the
//! `profile.json` value from the trace and the analysis; [`report`] draws
//! `report.html` from it; [`terminal`] prints the summary; [`write_all`] is
//! the one place that writes files.

pub mod flamegraph;
pub mod profile;
pub mod report;
pub mod terminal;

use std::path::Path;

use anyhow::Context;

use crate::analyze::Analysis;
use crate::model::profile::Profile;
use crate::model::trace::Trace;
use crate::run::RunMeta;

/// Write every artifact into `out` and return the profile that was written.
/// `profile.json` is written last, through a temporary file and a rename, so
/// a reader never sees a half-written profile.
pub fn write_all(
    out: &Path,
    trace: &Trace,
    analysis: &Analysis,
    meta: &RunMeta,
    symbols: &crate::stacks::Symbols,
) -> anyhow::Result<Profile> {
    let artifacts = match flamegraphs(out, trace, symbols) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wallprof: could not write the flamegraphs: {e:#}");
            std::collections::BTreeMap::new()
        }
    };
    let mut profile = profile::build(trace, analysis, meta, artifacts);
    // The report lists itself among the artifacts it is drawn from; when it
    // cannot be written, the profile does not claim it.
    profile
        .artifacts
        .insert("report".into(), "report.html".into());
    let html = report::html(&profile, out);
    if let Err(e) = std::fs::write(out.join("report.html"), html) {
        eprintln!("wallprof: could not write report.html: {e}");
        profile.artifacts.remove("report");
    }
    let json = serde_json::to_vec_pretty(&profile).context("serializing the profile")?;
    let tmp = out.join(".profile.json.tmp");
    std::fs::write(&tmp, &json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out.join("profile.json")).context("renaming the profile into place")?;
    Ok(profile)
}

/// Symbolize every recorded stack once (after the target exited, from the
/// mappings recorded during the run) and write the three flamegraphs.
fn flamegraphs(
    out: &Path,
    trace: &Trace,
    symbols: &crate::stacks::Symbols,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let kinds: Vec<(String, String)> = trace
        .causes
        .causes
        .iter()
        .map(|c| {
            let k = crate::analyze::classify(trace, c);
            (k.kind.as_str().to_string(), k.what)
        })
        .collect();
    flamegraph::write_flamegraphs(
        out,
        trace,
        &|stack, pid| symbols.names(stack, pid),
        &|cause| kinds[cause as usize].clone(),
    )
}
