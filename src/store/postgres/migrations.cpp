#include "store/postgres/migrations.h"

#include <chrono>
#include <vector>

namespace corral::pg {

namespace {

// Any fixed number: the advisory lock all servers take around a migration.
constexpr int64_t kMigrationLock = 0x636f7272616c;  // "corral"

struct Migration {
  int version;
  const char* sql;
};

// Times are BIGINT ms since the epoch; flags are INTEGER 0/1 and JSON is TEXT, as in the
// SQLite schema, so the row mapping reads the same on both.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE runners (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  token_id TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  labels TEXT NOT NULL,
  grp TEXT NOT NULL,
  modes TEXT NOT NULL,
  max_concurrent_jobs INTEGER NOT NULL,
  version TEXT NOT NULL,
  capabilities TEXT NOT NULL,
  system TEXT NOT NULL,
  usage TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  draining INTEGER NOT NULL DEFAULT 0,
  last_heartbeat_at BIGINT NOT NULL,
  registered_at BIGINT NOT NULL,
  UNIQUE (tenant, name)
);
CREATE INDEX runners_by_secret ON runners (secret_hash);
CREATE TABLE jobs (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  owner_token_id TEXT NOT NULL,
  spec TEXT NOT NULL,
  labels TEXT NOT NULL,
  grp TEXT NOT NULL,
  type TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT NOT NULL DEFAULT '',
  result TEXT,
  idempotency_key TEXT
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_queue ON jobs (tenant, state, priority DESC, seq);
CREATE INDEX jobs_by_tenant ON jobs (tenant, seq);
CREATE INDEX jobs_runnable ON jobs (state, not_before);
CREATE TABLE attempts (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  runner_id TEXT NOT NULL,
  state TEXT NOT NULL,
  claimed_at BIGINT NOT NULL,
  lease_expires_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT NOT NULL DEFAULT '',
  log_size BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX attempts_leases ON attempts (state, lease_expires_at);
CREATE INDEX attempts_by_runner ON attempts (runner_id, state);
-- Logs: every server serves every log, so the bytes live here (not in files beside one
-- server). One row per append, keyed by where it starts in the readable log.
CREATE TABLE log_chunks (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  byte_offset BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (job_id, attempt, byte_offset)
);
)sql"},
      {2, R"sql(
CREATE INDEX jobs_finished ON jobs (tenant, finished_at);
-- log_size is the readable size, log_received the bytes the runner sent (its offsets),
-- which differ once a log reaches the cap.
ALTER TABLE attempts ADD COLUMN log_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN log_truncated INTEGER NOT NULL DEFAULT 0;
UPDATE attempts SET log_received = log_size;
)sql"},
      {3, R"sql(
-- Fair share walks each submitter's queue separately.
CREATE INDEX jobs_owner_queue ON jobs (tenant, state, owner_token_id, priority DESC, seq);
-- When each submitter last had a job claimed: ties go to the one served least recently.
CREATE TABLE owner_service (
  tenant TEXT NOT NULL,
  owner_token_id TEXT NOT NULL,
  last_claimed_at BIGINT NOT NULL,
  PRIMARY KEY (tenant, owner_token_id)
);
-- Owner-only runners: a runner's owner is whoever made its registration token.
ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runners ADD COLUMN owner_token_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runners ADD COLUMN owner_only INTEGER NOT NULL DEFAULT 0;
)sql"},
      {4, R"sql(
-- Scheduled jobs (api/schedule.h). Times are ms since the epoch; NULL = none.
CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  owner_token_id TEXT NOT NULL,
  name TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  job_spec TEXT NOT NULL,
  cooldown_s BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_tick_at BIGINT NOT NULL,
  last_run_at BIGINT,
  last_job_id TEXT NOT NULL DEFAULT '',
  next_run_at BIGINT,
  paused INTEGER NOT NULL DEFAULT 0,
  UNIQUE (tenant, name)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;
)sql"},
      {5, R"sql(
-- Repository mappings (api/repo.h): a default group and a steward per repository.
CREATE TABLE repos (
  tenant TEXT NOT NULL,
  full_name TEXT NOT NULL,
  grp TEXT NOT NULL DEFAULT '',
  steward_runner TEXT NOT NULL DEFAULT '',
  steward_group TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (tenant, full_name)
);
-- The job's repository ("owner/name"), where its group came from, and its own
-- steward_fallback (NULL: the submitter's setting decides, read at claim time).
ALTER TABLE jobs ADD COLUMN repo_name TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN group_source TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN steward_fallback INTEGER;
-- A user's settings on their own token (UserSettings).
ALTER TABLE tokens ADD COLUMN steward_fallback INTEGER NOT NULL DEFAULT 0;
)sql"},
  };
  return kMigrations;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int latest_version() { return migrations().back().version; }

int migrate(Connection& conn) {
  int current = 0;
  for (;;) {
    conn.exec_script("BEGIN");
    try {
      // Under the lock, one server at a time reads the version and applies the next step;
      // a server that waited sees the step done and moves on.
      conn.query("SELECT pg_advisory_xact_lock($1::bigint)", kMigrationLock);
      conn.exec_script(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      current = static_cast<int>(conn.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").front().int64(0));
      const Migration* next = nullptr;
      for (const auto& m : migrations()) {
        if (m.version > current) {
          next = &m;
          break;
        }
      }
      if (next) {
        conn.exec_script(next->sql);
        conn.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1::int, $2::bigint)", next->version,
                   wall_clock_ms());
        current = next->version;
      }
      conn.exec_script("COMMIT");
      if (!next) return current;
    } catch (...) {
      if (conn.healthy()) {
        try {
          conn.exec_script("ROLLBACK");
        } catch (...) {
        }
      }
      throw;
    }
  }
}

}  // namespace corral::pg
