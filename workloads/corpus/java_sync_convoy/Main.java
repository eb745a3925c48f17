// java_sync_convoy: 4 worker threads each process 250 jobs; almost all of every job (~1.7 ms of
// arithmetic) runs inside one synchronized block on a shared lock object, only a sliver outside.
// The threads queue on the monitor and run one at a time (a lock convoy); the JVM's own threads
// (GC, JIT, signal dispatcher...) idle alongside.
// Labels: lock-bound, top wait `lock`, finding lock-contention, first recommendation
// reduce-contention. Fixed.java computes outside the monitor and only adds the result inside.
// Prints: result=<n> jobs=1000
public class Main {
    static final int THREADS = 4, JOBS = 250;
    static final int INNER = 1_000_000, OUTER = 20_000;
    static final Object LOCK = new Object();
    static long total = 0;

    static long work(long x, int n) {
        for (int i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 7; x ^= x << 17; }
        return x;
    }

    static void run(boolean fixed) throws InterruptedException {
        Thread[] ts = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            final long seed = t * 7919L + 1;
            ts[t] = new Thread(() -> {
                for (int j = 0; j < JOBS; j++) {
                    long pre = work(seed + j, OUTER);
                    if (fixed) {
                        long r = work(pre, INNER);         // the long part, outside the monitor
                        synchronized (LOCK) { total += r; }
                    } else {
                        synchronized (LOCK) { total += work(pre, INNER); } // the convoy
                    }
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        System.out.println("result=" + total + " jobs=" + THREADS * JOBS);
    }

    public static void main(String[] args) throws Exception { run(false); }
}
