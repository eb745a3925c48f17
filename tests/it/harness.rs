//! The test harness: run the built `wallprof` on a real command, validate the
//! profile it writes against `docs/profile.schema.json`, and read facts out of
//! it. Tests that profile a workload run one at a time (see [`serial`]): on two
//! cores, two profiled workloads at once would turn every verdict into
//! cpu-contention.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use serde_json::Value;

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A directory for this test binary's scratch files, under `target/` (so on
/// the same file system as the build, never a tmpfs).
pub fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wallprof-it");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Held while a workload is profiled or timed, and while workloads are
/// compiled; poisoning by a failed test is ignored. Reentrant within a
/// thread: a test holding it across several runs (a profile and the bare
/// timings of the same pair) can call helpers that take it again. Any
/// other lock of the tests is taken after this one, never before.
pub fn serial() -> Serial {
    static LOCK: Mutex<()> = Mutex::new(());
    let depth = HELD.with(|h| {
        let d = h.get();
        h.set(d + 1);
        d
    });
    Serial {
        _guard: (depth == 0).then(|| LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())),
    }
}

thread_local! {
    static HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The profiling lock, held (see [`serial`]).
pub struct Serial {
    _guard: Option<MutexGuard<'static, ()>>,
}

impl Drop for Serial {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get() - 1));
    }
}

/// What one `wallprof run` left behind.
pub struct RunResult {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub out_dir: tempfile::TempDir,
    /// The parsed `profile.json`, or `Value::Null` when none was written.
    pub profile: Value,
}

impl RunResult {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The directory wallprof wrote its results into.
    pub fn dir(&self) -> PathBuf {
        self.out_dir.path().join("profile")
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The profile, failing the test with wallprof's stderr when there is none.
    pub fn p(&self) -> &Value {
        assert!(
            !self.profile.is_null(),
            "wallprof wrote no profile.json (exit {:?}); stderr:\n{}",
            self.status,
            self.stderr
        );
        &self.profile
    }

    /// Everything worth printing when an assertion about this run fails.
    pub fn context(&self) -> String {
        let waits = serde_json::to_string(&self.profile["waits"]).unwrap_or_default();
        let cp = serde_json::to_string(&self.profile["critical_path"]).unwrap_or_default();
        let verdict = serde_json::to_string(&self.profile["verdict"]).unwrap_or_default();
        format!(
            "waits: {waits}\ncritical_path: {cp}\nverdict: {verdict}\nwall_s: {}\nstderr:\n{}",
            self.profile["wall_s"], self.stderr
        )
    }
}

/// The binary under test: this build's, or `$WALLPROF_BIN` when set (to
/// test another build with the same suite).
pub fn wallprof_bin() -> PathBuf {
    std::env::var_os("WALLPROF_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wallprof")))
}

/// `wallprof run -o DIR [args] -- argv...`, with empty stdin.
pub fn wallprof_run(args: &[&str], argv: &[&str]) -> RunResult {
    wallprof_run_with(args, argv, None)
}

/// As [`wallprof_run`], with the target (and wallprof) in directory `cwd`.
pub fn wallprof_run_in(cwd: &Path, args: &[&str], argv: &[&str]) -> RunResult {
    run_inner(args, argv, Input::Null, Some(cwd))
}

/// As [`wallprof_run_in`], wallprof's (and so the target's) stdin taken
/// from `stdin`: another process's output, for instance.
pub fn wallprof_run_fed(cwd: &Path, args: &[&str], argv: &[&str], stdin: Stdio) -> RunResult {
    run_inner(args, argv, Input::From(stdin), Some(cwd))
}

/// As [`wallprof_run`], feeding `stdin` to the target when given.
pub fn wallprof_run_with(args: &[&str], argv: &[&str], stdin: Option<&[u8]>) -> RunResult {
    let input = match stdin {
        Some(bytes) => Input::Bytes(bytes),
        None => Input::Null,
    };
    run_inner(args, argv, input, None)
}

/// What wallprof's stdin is.
enum Input<'a> {
    Null,
    Bytes(&'a [u8]),
    From(Stdio),
}

fn run_inner(args: &[&str], argv: &[&str], input: Input<'_>, cwd: Option<&Path>) -> RunResult {
    let out_dir = tempfile::Builder::new()
        .prefix("out-")
        .tempdir_in(scratch())
        .expect("temp out dir");
    // wallprof may refuse an existing non-empty dir; give it a fresh name inside.
    let dir = out_dir.path().join("profile");
    let mut cmd = Command::new(wallprof_bin());
    cmd.arg("run")
        .arg("-o")
        .arg(&dir)
        .args(args)
        .arg("--")
        .args(argv);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let stdin = match input {
        Input::Null => {
            cmd.stdin(Stdio::null());
            None
        }
        Input::Bytes(bytes) => {
            cmd.stdin(Stdio::piped());
            Some(bytes)
        }
        Input::From(from) => {
            cmd.stdin(from);
            None
        }
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = {
        let _guard = serial();
        let mut child = cmd.spawn().expect("spawn wallprof");
        let writer = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            let bytes = bytes.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        let output = child.wait_with_output().expect("wait for wallprof");
        if let Some(w) = writer {
            w.join().expect("stdin writer");
        }
        output
    };
    let profile = read_profile(&dir);
    if !profile.is_null() {
        check_contract(&profile, &dir);
    }
    RunResult {
        status: output.status,
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        out_dir,
        profile,
    }
}

pub fn read_profile(dir: &Path) -> Value {
    match std::fs::read(dir.join("profile.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).expect("profile.json is JSON"),
        Err(_) => Value::Null,
    }
}

/// The entry of `collectors` named `name`.
pub fn collector<'a>(p: &'a Value, name: &str) -> Option<&'a Value> {
    p["collectors"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// Whether the tests run as root (CPU-wide events and BPF need it here).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The JSON Schema of the contract, parsed once.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(repo().join("docs/profile.schema.json"))
            .expect("read docs/profile.schema.json");
        serde_json::from_str(&text).expect("schema is JSON")
    })
}

/// The schema's validation errors for `profile`, one line each.
pub fn schema_errors(profile: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(schema()).expect("schema compiles");
    validator
        .iter_errors(profile)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// What every profile must satisfy: the schema, and artifacts that exist.
pub fn check_contract(profile: &Value, dir: &Path) {
    let errors = schema_errors(profile);
    assert!(
        errors.is_empty(),
        "profile.json in {} violates docs/profile.schema.json:\n{}",
        dir.display(),
        errors.join("\n")
    );
    for (role, file) in profile["artifacts"].as_object().into_iter().flatten() {
        let file = file.as_str().unwrap_or_default();
        assert!(
            dir.join(file).is_file(),
            "artifacts.{role} = {file:?} but no such file in {}",
            dir.display()
        );
    }
}

// ---------------------------------------------------------------- workloads

/// Compile `workloads/c/NAME.c` (with `common.h`) into the scratch dir, once
/// per source change, and return the binary's path.
pub fn c_workload(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    // The profiling lock first (see `serial`), then this one: one order.
    let _quiet = serial();
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let src_dir = repo().join("workloads/c");
    let src = src_dir.join(format!("{name}.c"));
    let bin_dir = scratch().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    let bin = bin_dir.join(name);
    let newest_src = [src.clone(), src_dir.join("common.h")]
        .iter()
        .map(|p| mtime(p).unwrap_or_else(|| panic!("missing {}", p.display())))
        .max()
        .expect("sources");
    if mtime(&bin).is_some_and(|built| built >= newest_src) {
        return bin;
    }
    let tmp = bin_dir.join(format!(".{name}.tmp"));
    // Compiling holds the profiling lock (taken above): a build beside a
    // profiled run would show in it as CPU contention.
    let out = Command::new("gcc")
        .args(["-O2", "-pthread", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .expect("run gcc (is it installed?)");
    assert!(
        out.status.success(),
        "gcc {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("install workload binary");
    bin
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A path as the `&str` the run helpers take.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `key=value` pairs a workload printed on stdout, parsed as numbers.
pub fn printed(stdout: &str, key: &str) -> f64 {
    stdout
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("workload printed no {key}= in {stdout:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key}= is not a number in {stdout:?}"))
}

// ---------------------------------------------------------------- readers

pub fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The critical-path waits as (kind, seconds), in the profile's order.
pub fn waits(p: &Value) -> Vec<(String, f64)> {
    p["waits"]
        .as_array()
        .expect("waits array")
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap_or("").to_string(),
                f(&w["seconds"]),
            )
        })
        .collect()
}

/// The kind with the most seconds (not trusting the order).
pub fn top_wait(p: &Value) -> Option<String> {
    waits(p)
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(kind, _)| kind)
}

/// Critical-path seconds of one wait kind (0 when absent).
pub fn wait_s(p: &Value, kind: &str) -> f64 {
    waits(p)
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, s)| s)
        .sum()
}

pub fn processes(p: &Value) -> &Vec<Value> {
    p["processes"].as_array().expect("processes array")
}

pub fn threads(proc_: &Value) -> &Vec<Value> {
    proc_["threads"].as_array().expect("threads array")
}

/// Every thread of every process.
pub fn all_threads(p: &Value) -> Vec<&Value> {
    processes(p).iter().flat_map(threads).collect()
}

/// The processes whose argv[0] ends in `/name` or is `name`.
pub fn procs_named<'a>(p: &'a Value, name: &str) -> Vec<&'a Value> {
    processes(p)
        .iter()
        .filter(|pr| {
            let arg0 = pr["argv"][0].as_str().unwrap_or("");
            arg0 == name || arg0.ends_with(&format!("/{name}"))
        })
        .collect()
}

pub fn proc_by_pid(p: &Value, pid: i64) -> Option<&Value> {
    processes(p)
        .iter()
        .find(|pr| pr["pid"].as_i64() == Some(pid))
}

/// Sum of a per-thread field over a process's threads.
pub fn proc_sum(proc_: &Value, field: &str) -> f64 {
    threads(proc_).iter().map(|t| f(&t[field])).sum()
}

/// Thread-seconds of one wait kind on one thread (the added `waits` map).
pub fn thread_wait_s(thread: &Value, kind: &str) -> f64 {
    thread["waits"][kind].as_f64().unwrap_or(0.0)
}

/// `|a - b| <= rel * b + abs`.
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * b.abs() + abs
}
