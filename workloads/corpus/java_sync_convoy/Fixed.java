// java_sync_convoy, FIXED variant: the same 1000 jobs; each computes outside the monitor and holds
// it only to add its result (reduce-contention: a shorter critical section). Same output.
public class Fixed {
    public static void main(String[] args) throws Exception { Main.run(true); }
}
