// java_idle_server_cpu: a Java service whose real work is on the main thread: counting primes up
// to 8,000,000 by trial division (~1.5 s of one CPU). Meanwhile an embedded HttpServer (its
// dispatcher thread in select) waits for requests nobody sends, a fixed pool of 4 worker threads
// is started and parks on its empty queue, and the JVM's housekeeping threads (GC, JIT
// compilers, signal dispatcher, reference handler, finalizer) run alongside.
// Labels: cpu-bound, no significant wait. One CPU of two is unused and the ranges are
// independent: thread-pool (~2x) or optimize-cpu (a sieve) are both honest first
// recommendations. Must NOT report lock-contention from the parked threads.
// Prints: primes=<n>
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;

public class Main {
    static boolean isPrime(long n) {
        if (n < 2) return false;
        if (n % 2 == 0) return n == 2;
        for (long d = 3; d * d <= n; d += 2) if (n % d == 0) return false;
        return true;
    }

    public static void main(String[] args) throws Exception {
        HttpServer srv = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
        srv.createContext("/status", ex -> { ex.sendResponseHeaders(204, -1); ex.close(); });
        srv.start();
        ThreadPoolExecutor pool = (ThreadPoolExecutor) Executors.newFixedThreadPool(4);
        pool.prestartAllCoreThreads(); // 4 workers park on the empty queue

        long count = 0;
        for (long n = 0; n < 8_000_000L; n++) if (isPrime(n)) count++; // the real work

        pool.shutdown();
        srv.stop(0);
        System.out.println("primes=" + count);
    }
}
