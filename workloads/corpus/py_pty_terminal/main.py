"""py_pty_terminal: an interactive line reader run unattended. The program opens a
pseudo-terminal pair; a child process plays the user at the keyboard, "typing" one command line
into the terminal's master side every 120 ms (15 lines). The parent reads its commands with
read() on the terminal (the pty slave, canonical mode, echo off) and handles each one in a few
microseconds. Nearly all its wall time is read() on a TTY, waiting for the next keystrokes.
Labels: io-bound, top wait `terminal` (a terminal read is a leaf wait, even though the typist is
a child). First recommendation none: the program is waiting for its user; nothing in reach
would overlap or shorten that. Prints: lines=15 chars=<n> digest=<hex>"""

import hashlib
import os
import pty
import termios
import time

LINES = 15
PAUSE = 0.12

master, slave = pty.openpty()
attrs = termios.tcgetattr(slave)
attrs[3] &= ~termios.ECHO  # lflag: no echo back to the typist
termios.tcsetattr(slave, termios.TCSANOW, attrs)

pid = os.fork()
if pid == 0:  # the typist
    os.close(slave)
    for i in range(LINES):
        time.sleep(PAUSE)
        os.write(master, f"cmd {i} arg{i * i}\n".encode())
    time.sleep(0.05)
    os._exit(0)

os.close(master)
got, buf = [], b""
while len(got) < LINES:
    data = os.read(slave, 1024)  # blocks on the terminal
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        got.append(line.decode().strip())
os.waitpid(pid, 0)
h = hashlib.sha256("\n".join(got).encode()).hexdigest()[:16]
print(f"lines={len(got)} chars={sum(map(len, got))} digest={h}")
