#!/bin/sh
# sh_wait_children: already parallel on all cores. A dash script starts two background CPU jobs
# (awk loops, ~1.2 s of one CPU each; this machine has 2 CPUs) and waits for both with the
# `wait` builtin (dash waits for SIGCHLD in sigsuspend). The shell itself only waits.
# Labels: cpu-bound, no significant wait (the shell's child waits resolve to the children's
# CPU). Both CPUs are busy, so more parallelism cannot help: first recommendation optimize-cpu.
# Must not report cpu-oversubscribed (2 runnable jobs on 2 CPUs).
# Prints: a=<n> b=<n>
dir=target/corpus-scratch/sh_wait_children
mkdir -p "$dir"
awk 'BEGIN { for (i = 0; i < 26000000; i++) s += i % 7; print s }' > "$dir/a" &
awk 'BEGIN { for (i = 0; i < 26000000; i++) s += i % 11; print s }' > "$dir/b" &
wait
echo "a=$(cat "$dir/a") b=$(cat "$dir/b")"
