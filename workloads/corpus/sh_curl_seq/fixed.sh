#!/bin/bash
# sh_curl_seq, FIXED variant: the same 10 downloads from the same slow service, started as
# background jobs (&) and waited for together, so the 200 ms waits overlap. Same output.
FIXED=1 exec bash "$(dirname "$0")/main.sh"
