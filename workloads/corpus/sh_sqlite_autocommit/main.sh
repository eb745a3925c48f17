#!/bin/sh
# sh_sqlite_autocommit: a shell import job: awk generates 2000 INSERT statements and pipes them
# into the sqlite3 command-line tool on a database file under target/corpus-scratch/ (ext4, not
# tmpfs). With no BEGIN/COMMIT every statement is its own transaction (autocommit): each one
# writes and fsyncs a rollback journal and the database, then deletes the journal.
# Labels: io-bound, top wait `disk`, finding fsync-per-write, first recommendation batch.
# fixed.sh sends the same statements wrapped in one BEGIN ... COMMIT.
# Prints: rows=2000 total=<n>
dir=target/corpus-scratch/sh_sqlite_autocommit
db=$dir/${DBNAME:-orders.db}
mkdir -p "$dir"
rm -f "$db" "$db-journal"
sqlite3 "$db" 'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER);'
awk -v begin="${BEGIN_SQL:-}" -v commit="${COMMIT_SQL:-}" 'BEGIN {
  if (begin != "") print begin
  for (i = 0; i < 2000; i++)
    printf "INSERT INTO orders VALUES (%d, %ccustomer-%03d%c, %d);\n", i, 39, i % 97, 39, (i * 7919) % 10007
  if (commit != "") print commit
}' | sqlite3 "$db"
echo "rows=$(sqlite3 "$db" 'SELECT COUNT(*) FROM orders') total=$(sqlite3 "$db" 'SELECT SUM(amount) FROM orders')"
