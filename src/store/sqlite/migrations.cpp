#include "store/sqlite/migrations.h"

#include <chrono>
#include <string>
#include <vector>

namespace corral::sqlite {

namespace {

struct Migration {
  int version;
  const char* sql;
};

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
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
  last_heartbeat_at INTEGER NOT NULL,
  registered_at INTEGER NOT NULL,
  UNIQUE (tenant, name)
);
CREATE INDEX runners_by_secret ON runners (secret_hash);
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
  not_before INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
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
  claimed_at INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT NOT NULL DEFAULT '',
  log_size INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX attempts_leases ON attempts (state, lease_expires_at);
CREATE INDEX attempts_by_runner ON attempts (runner_id, state);
CREATE TABLE log_chunks (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (job_id, attempt, offset)
);
)sql"},
      {2, R"sql(
CREATE INDEX jobs_finished ON jobs (tenant, finished_at);
-- Logs move to files (store/log_files.h): log_size is now the readable size, log_received
-- the bytes the runner sent (its offsets), which differ once a log reaches the cap.
ALTER TABLE attempts ADD COLUMN log_received INTEGER NOT NULL DEFAULT 0;
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
  last_claimed_at INTEGER NOT NULL,
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
  cooldown_s INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_tick_at INTEGER NOT NULL,
  last_run_at INTEGER,
  last_job_id TEXT NOT NULL DEFAULT '',
  next_run_at INTEGER,
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
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
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
      {6, R"sql(
-- What an admin fixes on a runner registration token (RunnerTokenPolicy, JSON). Runner
-- tokens users made are owner-only, and so are the runners they registered.
ALTER TABLE tokens ADD COLUMN runner_policy TEXT NOT NULL DEFAULT '{}';
UPDATE tokens SET runner_policy = '{"owner_only":true}'
  WHERE kind = 'runner' AND created_by IN (SELECT id FROM tokens WHERE kind = 'user');
UPDATE runners SET owner_only = 1 WHERE token_id IN
  (SELECT id FROM tokens WHERE kind = 'runner' AND runner_policy = '{"owner_only":true}');
CREATE INDEX tokens_by_creator ON tokens (created_by);
CREATE INDEX runners_by_token ON runners (token_id);
-- An admin's drain, which outlives the runner's re-registration (draining is the effective
-- state: the admin's or the runner's own).
ALTER TABLE runners ADD COLUMN admin_drain INTEGER NOT NULL DEFAULT 0;
-- Why a schedule is paused when the system paused it (its owner's token was revoked).
ALTER TABLE schedules ADD COLUMN paused_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX schedules_by_owner ON schedules (owner_token_id);
-- Secret values, apart from the specs that name them; a job's go when it ends.
CREATE TABLE job_secrets (
  job_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (job_id, name)
);
CREATE TRIGGER job_secrets_end AFTER UPDATE OF state ON jobs
  WHEN NEW.state IN ('succeeded', 'failed', 'canceled')
BEGIN
  DELETE FROM job_secrets WHERE job_id = NEW.id;
END;
CREATE TABLE schedule_secrets (
  schedule_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (schedule_id, name)
);
CREATE TRIGGER schedule_secrets_gone AFTER DELETE ON schedules
BEGIN
  DELETE FROM schedule_secrets WHERE schedule_id = OLD.id;
END;
)sql"},
      {7, R"sql(
-- An agent job's raw event stream, one per attempt (GET /api/v1/jobs/{id}/events).
CREATE TABLE attempt_events (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  data BLOB NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
-- The nightly refresh of repositories with a steward (server/steward.h): where to clone
-- the repository from, and when its last refresh was queued.
ALTER TABLE repos ADD COLUMN clone_url TEXT NOT NULL DEFAULT '';
ALTER TABLE repos ADD COLUMN last_auto_refresh_at INTEGER NOT NULL DEFAULT 0;
)sql"},
      {8, R"sql(
-- A tenant's own settings (api/tenant.h): the time zone of its nightly refresh ('' = the
-- server's --refresh-timezone).
CREATE TABLE tenant_settings (
  tenant TEXT PRIMARY KEY,
  refresh_timezone TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
);
)sql"},
      {9, R"sql(
-- A runner's free-text description (RUNNER_DESCRIPTION, Monk CI's), sent at registration
-- (PostgreSQL's migration 10: its numbering runs one ahead).
ALTER TABLE runners ADD COLUMN description TEXT NOT NULL DEFAULT '';
)sql"},
      {10, R"sql(
-- Admins' remote commands to runners (api/types.h RunnerControl; PostgreSQL's migration 11).
CREATE TABLE runner_controls (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  runner_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '',
  sha256 TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  delivered_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runner_controls_by_runner ON runner_controls (runner_id, state);
)sql"},
      // A token's last use; a runner's resource use over time (one sample a minute, a day).
      {11, R"sql(
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE runner_usage (
  runner_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  load_1m REAL NOT NULL,
  memory_available_bytes INTEGER NOT NULL,
  disk_free_bytes INTEGER NOT NULL,
  running INTEGER NOT NULL,
  PRIMARY KEY (runner_id, at)
) WITHOUT ROWID;
)sql"},
      {12, R"sql(
-- Workflow runs (workflow/run.h): one row each, its jobs' progress in doc (JSON); version
-- guards concurrent updates. A run's secrets are kept until it finishes.
CREATE TABLE workflow_runs (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  owner_token_id TEXT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  event TEXT NOT NULL,
  delivery TEXT,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  doc TEXT NOT NULL,
  secrets TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX workflow_runs_by_tenant ON workflow_runs (tenant, created_at);
CREATE INDEX workflow_runs_by_state ON workflow_runs (state);
CREATE UNIQUE INDEX workflow_runs_by_delivery ON workflow_runs (tenant, delivery);
)sql"},
      {13, R"sql(
-- The secret a repository's GitHub webhook signs its deliveries with (POST /api/v1/hooks/github).
ALTER TABLE repos ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
)sql"},
  };
  return kMigrations;
}

}  // namespace

int migrate(Db& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "
      "INTEGER NOT NULL)");
  int current = 0;
  {
    auto st = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (st.step()) current = st.integer(0);
  }
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .bind_all(m.version, static_cast<int64_t>(now))
          .exec();
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    current = m.version;
  }
  return current;
}

}  // namespace corral::sqlite
