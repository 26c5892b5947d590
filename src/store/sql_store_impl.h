// SqlStore's methods (sql_store.h), included by each backend's store .cpp where it
// instantiates them. The SQL is PostgreSQL's, written so SQLite runs it too: "$N"
// parameters, CAST instead of "::", standard aggregates, and lock_rows<Conn>() where
// PostgreSQL locks what it read. load_runner(c, id) is the backend's own (found by its
// connection's namespace); the other steps are store/sql_core.h's.
#pragma once

#include "store/sql_store_jobs.h"
#include "store/sql_store_runners.h"
