// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * wallprof's scheduler collector (docs/collectors.md, "BPF").
 *
 * Built by build.rs with `clang -target bpf` and loaded by
 * src/collect/bpf/mod.rs (aya). It replaces the CPU-wide perf tracepoints
 * sched_switch and sched_waking: a perf record costs the task that
 * triggers it about 1 µs in a VM and a blocking call needs three of them
 * (docs/performance.md); these programs cost a few hundred ns and write one
 * record per context switch of the target's tree, with the wakeup folded
 * into the switch-in.
 *
 * - `tasks` holds the tree's threads: the root is inserted by wallprof
 *   before it is let go, every task a tracked task forks joins, and a task
 *   leaves at its last switch-out (TASK_DEAD).
 * - sched_switch: when either side is tracked, one `struct event` into the
 *   ring buffer. The side switched out carries its state and the user
 *   registers of its syscall (arguments and call site, as perf's
 *   sample_regs_user gives them); the side switched in carries the wakeup
 *   that ended its wait, if one was seen.
 * - sched_waking: the first wakeup of a tracked task that blocked is kept
 *   in its map entry: time, waker, and whether it came from an interrupt.
 * - The detail of a blocking switch-out (its kernel stack, and its user
 *   registers and stack for DWARF unwinding) is taken for the first wait at
 *   each call site of a process, and otherwise at most every DETAIL_NS per
 *   thread: a `struct detail` just before the switch's `struct event`.
 *
 * No kernel headers: the few ABI numbers are below, and the kernel
 * structures are declared with the fields read, relocated by name against
 * the running kernel's BTF (CO-RE) when the object is loaded.
 *
 * Licensed MIT OR GPL-2.0: the kernel lets GPL-compatible programs call
 * the helpers used here.
 */
typedef unsigned long long u64;
typedef unsigned int u32;
typedef int s32;
typedef _Bool bool;

/* include/uapi/linux/bpf.h */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_ANY 0
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2
#define BPF_RB_AVAIL_DATA 0

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#define __always_inline inline __attribute__((always_inline))
/* Keeps clang from merging two pointer tests into arithmetic on the
 * pointers, which the verifier refuses. */
#define barrier_var(v) asm volatile("" : "+r"(v))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				   u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;
static u64 (*bpf_ringbuf_query)(void *ringbuf, u64 flags) = (void *)134;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;
static long (*bpf_probe_read_user)(void *dst, u32 size, const void *src) = (void *)112;
static long (*bpf_get_stack)(void *ctx, void *buf, u32 size, u64 flags) = (void *)67;
struct task_struct;
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
static void *(*bpf_task_pt_regs)(struct task_struct *task) = (void *)175;

/* The fields read, relocated by name (x86-64 register names). Raw
 * tracepoints pass untyped pointers: fields of the tasks they pass are read
 * with bpf_probe_read_kernel (READ), the current task's through the typed
 * pointer bpf_get_current_task_btf gives. */
struct pt_regs {
	unsigned long di, si, dx, r10, ip, orig_ax, sp, bp;
} __attribute__((preserve_access_index));

struct sched_entity {
	u64 sum_exec_runtime;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	void *stack;
	int exit_state;
	struct sched_entity se;
} __attribute__((preserve_access_index));

#define READ(dst, src) bpf_probe_read_kernel(&(dst), sizeof(dst), &(src))

#define TASK_DEAD 0x80
/* x86-64's kernel stack size: a frame outside [stack, stack + THREAD_SIZE)
 * of the current task is on an interrupt stack. */
#define THREAD_SIZE (16 * 1024)

/* Record kinds (the first u32 after the time). */
#define KIND_SWITCH 1
#define KIND_DETAIL 2

/* The detail of a thread's blocking switch-outs is taken at most this
 * often (100 Hz), and always for the first wait at a call site. */
#define DETAIL_NS 10000000ULL
#define KSTACK_MAX 64
#define USTACK_BYTES 8192
#define PAGE_SIZE 4096

/* event.flags; src/collect/bpf/mod.rs reads the same values. */
#define F_OUT 1      /* prev is tracked: its switch-out */
#define F_IN 2       /* next is tracked: its switch-in */
#define F_PREEMPT 4  /* prev was preempted */
#define F_WAKE 8     /* wake, waker_* are set */
#define F_WAKE_IRQ 16 /* the wakeup came from interrupt context */

struct task_info {
	u32 tgid;
	u32 pending; /* switched out blocking, not back yet */
	u64 wake;    /* first wakeup since, 0 if none */
	s32 waker_tid;
	s32 waker_tgid;
	u32 wake_irq;
	u32 _pad;
	u64 last_detail;
	u64 last_site; /* user IP of the last blocking switch-out */
};

/* 120 bytes; parsed by SchedEvent::parse (src/collect/bpf/mod.rs). */
struct event {
	u64 time;
	u32 kind; /* KIND_SWITCH */
	u32 flags;
	s32 prev_tid, prev_tgid, next_tid, next_tgid;
	u32 prev_state; /* the raw task state (__state) */
	s32 exit_state;
	u64 di, si, dx, r10, ip;
	/* orig_ax: the syscall number, -1 outside a syscall (the entry code
	 * sets it so for faults and interrupts) */
	long long nr;
	u64 wake;
	s32 waker_tid, waker_tgid;
	/* The CPU time each side has run in all (se.sum_exec_runtime, ns; 0
	 * for a side not of the tree). The kernel brings prev's up to date
	 * before this tracepoint; next's has not moved since it last ran. Two
	 * switch-outs of a thread with no switch-in between (a switch the
	 * tracepoint never reported: seen in a Firecracker VM) tell from the
	 * difference how long it ran. */
	u64 prev_runtime, next_runtime;
};

/* 8760 bytes; parsed by DetailEvent::parse. The user stack is copied from
 * the stack pointer up: whole when 8 KiB are mapped there, else to the end
 * of the page (ustack_len says how much). */
struct detail {
	u64 time;
	u32 kind; /* KIND_DETAIL */
	u32 kstack_len; /* bytes */
	s32 tid, tgid;
	u64 ip, sp, bp;
	u32 ustack_len; /* bytes */
	u32 _pad;
	u64 kstack[KSTACK_MAX];
	unsigned char ustack[USTACK_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct task_info);
} tasks SEC(".maps");

/* Call sites (process, user IP) whose detail was taken once. */
struct site {
	u32 tgid;
	u32 _pad;
	u64 ip;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct site);
	__type(value, u32);
} sites SEC(".maps");

/* RING_BYTES in src/collect/bpf/mod.rs; the loader sets the same. */
#define RING_BYTES (8 << 20)
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} events SEC(".maps");

#define STAT_RING_FULL 0
#define STAT_TASKS_FULL 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

static __always_inline void count(u32 what)
{
	u64 *n = bpf_map_lookup_elem(&stats, &what);
	if (n)
		*n += 1;
}

/* The detail of the current task's blocking switch-out. */
static __always_inline void take_detail(u64 *ctx, u64 now, u32 tid, u32 tgid, struct pt_regs *r)
{
	struct detail *d = bpf_ringbuf_reserve(&events, sizeof(*d), 0);
	if (!d) {
		count(STAT_RING_FULL);
		return;
	}
	d->time = now;
	d->kind = KIND_DETAIL;
	d->tid = tid;
	d->tgid = tgid;
	d->ip = r ? r->ip : 0;
	d->sp = r ? r->sp : 0;
	d->bp = r ? r->bp : 0;
	d->_pad = 0;
	long k = bpf_get_stack(ctx, d->kstack, sizeof(d->kstack), 0);
	d->kstack_len = k > 0 ? k : 0;
	d->ustack_len = 0;
	u64 sp = d->sp;
	if (sp) {
		if (bpf_probe_read_user(d->ustack, USTACK_BYTES, (void *)sp) == 0) {
			d->ustack_len = USTACK_BYTES;
		} else {
			u32 n = PAGE_SIZE - (sp & (PAGE_SIZE - 1));
			if (n > 0 && n <= PAGE_SIZE &&
			    bpf_probe_read_user(d->ustack, n, (void *)sp) == 0)
				d->ustack_len = n;
		}
	}
	bpf_ringbuf_submit(d, BPF_RB_NO_WAKEUP);
}

SEC("raw_tp/sched_switch")
int on_switch(u64 *ctx)
{
	/* TP_PROTO(bool preempt, struct task_struct *prev,
	 *          struct task_struct *next, unsigned int prev_state)
	 * prev is the current task. */
	bool preempt = ctx[0];
	struct task_struct *next = (void *)ctx[2];
	u32 prev_state = ctx[3];
	u64 cur = bpf_get_current_pid_tgid();
	u32 prev_tid = (u32)cur, next_tid = 0;
	READ(next_tid, next->pid);
	struct task_info *pi = prev_tid ? bpf_map_lookup_elem(&tasks, &prev_tid) : 0;
	struct task_info *ni = next_tid ? bpf_map_lookup_elem(&tasks, &next_tid) : 0;
	if (!pi) {
		barrier_var(ni);
		if (!ni)
			return 0;
	}
	u64 now = bpf_ktime_get_ns();
	bool blocking = !preempt && (prev_state & 3);
	struct task_struct *prev = 0;
	struct pt_regs *r = 0;
	if (pi) {
		prev = bpf_get_current_task_btf();
		r = bpf_task_pt_regs(prev);
	}
	if (pi && blocking) {
		struct site site = { .tgid = cur >> 32, ._pad = 0, .ip = r ? r->ip : 0 };
		/* The same site as this thread's last wait is not new: no lookup. */
		bool new_site = site.ip != pi->last_site && !bpf_map_lookup_elem(&sites, &site);
		pi->last_site = site.ip;
		if (new_site || now - pi->last_detail >= DETAIL_NS) {
			u32 one = 1;
			if (new_site)
				bpf_map_update_elem(&sites, &site, &one, BPF_ANY);
			pi->last_detail = now;
			take_detail(ctx, now, prev_tid, cur >> 32, r);
		}
	}
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->time = now;
		e->kind = KIND_SWITCH;
		e->flags = preempt ? F_PREEMPT : 0;
		e->prev_tid = prev_tid;
		e->prev_tgid = cur >> 32;
		e->next_tid = next_tid;
		e->next_tgid = ni ? ni->tgid : 0;
		e->prev_state = prev_state;
		e->exit_state = 0;
		e->di = e->si = e->dx = e->r10 = e->ip = 0;
		e->nr = -1;
		e->wake = 0;
		e->waker_tid = e->waker_tgid = 0;
		e->prev_runtime = e->next_runtime = 0;
	} else {
		count(STAT_RING_FULL);
	}
	if (pi) {
		if (e) {
			e->flags |= F_OUT;
			e->exit_state = prev->exit_state;
			e->prev_runtime = prev->se.sum_exec_runtime;
			if (r) {
				e->di = r->di;
				e->si = r->si;
				e->dx = r->dx;
				e->r10 = r->r10;
				e->ip = r->ip;
				e->nr = r->orig_ax;
			}
		}
		pi->pending = !preempt && prev_state != 0;
		pi->wake = 0;
		if (prev_state & TASK_DEAD)
			bpf_map_delete_elem(&tasks, &prev_tid);
	}
	if (ni) {
		if (e) {
			e->flags |= F_IN;
			READ(e->next_runtime, next->se.sum_exec_runtime);
			if (ni->pending && ni->wake) {
				e->flags |= F_WAKE | (ni->wake_irq ? F_WAKE_IRQ : 0);
				e->wake = ni->wake;
				e->waker_tid = ni->waker_tid;
				e->waker_tgid = ni->waker_tgid;
			}
		}
		ni->pending = 0;
		ni->wake = 0;
	}
	if (e) {
		/* The reader polls every 50 ms; it is woken early only when an
		 * eighth of the buffer is waiting. */
		u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
		bpf_ringbuf_submit(e, avail > RING_BYTES / 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	}
	return 0;
}

SEC("raw_tp/sched_waking")
int on_waking(u64 *ctx)
{
	struct task_struct *p = (void *)ctx[0];
	u32 tid = 0;
	READ(tid, p->pid);
	struct task_info *ti = bpf_map_lookup_elem(&tasks, &tid);
	if (!ti || !ti->pending || ti->wake)
		return 0;
	u64 pt = bpf_get_current_pid_tgid();
	ti->wake = bpf_ktime_get_ns();
	ti->waker_tid = (u32)pt;
	ti->waker_tgid = pt >> 32;
	/* Interrupt context (what perf's common_flags say): x86-64 runs hard
	 * and soft interrupts on the per-CPU interrupt stack, so this frame is
	 * then not on the current task's stack. */
	struct task_struct *cur = bpf_get_current_task_btf();
	u64 base = (u64)cur->stack;
	u64 sp = (u64)&tid;
	ti->wake_irq = sp - base >= THREAD_SIZE;
	return 0;
}

SEC("raw_tp/sched_process_fork")
int on_fork(u64 *ctx)
{
	/* TP_PROTO(struct task_struct *parent, struct task_struct *child);
	 * the parent is the current task, also for a new thread. */
	struct task_struct *child = (void *)ctx[1];
	u32 ptid = bpf_get_current_pid_tgid();
	if (!bpf_map_lookup_elem(&tasks, &ptid))
		return 0;
	u32 ctid = 0;
	struct task_info ti = {};
	READ(ctid, child->pid);
	READ(ti.tgid, child->tgid);
	if (bpf_map_update_elem(&tasks, &ctid, &ti, BPF_ANY))
		count(STAT_TASKS_FULL);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int on_exec(u64 *ctx)
{
	/* TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *)
	 * A thread other than the leader that execs takes the leader's pid. */
	u32 old = (u32)ctx[1];
	u64 cur = bpf_get_current_pid_tgid();
	u32 tid = (u32)cur;
	if (old == tid || !bpf_map_lookup_elem(&tasks, &old))
		return 0;
	struct task_info ti = { .tgid = cur >> 32 };
	if (bpf_map_update_elem(&tasks, &tid, &ti, BPF_ANY))
		count(STAT_TASKS_FULL);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
