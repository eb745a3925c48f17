// java_seq_fetch, FIXED variant: the same 12 requests to the same in-process slow server,
// submitted to a fixed thread pool of 12 so the 150 ms waits overlap (thread-pool). Same output.
import com.sun.net.httpserver.HttpServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class Fixed {
    public static void main(String[] args) throws Exception {
        HttpServer srv = Main.startServer();
        int port = srv.getAddress().getPort();
        ExecutorService pool = Executors.newFixedThreadPool(Main.REQUESTS);
        List<Future<byte[]>> fs = new ArrayList<>();
        for (int i = 0; i < Main.REQUESTS; i++) { final int k = i; fs.add(pool.submit(() -> Main.fetch(port, k))); }
        byte[][] bodies = new byte[Main.REQUESTS][];
        for (int i = 0; i < Main.REQUESTS; i++) bodies[i] = fs.get(i).get();
        pool.shutdown();
        srv.stop(0);
        Main.report(bodies);
    }
}
