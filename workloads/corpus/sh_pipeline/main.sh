#!/bin/sh
# sh_pipeline: a four-stage shell pipeline (a | b | c | d) run by dash: seq generates 3.5M
# numbers, awk computes a small hash of each (the heavy stage, ~1.3 s of one CPU), sort orders the
# results, uniq/sort/head find the most frequent value. The shell waits for its children; each
# stage reads a pipe from the previous one, so the waits resolve to the stages' own CPU.
# Labels: cpu-bound, no significant wait (pipe and child waits are looked through to CPU work).
# First recommendation optimize-cpu (the awk stage's arithmetic) or process-pool (split the awk
# stage's input over 2 processes: ~1 CPU of 2 is busy).
# Prints: top=<count value>
top=$(seq 1 3500000 \
  | awk '{ x = ($1 * 7919) % 10007; y = (x * x + $1) % 65521; print y % 1000 }' \
  | sort -n | uniq -c | sort -rn | head -n 1 | awk '{ print $1 " " $2 }')
echo "top=$top"
