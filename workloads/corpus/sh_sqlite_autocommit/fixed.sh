#!/bin/sh
# sh_sqlite_autocommit, FIXED variant: the same 2000 INSERT statements and the same import
# script, wrapped in one BEGIN ... COMMIT (one transaction, one set of fsyncs): "batch".
# Same output as main.sh.
DBNAME=orders-fixed.db BEGIN_SQL='BEGIN;' COMMIT_SQL='COMMIT;' exec sh "$(dirname "$0")/main.sh"
