//! The batch estimate's model of per-commit CPU (`analyze::commits`) on
//! synthetic traces: a committing thread whose fdatasync waits carry user
//! stacks, and on-CPU samples inside and outside its commit routine.

use super::build::*;
use crate::analyze::analyze;
use crate::model::trace::{Mapping, OffCpu, Trace};

const K_SYNC: u64 = 0xffff_ffff_8100_1000;
const K_READ: u64 = 0xffff_ffff_8100_2000;
const K_NOTIFY: u64 = 0xffff_ffff_8100_3000;

// User frames, leaf first: the fdatasync wrapper's syscall instruction, the
// two sync call sites in the library's pager, the commit routine's call into
// the pager, the program's loop, main.
const SYSCALL_IP: u64 = 0x7f00_0000_1000;
const SYNC_JOURNAL: u64 = 0x7f00_0000_2010;
const SYNC_DB: u64 = 0x7f00_0000_2020;
const COMMIT: u64 = 0x7f00_0000_3000;
const LOOP: u64 = 0x5500_0000_1000;
const MAIN: u64 = 0x5500_0000_0100;

fn kallsyms() -> Vec<(u64, String)> {
    vec![
        (K_SYNC, "ext4_sync_file".into()),
        (K_READ, "vfs_read".into()),
        (K_NOTIFY, "virtqueue_notify".into()),
    ]
}

/// 1 s run: 100 fdatasync waits of 5 ms (alternately from the journal's and
/// the database's sync site), 0.5 s on-CPU. Samples (one per ms): `kernel`
/// in fdatasync, `routine` user samples inside the commit routine, `other`
/// user samples in the loop, `read` kernel samples reading.
fn committer(routine: u32, other: u32, read: u32, one_site: bool) -> Trace {
    let mut b = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0);
    for i in 0..100 {
        let s = 5.0 + 9.9 * i as f64;
        b = b.off(100, s, s + 5.0, s + 5.0, sys(75), None);
    }
    let mut t = b.done();
    t.kallsyms = kallsyms();
    let journal = t
        .stacks
        .intern(&[SYSCALL_IP, SYNC_JOURNAL, COMMIT, LOOP, MAIN]);
    let db = t.stacks.intern(&[SYSCALL_IP, SYNC_DB, COMMIT, LOOP, MAIN]);
    let th = t.threads.get_mut(&100).unwrap();
    for (i, o) in th.offcpu.iter_mut().enumerate() {
        o.ustack = Some(if one_site || i % 2 == 0 { journal } else { db });
    }
    let kernel_in_sync = t
        .stacks
        .intern(&[K_SYNC, SYSCALL_IP, SYNC_JOURNAL, COMMIT, LOOP, MAIN]);
    let in_routine = t.stacks.intern(&[0x7f00_0000_2100, COMMIT, LOOP, MAIN]);
    let in_loop = t.stacks.intern(&[0x5500_0000_1100, LOOP, MAIN]);
    let reading = t.stacks.intern(&[K_READ, 0x7f00_0000_4000, LOOP, MAIN]);
    let kernel = 500 - routine - other - read;
    let th = t.threads.get_mut(&100).unwrap();
    th.sample_stacks.insert(kernel_in_sync, kernel);
    th.sample_stacks.insert(in_routine, routine);
    th.sample_stacks.insert(in_loop, other);
    th.sample_stacks.insert(reading, read);
    th.samples_user = (routine + other) as u64;
    th.samples_kernel = (kernel + read) as u64;
    t
}

fn batch(t: &Trace) -> f64 {
    let a = analyze(t, 2);
    let r = a
        .recommendations
        .iter()
        .find(|r| r.strategy == "batch")
        .unwrap_or_else(|| panic!("no batch: {:?}", a.recommendations));
    r.estimated_speedup
}

fn near(a: f64, b: f64) -> bool {
    (a / b - 1.0).abs() < 0.02
}

#[test]
fn kernel_cpu_and_waits_go() {
    // 0.5 s of waits, 0.45 s of kernel CPU go; 50 ms of loop CPU stays
    // (plus one commit's 5 ms wait).
    let s = batch(&committer(0, 50, 0, false));
    assert!(near(s, 1.0 / 0.055), "{s}");
}

#[test]
fn user_cpu_of_the_commit_routine_goes_too() {
    // Two sync sites under one commit routine: its 40 ms of user CPU go
    // with the commits, the loop's 50 ms stay.
    let s = batch(&committer(40, 50, 0, false));
    assert!(near(s, 1.0 / 0.055), "{s}");
    let names = analyze(&committer(40, 50, 0, false), 2).recommendations[0]
        .why
        .clone();
    assert!(names.contains("0.04 s in the commit routine"), "{names}");
}

#[test]
fn one_call_site_counts_no_user_cpu() {
    // Every commit from one call site: the common frame is the system call
    // itself, so the code around it (possibly the program's own work) stays.
    let s = batch(&committer(40, 50, 0, true));
    assert!(near(s, 1.0 / 0.095), "{s}");
}

#[test]
fn a_main_loop_is_not_a_commit_routine() {
    // The routine's frame holds most of the thread's user CPU: it is the
    // program's loop, and its CPU stays.
    let s = batch(&committer(60, 20, 0, false));
    assert!(near(s, 1.0 / 0.085), "{s}");
}

#[test]
fn reading_the_data_stays() {
    // 30 ms of kernel CPU reading (read-side calls) stay with the loop's
    // 50 ms.
    let s = batch(&committer(0, 50, 30, false));
    assert!(near(s, 1.0 / 0.085), "{s}");
}

#[test]
fn runqueue_time_is_left_out() {
    // 100 ms runnable (preempted) on top: left out of the run and the rest.
    let mut t = committer(0, 50, 0, false);
    let cause = t.causes.intern(preempted());
    let th = t.threads.get_mut(&100).unwrap();
    // Inside the loop's CPU time: the last 100 ms of the run.
    th.offcpu.push(OffCpu {
        start: ms(900.0 + 90.0),
        wake: None,
        end: ms(999.0),
        cause,
        waker: None,
        ustack: None,
    });
    th.offcpu.sort_by_key(|o| o.start);
    let on = th.on_cpu_ns.unwrap() - (ms(999.0) - ms(990.0));
    th.on_cpu_ns = Some(on);
    let a = analyze(&t, 2);
    assert!(a.waits.iter().any(|w| w.kind == "cpu-contention"));
    let s = batch(&t);
    // wall 1 s - 9 ms runnable; rest 55 ms minus the on-CPU time the
    // preemption took from the loop's share, plus nothing for the runqueue.
    assert!(s > 1.0 / 0.055 * 0.95, "{s}");
}

const K_PWRITE: u64 = 0xffff_ffff_8100_4000;
/// The program's call sites into the library: its insert (which writes)
/// and its statement parser (which does no I/O).
const LOOP_INSERT: u64 = 0x5500_0000_1010;
const LOOP_PARSE: u64 = 0x5500_0000_1020;
const LIB_INSERT: u64 = 0x7f00_0000_5000;
const LIB_PARSE: u64 = 0x7f00_0000_6000;

/// `committer(40, 50, 0, false)` with the library code (sync sites, commit
/// routine, insert, parser) mapped from `lib` and the C library's wrappers
/// from libc; the loop's 50 ms of user CPU become `insert` ms inside the
/// library's insert call (whose 10 kernel samples are in pwrite) and
/// `parse` ms in its parser.
fn with_library(lib: &str, insert: u32, parse: u32) -> Trace {
    let mut t = committer(40, 50, 0, false);
    t.kallsyms.push((K_PWRITE, "__x64_sys_pwrite64".into()));
    t.kallsyms.sort();
    let map = |start: u64, end: u64, path: &str| Mapping {
        start,
        end,
        pgoff: 0,
        path: path.into(),
    };
    t.processes.get_mut(&100).unwrap().mappings = vec![
        map(0x5500_0000_0000, 0x5500_1000_0000, "/usr/bin/app"),
        map(
            0x7f00_0000_0000,
            0x7f00_0000_2000,
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ),
        map(0x7f00_0000_2000, 0x7f00_0001_0000, lib),
    ];
    let in_loop = t.stacks.intern(&[0x5500_0000_1100, LOOP, MAIN]);
    let kernel_in_sync = t
        .stacks
        .intern(&[K_SYNC, SYSCALL_IP, SYNC_JOURNAL, COMMIT, LOOP, MAIN]);
    let writing = t
        .stacks
        .intern(&[K_PWRITE, 0x7f00_0000_1100, LIB_INSERT, LOOP_INSERT, MAIN]);
    let inserting = t.stacks.intern(&[LIB_INSERT + 0x10, LOOP_INSERT, MAIN]);
    let parsing = t.stacks.intern(&[LIB_PARSE + 0x10, LOOP_PARSE, MAIN]);
    let th = t.threads.get_mut(&100).unwrap();
    th.sample_stacks.remove(&in_loop);
    *th.sample_stacks.get_mut(&kernel_in_sync).unwrap() -= 10;
    th.sample_stacks.insert(writing, 10);
    th.sample_stacks.insert(inserting, insert);
    th.sample_stacks.insert(parsing, parse);
    let left = 50 - insert - parse;
    if left > 0 {
        th.sample_stacks.insert(in_loop, left);
    }
    t
}

#[test]
fn calls_into_the_library_go_with_the_commits() {
    // The insert call (it writes: pwrite samples under it) and the parser
    // (no I/O of its own: preparing BEGIN and COMMIT is the transaction's
    // too) are both calls into the committing library: their 30 + 10 ms of
    // user CPU go; the loop's own 10 ms stay. Rest: 10 ms + one commit's
    // 5 ms.
    let t = with_library("/usr/lib/libstore.so.1", 30, 10);
    let s = batch(&t);
    assert!(near(s, 1.0 / 0.015), "{s}");
    let why = analyze(&t, 2).recommendations[0].why.clone();
    assert!(
        why.contains("0.08 s in the commit routine and the calls into libstore.so.1"),
        "{why}"
    );
}

#[test]
fn a_library_call_holding_most_user_cpu_is_the_runtime() {
    // The insert call holds 48 of the thread's 90 ms of user CPU: the
    // program's runtime (libpython for a script), so it stays; the parser's
    // 2 ms, another call into the library, go. Rest: the runtime call's
    // 48 ms and one commit's 5 ms.
    let s = batch(&with_library("/usr/lib/libstore.so.1", 48, 2));
    assert!(near(s, 1.0 / 0.053), "{s}");
}

#[test]
fn the_programs_own_code_is_not_a_library() {
    // The same code mapped from the program's executable: no library; only
    // the commit routine's user CPU goes (the loop's 50 ms stay).
    let s = batch(&with_library("/usr/bin/app", 30, 20));
    assert!(near(s, 1.0 / 0.055), "{s}");
}

const K_DIO: u64 = 0xffff_ffff_8100_5000;
const K_EXT4_WRITE: u64 = 0xffff_ffff_8100_6000;
const K_VFS_WRITE: u64 = 0xffff_ffff_8100_7000;

/// `committer(0, 50, 0, true)` whose waits are direct-I/O writes (D state,
/// a kernel stack through iomap_dio_rw under write) instead of fdatasync.
fn direct_writer() -> Trace {
    let mut t = committer(0, 50, 0, true);
    t.kallsyms.extend([
        (K_DIO, "iomap_dio_rw".to_string()),
        (K_EXT4_WRITE, "ext4_file_write_iter".to_string()),
        (K_VFS_WRITE, "vfs_write".to_string()),
    ]);
    t.kallsyms.sort();
    let k = t.kstacks.intern(&[K_DIO, K_EXT4_WRITE, K_VFS_WRITE]);
    let cause = t.causes.intern(crate::model::trace::Cause {
        state: crate::model::trace::SwitchState::DiskSleep,
        kstack: Some(k),
        syscall_nr: Some(1),
        ..Default::default()
    });
    for o in &mut t.threads.get_mut(&100).unwrap().offcpu {
        o.cause = cause;
    }
    t
}

#[test]
fn direct_writes_give_a_range_for_the_unmeasured_transfer() {
    // The direct writes' 0.5 s of waits hold the device's transfer of the
    // bytes, which larger writes keep: between all of it going (the same
    // 55 ms rest as fdatasync commits) and all of it staying (55 ms + the
    // other 99 waits' 495 ms).
    let t = direct_writer();
    let a = analyze(&t, 2);
    let r = &a.recommendations[0];
    assert_eq!(r.strategy, "batch", "{:?}", a.recommendations);
    let [low, high] = r.estimated_range.expect("a range for direct writes");
    assert!(near(high, 1.0 / 0.055), "{r:?}");
    assert!(near(low, 1.0 / 0.55), "{r:?}");
    assert_eq!(r.estimated_speedup, high);
    assert!(r.why.contains("transfer"), "{}", r.why);
    // fdatasync commits carry no range: their bytes are a page or two.
    let fsync = analyze(&committer(0, 50, 0, true), 2);
    assert_eq!(fsync.recommendations[0].estimated_range, None);
}
