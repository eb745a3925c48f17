"""py_sqlite_commit: imports 2000 order rows into an SQLite database file on disk
(target/corpus-scratch/py_sqlite_commit/, ext4, not tmpfs), committing after every INSERT, as
code written "one row, one transaction" does. SQLite's default rollback journal makes each commit
create, write and fsync a journal, fsync the database and delete the journal: several synchronous
disk operations per row. The time goes into those waits and the kernel's own I/O work.
Labels: io-bound, top wait `disk`, finding fsync-per-write, first recommendation batch.
fixed.py inserts the same rows in one transaction (one commit). Run from the repository root.
Prints: rows=2000 total=<n>"""

import os
import sqlite3
import sys

ROWS = 2000
DIR = "target/corpus-scratch/py_sqlite_commit"


def open_db(name):
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, name)
    for suffix in ("", "-journal", "-wal"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER)")
    db.commit()
    return db


def row(i):
    return (i, f"customer-{i % 97:03d}", (i * 7919) % 10007)


def report(db):
    (n, total), = db.execute("SELECT COUNT(*), SUM(amount) FROM orders")
    db.close()
    print(f"rows={n} total={total}")


if __name__ == "__main__":
    db = open_db("orders.db")
    for i in range(ROWS):
        db.execute("INSERT INTO orders VALUES (?, ?, ?)", row(i))
        db.commit()  # one synchronous commit per row
    report(db)
