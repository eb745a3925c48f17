/* c_seq_tcp, FIXED variant: the same 12 requests to the same slow local service, made from 12
 * threads at once (the thread-pool recommendation), so the 150 ms waits overlap. Same output. */
#define FIXED 1
#include "main.c"
