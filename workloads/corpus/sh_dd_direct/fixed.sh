#!/bin/sh
# sh_dd_direct, FIXED variant: the same 80 MiB with oflag=direct, in 1 MiB writes instead of
# 4 KiB ("batch": fewer, larger operations). Same output as main.sh.
BS=1048576 OUTNAME=data-fixed.bin exec sh "$(dirname "$0")/main.sh"
