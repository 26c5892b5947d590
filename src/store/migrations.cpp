// The schema as numbered migrations, one list for both backends (migrations.h).
#include "store/migrations.h"

#include <regex>
#include <utility>

namespace corral {

namespace {

// One step of the schema. Times are BIGINT ms since the epoch, flags INTEGER 0/1 and JSON
// TEXT in both dialects, so the row mappers read both alike. The statements are PostgreSQL's;
// SQLite runs them with its own spellings of the types (sqlite_spelling below). What one dialect
// says its own way (a trigger's body, SQLite's log_chunks table of before logs moved to files) is
// in the dialect's own part, run after the shared statements.
struct SchemaStep {
  int sqlite_version;    // 0: none in SQLite
  int postgres_version;  // PostgreSQL's runs ahead: it alone has 6, 17 and 18 (corral_claim)
  const char* shared;
  const char* sqlite_only;
  const char* postgres_only;
};

// Never edit a released step: add a new one, with the next version of each backend.
const std::vector<SchemaStep>& schema_steps() {
  static const std::vector<SchemaStep> kSteps = {
      {1, 1, R"sql(
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
)sql",
       R"sql(
CREATE TABLE log_chunks (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (job_id, attempt, offset)
);
)sql",
       R"sql(
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
      {2, 2, R"sql(
CREATE INDEX jobs_finished ON jobs (tenant, finished_at);
-- log_size is the readable size, log_received the bytes the runner sent (its offsets),
-- which differ once a log reaches the cap. (SQLite's logs move to files, store/log_files.h.)
ALTER TABLE attempts ADD COLUMN log_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN log_truncated INTEGER NOT NULL DEFAULT 0;
UPDATE attempts SET log_received = log_size;
)sql",
       "", ""},
      {3, 3, R"sql(
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
)sql",
       "", ""},
      {4, 4, R"sql(
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
)sql",
       "", ""},
      {5, 5, R"sql(
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
)sql",
       "", ""},
      {0, 6, "", "",
       R"sql(
-- A claim in one statement (one round trip): SELECT * FROM corral_claim(...).
-- It evaluates the normal matching rule of server/matching.h (runner_can_take) in SQL, for
-- a runner whose last heartbeat is at or after p_fresh_since, and keeps SqliteStore's
-- fair share: priority first; among equal priorities the submitter with the fewest jobs
-- in flight, then the one served least recently, then the oldest job. A claim that needs
-- another rule (steward fallback) goes through PostgresStore's statement-per-step path.
--
-- Each statement in a plpgsql function reads a fresh snapshot (READ COMMITTED), so the
-- count of the runner's attempts is read after its row is locked: two claims of one
-- runner on two servers take turns and never exceed max_concurrent_jobs together.
-- Returns the leased jobs in claim order; one row with job_id NULL when the runner does
-- not exist.
CREATE FUNCTION corral_claim(p_runner TEXT, p_slots INTEGER, p_now BIGINT, p_lease_ms BIGINT,
                             p_fresh_since BIGINT)
RETURNS TABLE (job_id TEXT, attempt INTEGER, spec TEXT)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  rn runners%ROWTYPE;
  v_free INTEGER;
  v_labels JSONB;
  v_modes JSONB;
  v_any_mode BOOLEAN;
  v_ids TEXT[];
  v_tried TEXT[] := '{}';
  v_window INTEGER;
  v_round INTEGER := 0;
  v_id TEXT;
  v_taken INTEGER := 0;
  v_owners TEXT[] := '{}';
  v_job RECORD;
BEGIN
  SELECT * INTO rn FROM runners WHERE id = p_runner FOR UPDATE;
  IF NOT FOUND THEN
    job_id := NULL;
    attempt := 0;
    spec := NULL;
    RETURN NEXT;
    RETURN;
  END IF;
  IF rn.draining <> 0 OR rn.last_heartbeat_at < p_fresh_since THEN
    RETURN;
  END IF;
  SELECT LEAST(p_slots, rn.max_concurrent_jobs - COUNT(*)) INTO v_free
    FROM attempts a WHERE a.runner_id = p_runner AND a.state IN ('leased', 'running');
  IF v_free <= 0 THEN
    RETURN;
  END IF;
  v_labels := rn.labels::jsonb;
  v_modes := rn.modes::jsonb;
  v_any_mode := jsonb_array_length(v_modes) = 0 OR v_modes ? 'all';

  -- The candidates in claim order, read without locks: a few more than the free slots,
  -- since other claims may hold some of them. When every one was taken by others (many
  -- runners claiming at once) and there may be more, read a wider window past them: a
  -- claim comes back empty only when there is nothing left it may take.
  v_window := v_free + 4;
  LOOP
    v_round := v_round + 1;
    WITH RECURSIVE owners (owner) AS (
      -- The submitters with queued jobs, one index probe each (a loose index scan).
      SELECT MIN(j.owner_token_id) FROM jobs j WHERE j.tenant = rn.tenant AND j.state = 'queued'
      UNION ALL
      SELECT (SELECT MIN(j.owner_token_id) FROM jobs j
              WHERE j.tenant = rn.tenant AND j.state = 'queued' AND j.owner_token_id > o.owner)
      FROM owners o WHERE o.owner IS NOT NULL
    ),
    in_flight AS (
      SELECT j.owner_token_id AS owner, COUNT(*) AS n FROM jobs j
      WHERE j.tenant = rn.tenant AND j.state IN ('leased', 'running') GROUP BY j.owner_token_id
    ),
    -- Each submitter's first jobs that the runner may take, in its queue order.
    candidates AS (
      SELECT c.id, c.priority, c.seq, o.owner,
             ROW_NUMBER() OVER (PARTITION BY o.owner ORDER BY c.priority DESC, c.seq) - 1 AS k
      FROM owners o CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.seq FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued' AND j.owner_token_id = o.owner
          AND j.not_before <= p_now
          AND (j.labels = '[]' OR j.labels::jsonb <@ v_labels)
          AND (j.grp = '' OR j.grp = rn.grp)
          AND (v_any_mode OR j.type = '' OR v_modes ? j.type)
          AND (rn.owner_only = 0 OR j.owner_token_id = rn.owner_token_id)
          AND NOT (j.id = ANY (v_tried))
        ORDER BY j.priority DESC, j.seq
        LIMIT v_window) c
      WHERE o.owner IS NOT NULL
    )
    -- The k-th job of a submitter is taken as if k of theirs were already in flight and they
    -- had just been served: the order SqliteStore's pick-one-at-a-time loop produces.
    SELECT ARRAY(
      SELECT c.id FROM candidates c
      LEFT JOIN in_flight f ON f.owner = c.owner
      LEFT JOIN owner_service s ON s.tenant = rn.tenant AND s.owner_token_id = c.owner
      ORDER BY c.priority DESC, COALESCE(f.n, 0) + c.k,
               CASE WHEN c.k = 0 THEN COALESCE(s.last_claimed_at, 0) ELSE p_now END, c.seq
      LIMIT v_window)
    INTO v_ids;

    -- The leases, in that order: a row another claim holds is skipped, and the state is
    -- checked again on the row's latest version once it is locked.
    FOREACH v_id IN ARRAY v_ids LOOP
      EXIT WHEN v_taken >= v_free;
      UPDATE jobs SET state = 'leased', attempt = jobs.attempt + 1, updated_at = p_now
      WHERE id = (SELECT l.id FROM jobs l WHERE l.id = v_id AND l.state = 'queued' AND l.not_before <= p_now
                  FOR UPDATE SKIP LOCKED)
      RETURNING jobs.id, jobs.attempt, jobs.spec, jobs.owner_token_id INTO v_job;
      CONTINUE WHEN NOT FOUND;
      INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)
      VALUES (v_job.id, v_job.attempt, p_runner, 'leased', p_now, p_now + p_lease_ms);
      v_taken := v_taken + 1;
      IF NOT v_job.owner_token_id = ANY (v_owners) THEN
        v_owners := v_owners || v_job.owner_token_id;
      END IF;
      job_id := v_job.id;
      attempt := v_job.attempt;
      spec := v_job.spec;
      RETURN NEXT;
    END LOOP;
    -- Fewer candidates than the window: every submitter's queue was read to its end.
    EXIT WHEN v_taken >= v_free OR cardinality(v_ids) < v_window OR v_round >= 4;
    v_tried := v_tried || v_ids;
    v_window := v_window * 8;
  END LOOP;
  IF v_taken = 0 THEN
    RETURN;
  END IF;
  -- When each submitter served was last served, a tie-breaker only: a row another claim
  -- holds is skipped (that claim is recording a service at this moment too), so claims of
  -- different runners never queue behind one another on a busy submitter's row.
  UPDATE owner_service SET last_claimed_at = p_now
  WHERE (tenant, owner_token_id) IN (
    SELECT s.tenant, s.owner_token_id FROM owner_service s
    WHERE s.tenant = rn.tenant AND s.owner_token_id = ANY (v_owners)
    FOR UPDATE SKIP LOCKED);
  -- A submitter's first service makes its row. Only rows missing from the snapshot are
  -- tried: an insert that meets a row another claim is updating would wait for it.
  INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at)
  SELECT rn.tenant, o, p_now FROM unnest(v_owners) AS o
  WHERE NOT EXISTS (SELECT 1 FROM owner_service s WHERE s.tenant = rn.tenant AND s.owner_token_id = o)
  ORDER BY o
  ON CONFLICT (tenant, owner_token_id) DO NOTHING;
  UPDATE runners SET status = CASE WHEN status = 'offline' THEN 'offline'
                                   WHEN draining = 1 THEN 'draining' ELSE 'busy' END
  WHERE id = p_runner;
END
$fn$;
)sql"},
      {6, 7, R"sql(
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
CREATE TABLE schedule_secrets (
  schedule_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (schedule_id, name)
);
)sql",
       R"sql(
CREATE TRIGGER job_secrets_end AFTER UPDATE OF state ON jobs
  WHEN NEW.state IN ('succeeded', 'failed', 'canceled')
BEGIN
  DELETE FROM job_secrets WHERE job_id = NEW.id;
END;
CREATE TRIGGER schedule_secrets_gone AFTER DELETE ON schedules
BEGIN
  DELETE FROM schedule_secrets WHERE schedule_id = OLD.id;
END;
)sql",
       R"sql(
CREATE FUNCTION corral_job_secrets_end() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM job_secrets WHERE job_id = NEW.id;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER job_secrets_end AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.state IN ('succeeded', 'failed', 'canceled')) EXECUTE FUNCTION corral_job_secrets_end();
CREATE FUNCTION corral_schedule_secrets_gone() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM schedule_secrets WHERE schedule_id = OLD.id;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER schedule_secrets_gone AFTER DELETE ON schedules FOR EACH ROW
  EXECUTE FUNCTION corral_schedule_secrets_gone();
)sql"},
      {7, 8, R"sql(
-- An agent job's raw event stream, one per attempt (GET /api/v1/jobs/{id}/events).
CREATE TABLE attempt_events (
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  data BYTEA NOT NULL,
  truncated BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (job_id, attempt)
);
-- The nightly refresh of repositories with a steward (server/steward.h): where to clone
-- the repository from, and when its last refresh was queued.
ALTER TABLE repos ADD COLUMN clone_url TEXT NOT NULL DEFAULT '';
ALTER TABLE repos ADD COLUMN last_auto_refresh_at BIGINT NOT NULL DEFAULT 0;
)sql",
       "", ""},
      {8, 9, R"sql(
-- A tenant's own settings (api/tenant.h): the time zone of its nightly refresh ('' = the
-- server's --refresh-timezone).
CREATE TABLE tenant_settings (
  tenant TEXT PRIMARY KEY,
  refresh_timezone TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
);
)sql",
       "", ""},
      {9, 10, R"sql(
-- A runner's free-text description (RUNNER_DESCRIPTION, Monk CI's), sent at registration.
ALTER TABLE runners ADD COLUMN description TEXT NOT NULL DEFAULT '';
)sql",
       "", ""},
      {10, 11, R"sql(
-- Admins' remote commands to runners (api/types.h RunnerControl).
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
  created_at BIGINT NOT NULL,
  delivered_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runner_controls_by_runner ON runner_controls (runner_id, state);
)sql",
       "", ""},
      {11, 12, R"sql(
-- A token's last use; a runner's resource use over time (one sample a minute, a day).
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
CREATE TABLE runner_usage (
  runner_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  load_1m DOUBLE PRECISION NOT NULL,
  memory_available_bytes BIGINT NOT NULL,
  disk_free_bytes BIGINT NOT NULL,
  running INTEGER NOT NULL,
  PRIMARY KEY (runner_id, at)
)${WITHOUT_ROWID};
)sql",
       "", ""},
      {12, 13, R"sql(
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
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL DEFAULT 0,
  doc TEXT NOT NULL,
  secrets TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX workflow_runs_by_tenant ON workflow_runs (tenant, created_at);
CREATE INDEX workflow_runs_by_state ON workflow_runs (state);
CREATE UNIQUE INDEX workflow_runs_by_delivery ON workflow_runs (tenant, delivery);
)sql",
       "", ""},
      {13, 14, R"sql(
-- The secret a repository's GitHub webhook signs its deliveries with (POST /api/v1/hooks/github).
ALTER TABLE repos ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
)sql",
       "", ""},
      {14, 15, R"sql(
-- Claims read the queue by shape (labels, group, type: store/sql_core.h queued_shapes), then
-- by submitter: a claim skips a shape the runner cannot take in one index seek, however many
-- jobs of it are queued.
CREATE INDEX jobs_by_shape ON jobs (tenant, state, grp, type, labels, owner_token_id, priority DESC, seq);
)sql",
       "", ""},
      {15, 16, R"sql(
-- How many jobs each tenant has in each state, by group and labels, kept by triggers as jobs
-- come and change state: the queue summary, the per-tenant limit on submits and /metrics
-- read these few rows, not every job. SQLite's triggers add to job_counts itself (one writer
-- at a time); PostgreSQL's append to job_count_changes instead, a row no two transactions
-- both update (no lock waits or deadlocks between submits and claims on several servers),
-- and the servers fold those into job_counts once a second. Readers add the two.
CREATE TABLE job_counts (
  tenant TEXT NOT NULL,
  state TEXT NOT NULL,
  grp TEXT NOT NULL,
  labels TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (tenant, state, grp, labels)
);
CREATE TABLE job_count_changes (
  id BIGSERIAL PRIMARY KEY,
  tenant TEXT NOT NULL,
  state TEXT NOT NULL,
  grp TEXT NOT NULL,
  labels TEXT NOT NULL,
  delta BIGINT NOT NULL
);
CREATE INDEX job_count_changes_by_tenant ON job_count_changes (tenant);
-- The oldest queued job of a tenant, in one seek (only queued jobs are in it).
CREATE INDEX jobs_queued_since ON jobs (tenant, created_at) WHERE state = 'queued';
)sql",
       R"sql(
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
BEGIN
  INSERT INTO job_counts (tenant, state, grp, labels, n)
    VALUES (NEW.tenant, NEW.state, NEW.grp, NEW.labels, 1)
    ON CONFLICT (tenant, state, grp, labels) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF tenant, state, grp, labels ON jobs
  WHEN OLD.tenant <> NEW.tenant OR OLD.state <> NEW.state OR OLD.grp <> NEW.grp
    OR OLD.labels <> NEW.labels
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE tenant = OLD.tenant AND state = OLD.state
    AND grp = OLD.grp AND labels = OLD.labels;
  INSERT INTO job_counts (tenant, state, grp, labels, n)
    VALUES (NEW.tenant, NEW.state, NEW.grp, NEW.labels, 1)
    ON CONFLICT (tenant, state, grp, labels) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE tenant = OLD.tenant AND state = OLD.state
    AND grp = OLD.grp AND labels = OLD.labels;
END;
INSERT INTO job_counts (tenant, state, grp, labels, n)
  SELECT tenant, state, grp, labels, COUNT(*) FROM jobs GROUP BY tenant, state, grp, labels;
)sql",
       R"sql(
CREATE FUNCTION corral_job_counts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO job_count_changes (tenant, state, grp, labels, delta)
      VALUES (OLD.tenant, OLD.state, OLD.grp, OLD.labels, -1);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO job_count_changes (tenant, state, grp, labels, delta)
      VALUES (NEW.tenant, NEW.state, NEW.grp, NEW.labels, 1);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs FOR EACH ROW
  EXECUTE FUNCTION corral_job_counts();
CREATE TRIGGER job_counts_update AFTER UPDATE OF tenant, state, grp, labels ON jobs FOR EACH ROW
  WHEN (OLD.tenant <> NEW.tenant OR OLD.state <> NEW.state OR OLD.grp <> NEW.grp
        OR OLD.labels <> NEW.labels)
  EXECUTE FUNCTION corral_job_counts();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs FOR EACH ROW
  EXECUTE FUNCTION corral_job_counts();
-- Counted after the triggers exist: creating them locked out writes to jobs until this commits,
-- so no job is counted twice or missed.
INSERT INTO job_counts (tenant, state, grp, labels, n)
  SELECT tenant, state, grp, labels, COUNT(*) FROM jobs GROUP BY tenant, state, grp, labels;
)sql"},
      {0, 17, "", "",
       R"sql(
-- corral_claim (migration 6) reads the queue by shape (labels, group, type) and submitter,
-- as SqliteStore's claim does (store/sql_core.h owner_queues): jobs the runner cannot take
-- are skipped a shape at a time, unread, however many are queued.
CREATE OR REPLACE FUNCTION corral_claim(p_runner TEXT, p_slots INTEGER, p_now BIGINT, p_lease_ms BIGINT,
                             p_fresh_since BIGINT)
RETURNS TABLE (job_id TEXT, attempt INTEGER, spec TEXT)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  rn runners%ROWTYPE;
  v_free INTEGER;
  v_labels JSONB;
  v_modes JSONB;
  v_any_mode BOOLEAN;
  v_ids TEXT[];
  v_tried TEXT[] := '{}';
  v_window INTEGER;
  v_round INTEGER := 0;
  v_id TEXT;
  v_taken INTEGER := 0;
  v_owners TEXT[] := '{}';
  v_job RECORD;
BEGIN
  SELECT * INTO rn FROM runners WHERE id = p_runner FOR UPDATE;
  IF NOT FOUND THEN
    job_id := NULL;
    attempt := 0;
    spec := NULL;
    RETURN NEXT;
    RETURN;
  END IF;
  IF rn.draining <> 0 OR rn.last_heartbeat_at < p_fresh_since THEN
    RETURN;
  END IF;
  SELECT LEAST(p_slots, rn.max_concurrent_jobs - COUNT(*)) INTO v_free
    FROM attempts a WHERE a.runner_id = p_runner AND a.state IN ('leased', 'running');
  IF v_free <= 0 THEN
    RETURN;
  END IF;
  v_labels := rn.labels::jsonb;
  v_modes := rn.modes::jsonb;
  v_any_mode := jsonb_array_length(v_modes) = 0 OR v_modes ? 'all';

  -- The candidates in claim order, read without locks: a few more than the free slots,
  -- since other claims may hold some of them. When every one was taken by others (many
  -- runners claiming at once) and there may be more, read a wider window past them: a
  -- claim comes back empty only when there is nothing left it may take.
  v_window := v_free + 4;
  LOOP
    v_round := v_round + 1;
    WITH RECURSIVE shapes (grp, type, labels, owner) AS (
      -- Each (shape, submitter) with queued jobs, one index probe each on jobs_by_shape (a
      -- loose index scan): a deep queue of jobs the runner cannot take costs one probe.
      (SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
       WHERE j.tenant = rn.tenant AND j.state = 'queued'
       ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1)
      UNION ALL
      SELECT n.grp, n.type, n.labels, n.owner_token_id FROM shapes s CROSS JOIN LATERAL (
        SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued'
          AND (j.grp, j.type, j.labels, j.owner_token_id) > (s.grp, s.type, s.labels, s.owner)
        ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1) n
    ),
    in_flight AS (
      SELECT j.owner_token_id AS owner, COUNT(*) AS n FROM jobs j
      WHERE j.tenant = rn.tenant AND j.state IN ('leased', 'running') GROUP BY j.owner_token_id
    ),
    -- Each submitter's first jobs that the runner may take, in its queue order: the rule is
    -- decided once per shape and submitter, then only those jobs are read.
    candidates AS (
      SELECT c.id, c.priority, c.seq, s.owner,
             ROW_NUMBER() OVER (PARTITION BY s.owner ORDER BY c.priority DESC, c.seq) - 1 AS k
      FROM shapes s CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.seq FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued' AND j.grp = s.grp
          AND j.type = s.type AND j.labels = s.labels AND j.owner_token_id = s.owner
          AND j.not_before <= p_now
          AND NOT (j.id = ANY (v_tried))
        ORDER BY j.priority DESC, j.seq
        LIMIT v_window) c
      WHERE s.owner IS NOT NULL
        AND (s.labels = '[]' OR s.labels::jsonb <@ v_labels)
        AND (s.grp = '' OR s.grp = rn.grp)
        AND (v_any_mode OR s.type = '' OR v_modes ? s.type)
        AND (rn.owner_only = 0 OR s.owner = rn.owner_token_id)
    )
    -- The k-th job of a submitter is taken as if k of theirs were already in flight and they
    -- had just been served: the order SqliteStore's pick-one-at-a-time loop produces.
    SELECT ARRAY(
      SELECT c.id FROM candidates c
      LEFT JOIN in_flight f ON f.owner = c.owner
      LEFT JOIN owner_service s ON s.tenant = rn.tenant AND s.owner_token_id = c.owner
      ORDER BY c.priority DESC, COALESCE(f.n, 0) + c.k,
               CASE WHEN c.k = 0 THEN COALESCE(s.last_claimed_at, 0) ELSE p_now END, c.seq
      LIMIT v_window)
    INTO v_ids;

    -- The leases, in that order: a row another claim holds is skipped, and the state is
    -- checked again on the row's latest version once it is locked.
    FOREACH v_id IN ARRAY v_ids LOOP
      EXIT WHEN v_taken >= v_free;
      UPDATE jobs SET state = 'leased', attempt = jobs.attempt + 1, updated_at = p_now
      WHERE id = (SELECT l.id FROM jobs l WHERE l.id = v_id AND l.state = 'queued' AND l.not_before <= p_now
                  FOR UPDATE SKIP LOCKED)
      RETURNING jobs.id, jobs.attempt, jobs.spec, jobs.owner_token_id INTO v_job;
      CONTINUE WHEN NOT FOUND;
      INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)
      VALUES (v_job.id, v_job.attempt, p_runner, 'leased', p_now, p_now + p_lease_ms);
      v_taken := v_taken + 1;
      IF NOT v_job.owner_token_id = ANY (v_owners) THEN
        v_owners := v_owners || v_job.owner_token_id;
      END IF;
      job_id := v_job.id;
      attempt := v_job.attempt;
      spec := v_job.spec;
      RETURN NEXT;
    END LOOP;
    -- Fewer candidates than the window: every submitter's queue was read to its end.
    EXIT WHEN v_taken >= v_free OR cardinality(v_ids) < v_window OR v_round >= 4;
    v_tried := v_tried || v_ids;
    v_window := v_window * 8;
  END LOOP;
  IF v_taken = 0 THEN
    RETURN;
  END IF;
  -- When each submitter served was last served, a tie-breaker only: a row another claim
  -- holds is skipped (that claim is recording a service at this moment too), so claims of
  -- different runners never queue behind one another on a busy submitter's row.
  UPDATE owner_service SET last_claimed_at = p_now
  WHERE (tenant, owner_token_id) IN (
    SELECT s.tenant, s.owner_token_id FROM owner_service s
    WHERE s.tenant = rn.tenant AND s.owner_token_id = ANY (v_owners)
    FOR UPDATE SKIP LOCKED);
  -- A submitter's first service makes its row. Only rows missing from the snapshot are
  -- tried: an insert that meets a row another claim is updating would wait for it.
  INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at)
  SELECT rn.tenant, o, p_now FROM unnest(v_owners) AS o
  WHERE NOT EXISTS (SELECT 1 FROM owner_service s WHERE s.tenant = rn.tenant AND s.owner_token_id = o)
  ORDER BY o
  ON CONFLICT (tenant, owner_token_id) DO NOTHING;
  UPDATE runners SET status = CASE WHEN status = 'offline' THEN 'offline'
                                   WHEN draining = 1 THEN 'draining' ELSE 'busy' END
  WHERE id = p_runner;
END
$fn$;
)sql"},
      {0, 18, "", "",
       R"sql(
-- corral_claim (migration 17) counted the tenant's jobs in flight with state IN ('leased',
-- 'running'), which PostgreSQL planned as a scan of every job of the tenant, finished ones
-- included, filtered by state: 19 ms per claim after 3,000 jobs (auto_explain, server_bench).
-- Now only the candidates' submitters are counted, by equality on (tenant, state, submitter).
CREATE OR REPLACE FUNCTION corral_claim(p_runner TEXT, p_slots INTEGER, p_now BIGINT, p_lease_ms BIGINT,
                             p_fresh_since BIGINT)
RETURNS TABLE (job_id TEXT, attempt INTEGER, spec TEXT)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  rn runners%ROWTYPE;
  v_free INTEGER;
  v_labels JSONB;
  v_modes JSONB;
  v_any_mode BOOLEAN;
  v_ids TEXT[];
  v_tried TEXT[] := '{}';
  v_window INTEGER;
  v_round INTEGER := 0;
  v_id TEXT;
  v_taken INTEGER := 0;
  v_owners TEXT[] := '{}';
  v_job RECORD;
BEGIN
  SELECT * INTO rn FROM runners WHERE id = p_runner FOR UPDATE;
  IF NOT FOUND THEN
    job_id := NULL;
    attempt := 0;
    spec := NULL;
    RETURN NEXT;
    RETURN;
  END IF;
  IF rn.draining <> 0 OR rn.last_heartbeat_at < p_fresh_since THEN
    RETURN;
  END IF;
  SELECT LEAST(p_slots, rn.max_concurrent_jobs - COUNT(*)) INTO v_free
    FROM attempts a WHERE a.runner_id = p_runner AND a.state IN ('leased', 'running');
  IF v_free <= 0 THEN
    RETURN;
  END IF;
  v_labels := rn.labels::jsonb;
  v_modes := rn.modes::jsonb;
  v_any_mode := jsonb_array_length(v_modes) = 0 OR v_modes ? 'all';

  -- The candidates in claim order, read without locks: a few more than the free slots,
  -- since other claims may hold some of them. When every one was taken by others (many
  -- runners claiming at once) and there may be more, read a wider window past them: a
  -- claim comes back empty only when there is nothing left it may take.
  v_window := v_free + 4;
  LOOP
    v_round := v_round + 1;
    WITH RECURSIVE shapes (grp, type, labels, owner) AS (
      -- Each (shape, submitter) with queued jobs, one index probe each on jobs_by_shape (a
      -- loose index scan): a deep queue of jobs the runner cannot take costs one probe.
      (SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
       WHERE j.tenant = rn.tenant AND j.state = 'queued'
       ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1)
      UNION ALL
      SELECT n.grp, n.type, n.labels, n.owner_token_id FROM shapes s CROSS JOIN LATERAL (
        SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued'
          AND (j.grp, j.type, j.labels, j.owner_token_id) > (s.grp, s.type, s.labels, s.owner)
        ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1) n
    ),
    -- Each submitter's first jobs that the runner may take, in its queue order: the rule is
    -- decided once per shape and submitter, then only those jobs are read.
    candidates AS (
      SELECT c.id, c.priority, c.seq, s.owner,
             ROW_NUMBER() OVER (PARTITION BY s.owner ORDER BY c.priority DESC, c.seq) - 1 AS k
      FROM shapes s CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.seq FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued' AND j.grp = s.grp
          AND j.type = s.type AND j.labels = s.labels AND j.owner_token_id = s.owner
          AND j.not_before <= p_now
          AND NOT (j.id = ANY (v_tried))
        ORDER BY j.priority DESC, j.seq
        LIMIT v_window) c
      WHERE s.owner IS NOT NULL
        AND (s.labels = '[]' OR s.labels::jsonb <@ v_labels)
        AND (s.grp = '' OR s.grp = rn.grp)
        AND (v_any_mode OR s.type = '' OR v_modes ? s.type)
        AND (rn.owner_only = 0 OR s.owner = rn.owner_token_id)
    ),
    -- The jobs each of those submitters has in flight: one equality range per state on
    -- jobs_owner_queue (tenant, state, submitter), however many jobs the tenant has had.
    in_flight AS (
      SELECT o.owner,
             (SELECT COUNT(*) FROM jobs j WHERE j.tenant = rn.tenant AND j.state = 'leased'
                AND j.owner_token_id = o.owner)
           + (SELECT COUNT(*) FROM jobs j WHERE j.tenant = rn.tenant AND j.state = 'running'
                AND j.owner_token_id = o.owner) AS n
      FROM (SELECT DISTINCT c.owner FROM candidates c) o
    )
    -- The k-th job of a submitter is taken as if k of theirs were already in flight and they
    -- had just been served: the order SqliteStore's pick-one-at-a-time loop produces.
    SELECT ARRAY(
      SELECT c.id FROM candidates c
      LEFT JOIN in_flight f ON f.owner = c.owner
      LEFT JOIN owner_service s ON s.tenant = rn.tenant AND s.owner_token_id = c.owner
      ORDER BY c.priority DESC, COALESCE(f.n, 0) + c.k,
               CASE WHEN c.k = 0 THEN COALESCE(s.last_claimed_at, 0) ELSE p_now END, c.seq
      LIMIT v_window)
    INTO v_ids;

    -- The leases, in that order: a row another claim holds is skipped, and the state is
    -- checked again on the row's latest version once it is locked.
    FOREACH v_id IN ARRAY v_ids LOOP
      EXIT WHEN v_taken >= v_free;
      UPDATE jobs SET state = 'leased', attempt = jobs.attempt + 1, updated_at = p_now
      WHERE id = (SELECT l.id FROM jobs l WHERE l.id = v_id AND l.state = 'queued' AND l.not_before <= p_now
                  FOR UPDATE SKIP LOCKED)
      RETURNING jobs.id, jobs.attempt, jobs.spec, jobs.owner_token_id INTO v_job;
      CONTINUE WHEN NOT FOUND;
      INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)
      VALUES (v_job.id, v_job.attempt, p_runner, 'leased', p_now, p_now + p_lease_ms);
      v_taken := v_taken + 1;
      IF NOT v_job.owner_token_id = ANY (v_owners) THEN
        v_owners := v_owners || v_job.owner_token_id;
      END IF;
      job_id := v_job.id;
      attempt := v_job.attempt;
      spec := v_job.spec;
      RETURN NEXT;
    END LOOP;
    -- Fewer candidates than the window: every submitter's queue was read to its end.
    EXIT WHEN v_taken >= v_free OR cardinality(v_ids) < v_window OR v_round >= 4;
    v_tried := v_tried || v_ids;
    v_window := v_window * 8;
  END LOOP;
  IF v_taken = 0 THEN
    RETURN;
  END IF;
  -- When each submitter served was last served, a tie-breaker only: a row another claim
  -- holds is skipped (that claim is recording a service at this moment too), so claims of
  -- different runners never queue behind one another on a busy submitter's row.
  UPDATE owner_service SET last_claimed_at = p_now
  WHERE (tenant, owner_token_id) IN (
    SELECT s.tenant, s.owner_token_id FROM owner_service s
    WHERE s.tenant = rn.tenant AND s.owner_token_id = ANY (v_owners)
    FOR UPDATE SKIP LOCKED);
  -- A submitter's first service makes its row. Only rows missing from the snapshot are
  -- tried: an insert that meets a row another claim is updating would wait for it.
  INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at)
  SELECT rn.tenant, o, p_now FROM unnest(v_owners) AS o
  WHERE NOT EXISTS (SELECT 1 FROM owner_service s WHERE s.tenant = rn.tenant AND s.owner_token_id = o)
  ORDER BY o
  ON CONFLICT (tenant, owner_token_id) DO NOTHING;
  UPDATE runners SET status = CASE WHEN status = 'offline' THEN 'offline'
                                   WHEN draining = 1 THEN 'draining' ELSE 'busy' END
  WHERE id = p_runner;
END
$fn$;
)sql"},
      {16, 19, R"sql(
-- A job changes state three times after it is queued (leased, running, finished). The indexes
-- the queue is read through held every job keyed by its state, so each change moved the job
-- in all four of them (and PostgreSQL, which cannot update a row in place when an indexed
-- column changes, added a new entry to every index of jobs). They now hold queued jobs only:
-- the claim leaves them in one step and nothing after touches them. The jobs in flight (the
-- per-submitter limit counts them) have an index of their own, which a job enters when leased
-- and leaves when it ends. A list of one state's jobs reads jobs_by_tenant newest first.
DROP INDEX jobs_queue;
DROP INDEX jobs_owner_queue;
DROP INDEX jobs_runnable;
DROP INDEX jobs_by_shape;
CREATE INDEX jobs_waiting ON jobs (tenant, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_waiting_by_shape ON jobs (tenant, grp, type, labels, owner_token_id, priority DESC, seq)
  WHERE state = 'queued';
CREATE INDEX jobs_delayed ON jobs (not_before, seq) WHERE state = 'queued';
CREATE INDEX jobs_in_flight ON jobs (tenant, owner_token_id) WHERE state IN ('leased', 'running');
)sql",
       "", ""},
      {0, 20, "", "",
       R"sql(
-- corral_claim, robust to the planner's estimates (auto_explain, server_bench on a new
-- database, where no statistics exist yet): the submitters' jobs in flight were counted
-- once per candidate instead of once per submitter (82 of a claim's 83 ms), and a lease
-- found its row through jobs_waiting_by_shape, filtering the whole queue by id.
CREATE OR REPLACE FUNCTION corral_claim(p_runner TEXT, p_slots INTEGER, p_now BIGINT, p_lease_ms BIGINT,
                             p_fresh_since BIGINT)
RETURNS TABLE (job_id TEXT, attempt INTEGER, spec TEXT)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  rn runners%ROWTYPE;
  v_free INTEGER;
  v_labels JSONB;
  v_modes JSONB;
  v_any_mode BOOLEAN;
  v_ids TEXT[];
  v_tried TEXT[] := '{}';
  v_window INTEGER;
  v_round INTEGER := 0;
  v_id TEXT;
  v_taken INTEGER := 0;
  v_owners TEXT[] := '{}';
  v_job RECORD;
  v_state TEXT;
  v_not_before BIGINT;
BEGIN
  SELECT * INTO rn FROM runners WHERE id = p_runner FOR UPDATE;
  IF NOT FOUND THEN
    job_id := NULL;
    attempt := 0;
    spec := NULL;
    RETURN NEXT;
    RETURN;
  END IF;
  IF rn.draining <> 0 OR rn.last_heartbeat_at < p_fresh_since THEN
    RETURN;
  END IF;
  SELECT LEAST(p_slots, rn.max_concurrent_jobs - COUNT(*)) INTO v_free
    FROM attempts a WHERE a.runner_id = p_runner AND a.state IN ('leased', 'running');
  IF v_free <= 0 THEN
    RETURN;
  END IF;
  v_labels := rn.labels::jsonb;
  v_modes := rn.modes::jsonb;
  v_any_mode := jsonb_array_length(v_modes) = 0 OR v_modes ? 'all';

  -- The candidates in claim order, read without locks: a few more than the free slots,
  -- since other claims may hold some of them. When every one was taken by others (many
  -- runners claiming at once) and there may be more, read a wider window past them: a
  -- claim comes back empty only when there is nothing left it may take.
  v_window := v_free + 4;
  LOOP
    v_round := v_round + 1;
    WITH RECURSIVE shapes (grp, type, labels, owner) AS (
      -- Each (shape, submitter) with queued jobs, one index probe each on jobs_waiting_by_shape (a
      -- loose index scan): a deep queue of jobs the runner cannot take costs one probe.
      (SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
       WHERE j.tenant = rn.tenant AND j.state = 'queued'
       ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1)
      UNION ALL
      SELECT n.grp, n.type, n.labels, n.owner_token_id FROM shapes s CROSS JOIN LATERAL (
        SELECT j.grp, j.type, j.labels, j.owner_token_id FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued'
          AND (j.grp, j.type, j.labels, j.owner_token_id) > (s.grp, s.type, s.labels, s.owner)
        ORDER BY j.grp, j.type, j.labels, j.owner_token_id LIMIT 1) n
    ),
    -- Each submitter's first jobs that the runner may take, in its queue order: the rule is
    -- decided once per shape and submitter, then only those jobs are read.
    candidates AS (
      SELECT c.id, c.priority, c.seq, s.owner,
             ROW_NUMBER() OVER (PARTITION BY s.owner ORDER BY c.priority DESC, c.seq) - 1 AS k
      FROM shapes s CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.seq FROM jobs j
        WHERE j.tenant = rn.tenant AND j.state = 'queued' AND j.grp = s.grp
          AND j.type = s.type AND j.labels = s.labels AND j.owner_token_id = s.owner
          AND j.not_before <= p_now
          AND NOT (j.id = ANY (v_tried))
        ORDER BY j.priority DESC, j.seq
        LIMIT v_window) c
      WHERE s.owner IS NOT NULL
        AND (s.labels = '[]' OR s.labels::jsonb <@ v_labels)
        AND (s.grp = '' OR s.grp = rn.grp)
        AND (v_any_mode OR s.type = '' OR v_modes ? s.type)
        AND (rn.owner_only = 0 OR s.owner = rn.owner_token_id)
    ),
    -- The jobs each of those submitters has in flight, counted once per submitter on
    -- jobs_in_flight (MATERIALIZED: inlined, it was counted again for every candidate).
    in_flight AS MATERIALIZED (
      SELECT o.owner,
             (SELECT COUNT(*) FROM jobs j WHERE j.tenant = rn.tenant AND j.state = 'leased'
                AND j.owner_token_id = o.owner)
           + (SELECT COUNT(*) FROM jobs j WHERE j.tenant = rn.tenant AND j.state = 'running'
                AND j.owner_token_id = o.owner) AS n
      FROM (SELECT DISTINCT c.owner FROM candidates c) o
    )
    -- The k-th job of a submitter is taken as if k of theirs were already in flight and they
    -- had just been served: the order SqliteStore's pick-one-at-a-time loop produces.
    SELECT ARRAY(
      SELECT c.id FROM candidates c
      LEFT JOIN in_flight f ON f.owner = c.owner
      LEFT JOIN owner_service s ON s.tenant = rn.tenant AND s.owner_token_id = c.owner
      ORDER BY c.priority DESC, COALESCE(f.n, 0) + c.k,
               CASE WHEN c.k = 0 THEN COALESCE(s.last_claimed_at, 0) ELSE p_now END, c.seq
      LIMIT v_window)
    INTO v_ids;

    -- The leases, in that order: a row another claim holds is skipped, and the state is
    -- checked again on the row's latest version once it is locked. The row is found by its
    -- id alone: with its state in the same WHERE, the planner could read it through an
    -- index of queued jobs, filtering every queued job by id.
    FOREACH v_id IN ARRAY v_ids LOOP
      EXIT WHEN v_taken >= v_free;
      SELECT l.state, l.not_before INTO v_state, v_not_before FROM jobs l WHERE l.id = v_id
        FOR UPDATE SKIP LOCKED;
      CONTINUE WHEN NOT FOUND OR v_state <> 'queued' OR v_not_before > p_now;
      UPDATE jobs SET state = 'leased', attempt = jobs.attempt + 1, updated_at = p_now
      WHERE id = v_id
      RETURNING jobs.id, jobs.attempt, jobs.spec, jobs.owner_token_id INTO v_job;
      INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)
      VALUES (v_job.id, v_job.attempt, p_runner, 'leased', p_now, p_now + p_lease_ms);
      v_taken := v_taken + 1;
      IF NOT v_job.owner_token_id = ANY (v_owners) THEN
        v_owners := v_owners || v_job.owner_token_id;
      END IF;
      job_id := v_job.id;
      attempt := v_job.attempt;
      spec := v_job.spec;
      RETURN NEXT;
    END LOOP;
    -- Fewer candidates than the window: every submitter's queue was read to its end.
    EXIT WHEN v_taken >= v_free OR cardinality(v_ids) < v_window OR v_round >= 4;
    v_tried := v_tried || v_ids;
    v_window := v_window * 8;
  END LOOP;
  IF v_taken = 0 THEN
    RETURN;
  END IF;
  -- When each submitter served was last served, a tie-breaker only: a row another claim
  -- holds is skipped (that claim is recording a service at this moment too), so claims of
  -- different runners never queue behind one another on a busy submitter's row.
  UPDATE owner_service SET last_claimed_at = p_now
  WHERE (tenant, owner_token_id) IN (
    SELECT s.tenant, s.owner_token_id FROM owner_service s
    WHERE s.tenant = rn.tenant AND s.owner_token_id = ANY (v_owners)
    FOR UPDATE SKIP LOCKED);
  -- A submitter's first service makes its row. Only rows missing from the snapshot are
  -- tried: an insert that meets a row another claim is updating would wait for it.
  INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at)
  SELECT rn.tenant, o, p_now FROM unnest(v_owners) AS o
  WHERE NOT EXISTS (SELECT 1 FROM owner_service s WHERE s.tenant = rn.tenant AND s.owner_token_id = o)
  ORDER BY o
  ON CONFLICT (tenant, owner_token_id) DO NOTHING;
  UPDATE runners SET status = CASE WHEN status = 'offline' THEN 'offline'
                                   WHEN draining = 1 THEN 'draining' ELSE 'busy' END
  WHERE id = p_runner;
END
$fn$;
)sql"},
  };
  return kSteps;
}

// PostgreSQL's types as SQLite spells them: times and counts are INTEGER (64-bit there),
// the sequence a rowid alias, bytes BLOB; an unused flag an INTEGER.
std::string sqlite_spelling(std::string sql) {
  static const std::pair<std::regex, const char*> kTypes[] = {
      {std::regex(R"(\bBIGSERIAL PRIMARY KEY\b)"), "INTEGER PRIMARY KEY AUTOINCREMENT"},
      {std::regex(R"(\bBIGINT\b)"), "INTEGER"},
      {std::regex(R"(\bBYTEA\b)"), "BLOB"},
      {std::regex(R"(\bDOUBLE PRECISION\b)"), "REAL"},
      {std::regex(R"(\bBOOLEAN NOT NULL DEFAULT FALSE\b)"), "INTEGER NOT NULL DEFAULT 0"},
      {std::regex(R"(\$\{WITHOUT_ROWID\})"), " WITHOUT ROWID"},
  };
  for (const auto& [pattern, spelling] : kTypes) sql = std::regex_replace(sql, pattern, spelling);
  return sql;
}

std::string postgres_spelling(const std::string& sql) {
  return std::regex_replace(sql, std::regex(R"(\$\{WITHOUT_ROWID\})"), "");
}

}  // namespace

std::vector<SchemaMigration> schema_migrations(SqlDialect dialect) {
  std::vector<SchemaMigration> out;
  for (const auto& step : schema_steps()) {
    if (dialect == SqlDialect::kSqlite && step.sqlite_version > 0) {
      out.push_back({step.sqlite_version, sqlite_spelling(step.shared) + "\n" + step.sqlite_only});
    } else if (dialect == SqlDialect::kPostgres) {
      out.push_back(
          {step.postgres_version, postgres_spelling(step.shared) + "\n" + step.postgres_only});
    }
  }
  return out;
}

}  // namespace corral
