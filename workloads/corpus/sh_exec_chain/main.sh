#!/bin/sh
# sh_exec_chain: a launcher chain as init scripts and wrappers build them: dash execs bash, which
# execs env, which execs `timeout 10 sh -c ...`; timeout forks the real step and waits for it,
# and that step's shell waits on `sleep 1.5` (standing in for "wait for the service to settle").
# The root pid survives every exec; below it are a timeout (signal wait), a shell (wait4) and
# sleep (a timer).
# Labels: io-bound, top wait `sleep` (the child and signal waits resolve to the sleep).
# First recommendation none: one sequential wait that cannot be split or overlapped.
# Prints: step=done
exec bash -c 'exec env STEP=done timeout 10 sh -c "sleep 1.5; echo step=\$STEP"'
