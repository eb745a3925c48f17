#!/bin/sh
# sh_xargs_oversub: a multi-process pool that is too big: xargs -P 8 runs 8 CPU jobs (awk loops,
# ~0.4 s of one CPU each) at once on a 2-CPU machine, so ~6 of them are runnable but waiting for
# a CPU at any instant. The shell waits on xargs, xargs on its children.
# Labels: cpu-bound (runqueue delay is on the CPU side), top wait `cpu-contention`, finding
# cpu-oversubscribed; both CPUs are saturated, so first recommendation optimize-cpu.
# Prints: jobs=8 sum=<n>
dir=target/corpus-scratch/sh_xargs_oversub
mkdir -p "$dir"
rm -f "$dir"/out.*
seq 1 8 | xargs -P 8 -I{} sh -c \
  "awk 'BEGIN { for (i = 0; i < 8000000; i++) s += (i * {}) % 7; print s }' > $dir/out.{}"
echo "jobs=$(cat "$dir"/out.* | wc -l) sum=$(cat "$dir"/out.* | awk '{ s += $1 } END { print s }')"
