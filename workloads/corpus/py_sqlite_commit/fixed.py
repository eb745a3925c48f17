"""py_sqlite_commit, FIXED variant: the same 2000 rows inserted in ONE transaction (one commit at
the end), the "batch" recommendation. Same output as main.py. Run from the repository root."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import ROWS, open_db, report, row  # noqa: E402

if __name__ == "__main__":
    db = open_db("orders-fixed.db")
    for i in range(ROWS):
        db.execute("INSERT INTO orders VALUES (?, ?, ?)", row(i))
    db.commit()
    report(db)
