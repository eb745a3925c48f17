//! Accounting, critical path, idle rule and verdict on hand-built traces.

use super::build::*;
use crate::analyze::{analyze, identity_violations, Analysis};

fn wait_s(a: &Analysis, kind: &str) -> f64 {
    a.waits
        .iter()
        .find(|w| w.kind == kind)
        .map_or(0.0, |w| w.seconds)
}

fn near(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// The contract's identity: on_cpu_s + waiting_s = wall_s within 2%, and
/// waits sum to waiting_s.
fn assert_path_sums(a: &Analysis, wall_s: f64) {
    let cp = &a.critical_path;
    assert!(
        near(cp.on_cpu_s + cp.waiting_s, wall_s, 0.02 * wall_s),
        "{cp:?} vs {wall_s}"
    );
    let sum: f64 = a.waits.iter().map(|w| w.seconds).sum();
    assert!(near(sum, cp.waiting_s, 1e-6), "{sum} vs {}", cp.waiting_s);
    assert!(a.waits.windows(2).all(|w| w[0].seconds >= w[1].seconds));
    assert!(!a.recommendations.is_empty());
    assert!(
        identity_violations(&a.threads).is_empty(),
        "{:?}",
        identity_violations(&a.threads)
    );
}

#[test]
fn main_thread_sleeping_one_second() {
    let t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/sleep")
        .thread(100, 100, 0.0, 1000.0)
        .off(100, 5.0, 995.0, 996.0, sleep(), None)
        .done();
    let a = analyze(&t, 2);
    assert_path_sums(&a, 1.0);
    assert_eq!(a.waits[0].kind, "sleep");
    assert!(near(wait_s(&a, "sleep"), 0.990, 1e-6));
    assert_eq!(a.waits[0].detail[0].what, "clock_nanosleep()");
    assert_eq!(a.verdict.class, "io-bound");
    assert!(a.verdict.confidence > 0.9);
    assert!(
        a.verdict.reasons[0]
            .contains("the main thread spent 99% of the wall time in clock_nanosleep()"),
        "{:?}",
        a.verdict.reasons
    );
    assert_eq!(
        a.recommendations[0].strategy, "none",
        "{:?}",
        a.recommendations
    );
    assert_eq!(a.runtimes[&100], "native");
}

/// Parent in wait4, woken by the child that computes 0.5 s then sleeps 0.5 s.
fn parent_child(sampled: bool) -> Analysis {
    let mut b = B::new(100, 1002.0)
        .process(100, 1, "/usr/bin/bash")
        .thread(100, 100, 0.0, 1002.0)
        .process(101, 100, "/usr/bin/worker")
        .thread(101, 101, 1.0, 1001.0)
        .off(100, 1.0, 1001.0, 1001.0, wait4(), Some(101))
        .off(101, 501.0, 1000.5, 1000.5, sleep(), None);
    if sampled {
        b = b.sampled(100).sampled(101);
    }
    analyze(&b.done(), 2)
}

#[test]
fn wait4_looks_through_to_the_child() {
    let a = parent_child(false);
    assert_path_sums(&a, 1.002);
    assert!(near(wait_s(&a, "sleep"), 0.4995, 0.002), "{:?}", a.waits);
    assert!(
        near(a.critical_path.on_cpu_s, 0.5025, 0.002),
        "{:?}",
        a.critical_path
    );
    assert_eq!(wait_s(&a, "child"), 0.0);
    assert_eq!(a.verdict.class, "mixed", "{:?}", a.verdict);
    assert_eq!(a.runtimes[&100], "shell");
    assert!(!a.threads[&101].idle);
}

#[test]
fn wait4_without_wakeups_shares_with_the_child() {
    let a = parent_child(true);
    assert_path_sums(&a, 1.002);
    // The child alone was busy while the parent waited: same answer.
    assert!(near(wait_s(&a, "sleep"), 0.4995, 0.002), "{:?}", a.waits);
    assert!(near(a.critical_path.on_cpu_s, 0.5025, 0.002));
    assert!(a.verdict.confidence < 0.9);
}

#[test]
fn mutex_waits_stay_lock() {
    // Main thread and worker take turns on a mutex: 8 waits of 100 ms in
    // the main thread, each ended by the worker; the worker computes.
    let mut b = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0)
        .thread(101, 100, 0.0, 1000.0);
    for i in 0..8 {
        let s = 100.0 + 110.0 * i as f64;
        b = b.off(100, s, s + 100.0, s + 100.0, futex(0x80), Some(101));
        b = b.off(101, s + 100.0, s + 105.0, s + 105.0, futex(0x80), Some(100));
    }
    let a = analyze(&b.done(), 2);
    assert_path_sums(&a, 1.0);
    assert!(near(wait_s(&a, "lock"), 0.8, 1e-6), "{:?}", a.waits);
    assert_eq!(a.verdict.class, "lock-bound", "{:?}", a.verdict);
    assert_eq!(a.recommendations[0].strategy, "reduce-contention");
    let f = a
        .findings
        .iter()
        .find(|f| f.id == "lock-contention")
        .expect("lock-contention finding");
    assert_eq!(f.evidence["waits"], 16);
}

#[test]
fn condvar_looks_through_to_the_worker() {
    // The main thread waits on a condvar (0x189) that the worker signals
    // after a 600 ms network read.
    let t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0)
        .thread(101, 100, 10.0, 900.0)
        .off(100, 50.0, 850.0, 852.0, futex(0x189), Some(101))
        .off(101, 100.0, 700.0, 701.0, recv(), None)
        .done();
    let a = analyze(&t, 2);
    assert_path_sums(&a, 1.0);
    assert!(near(wait_s(&a, "network"), 0.6, 1e-6), "{:?}", a.waits);
    assert_eq!(wait_s(&a, "lock"), 0.0);
    assert!(near(wait_s(&a, "cpu-contention"), 0.003, 1e-6));
    assert_eq!(a.waits[0].detail[0].what, "recvfrom() on a TCP socket");
    assert!(
        a.verdict.reasons[0].starts_with("the critical path spent 60%"),
        "{:?}",
        a.verdict.reasons
    );
}

#[test]
fn idle_accept_thread_does_not_change_the_verdict() {
    let t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/python3.11")
        .thread(100, 100, 0.0, 1000.0)
        .thread(101, 100, 1.0, 999.0)
        .off(101, 2.0, 998.0, 998.5, accept(), None)
        .off(100, 400.0, 400.0, 402.0, preempted(), None)
        .done();
    let a = analyze(&t, 2);
    assert_path_sums(&a, 1.0);
    assert_eq!(a.verdict.class, "cpu-bound", "{:?}", a.verdict);
    assert!(a.threads[&101].idle);
    assert!(!a.threads[&100].idle);
    assert!(near(a.time.idle_s, 0.996, 1e-6), "{:?}", a.time);
    assert_eq!(a.runtimes[&100], "cpython");
    assert_eq!(
        a.recommendations[0].strategy, "process-pool",
        "{:?}",
        a.recommendations
    );
    let amdahl = a.recommendations[0].estimated_speedup;
    assert!(amdahl > 1.9 && amdahl <= 2.0, "{amdahl}");
}

#[test]
fn sequential_network_waits_recommend_async() {
    // Five 150 ms fetches, one after another, with 20 ms of CPU between.
    let mut b = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/python3")
        .thread(100, 100, 0.0, 1000.0);
    for i in 0..5 {
        let s = 100.0 + 170.0 * i as f64;
        b = b.off(100, s, s + 150.0, s + 150.0, recv(), None);
    }
    let a = analyze(&b.done(), 2);
    assert_eq!(a.verdict.class, "io-bound");
    let r = &a.recommendations[0];
    assert_eq!(r.strategy, "async");
    // wall / (on-CPU 0.25 + longest 0.15) = 2.5
    assert!(near(r.estimated_speedup, 2.5, 0.01), "{r:?}");
}

#[test]
fn cycles_and_depth_are_safe() {
    // Two threads each waiting on a signal the other "sent": must terminate
    // and still account the wall time exactly once.
    let t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0)
        .thread(101, 100, 0.0, 1000.0)
        .off(100, 100.0, 900.0, 900.0, futex(0x189), Some(101))
        .off(101, 50.0, 950.0, 950.0, futex(0x189), Some(100))
        .done();
    let a = analyze(&t, 2);
    assert_path_sums(&a, 1.0);
    assert!(near(wait_s(&a, "lock"), 0.8, 1e-6), "{:?}", a.waits);
}

#[test]
fn oversubscribed_cpus_are_found() {
    // Three busy threads on 2 CPUs: each spends a third of its life runnable.
    let mut b = B::new(100, 900.0).process(100, 1, "/usr/bin/app");
    for tid in 100..103 {
        b = b.thread(tid, 100, 0.0, 900.0);
        for i in 0..3 {
            let s = 300.0 * i as f64 + 100.0 * (tid - 100) as f64;
            b = b.off(tid, s, s, s + 100.0, preempted(), None);
        }
    }
    let a = analyze(&b.done(), 2);
    assert_path_sums(&a, 0.9);
    assert_eq!(a.verdict.class, "cpu-bound");
    assert!(
        a.findings.iter().any(|f| f.id == "cpu-oversubscribed"),
        "{:?}",
        a.findings
    );
    assert!(near(a.time.runqueue_s, 0.9, 1e-6));
}

#[test]
fn too_short_is_unknown() {
    let t = B::new(100, 5.0)
        .process(100, 1, "/usr/bin/true")
        .thread(100, 100, 0.0, 5.0)
        .done();
    let a = analyze(&t, 2);
    assert_eq!(a.verdict.class, "unknown");
    assert_eq!(a.recommendations[0].strategy, "none");
}

#[test]
fn nothing_observed_is_unknown() {
    let mut t = B::new(100, 500.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 500.0)
        .done();
    let th = t.threads.get_mut(&100).unwrap();
    th.timeline = crate::model::trace::Fidelity::None;
    th.on_cpu_ns = None;
    th.samples_user = 0;
    let a = analyze(&t, 2);
    assert_eq!(a.verdict.class, "unknown", "{:?}", a.verdict);
    assert!(near(
        a.critical_path.on_cpu_s + a.critical_path.waiting_s,
        0.5,
        0.01
    ));
}

#[test]
fn identity_violation_is_reported() {
    let mut t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0)
        .off(100, 100.0, 600.0, 600.0, sleep(), None)
        .done();
    t.threads.get_mut(&100).unwrap().on_cpu_ns = Some(100_000_000); // should be 500 ms
    let a = analyze(&t, 2);
    let v = identity_violations(&a.threads);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].tid, 100);
    assert!(near(v[0].sum_s, 0.6, 1e-6));
}

#[test]
fn pre_exec_time_is_other() {
    let mut t = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/app")
        .thread(100, 100, 0.0, 1000.0)
        .done();
    t.exec = Some(ms(100.0));
    let a = analyze(&t, 2);
    assert_path_sums(&a, 1.0);
    assert!(near(wait_s(&a, "other"), 0.1, 1e-6));
    assert!(near(a.critical_path.on_cpu_s, 0.9, 1e-6));
}

#[test]
fn expired_gil_waits_are_charged_to_the_running_peer() {
    // Main thread joins T1 (0x189, woken by T1 at its exit). T1 and T2 take
    // turns on the GIL in 5 ms slices; T1's timed waits (0x89) expire with no
    // waker in the tree, while T2 computes. Result: cpu-bound, no lock.
    let mut b = B::new(100, 1000.0)
        .process(100, 1, "/usr/bin/python3.11")
        .thread(100, 100, 0.0, 1000.0)
        .thread(101, 100, 5.0, 995.0)
        .thread(102, 100, 5.0, 990.0)
        .off(100, 10.0, 995.0, 996.0, futex(0x189), Some(101));
    let mut s = 10.0;
    while s + 10.0 <= 990.0 {
        b = b.off(101, s, s + 5.0, s + 5.0, futex(0x89), None);
        b = b.off(102, s + 5.0, s + 10.0, s + 10.0, futex(0x89), Some(101));
        s += 10.0;
    }
    let a = analyze(&b.done(), 2);
    assert_path_sums(&a, 1.0);
    assert_eq!(
        a.verdict.class, "cpu-bound",
        "{:?} {:?}",
        a.verdict, a.waits
    );
    assert!(wait_s(&a, "lock") < 0.01, "{:?}", a.waits);
    assert_eq!(a.recommendations[0].strategy, "process-pool");
}

fn abs_sleep(periodic: bool) -> crate::model::trace::Cause {
    crate::model::trace::Cause {
        abs_time: true,
        periodic,
        ..sleep()
    }
}

/// A periodic task (absolute deadlines a fixed step apart): its sleeps are
/// its schedule, nothing to overlap; the first two ticks (before two equal
/// steps were seen) belong to the same schedule.
#[test]
fn sleeps_on_a_fixed_schedule_are_not_overlappable() {
    let mut b = B::new(100, 1800.0)
        .process(100, 1, "/usr/bin/ticker")
        .thread(100, 100, 0.0, 1800.0);
    for i in 0..18 {
        let s = i as f64 * 100.0 + 0.1;
        b = b.off(100, s, s + 99.8, s + 99.9, abs_sleep(i >= 2), None);
    }
    let a = analyze(&b.done(), 2);
    assert_eq!(a.verdict.class, "io-bound");
    assert_eq!(a.waits[0].kind, "sleep");
    assert_eq!(
        a.recommendations[0].strategy, "none",
        "{:?}",
        a.recommendations
    );
    assert!(a.recommendations[0].why.contains("fixed schedule"));
}

/// CPython's time.sleep also sleeps until an absolute deadline (now +
/// duration), but the deadlines are not a fixed step apart: independent
/// sleeps, to overlap. One chance pair of equal steps does not make a
/// schedule.
#[test]
fn absolute_sleeps_without_a_period_are_overlappable() {
    let mut b = B::new(100, 1800.0)
        .process(100, 1, "/usr/bin/python3")
        .thread(100, 100, 0.0, 1800.0);
    for i in 0..12 {
        let s = i as f64 * 150.0 + 0.1;
        b = b.off(100, s, s + 149.8, s + 149.9, abs_sleep(i == 5), None);
    }
    let a = analyze(&b.done(), 2);
    assert_eq!(
        a.recommendations[0].strategy, "async",
        "{:?}",
        a.recommendations
    );
    assert!(a.recommendations[0].estimated_speedup > 5.0);
}

/// An asyncio loop whose gathered callbacks all block in time.sleep after
/// one short epoll wait: one epoll wait makes it an event loop.
#[test]
fn one_epoll_wait_then_blocking_sleeps_is_flagged() {
    let epoll = crate::model::trace::Cause {
        fd: Some(3),
        ..sys(232)
    };
    let mut b = B::new(100, 2000.0)
        .process(100, 1, "/usr/bin/python3")
        .thread(100, 100, 0.0, 2000.0)
        .off(100, 100.0, 110.0, 110.1, epoll, None);
    for i in 0..10 {
        let s = 120.0 + i as f64 * 180.0;
        b = b.off(100, s, s + 179.8, s + 179.9, abs_sleep(false), None);
    }
    let a = analyze(&b.done(), 2);
    assert!(
        a.findings
            .iter()
            .any(|f| f.id == "blocking-call-in-event-loop"),
        "{:?}",
        a.findings
    );
}

/// An event loop waiting on eight sockets at once is already overlapped,
/// even when its wait is cut in pieces (woken by the first answers): none.
#[test]
fn epoll_on_many_sockets_is_already_overlapped() {
    let epoll = |n: u8| crate::model::trace::Cause {
        fd: Some(3),
        fd_kind: Some(crate::model::trace::FdKind::TcpSocket),
        sockets: n,
        ..sys(232)
    };
    let t = B::new(100, 1600.0)
        .process(100, 1, "/usr/bin/python3")
        .thread(100, 100, 0.0, 1600.0)
        .off(100, 50.0, 800.0, 800.1, epoll(8), None)
        .off(100, 801.0, 1500.0, 1500.1, epoll(8), None)
        .off(100, 1501.0, 1550.0, 1550.1, epoll(3), None)
        .done();
    let a = analyze(&t, 2);
    assert_eq!(a.verdict.class, "io-bound");
    assert_eq!(a.waits[0].kind, "network");
    assert_eq!(
        a.recommendations[0].strategy, "none",
        "{:?}",
        a.recommendations
    );
}

/// An event loop whose code is paged in under someone else's disk load: D
/// waits outside any syscall are not blocking calls.
#[test]
fn page_ins_on_an_event_loop_are_not_blocking_calls() {
    let epoll = crate::model::trace::Cause {
        fd: Some(3),
        ..sys(281)
    };
    let fault = crate::model::trace::Cause {
        state: crate::model::trace::SwitchState::DiskSleep,
        ..crate::model::trace::Cause::default()
    };
    let mut b = B::new(100, 1800.0)
        .process(100, 1, "/usr/bin/node")
        .thread(100, 100, 0.0, 1800.0)
        .off(100, 50.0, 60.0, 60.1, epoll.clone(), None);
    for i in 0..10 {
        let s = 100.0 + i as f64 * 40.0;
        b = b.off(100, s, s + 30.0, s + 30.1, fault.clone(), None);
    }
    let a = analyze(&b.off(100, 600.0, 1700.0, 1700.1, epoll, None).done(), 2);
    assert_no_finding(&a, "blocking-call-in-event-loop");
}

/// Node's main thread registers fds with epoll_ctl on a start-up epoll
/// instance; one such call blocked (D, the mm's lock in a page fault) before
/// the first loop wait. epoll_ctl is not a loop wait: the later waits on the
/// loop's instance are not "a second epoll instance". (Seen in 3 of 20
/// CPU-wide runs of node_seq_await before the fix.)
#[test]
fn a_blocked_epoll_ctl_does_not_pick_the_loop_instance() {
    let ctl = crate::model::trace::Cause {
        fd: Some(3),
        state: crate::model::trace::SwitchState::DiskSleep,
        ..sys(233)
    };
    let wait = crate::model::trace::Cause {
        fd: Some(14),
        fd_kind: Some(crate::model::trace::FdKind::TcpSocket),
        sockets: 1,
        ..sys(281)
    };
    let mut b = B::new(100, 2200.0)
        .process(100, 1, "/usr/bin/node")
        .thread(100, 100, 0.0, 2200.0)
        .off(100, 20.0, 25.0, 25.1, ctl, None);
    for i in 0..10 {
        let s = 100.0 + i as f64 * 205.0;
        b = b.off(100, s, s + 200.0, s + 200.1, wait.clone(), None);
    }
    let a = analyze(&b.done(), 2);
    assert_no_finding(&a, "blocking-call-in-event-loop");
}

/// A monitor convoy (four threads handing one lock to each other, as in
/// java_sync_convoy) whose path is split between the holder's critical
/// sections and the queueing: the members spent most of their lifetimes
/// queueing, so the program is lock-bound whatever the split.
#[test]
fn a_lock_convoy_is_lock_bound_whatever_the_path_split() {
    use crate::model::trace::Tid;
    let park = futex(0x189);
    let mut b = B::new(100, 1000.0)
        .process(100, 1, "/usr/lib/jvm/bin/java")
        .thread(100, 100, 0.0, 1000.0);
    for w in 101..=104 {
        b = b.thread(w, 100, 1.0, 1000.0);
    }
    // The main thread computes for 500 ms, then joins the workers: without
    // the convoy rule the path comes out mixed (checked).
    b = b.off(100, 500.0, 999.0, 999.1, futex(0x80), Some(104));
    // Rounds of four 10 ms critical sections, the order rotating by one
    // each round, so every member is handed the lock by two peers; each
    // queues from the end of its section to the start of its next.
    let mut ended: std::collections::BTreeMap<Tid, f64> = (101..=104).map(|w| (w, 1.0)).collect();
    let mut prev: Option<Tid> = None;
    let mut slot = 1.0;
    for r in 0..24 {
        for k in 0..4 {
            let w = 101 + ((r + k) % 4) as Tid;
            if let (Some(p), Some(&since)) = (prev, ended.get(&w)) {
                if since < slot {
                    b = b.off(w, since, slot, slot + 0.05, park.clone(), Some(p));
                }
            }
            ended.insert(w, slot + 10.0);
            prev = Some(w);
            slot += 10.0;
        }
    }
    let a = analyze(&b.done(), 2);
    assert_eq!(a.verdict.class, "lock-bound", "{:?}", a.verdict);
    assert_eq!(a.waits[0].kind, "lock", "{:?}", a.waits);
}

/// `id` is not among the findings (the findings are printed if it is).
fn assert_no_finding(a: &Analysis, id: &str) {
    assert!(a.findings.iter().all(|f| f.id != id), "{:?}", a.findings);
}

fn pipe_read() -> crate::model::trace::Cause {
    crate::model::trace::Cause {
        fd_kind: Some(crate::model::trace::FdKind::Pipe),
        fd: Some(0),
        ..sys(0)
    }
}

fn flock() -> crate::model::trace::Cause {
    sys(73)
}

/// A consumer reading a pipe, 20 reads of 50 ms: when no task of the tree
/// ended the waits (recorded wakeups, no waker of ours) the writer is
/// another program: `ipc`, named so, io-bound, and nothing to overlap (one
/// stream); when the program's own producer ended them, they are looked
/// through to it.
#[test]
fn pipe_waits_ended_by_another_program_are_the_world_outside() {
    let mut b = B::new(100, 1002.0)
        .process(100, 1, "/usr/bin/python3.11")
        .thread(100, 100, 0.0, 1002.0);
    for i in 0..20 {
        let s = 1.0 + 50.0 * i as f64;
        b = b.off(100, s, s + 49.9, s + 49.9, pipe_read(), None);
    }
    let a = analyze(&b.done(), 2);
    assert_path_sums(&a, 1.002);
    assert_eq!(a.waits[0].kind, "ipc", "{:?}", a.waits);
    assert!(
        a.waits[0].detail[0]
            .what
            .ends_with(crate::analyze::waitkind::OTHER_END_OUTSIDE),
        "{:?}",
        a.waits[0].detail
    );
    assert_eq!(a.verdict.class, "io-bound", "{:?}", a.verdict);
    assert_eq!(
        a.recommendations[0].strategy, "none",
        "{:?}",
        a.recommendations
    );
    assert!(
        a.recommendations[0].why.contains("another program"),
        "{:?}",
        a.recommendations[0]
    );

    // The same reads, ended by the program's own producer, which sleeps
    // between lines: looked through to its sleeps.
    let mut b = B::new(100, 1002.0)
        .process(100, 1, "/usr/bin/sh")
        .thread(100, 100, 0.0, 1002.0)
        .process(101, 100, "/usr/bin/producer")
        .thread(101, 101, 0.5, 1001.5);
    for i in 0..20 {
        let s = 1.0 + 50.0 * i as f64;
        b = b
            .off(100, s, s + 49.9, s + 49.9, pipe_read(), Some(101))
            .off(101, s, s + 49.8, s + 49.8, sleep(), None);
    }
    let a = analyze(&b.done(), 2);
    assert_eq!(a.waits[0].kind, "sleep", "{:?}", a.waits);
    assert_eq!(wait_s(&a, "ipc"), 0.0, "{:?}", a.waits);
}

/// A file lock: held by another program (nobody of the tree released it),
/// `other`, io-bound, `none`; held by a process of the program itself (it
/// woke the waiter), `lock`.
#[test]
fn a_file_lock_is_a_lock_only_between_the_programs_own_tasks() {
    let elsewhere = B::new(100, 1502.0)
        .process(100, 1, "/usr/bin/job")
        .thread(100, 100, 0.0, 1502.0)
        .off(100, 1.0, 1500.0, 1500.0, flock(), None)
        .done();
    let a = analyze(&elsewhere, 2);
    assert_path_sums(&a, 1.502);
    assert_eq!(a.waits[0].kind, "other", "{:?}", a.waits);
    assert_eq!(
        a.waits[0].detail[0].what,
        crate::analyze::waitkind::FILE_LOCK_ELSEWHERE
    );
    assert_eq!(a.verdict.class, "io-bound", "{:?}", a.verdict);
    assert_eq!(
        a.recommendations[0].strategy, "none",
        "{:?}",
        a.recommendations
    );
    assert_no_finding(&a, "lock-contention");

    let inside = B::new(100, 1502.0)
        .process(100, 1, "/usr/bin/job")
        .thread(100, 100, 0.0, 1502.0)
        .process(101, 100, "/usr/bin/job")
        .thread(101, 101, 0.5, 1501.0)
        .off(100, 1.0, 1500.0, 1500.0, flock(), Some(101))
        .done();
    let a = analyze(&inside, 2);
    assert_eq!(a.waits[0].kind, "lock", "{:?}", a.waits);
}
