#!/bin/sh
# sh_dd_direct: writes 80 MiB to a file under target/corpus-scratch/ (ext4 on the VM's disk, not
# tmpfs) with dd oflag=direct in 4 KiB blocks: 20480 direct-I/O writes, each bypassing the page
# cache and waiting for the device before the next one starts. The CPU time is the kernel
# submitting each small I/O, not computation.
# Labels: io-bound, top wait `disk`, first recommendation batch (fewer, larger writes).
# fixed.sh writes the same 80 MiB in 1 MiB direct writes (80 of them).
# Prints: bytes=83886080 md5=<hex of the file's first 4 KiB>
dir=target/corpus-scratch/sh_dd_direct
mkdir -p "$dir"
out=$dir/${OUTNAME:-data.bin}
BS=${BS:-4096}
dd if=/dev/zero of="$out" bs="$BS" count=$((83886080 / BS)) oflag=direct status=none
echo "bytes=$(wc -c < "$out") md5=$(head -c 4096 "$out" | md5sum | cut -c1-16)"
rm -f "$out"
