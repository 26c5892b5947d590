// SqlStore's methods (sql_store.h) for tokens, quotas, runners and their remote commands;
// included through sql_store_impl.h.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/crypto.h"
#include "store/sql_core.h"
#include "store/sql_store.h"

namespace corral {

// ---- tokens -----------------------------------------------------------------

template <typename B, typename C>
Result<void> SqlStore<B, C>::insert_token(const Token& token) {
  return self().template transact<void>(StoreAccess::kWrite, [&](C& c) -> Result<void> {
    auto rows = c.query(
        "INSERT INTO tokens (id, kind, tenant, name, hash, created_at, created_by, runner_policy)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        token.id, std::string(to_string(token.kind)), token.tenant, token.name, token.hash,
        token.created_at, token.created_by, to_json(token.runner_policy).dump());
    if (rows.affected() == 0)
      return make_error(ErrorCode::kConflict, "a token with that id or value already exists");
    return {};
  });
}

template <typename B, typename C>
Result<std::optional<Token>> SqlStore<B, C>::find_token_by_hash(const std::string& hash) {
  using Found = std::optional<Token>;
  return self().template transact<Found>(StoreAccess::kRead, [&](C& c) -> Result<Found> {
    auto rows =
        c.query(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = $1", hash);
    if (rows.empty()) return Found();
    return Found(token_from_row(rows.front()));
  });
}

template <typename B, typename C>
Result<std::vector<Token>> SqlStore<B, C>::list_tokens() {
  return self().template transact<std::vector<Token>>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<std::vector<Token>> {
        return all_rows(c.query(std::string("SELECT ") + kTokenColumns +
                                " FROM tokens ORDER BY created_at, id"),
                        [](const auto& row) { return token_from_row(row); });
      });
}

template <typename B, typename C>
Result<Revocation> SqlStore<B, C>::revoke_token(const std::string& id, TimeMs now) {
  return self().template transact<Revocation>(StoreAccess::kWrite, [&](C& c) -> Result<Revocation> {
    Revocation out;
    auto found = c.query(
        std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = $1" + lock_rows<C>(), id);
    if (found.empty()) return make_error(ErrorCode::kNotFound, "no token with id " + id);
    out.token = token_from_row(found.front());
    c.query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0", now, id);
    if (out.token.revoked_at == 0) out.token.revoked_at = now;
    auto made = c.query(
        "UPDATE tokens SET revoked_at = $1 WHERE created_by = $2 AND kind = 'runner' AND "
        "revoked_at = 0 RETURNING id",
        now, id);
    for (int i = 0; i < made.size(); ++i) out.runner_tokens.push_back(made[i].text(0));
    // Every runner token it made, revoked now or before: their runners go too. An empty
    // hash matches no presented secret (that is a SHA-256 of something).
    auto runners = c.query(
        "UPDATE runners SET secret_hash = '', status = 'offline' WHERE secret_hash != '' AND "
        "(token_id = $1 OR"
        " token_id IN (SELECT id FROM tokens WHERE created_by = $1 AND kind = 'runner')) RETURNING "
        "id",
        id);
    for (int i = 0; i < runners.size(); ++i) out.runners.push_back(runners[i].text(0));
    std::sort(out.runners.begin(), out.runners.end());
    for (const auto& runner_id : out.runners) {
      for (auto& job : lose_runner_attempts(c, runner_id, now))
        out.requeued_jobs.push_back(std::move(job));
    }
    auto schedules = c.query(
        "UPDATE schedules SET paused = 1, paused_reason = $1, updated_at = $2 WHERE owner_token_id "
        "= $3 AND paused = 0 RETURNING id",
        "its owner's token " + id + " was revoked", now, id);
    for (int i = 0; i < schedules.size(); ++i) out.schedules.push_back(schedules[i].text(0));
    return out;
  });
}

template <typename B, typename C>
Result<Token> SqlStore<B, C>::get_token(const std::string& id) {
  return self().template transact<Token>(StoreAccess::kRead, [&](C& c) -> Result<Token> {
    auto rows = c.query(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id = $1", id);
    if (rows.empty()) return make_error(ErrorCode::kNotFound, "no token with id " + id);
    return token_from_row(rows.front());
  });
}

template <typename B, typename C>
Result<Token> SqlStore<B, C>::set_user_settings(const std::string& token_id,
                                                const UserSettings& settings) {
  return self().template transact<Token>(StoreAccess::kWrite, [&](C& c) -> Result<Token> {
    auto rows =
        c.query(std::string("UPDATE tokens SET steward_fallback = $1 WHERE id = $2 RETURNING ") +
                    kTokenColumns,
                settings.steward_fallback, token_id);
    if (rows.empty()) return make_error(ErrorCode::kNotFound, "no token with id " + token_id);
    return token_from_row(rows.front());
  });
}

template <typename B, typename C>
Result<int64_t> SqlStore<B, C>::count_active_tokens(TokenKind kind) {
  return self().template transact<int64_t>(StoreAccess::kSnapshot, [&](C& c) -> Result<int64_t> {
    return c
        .query("SELECT COUNT(*) FROM tokens WHERE kind = $1 AND revoked_at = 0",
               std::string(to_string(kind)))
        .front()
        .int64(0);
  });
}

template <typename B, typename C>
Result<void> SqlStore<B, C>::touch_token(const std::string& id, TimeMs now) {
  return self().template transact<void>(StoreAccess::kRoutineWrite, [&](C& c) -> Result<void> {
    c.query("UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at <= $3", now, id,
            now - 60'000);
    return {};
  });
}

// ---- quotas (server limits, docs/security.md) -----------------------------------

template <typename B, typename C>
Result<int64_t> SqlStore<B, C>::count_unfinished_jobs(const std::string& tenant) {
  return self().template transact<int64_t>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<int64_t> { return unfinished_jobs(c, tenant); });
}

template <typename B, typename C>
Result<int64_t> SqlStore<B, C>::count_schedules(const std::string& tenant) {
  return self().template transact<int64_t>(StoreAccess::kSnapshot, [&](C& c) -> Result<int64_t> {
    return c.query("SELECT COUNT(*) FROM schedules WHERE tenant = $1", tenant).front().int64(0);
  });
}

// ---- runners ------------------------------------------------------------------

template <typename B, typename C>
Result<Runner> SqlStore<B, C>::register_runner(const std::string& tenant,
                                               const std::string& token_id,
                                               const RunnerRegistration& reg,
                                               const std::string& secret_hash, TimeMs now) {
  return self().template transact<Runner>(StoreAccess::kWrite, [&](C& c) -> Result<Runner> {
    std::string owner;
    {
      auto rows = c.query("SELECT created_by FROM tokens WHERE id = $1", token_id);
      if (!rows.empty()) owner = rows.front().text(0);
    }
    json system{{"cpus", reg.system.cpus},
                {"memory_bytes", reg.system.memory_bytes},
                {"disk_bytes", reg.system.disk_bytes},
                {"hostname", reg.system.hostname}};
    // Insert-or-find in one statement: two registrations of one name at the same moment
    // (two servers) end up with one row.
    auto inserted = c.query(
        "INSERT INTO runners (id, tenant, name, token_id, secret_hash, labels, grp, modes,"
        " max_concurrent_jobs, version, capabilities, system, status, last_heartbeat_at,"
        " registered_at, owner_token_id, owner_only, description)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'idle', $13, $13, $14, $15,"
        " $16) ON CONFLICT (tenant, name) DO NOTHING RETURNING id",
        new_id("runner"), tenant, reg.name, token_id, secret_hash, json(reg.labels).dump(),
        reg.group, json(reg.modes).dump(), reg.max_concurrent_jobs, reg.version,
        reg.capabilities.dump(), system.dump(), now, owner, reg.owner_only, reg.description);
    std::string id;
    if (!inserted.empty()) {
      id = inserted.front().text(0);
    } else {
      auto rows = c.query(
          "SELECT id, token_id FROM runners WHERE tenant = $1 AND name = $2" + lock_rows<C>(),
          tenant, reg.name);
      if (rows.empty())
        return make_error(ErrorCode::kInternal, "runner vanished during registration");
      id = rows.front().text(0);
      if (rows.front().text(1) != token_id) return runner_name_taken(reg.name, id);
      c.query(
          "UPDATE runners SET token_id = $1, secret_hash = $2, labels = $3, grp = $4, modes = $5,"
          " max_concurrent_jobs = $6, version = $7, capabilities = $8, system = $9,"
          " status = 'idle', draining = admin_drain, last_heartbeat_at = $10, registered_at = $10,"
          " owner_token_id = $11, owner_only = $12, description = $13 WHERE id = $14",
          token_id, secret_hash, json(reg.labels).dump(), reg.group, json(reg.modes).dump(),
          reg.max_concurrent_jobs, reg.version, reg.capabilities.dump(), system.dump(), now, owner,
          reg.owner_only, reg.description, id);
      // Reconcile (as a Mesos agent re-registers): attempts the server leased to this runner
      // that it no longer runs are lost now, not when their lease runs out.
      std::set<std::pair<std::string, int>> still_running;
      for (const auto& r : reg.running) still_running.insert({r.job_id, r.attempt});
      for (const auto& key : held_attempts(c, id)) {
        if (!still_running.count(key)) lose_attempt(c, key.first, key.second, now);
      }
    }
    refresh_runner_status(c, id);
    auto runner = load_runner(c, id);
    if (!runner) return make_error(ErrorCode::kInternal, "runner vanished during registration");
    return *runner;
  });
}

template <typename B, typename C>
Result<Runner> SqlStore<B, C>::get_runner(const std::string& id) {
  return self().template transact<Runner>(StoreAccess::kRead, [&](C& c) -> Result<Runner> {
    auto runner = load_runner(c, id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    return *runner;
  });
}

template <typename B, typename C>
Result<std::optional<Runner>> SqlStore<B, C>::find_runner_by_secret_hash(const std::string& hash) {
  using Found = std::optional<Runner>;
  return self().template transact<Found>(StoreAccess::kRead, [&](C& c) -> Result<Found> {
    auto rows = c.query("SELECT id FROM runners WHERE secret_hash = $1", hash);
    if (rows.empty()) return Found();
    return load_runner(c, rows.front().text(0));
  });
}

template <typename B, typename C>
Result<std::vector<Runner>> SqlStore<B, C>::list_runners(const std::string& tenant,
                                                         RunnerListing listing) {
  return self().template transact<std::vector<Runner>>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<std::vector<Runner>> {
        // Two statements whatever the fleet's size: the rows, then what they all run.
        bool brief = listing == RunnerListing::kBrief;
        // Brief: the same columns, with capabilities and system empty and the usage report's
        // health in place of the report (the JSON the database picks out is not parsed here).
        static const std::string kBriefColumns =
            "id, tenant, name, token_id, secret_hash, labels, grp, modes, max_concurrent_jobs,"
            " version, '{}', '{}', " +
            std::string(C::kUsageHealth) +
            ", status, draining, last_heartbeat_at, registered_at, owner_token_id, owner_only,"
            " description";
        // Stepped through (each_row), not copied into memory first: a fleet of ten thousand
        // is 200,000 cells.
        std::vector<Runner> out;
        std::map<std::string, size_t> index_of;
        each_row(
            c,
            std::string("SELECT ") + (brief ? kBriefColumns : kRunnerColumns) +
                " FROM runners WHERE tenant = $1 ORDER BY name",
            [&](const auto& row) {
              out.push_back(runner_from_row(row, brief));
              index_of.emplace(out.back().id, out.size() - 1);
              return true;
            },
            tenant);
        auto running = c.query(
            "SELECT a.runner_id, a.job_id, a.attempt FROM attempts a JOIN runners r ON r.id ="
            " a.runner_id WHERE r.tenant = $1 AND a.state IN ('leased', 'running')"
            " ORDER BY a.claimed_at, a.job_id",
            tenant);
        for (int i = 0; i < running.size(); ++i) {
          auto it = index_of.find(running[i].text(0));
          if (it != index_of.end())
            out[it->second].running.push_back({running[i].text(1), running[i].integer(2)});
        }
        return out;
      });
}

template <typename B, typename C>
Result<std::vector<RunnerCommand>> SqlStore<B, C>::heartbeat(const std::string& runner_id,
                                                             const HeartbeatReport& report,
                                                             TimeMs now, TimeMs lease_ms) {
  using Commands = std::vector<RunnerCommand>;
  // Routine: on SQLite a heartbeat may wait a moment to share its commit with others.
  return self().template transact<Commands>(
      StoreAccess::kRoutineWrite, [&](C& c) -> Result<Commands> {
        bool drain_requested = false;
        bool resume_due = false;
        {
          // A drain command on its way says it itself, with its id to acknowledge: a bare drain
          // here as well would make the runner drop the parked claim that carries it.
          auto rows = c.query(
              "SELECT admin_drain, CAST(EXISTS (SELECT 1 FROM runner_controls WHERE runner_id = $1"
              " AND type = 'drain' AND state IN ('pending', 'delivered')) AS INTEGER) FROM runners"
              " WHERE id = $1" +
                  lock_rows<C>(),
              runner_id);
          if (rows.empty())
            return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
          bool admin_drain = rows.front().integer(0) != 0;
          bool drain_on_its_way = rows.front().integer(1) != 0;
          drain_requested = admin_drain && !drain_on_its_way && !report.draining;
          // Draining with no admin's drain in force: a resume that never reached the runner (it
          // heard of a drain that was lifted since). A runner draining of its own accord (shutting
          // down, updating) ignores it.
          resume_due = report.draining && !admin_drain && !drain_on_its_way && !report.going_away;
        }
        // An admin's drain holds until an admin resumes the runner; otherwise the runner says
        // whether it drains (shutting down, or told to by a remote command).
        c.query(
            "UPDATE runners SET last_heartbeat_at = $1, usage = $2,"
            " draining = CASE WHEN admin_drain = 1 THEN 1 ELSE CAST($3 AS INTEGER) END,"
            " status = CASE WHEN status = 'offline' THEN 'idle' ELSE status END"
            " WHERE id = $4",
            now, report.usage.dump(), report.draining, runner_id);
        auto sample = usage_sample_of(report.usage, static_cast<int>(report.running.size()), now);
        if (sample && report.usage_sample_every_ms > 0) {
          // The runner's row is locked above: two heartbeats of one runner add one sample.
          auto added = c.query(
              "INSERT INTO runner_usage (runner_id, at, load_1m, memory_available_bytes,"
              " disk_free_bytes, running) SELECT $1, CAST($2 AS BIGINT), CAST($3 AS DOUBLE "
              "PRECISION),"
              " CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS INTEGER) WHERE NOT EXISTS"
              " (SELECT 1 FROM runner_usage WHERE runner_id = $1 AND at > $7) RETURNING at",
              runner_id, now, sample->load_1m, sample->memory_available_bytes,
              sample->disk_free_bytes, sample->running, now - report.usage_sample_every_ms);
          if (!added.empty()) {
            c.query("DELETE FROM runner_usage WHERE runner_id = $1 AND at < $2", runner_id,
                    now - RunnerUsageSample::kKeepMs);
          }
        }
        Commands commands;
        if (drain_requested) commands.push_back({"drain", "", 0, "requested by an admin"});
        if (resume_due) commands.push_back({"resume", "", 0, "no drain in force"});
        for (const auto& running : report.running) {
          // Locked: a lease sweep on another server either ran before (we see the attempt lost
          // and say so) or waits until this renewal is committed.
          auto rows = c.query(
              "SELECT a.runner_id, a.state, j.attempt, j.cancel_requested FROM attempts a"
              " JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1 AND a.attempt = $2" +
                  lock_rows<C>("OF a"),
              running.job_id, running.attempt);
          bool active = !rows.empty() && rows.front().text(0) == runner_id &&
                        rows.front().integer(2) == running.attempt &&
                        (rows.front().text(1) == "leased" || rows.front().text(1) == "running");
          if (!active) {
            commands.push_back({"cancel", running.job_id, running.attempt, "stale"});
            continue;
          }
          c.query("UPDATE attempts SET lease_expires_at = $1 WHERE job_id = $2 AND attempt = $3",
                  now + lease_ms, running.job_id, running.attempt);
          if (rows.front().integer(3) != 0)
            commands.push_back({"cancel", running.job_id, running.attempt, "canceled"});
        }
        if (report.going_away) {
          // The runner is shutting down: whatever it still holds goes back to the queue now.
          lose_runner_attempts(c, runner_id, now);
          c.query("UPDATE runners SET status = 'offline', draining = 1 WHERE id = $1", runner_id);
        } else {
          refresh_runner_status(c, runner_id);
        }
        return commands;
      });
}

// ---- remote commands

template <typename B, typename C>
Result<RunnerControl> SqlStore<B, C>::add_runner_control(const RunnerControl& control) {
  return self().template transact<RunnerControl>(
      StoreAccess::kWrite, [&](C& c) -> Result<RunnerControl> {
        if (c.query("SELECT 1 FROM runners WHERE id = $1 AND tenant = $2", control.runner_id,
                    control.tenant)
                .empty())
          return no_runner(control.runner_id);
        if (control.type == "restart" || control.type == "update") {
          c.query(
              "UPDATE runner_controls SET state = 'canceled', finished_at = $1, message = $2"
              " WHERE runner_id = $3 AND type IN ('restart', 'update')"
              " AND state IN ('pending', 'delivered')",
              control.created_at, "replaced by " + control.id, control.runner_id);
        }
        c.query(std::string("INSERT INTO runner_controls (") + kRunnerControlColumns +
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                control.id, control.tenant, control.runner_id, control.type, control.state,
                control.message, control.created_by, control.version, control.sha256,
                control.created_at, control.delivered_at, control.finished_at);
        return control;
      });
}

template <typename B, typename C>
Result<std::vector<RunnerControl>> SqlStore<B, C>::list_runner_controls(
    const std::string& tenant, const std::string& runner_id, int limit) {
  using Controls = std::vector<RunnerControl>;
  return self().template transact<Controls>(StoreAccess::kSnapshot, [&](C& c) -> Result<Controls> {
    if (c.query("SELECT 1 FROM runners WHERE id = $1 AND tenant = $2", runner_id, tenant).empty())
      return no_runner(runner_id);
    return all_rows(c.query(std::string("SELECT ") + kRunnerControlColumns +
                                " FROM runner_controls WHERE runner_id = $1 AND tenant = $2"
                                " ORDER BY created_at DESC, id DESC LIMIT $3",
                            runner_id, tenant, limit),
                    [](const auto& row) { return runner_control_from_row(row); });
  });
}

template <typename B, typename C>
Result<std::vector<RunnerControl>> SqlStore<B, C>::deliver_runner_controls(
    const std::string& runner_id, TimeMs now) {
  using Controls = std::vector<RunnerControl>;
  // Nearly every heartbeat finds nothing waiting: a read says so without a write (SQLite's
  // one writer serves every runner's heartbeats). A command added just after the read goes
  // with the next heartbeat, or wakes the runner's parked claim at once.
  //
  // A command delivered kRedeliverControlMs ago and not yet answered goes again: the answer that
  // carried it may never have reached the runner (a parked claim it had just dropped). Runners
  // act on a command id once (runner/agent.cpp), so a repeat only asks again for the report.
  static constexpr const char* kDue =
      " WHERE runner_id = $1 AND (state = 'pending' OR (state = 'delivered' AND delivered_at <= "
      "$2))";
  TimeMs redeliver_before = now - kRedeliverControlMs;
  auto pending = self().template transact<bool>(StoreAccess::kRead, [&](C& c) -> Result<bool> {
    return !c.query(std::string("SELECT 1 FROM runner_controls") + kDue + " LIMIT 1", runner_id,
                    redeliver_before)
                .empty();
  });
  if (!pending.ok()) return pending.error();
  if (!*pending) return Controls{};
  return self().template transact<Controls>(StoreAccess::kWrite, [&](C& c) -> Result<Controls> {
    auto out = all_rows(c.query(std::string("UPDATE runner_controls SET state = 'delivered',"
                                            " delivered_at = $3") +
                                    kDue + " RETURNING " + kRunnerControlColumns,
                                runner_id, redeliver_before, now),
                        [](const auto& row) { return runner_control_from_row(row); });
    std::sort(out.begin(), out.end(), [](const RunnerControl& a, const RunnerControl& b) {
      return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    return out;
  });
}

template <typename B, typename C>
Result<void> SqlStore<B, C>::finish_runner_control(const std::string& runner_id,
                                                   const std::string& id, bool succeeded,
                                                   const std::string& message, TimeMs now) {
  return self().template transact<void>(StoreAccess::kWrite, [&](C& c) -> Result<void> {
    c.query(
        "UPDATE runner_controls SET state = $1, message = $2, finished_at = $3"
        " WHERE id = $4 AND runner_id = $5 AND state IN ('pending', 'delivered')",
        succeeded ? "succeeded" : "failed", message, now, id, runner_id);
    return {};
  });
}

template <typename B, typename C>
Result<Runner> SqlStore<B, C>::drain_runner(const std::string& tenant, const std::string& id) {
  return set_admin_drain(tenant, id, true);
}

template <typename B, typename C>
Result<Runner> SqlStore<B, C>::resume_runner(const std::string& tenant, const std::string& id) {
  return set_admin_drain(tenant, id, false);
}

template <typename B, typename C>
Result<Runner> SqlStore<B, C>::set_admin_drain(const std::string& tenant, const std::string& id,
                                               bool drain) {
  return self().template transact<Runner>(StoreAccess::kWrite, [&](C& c) -> Result<Runner> {
    auto changed =
        c.query(drain ? "UPDATE runners SET draining = 1, admin_drain = 1,"
                        " status = CASE WHEN status = 'offline' THEN 'offline' ELSE 'draining' END"
                        " WHERE id = $1 AND tenant = $2"
                      : "UPDATE runners SET draining = 0, admin_drain = 0,"
                        " status = CASE WHEN status = 'draining' THEN 'idle' ELSE status END"
                        " WHERE id = $1 AND tenant = $2",
                id, tenant);
    if (changed.affected() == 0) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    if (!drain) refresh_runner_status(c, id);
    return *load_runner(c, id);
  });
}

template <typename B, typename C>
Result<std::pair<Runner, std::vector<std::string>>> SqlStore<B, C>::delete_runner(
    const std::string& tenant, const std::string& id, TimeMs now) {
  using Removal = std::pair<Runner, std::vector<std::string>>;
  return self().template transact<Removal>(StoreAccess::kWrite, [&](C& c) -> Result<Removal> {
    auto locked = c.query("SELECT id FROM runners WHERE id = $1 AND tenant = $2" + lock_rows<C>(),
                          id, tenant);
    if (locked.empty()) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    auto runner = load_runner(c, id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + id);
    auto requeued = lose_runner_attempts(c, id, now);
    c.query("DELETE FROM runners WHERE id = $1", id);
    c.query("DELETE FROM runner_usage WHERE runner_id = $1", id);
    return Removal{std::move(*runner), std::move(requeued)};
  });
}

template <typename B, typename C>
Result<std::vector<RunnerUsageSample>> SqlStore<B, C>::runner_usage(const std::string& runner_id,
                                                                    TimeMs since) {
  using Samples = std::vector<RunnerUsageSample>;
  return self().template transact<Samples>(StoreAccess::kSnapshot, [&](C& c) -> Result<Samples> {
    return all_rows(c.query(std::string("SELECT ") + kRunnerUsageColumns +
                                " FROM runner_usage WHERE runner_id = $1 AND at >= $2 ORDER BY at",
                            runner_id, since),
                    [](const auto& row) { return runner_usage_from_row(row); });
  });
}

template <typename B, typename C>
Result<std::vector<std::string>> SqlStore<B, C>::mark_stale_runners_offline(TimeMs stale_before) {
  using Ids = std::vector<std::string>;
  return self().template transact<Ids>(StoreAccess::kWrite, [&](C& c) -> Result<Ids> {
    // Exactly once across servers: a second server's UPDATE waits on the row lock, then
    // re-checks `status != 'offline'` and skips the row.
    return all_rows(c.query("UPDATE runners SET status = 'offline' WHERE status != 'offline'"
                            " AND last_heartbeat_at < $1 RETURNING id",
                            stale_before),
                    [](const auto& row) { return row.text(0); });
  });
}

}  // namespace corral
