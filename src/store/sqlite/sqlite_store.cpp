#include "store/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "common/crypto.h"
#include "store/shared_sql.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;
using sqlite::SqliteError;

namespace {

void configure(Db& db, bool synchronous_full) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
  db.exec("PRAGMA foreign_keys=ON");
  db.exec("PRAGMA temp_store=MEMORY");
  // Deleted rows (a job's secret values when it ends) are overwritten with zeros, not left in
  // free pages. Old page images in the WAL go when a later checkpoint cycle overwrites them.
  db.exec("PRAGMA secure_delete=ON");
}

}  // namespace

SqliteStore::SqliteStore(SqliteStoreOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  CORRAL_TRY(store->start());
  return store;
}

Result<void> SqliteStore::start() {
  try {
    writer_db_ = std::make_unique<Db>(options_.path);
    if (options_.path != ":memory:") configure(*writer_db_, options_.synchronous_full);
    int version = sqlite::migrate(*writer_db_);
    spdlog::debug("sqlite store {} at schema version {}", options_.path, version);
    std::string log_dir = options_.log_dir;
    if (log_dir.empty()) {
      if (options_.path == ":memory:") {
        return make_error(ErrorCode::kBadRequest, "an in-memory store needs options.log_dir");
      }
      log_dir = (std::filesystem::path(options_.path).parent_path() / "logs").string();
    }
    log_files_ = std::make_unique<LogFiles>(log_dir);
    CORRAL_TRY(log_files_->create_root());
    move_log_chunks_to_files();
    if (options_.path != ":memory:") {
      for (int i = 0; i < options_.read_connections; ++i) {
        auto db = std::make_unique<Db>(options_.path);
        db->exec("PRAGMA query_only=ON");
        readers_.push_back(std::move(db));
      }
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, e.what());
  }
  writer_ = std::thread([this] { writer_loop(); });
  return {};
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

uint64_t SqliteStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

void SqliteStore::writer_loop() {
  Db& db = *writer_db_;
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    std::optional<Error> commit_failure;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (WriteOp* op : batch) {
        db.exec("SAVEPOINT op");
        bool keep = false;
        try {
          keep = op->run(db);
        } catch (const std::exception& e) {
          op->failure = store_error(e);
        }
        if (!keep) db.exec("ROLLBACK TO op");
        db.exec("RELEASE op");
      }
      // Log bytes first: a committed log size must never point past what is on disk.
      if (auto synced = log_files_->sync_pending(); !synced.ok()) {
        throw std::runtime_error(synced.error().message);
      }
      db.exec("COMMIT");
    } catch (const std::exception& e) {
      commit_failure = store_error(e);
      spdlog::error("sqlite commit failed: {}", e.what());
      try {
        db.exec("ROLLBACK");
      } catch (...) {
      }
    }
    {
      std::lock_guard lock(mu_);
      if (!commit_failure) ++commits_;
      for (WriteOp* op : batch) {
        if (commit_failure && !op->failure) op->failure = commit_failure;
        op->done = true;
      }
    }
    done_cv_.notify_all();
    batch.clear();
  }
}

// Databases from before log files kept logs as chunks in a table: write them out once.
void SqliteStore::move_log_chunks_to_files() {
  Db& db = *writer_db_;
  {
    auto st =
        db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_chunks'");
    if (!st.step()) return;
  }
  int64_t moved = 0;
  {
    auto st = db.prepare(
        "SELECT job_id, attempt, offset, data FROM log_chunks ORDER BY job_id, attempt, offset");
    while (st.step()) {
      auto written = log_files_->write_at(st.text(0), st.integer(1), st.int64(2), st.blob(3));
      if (!written.ok()) throw std::runtime_error(written.error().message);
      ++moved;
    }
  }
  if (auto synced = log_files_->sync_pending(); !synced.ok())
    throw std::runtime_error(synced.error().message);
  db.exec("DROP TABLE log_chunks");
  if (moved) spdlog::info("moved {} log chunks from the database to {}", moved, options_.log_dir);
}

// ---- tokens -----------------------------------------------------------------

Result<void> SqliteStore::insert_token(const Token& token) {
  auto inserted = write<bool>([&](Db& db) -> Result<bool> {
    try {
      db.prepare(
            "INSERT INTO tokens (id, kind, tenant, name, hash, created_at, created_by, "
            "runner_policy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .bind_all(token.id, std::string(to_string(token.kind)), token.tenant, token.name,
                    token.hash, token.created_at, token.created_by,
                    to_json(token.runner_policy).dump())
          .exec();
    } catch (const SqliteError& e) {
      if ((e.code() & 0xff) == SQLITE_CONSTRAINT) {
        return make_error(ErrorCode::kConflict, "a token with that id or value already exists");
      }
      throw;
    }
    return true;
  });
  if (!inserted.ok()) return inserted.error();
  return {};
}

Result<std::optional<Token>> SqliteStore::find_token_by_hash(const std::string& hash) {
  return read<std::optional<Token>>([&](Db& db) -> Result<std::optional<Token>> {
    auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?");
    st.bind_all(hash);
    if (!st.step()) return std::optional<Token>();
    return std::optional<Token>(token_from_row(st));
  });
}

Result<std::vector<Token>> SqliteStore::list_tokens() {
  return read<std::vector<Token>>([&](Db& db) -> Result<std::vector<Token>> {
    std::vector<Token> out;
    auto st =
        db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY created_at, id");
    while (st.step()) out.push_back(token_from_row(st));
    return out;
  });
}

Result<Revocation> SqliteStore::revoke_token(const std::string& id, TimeMs now) {
  return write<Revocation>([&](Db& db) -> Result<Revocation> {
    Revocation out;
    {
      auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = ?");
      st.bind_all(id);
      if (!st.step()) return make_error(ErrorCode::kNotFound, "no token with id " + id);
      out.token = token_from_row(st);
    }
    db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0")
        .bind_all(now, id)
        .exec();
    if (out.token.revoked_at == 0) out.token.revoked_at = now;
    {
      auto st = db.prepare(
          "UPDATE tokens SET revoked_at = ? WHERE created_by = ? AND kind = 'runner' AND "
          "revoked_at = 0"
          " RETURNING id");
      st.bind_all(now, id);
      while (st.step()) out.runner_tokens.push_back(st.text(0));
    }
    {
      // Every runner token it made, revoked now or before: their runners go too.
      auto st = db.prepare(
          "SELECT id FROM runners WHERE secret_hash != '' AND (token_id = ?1 OR token_id IN"
          " (SELECT id FROM tokens WHERE created_by = ?1 AND kind = 'runner'))");
      st.bind_all(id);
      while (st.step()) out.runners.push_back(st.text(0));
    }
    for (const auto& runner_id : out.runners) {
      // An empty hash matches no presented secret (that is a SHA-256 of something).
      db.prepare("UPDATE runners SET secret_hash = '', status = 'offline' WHERE id = ?")
          .bind_all(runner_id)
          .exec();
      for (auto& job : sqlite::lose_runner_attempts(db, runner_id, now))
        out.requeued_jobs.push_back(std::move(job));
    }
    {
      auto st = db.prepare(
          "UPDATE schedules SET paused = 1, paused_reason = ?, updated_at = ?"
          " WHERE owner_token_id = ? AND paused = 0 RETURNING id");
      st.bind_all("its owner's token " + id + " was revoked", now, id);
      while (st.step()) out.schedules.push_back(st.text(0));
    }
    return out;
  });
}

Result<Token> SqliteStore::get_token(const std::string& id) {
  return read<Token>([&](Db& db) -> Result<Token> {
    auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = ?");
    st.bind_all(id);
    if (!st.step()) return make_error(ErrorCode::kNotFound, "no token with id " + id);
    return token_from_row(st);
  });
}

Result<Token> SqliteStore::set_user_settings(const std::string& token_id,
                                             const UserSettings& settings) {
  return write<Token>([&](Db& db) -> Result<Token> {
    db.prepare("UPDATE tokens SET steward_fallback = ? WHERE id = ?")
        .bind_all(settings.steward_fallback, token_id)
        .exec();
    auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = ?");
    st.bind_all(token_id);
    if (!st.step()) return make_error(ErrorCode::kNotFound, "no token with id " + token_id);
    return token_from_row(st);
  });
}

Result<int64_t> SqliteStore::count_active_tokens(TokenKind kind) {
  return read<int64_t>([&](Db& db) -> Result<int64_t> {
    auto st = db.prepare("SELECT COUNT(*) FROM tokens WHERE kind = ? AND revoked_at = 0");
    st.bind_all(std::string(to_string(kind)));
    st.step();
    return st.int64(0);
  });
}

Result<void> SqliteStore::touch_token(const std::string& id, TimeMs now) {
  return write<void>([&](Db& db) -> Result<void> {
    db.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ? AND last_used_at <= ?")
        .bind_all(now, id, now - 60'000)
        .exec();
    return {};
  });
}

// ---- quotas (server limits, docs/security.md) -----------------------------------

Result<int64_t> SqliteStore::count_unfinished_jobs(const std::string& tenant) {
  return read<int64_t>([&](Db& db) -> Result<int64_t> {
    auto st = db.prepare(
        "SELECT COUNT(*) FROM jobs WHERE tenant = ? AND state IN ('queued', 'leased', 'running')");
    st.bind_all(tenant);
    st.step();
    return st.int64(0);
  });
}

Result<int64_t> SqliteStore::count_schedules(const std::string& tenant) {
  return read<int64_t>([&](Db& db) -> Result<int64_t> {
    auto st = db.prepare("SELECT COUNT(*) FROM schedules WHERE tenant = ?");
    st.bind_all(tenant);
    st.step();
    return st.int64(0);
  });
}

// ---- runners ------------------------------------------------------------------

Result<Runner> SqliteStore::register_runner(const std::string& tenant, const std::string& token_id,
                                            const RunnerRegistration& reg,
                                            const std::string& secret_hash, TimeMs now) {
  return write<Runner>([&](Db& db) -> Result<Runner> {
    std::string id;
    {
      auto st = db.prepare("SELECT id, token_id FROM runners WHERE tenant = ? AND name = ?");
      st.bind_all(tenant, reg.name);
      if (st.step()) {
        id = st.text(0);
        if (st.text(1) != token_id) return runner_name_taken(reg.name, id);
      }
    }
    std::string owner;
    {
      auto st = db.prepare("SELECT created_by FROM tokens WHERE id = ?");
      st.bind_all(token_id);
      if (st.step()) owner = st.text(0);
    }
    json system{{"cpus", reg.system.cpus},
                {"memory_bytes", reg.system.memory_bytes},
                {"disk_bytes", reg.system.disk_bytes},
                {"hostname", reg.system.hostname}};
    if (id.empty()) {
      id = new_id("runner");
      db.prepare(
            "INSERT INTO runners (id, tenant, name, token_id, secret_hash, labels, grp, modes,"
            " max_concurrent_jobs, version, capabilities, system, status, last_heartbeat_at,"
            " registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'idle', ?, ?)")
          .bind_all(id, tenant, reg.name, token_id, secret_hash, json(reg.labels).dump(), reg.group,
                    json(reg.modes).dump(), reg.max_concurrent_jobs, reg.version,
                    reg.capabilities.dump(), system.dump(), now, now)
          .exec();
      db.prepare(
            "UPDATE runners SET owner_token_id = ?, owner_only = ?, description = ? WHERE id = ?")
          .bind_all(owner, reg.owner_only ? 1 : 0, reg.description, id)
          .exec();
    } else {
      db.prepare(
            "UPDATE runners SET token_id = ?, secret_hash = ?, labels = ?, grp = ?, modes = ?,"
            " max_concurrent_jobs = ?, version = ?, capabilities = ?, system = ?,"
            " status = 'idle', draining = admin_drain, last_heartbeat_at = ?, registered_at = ?"
            " WHERE id = ?")
          .bind_all(token_id, secret_hash, json(reg.labels).dump(), reg.group,
                    json(reg.modes).dump(), reg.max_concurrent_jobs, reg.version,
                    reg.capabilities.dump(), system.dump(), now, now, id)
          .exec();
      db.prepare(
            "UPDATE runners SET owner_token_id = ?, owner_only = ?, description = ? WHERE id = ?")
          .bind_all(owner, reg.owner_only ? 1 : 0, reg.description, id)
          .exec();
      // Reconcile (as a Mesos agent re-registers): attempts the server leased to this runner
      // that it no longer runs are lost now, not when their lease runs out.
      std::set<std::pair<std::string, int>> still_running;
      for (const auto& r : reg.running) still_running.insert({r.job_id, r.attempt});
      std::vector<std::pair<std::string, int>> gone;
      {
        auto st = db.prepare(
            "SELECT job_id, attempt FROM attempts WHERE runner_id = ? AND state IN ('leased', "
            "'running')");
        st.bind_all(id);
        while (st.step()) {
          std::pair<std::string, int> key{st.text(0), st.integer(1)};
          if (!still_running.count(key)) gone.push_back(key);
        }
      }
      for (const auto& [job_id, attempt] : gone) sqlite::lose_attempt(db, job_id, attempt, now);
    }
    sqlite::refresh_runner_status(db, id);
    auto runner = sqlite::load_runner(db, id);
    if (!runner) return make_error(ErrorCode::kInternal, "runner vanished during registration");
    return *runner;
  });
}

Result<Runner> SqliteStore::get_runner(const std::string& id) {
  return read<Runner>([&](Db& db) -> Result<Runner> {
    auto runner = sqlite::load_runner(db, id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    return *runner;
  });
}

Result<std::optional<Runner>> SqliteStore::find_runner_by_secret_hash(const std::string& hash) {
  return read<std::optional<Runner>>([&](Db& db) -> Result<std::optional<Runner>> {
    std::string id;
    {
      auto st = db.prepare("SELECT id FROM runners WHERE secret_hash = ?");
      st.bind_all(hash);
      if (!st.step()) return std::optional<Runner>();
      id = st.text(0);
    }
    return sqlite::load_runner(db, id);
  });
}

Result<std::vector<Runner>> SqliteStore::list_runners(const std::string& tenant) {
  return read<std::vector<Runner>>([&](Db& db) -> Result<std::vector<Runner>> {
    std::vector<std::string> ids;
    {
      auto st = db.prepare("SELECT id FROM runners WHERE tenant = ? ORDER BY name");
      st.bind_all(tenant);
      while (st.step()) ids.push_back(st.text(0));
    }
    std::vector<Runner> out;
    for (const auto& id : ids) {
      if (auto r = sqlite::load_runner(db, id)) out.push_back(std::move(*r));
    }
    return out;
  });
}

Result<std::vector<RunnerCommand>> SqliteStore::heartbeat(const std::string& runner_id,
                                                          const HeartbeatReport& report, TimeMs now,
                                                          TimeMs lease_ms) {
  return write<std::vector<RunnerCommand>>([&](Db& db) -> Result<std::vector<RunnerCommand>> {
    bool drain_requested = false;
    {
      // A drain command on its way says it itself, with its id to acknowledge: a bare drain
      // here as well would make the runner drop the parked claim that carries it.
      auto st = db.prepare(
          "SELECT admin_drain, EXISTS (SELECT 1 FROM runner_controls WHERE runner_id = ?"
          " AND type = 'drain' AND state IN ('pending', 'delivered')) FROM runners WHERE id = ?");
      st.bind_all(runner_id, runner_id);
      if (!st.step()) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
      drain_requested = st.integer(0) != 0 && st.integer(1) == 0 && !report.draining;
    }
    // An admin's drain holds until an admin resumes the runner; otherwise the runner says
    // whether it drains (shutting down, or told to by a remote command).
    db.prepare(
          "UPDATE runners SET last_heartbeat_at = ?, usage = ?,"
          " draining = CASE WHEN admin_drain = 1 THEN 1 ELSE ? END,"
          " status = CASE WHEN status = 'offline' THEN 'idle' ELSE status END"
          " WHERE id = ?")
        .bind_all(now, report.usage.dump(), report.draining, runner_id)
        .exec();
    auto sample = usage_sample_of(report.usage, static_cast<int>(report.running.size()), now);
    if (sample && report.usage_sample_every_ms > 0) {
      auto st = db.prepare(
          "INSERT INTO runner_usage (runner_id, at, load_1m, memory_available_bytes,"
          " disk_free_bytes, running) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
          " (SELECT 1 FROM runner_usage WHERE runner_id = ? AND at > ?)");
      st.bind_all(runner_id, now, sample->load_1m, sample->memory_available_bytes,
                  sample->disk_free_bytes, sample->running, runner_id,
                  now - report.usage_sample_every_ms)
          .exec();
      if (db.changes() > 0) {
        db.prepare("DELETE FROM runner_usage WHERE runner_id = ? AND at < ?")
            .bind_all(runner_id, now - RunnerUsageSample::kKeepMs)
            .exec();
      }
    }
    std::vector<RunnerCommand> commands;
    if (drain_requested) commands.push_back({"drain", "", 0, "requested by an admin"});
    for (const auto& running : report.running) {
      std::string owner, state;
      int current = -1;
      bool cancel_requested = false;
      {
        auto st = db.prepare(
            "SELECT a.runner_id, a.state, j.attempt, j.cancel_requested FROM attempts a"
            " JOIN jobs j ON j.id = a.job_id WHERE a.job_id = ? AND a.attempt = ?");
        st.bind_all(running.job_id, running.attempt);
        if (st.step()) {
          owner = st.text(0);
          state = st.text(1);
          current = st.integer(2);
          cancel_requested = st.integer(3) != 0;
        }
      }
      bool active = owner == runner_id && current == running.attempt &&
                    (state == "leased" || state == "running");
      if (!active) {
        commands.push_back({"cancel", running.job_id, running.attempt, "stale"});
        continue;
      }
      db.prepare("UPDATE attempts SET lease_expires_at = ? WHERE job_id = ? AND attempt = ?")
          .bind_all(now + lease_ms, running.job_id, running.attempt)
          .exec();
      if (cancel_requested)
        commands.push_back({"cancel", running.job_id, running.attempt, "canceled"});
    }
    if (report.going_away) {
      // The runner is shutting down: whatever it still holds goes back to the queue now.
      std::vector<std::pair<std::string, int>> held;
      {
        auto st = db.prepare(
            "SELECT job_id, attempt FROM attempts WHERE runner_id = ? AND state IN ('leased', "
            "'running')");
        st.bind_all(runner_id);
        while (st.step()) held.emplace_back(st.text(0), st.integer(1));
      }
      for (const auto& [job_id, attempt] : held) sqlite::lose_attempt(db, job_id, attempt, now);
      db.prepare("UPDATE runners SET status = 'offline', draining = 1 WHERE id = ?")
          .bind_all(runner_id)
          .exec();
    } else {
      sqlite::refresh_runner_status(db, runner_id);
    }
    return commands;
  });
}

// ---- remote commands

Result<RunnerControl> SqliteStore::add_runner_control(const RunnerControl& control) {
  return write<RunnerControl>([&](Db& db) -> Result<RunnerControl> {
    auto runner = db.prepare("SELECT 1 FROM runners WHERE id = ? AND tenant = ?");
    runner.bind_all(control.runner_id, control.tenant);
    if (!runner.step()) return no_runner(control.runner_id);
    if (control.type == "restart" || control.type == "update") {
      db.prepare(
            "UPDATE runner_controls SET state = 'canceled', finished_at = ?, message = ?"
            " WHERE runner_id = ? AND type IN ('restart', 'update')"
            " AND state IN ('pending', 'delivered')")
          .bind_all(control.created_at, "replaced by " + control.id, control.runner_id)
          .exec();
    }
    db.prepare(std::string("INSERT INTO runner_controls (") + kRunnerControlColumns +
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind_all(control.id, control.tenant, control.runner_id, control.type, control.state,
                  control.message, control.created_by, control.version, control.sha256,
                  control.created_at, control.delivered_at, control.finished_at)
        .exec();
    return control;
  });
}

Result<std::vector<RunnerControl>> SqliteStore::list_runner_controls(const std::string& tenant,
                                                                     const std::string& runner_id,
                                                                     int limit) {
  using Controls = std::vector<RunnerControl>;
  return read<Controls>([&](Db& db) -> Result<Controls> {
    auto runner = db.prepare("SELECT 1 FROM runners WHERE id = ? AND tenant = ?");
    runner.bind_all(runner_id, tenant);
    if (!runner.step()) return no_runner(runner_id);
    auto st = db.prepare(std::string("SELECT ") + kRunnerControlColumns +
                         " FROM runner_controls WHERE runner_id = ? AND tenant = ?"
                         " ORDER BY created_at DESC, id DESC LIMIT ?");
    st.bind_all(runner_id, tenant, limit);
    Controls out;
    while (st.step()) out.push_back(runner_control_from_row(st));
    return out;
  });
}

Result<std::vector<RunnerControl>> SqliteStore::deliver_runner_controls(
    const std::string& runner_id, TimeMs now) {
  using Controls = std::vector<RunnerControl>;
  return write<Controls>([&](Db& db) -> Result<Controls> {
    auto st = db.prepare(std::string("UPDATE runner_controls SET state = 'delivered',"
                                     " delivered_at = ? WHERE runner_id = ? AND state = 'pending'"
                                     " RETURNING ") +
                         kRunnerControlColumns);
    st.bind_all(now, runner_id);
    Controls out;
    while (st.step()) out.push_back(runner_control_from_row(st));
    std::sort(out.begin(), out.end(), [](const RunnerControl& a, const RunnerControl& b) {
      return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    return out;
  });
}

Result<void> SqliteStore::finish_runner_control(const std::string& runner_id, const std::string& id,
                                                bool succeeded, const std::string& message,
                                                TimeMs now) {
  return write<void>([&](Db& db) -> Result<void> {
    db.prepare(
          "UPDATE runner_controls SET state = ?, message = ?, finished_at = ?"
          " WHERE id = ? AND runner_id = ? AND state IN ('pending', 'delivered')")
        .bind_all(succeeded ? "succeeded" : "failed", message, now, id, runner_id)
        .exec();
    return {};
  });
}

Result<Runner> SqliteStore::drain_runner(const std::string& tenant, const std::string& id) {
  return write<Runner>([&](Db& db) -> Result<Runner> {
    int changed = db.prepare(
                        "UPDATE runners SET draining = 1, admin_drain = 1,"
                        " status = CASE WHEN status = 'offline' THEN 'offline' ELSE 'draining' END"
                        " WHERE id = ? AND tenant = ?")
                      .bind_all(id, tenant)
                      .exec();
    if (changed == 0) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    return *sqlite::load_runner(db, id);
  });
}

Result<Runner> SqliteStore::resume_runner(const std::string& tenant, const std::string& id) {
  return write<Runner>([&](Db& db) -> Result<Runner> {
    int changed = db.prepare(
                        "UPDATE runners SET draining = 0, admin_drain = 0,"
                        " status = CASE WHEN status = 'draining' THEN 'idle' ELSE status END"
                        " WHERE id = ? AND tenant = ?")
                      .bind_all(id, tenant)
                      .exec();
    if (changed == 0) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    sqlite::refresh_runner_status(db, id);
    return *sqlite::load_runner(db, id);
  });
}

Result<std::pair<Runner, std::vector<std::string>>> SqliteStore::delete_runner(
    const std::string& tenant, const std::string& id, TimeMs now) {
  using Removal = std::pair<Runner, std::vector<std::string>>;
  return write<Removal>([&](Db& db) -> Result<Removal> {
    auto runner = sqlite::load_runner(db, id);
    if (!runner || runner->tenant != tenant)
      return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    auto requeued = sqlite::lose_runner_attempts(db, id, now);
    db.prepare("DELETE FROM runners WHERE id = ?").bind_all(id).exec();
    db.prepare("DELETE FROM runner_usage WHERE runner_id = ?").bind_all(id).exec();
    return Removal{std::move(*runner), std::move(requeued)};
  });
}

Result<std::vector<RunnerUsageSample>> SqliteStore::runner_usage(const std::string& runner_id,
                                                                 TimeMs since) {
  return read<std::vector<RunnerUsageSample>>(
      [&](Db& db) -> Result<std::vector<RunnerUsageSample>> {
        std::vector<RunnerUsageSample> out;
        auto st = db.prepare(std::string("SELECT ") + kRunnerUsageColumns +
                             " FROM runner_usage WHERE runner_id = ? AND at >= ? ORDER BY at");
        st.bind_all(runner_id, since);
        while (st.step()) out.push_back(runner_usage_from_row(st));
        return out;
      });
}

Result<std::vector<std::string>> SqliteStore::mark_stale_runners_offline(TimeMs stale_before) {
  return write<std::vector<std::string>>([&](Db& db) -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    auto st = db.prepare(
        "UPDATE runners SET status = 'offline' WHERE status != 'offline'"
        " AND last_heartbeat_at < ? RETURNING id");
    st.bind_all(stale_before);
    while (st.step()) ids.push_back(st.text(0));
    return ids;
  });
}

}  // namespace corral
