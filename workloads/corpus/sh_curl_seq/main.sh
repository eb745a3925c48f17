#!/bin/bash
# sh_curl_seq: a bash script that downloads 10 files one after another with curl from a local
# HTTP service taking 200 ms per answer (workloads/corpus/_shared/slow_server.py, started by the
# script through a process substitution, and exiting by itself after 10 answers). The script
# waits on each curl child; each curl waits on its TCP socket.
# Labels: io-bound, top wait `network` (the child waits resolve to curl's socket waits), first
# recommendation thread-pool or async: the 10 downloads are independent and could run at once
# (for a shell: background jobs or xargs -P). fixed.sh starts the 10 curls with & and waits.
# Run from the repository root. Prints: files=10 bytes=20000 md5=<hex>
set -e
dir=target/corpus-scratch/sh_curl_seq${FIXED:+-fixed}
mkdir -p "$dir"
rm -f "$dir"/page.*
exec 3< <(exec python3 workloads/corpus/_shared/slow_server.py --delay 0.2 --requests 10 --lifetime 10)
read -r port <&3
for i in 0 1 2 3 4 5 6 7 8 9; do
  if [ -n "$FIXED" ]; then
    curl -sf -o "$dir/page.$i" "http://127.0.0.1:$port/page/$i" &
  else
    curl -sf -o "$dir/page.$i" "http://127.0.0.1:$port/page/$i"
  fi
done
wait $(jobs -p)  # the background curls, if any
exec 3<&-  # the server exits by itself after its 10th answer
echo "files=$(ls "$dir" | wc -l) bytes=$(cat "$dir"/page.* | wc -c) md5=$(cat "$dir"/page.[0-9] | md5sum | cut -c1-16)"
