//! Stacks you can read: whole user stacks without frame pointers, on-CPU and
//! off-CPU, symbolized after the target exited; JIT frames for Node.
//! Assertions are on the folded files wallprof writes next to the profile.

use std::path::Path;

use crate::harness::*;

/// Folded lines of a file: (root-first frames, weight).
fn folded(dir: &Path, name: &str) -> Vec<(Vec<String>, u64)> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines()
        .filter_map(|l| {
            let (stack, w) = l.rsplit_once(' ')?;
            Some((
                stack.split(';').map(str::to_string).collect(),
                w.parse().ok()?,
            ))
        })
        .collect()
}

fn contains_in_order(frames: &[String], chain: &[&str]) -> bool {
    let mut it = frames.iter();
    chain.iter().all(|want| it.any(|f| f == want))
}

#[test]
fn whole_stacks_without_frame_pointers() {
    let bin = c_workload("deep");
    let r = wallprof_run(&[], &[s(&bin), "1.0"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let on = folded(&r.dir(), "oncpu.folded");
    let hot: Vec<_> = on
        .iter()
        .filter(|(f, _)| f.iter().any(|x| x == "hot_loop"))
        .collect();
    let total: u64 = hot.iter().map(|(_, w)| w).sum();
    assert!(
        total >= 100,
        "too few samples in hot_loop: {total}\n{}",
        r.context()
    );
    let whole: u64 = hot
        .iter()
        .filter(|(f, _)| {
            contains_in_order(
                f,
                &["main", "deep_one", "deep_two", "deep_three", "hot_loop"],
            )
        })
        .map(|(_, w)| w)
        .sum();
    assert!(
        whole as f64 >= 0.9 * total as f64,
        "only {whole} of {total} hot_loop samples show main → deep_one → deep_two → deep_three"
    );
}

#[test]
fn offcpu_stack_names_the_caller_of_nanosleep() {
    let bin = c_workload("deep");
    let r = wallprof_run(&[], &[s(&bin), "0.2"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let off = folded(&r.dir(), "offcpu.folded");
    let sleep: Vec<_> = off
        .iter()
        .filter(|(f, _)| f.last().map(String::as_str) == Some("[sleep]"))
        .collect();
    let total: u64 = sleep.iter().map(|(_, w)| w).sum();
    assert!(
        total >= 150_000,
        "slept 0.2 s, offcpu [sleep] has {total} µs\n{}",
        r.context()
    );
    let named: u64 = sleep
        .iter()
        .filter(|(f, _)| contains_in_order(f, &["main", "nap_caller"]))
        .map(|(_, w)| w)
        .sum();
    assert!(
        named as f64 >= 0.9 * total as f64,
        "{named} of {total} µs name main → nap_caller"
    );
}

#[test]
fn cpython_samples_reach_main_through_the_eval_loop() {
    let script = repo().join("workloads/python/cpu_loop.py");
    let r = wallprof_run(&[], &["python3", s(&script), "1.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let on = folded(&r.dir(), "oncpu.folded");
    let interp: Vec<_> = on
        .iter()
        .filter(|(f, _)| f.iter().any(|x| x == "_PyEval_EvalFrameDefault"))
        .collect();
    let all: u64 = on
        .iter()
        .filter(|(f, _)| f[0].starts_with("python"))
        .map(|(_, w)| w)
        .sum();
    let through: u64 = interp
        .iter()
        .filter(|(f, _)| f.iter().any(|x| x == "_start" || x == "main"))
        .map(|(_, w)| w)
        .sum();
    assert!(all >= 500, "too few python samples: {all}\n{}", r.context());
    assert!(
        through as f64 >= 0.9 * all as f64,
        "{through} of {all} python samples reach main/_start through _PyEval_EvalFrameDefault"
    );
}

#[test]
fn node_shows_javascript_names_and_output_is_unchanged() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("node is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let js = dir.path().join("fib.js");
    std::fs::write(
        &js,
        "function fib(n){return n<2?n:fib(n-1)+fib(n-2)}\n\
         let t=Date.now(), s=0; while(Date.now()-t<1000){s+=fib(22)}\n\
         console.log('done', s > 0); console.error('on stderr');\n",
    )
    .unwrap();
    let bare = std::process::Command::new("node")
        .arg(&js)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let r = wallprof_run_in(dir.path(), &["--quiet"], &["node", s(&js)]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, bare.stdout, "stdout differs under wallprof");
    assert_eq!(
        r.stderr.as_bytes(),
        &bare.stderr[..],
        "stderr differs under wallprof --quiet"
    );
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        before, after,
        "wallprof left files in the target's directory"
    );
    let pid = r.p()["target"]["pid"].as_i64().unwrap();
    assert!(
        !Path::new(&format!("/tmp/perf-{pid}.map")).exists(),
        "the perf map wallprof caused was left behind"
    );
    let on = folded(&r.dir(), "oncpu.folded");
    let all: u64 = on.iter().map(|(_, w)| w).sum();
    let js_fib: u64 = on
        .iter()
        .filter(|(f, _)| f.iter().any(|x| x.starts_with("JS:") && x.contains("fib")))
        .map(|(_, w)| w)
        .sum();
    assert!(
        js_fib as f64 >= 0.5 * all as f64,
        "{js_fib} of {all} samples name the JS function fib"
    );
}

#[test]
fn deleted_binary_still_gives_module_offset_frames() {
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let copy = dir.path().join("doomed");
    std::fs::copy(c_workload("deep"), &copy).unwrap();
    let r = wallprof_run(&[], &[s(&copy), "0.5", "--unlink-self"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(!copy.exists(), "the workload should have deleted itself");
    let on = folded(&r.dir(), "oncpu.folded");
    let total: u64 = on.iter().map(|(_, w)| w).sum();
    let offsets: u64 = on
        .iter()
        .filter(|(f, _)| f.iter().any(|x| x.starts_with("doomed+0x")))
        .map(|(_, w)| w)
        .sum();
    assert!(
        offsets as f64 >= 0.8 * total as f64,
        "{offsets} of {total} samples show doomed+0x… frames"
    );
}
