//! One workload per wait kind: the kind wallprof names must be the one the
//! workload measurably spent its time in.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn sleep_is_the_top_wait() {
    let r = wallprof_run(&[], &["sleep", "1"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    assert_eq!(top_wait(p).as_deref(), Some("sleep"), "{}", r.context());
    assert!(wait_s(p, "sleep") >= 0.9, "{}", r.context());
}

#[test]
fn direct_synchronous_writes_are_disk() {
    let dir = tempfile::tempdir_in(scratch()).expect("temp dir");
    assert_on_block_device(dir.path());
    let file = dir.path().join("dd.out");
    let of = format!("of={}", file.display());
    let r = wallprof_run(
        &[],
        &[
            "dd",
            "if=/dev/zero",
            &of,
            "bs=4k",
            "count=2000",
            "oflag=direct,dsync",
        ],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let written = std::fs::metadata(&file).expect("dd wrote its file").len();
    assert_eq!(written, 2000 * 4096);
    assert_eq!(top_wait(r.p()).as_deref(), Some("disk"), "{}", r.context());
}

/// The mount holding `path`, from /proc/self/mountinfo: (fstype, major:minor).
fn mount_of(path: &Path) -> (String, String) {
    let path = path.canonicalize().expect("canonical path");
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut best: Option<(usize, String, String)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (devno, mnt) = (fields[2], fields[4].replace("\\040", " "));
        if path.starts_with(&mnt) && best.as_ref().is_none_or(|b| mnt.len() >= b.0) {
            best = Some((mnt.len(), fields[dash + 1].to_string(), devno.to_string()));
        }
    }
    let (_, fstype, devno) = best.expect("a mount holds the path");
    (fstype, devno)
}

fn assert_on_block_device(path: &Path) {
    let (fstype, devno) = mount_of(path);
    assert!(
        !matches!(fstype.as_str(), "tmpfs" | "ramfs" | "devtmpfs"),
        "{} is on {fstype}, not a block device: the disk test needs a real disk",
        path.display()
    );
    assert!(
        Path::new("/sys/dev/block").join(&devno).exists(),
        "{} is on {fstype} ({devno}), which is not a block device",
        path.display()
    );
}

#[test]
fn pingpong_loses_nothing_or_says_so() {
    let bin = c_workload("pingpong");
    let r = wallprof_run(&[], &[s(&bin), "1.0"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let out = r.stdout_str();
    let blocks_per_s = printed(&out, "blocks_per_s");
    assert!(
        blocks_per_s >= 20_000.0,
        "the workload blocked only {blocks_per_s:.0} times/s under wallprof; the test needs >= 20000"
    );
    let lost = r.p()["samples"]["lost"].as_u64().expect("samples.lost");
    if lost > 0 {
        let summary = r.stderr.to_lowercase();
        assert!(
            summary.contains("lost") && summary.contains(&lost.to_string()),
            "samples.lost = {lost} but the summary does not report it:\n{}",
            r.stderr
        );
    }
}

#[test]
fn busy_loop_is_cpu_bound() {
    let bin = c_workload("busy");
    let r = wallprof_run(&[], &[s(&bin), "1.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    let (user, wall) = (f(&p["time"]["user_s"]), f(&p["wall_s"]));
    assert!(wall >= 1.4, "wall_s {wall} for a 1.5 s loop");
    let measured = printed(&r.stdout_str(), "cpu_s");
    let cpu = user + f(&p["time"]["system_s"]);
    assert!(
        close(cpu, measured, 0.05, 0.01),
        "user_s+system_s {cpu} vs {measured} the loop measured of itself"
    );
    assert!(
        user >= 0.9 * wall,
        "user_s {user} < 90% of wall_s {wall}\n{}",
        r.context()
    );
    assert_eq!(p["verdict"]["class"], "cpu-bound", "{}", r.context());
}

/// A TCP server on 127.0.0.1 that answers each line after `delay`, for one
/// connection and at most `max` requests; it gives up after 30 s. Returns the
/// port and a handle yielding how many requests it answered.
fn slow_server(delay: Duration, max: usize) -> (u16, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return 0,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut served = 0;
        for line in BufReader::new(stream).lines().take(max) {
            if line.is_err() {
                break;
            }
            std::thread::sleep(delay);
            if writer.write_all(b"pong\n").is_err() {
                break;
            }
            served += 1;
        }
        served
    });
    (port, handle)
}

#[test]
fn slow_tcp_server_is_network() {
    let bin = c_workload("tcp_client");
    let delay = Duration::from_millis(50);
    let (port, server) = slow_server(delay, 100);
    let r = wallprof_run(&[], &[s(&bin), &port.to_string(), "20"]);
    let served = server.join().expect("server thread");
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(printed(&r.stdout_str(), "requests"), 20.0);
    assert_eq!(served, 20);
    let p = r.p();
    assert_eq!(top_wait(p).as_deref(), Some("network"), "{}", r.context());
    let expected = served as f64 * delay.as_secs_f64();
    assert!(
        wait_s(p, "network") >= 0.8 * expected,
        "network {:.3}s < 80% of the {expected:.2}s the server delayed\n{}",
        wait_s(p, "network"),
        r.context()
    );
}

#[test]
fn contended_mutex_is_lock() {
    let bin = c_workload("mutex");
    let r = wallprof_run(&[], &[s(&bin), "1.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let measured = printed(&r.stdout_str(), "lock_wait_s");
    assert!(
        measured >= 0.3,
        "the workload itself waited only {measured}s on its mutex"
    );
    let p = r.p();
    let lock = wait_s(p, "lock");
    assert!(lock > 0.0, "no lock wait\n{}", r.context());
    let wall = f(&p["wall_s"]);
    assert!(
        top_wait(p).as_deref() == Some("lock") || lock >= 0.25 * wall,
        "lock {lock:.3}s is neither the top wait nor 25% of wall\n{}",
        r.context()
    );
    // The two workers' thread-seconds in lock (added per-thread `waits`)
    // against what they timed around pthread_mutex_lock. The main thread
    // only joins them, which the workload does not count.
    let workers: Vec<_> = processes(p)
        .iter()
        .flat_map(|pr| threads(pr).iter().filter(move |t| t["tid"] != pr["pid"]))
        .collect();
    assert_eq!(workers.len(), 2, "two worker threads\n{}", r.context());
    let per_thread: f64 = workers.iter().map(|t| thread_wait_s(t, "lock")).sum();
    assert!(
        close(per_thread, measured, 0.3, 0.05),
        "threads' lock time {per_thread:.3}s vs {measured:.3}s measured by the workload"
    );
}

/// urllib with a timeout waits in poll() on the socket, not in recv(): still
/// `network`. The server is a thread of the same process: sockets are never
/// looked through.
#[test]
fn python_http_fetches_are_network() {
    let script = repo().join("workloads/python/fetch_then_compute.py");
    let r = wallprof_run(&[], &["python3", s(&script)]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let out = r.stdout_str();
    let server_delay = printed(&out, "fetched") * printed(&out, "delay_s");
    let network = wait_s(r.p(), "network");
    assert!(
        network >= 0.8 * server_delay,
        "network {network:.3}s < 80% of the {server_delay:.2}s the server delayed\n{}",
        r.context()
    );
}
