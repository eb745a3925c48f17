// java_seq_fetch: a Java client that makes 12 HTTP requests one after another (HttpURLConnection)
// to a service that takes 150 ms per answer. The service is a com.sun.net.httpserver.HttpServer
// started inside the same JVM on 127.0.0.1 (its dispatcher thread and handler pool), like an
// embedded admin or mock server; the JVM's own threads (GC, JIT compilers, signal dispatcher,
// reference handler...) run alongside. The main thread blocks in socket reads for ~1.8 s.
// Labels: io-bound, top wait `network` (sockets are never looked through, even inside the
// process), first recommendation thread-pool or async: the 12 waits are independent.
// Fixed.java runs the same 12 requests on a fixed thread pool of 12. Prints: responses=12 bytes=24000 checksum=<n>
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URL;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

public class Main {
    static final int REQUESTS = 12;
    static final long DELAY_MS = 150;

    static HttpServer startServer() throws Exception {
        HttpServer srv = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        srv.createContext("/", ex -> {
            try { Thread.sleep(DELAY_MS); } catch (InterruptedException e) { }
            byte[] body = new byte[2000];
            String p = ex.getRequestURI().getPath();
            for (int i = 0; i < body.length; i++) body[i] = (byte) p.charAt(i % p.length());
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) { os.write(body); }
        });
        ExecutorService handlers = Executors.newFixedThreadPool(16, r -> { Thread t = new Thread(r); t.setDaemon(true); return t; });
        srv.setExecutor(handlers);
        srv.start();
        return srv;
    }

    static byte[] fetch(int port, int i) throws Exception {
        HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:" + port + "/item/" + i).openConnection();
        try (InputStream in = c.getInputStream()) { return in.readAllBytes(); }
    }

    static void report(byte[][] bodies) {
        long sum = 0, bytes = 0;
        for (byte[] b : bodies) { bytes += b.length; for (byte x : b) sum = sum * 31 + x; }
        System.out.println("responses=" + bodies.length + " bytes=" + bytes + " checksum=" + sum);
    }

    public static void main(String[] args) throws Exception {
        HttpServer srv = startServer();
        int port = srv.getAddress().getPort();
        byte[][] bodies = new byte[REQUESTS][];
        for (int i = 0; i < REQUESTS; i++) bodies[i] = fetch(port, i); // one after another
        srv.stop(0);
        report(bodies);
    }
}
