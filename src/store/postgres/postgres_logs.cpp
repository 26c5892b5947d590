// PostgresStore: attempt logs as chunks in the log_chunks table. The semantics are
// SqliteStore::append_log's (LogFiles there): offsets count every byte the runner sent
// (log_received), the readable log stops at log_max_bytes plus a note (log_size), a repeat
// is idempotent and a gap is a 416 with {"next_offset":N}. A chunk and the sizes are
// committed together, so a reader on any server never sees a size past the bytes.
#include <algorithm>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

Result<LogAppend> PostgresStore::append_log(const std::string& runner_id, const std::string& job_id,
                                            int attempt, int64_t offset, std::string_view data,
                                            TimeMs now) {
  (void)now;
  return tx<LogAppend>([&](Connection& c) -> Result<LogAppend> {
    auto active = pg::fenced_attempt(c, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    auto plan = plan_log_append(*active, job_id, attempt, offset, data, options_.log_max_bytes);
    if (!plan.ok()) return plan.error();
    if (!plan->change) return plan->result;
    if (!plan->result.stored.empty()) {
      c.query("INSERT INTO log_chunks (job_id, attempt, byte_offset, data) VALUES ($1, $2, $3, $4)",
              job_id, attempt, active->log_size, pg::Bytes{plan->result.stored});
    }
    c.query(
        "UPDATE attempts SET log_size = $1, log_received = $2, log_truncated = $3"
        " WHERE job_id = $4 AND attempt = $5",
        plan->new_size, plan->new_received, plan->truncated, job_id, attempt);
    return plan->result;
  });
}

Result<void> PostgresStore::put_agent_events(const std::string& runner_id,
                                             const std::string& job_id, int attempt,
                                             std::string_view data) {
  return tx<void>([&](Connection& c) -> Result<void> {
    auto active = pg::fenced_attempt(c, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) return attempt_not_active(job_id, attempt, *active);
    c.query(
        "INSERT INTO attempt_events (job_id, attempt, data) VALUES ($1, $2, $3)"
        " ON CONFLICT (job_id, attempt) DO UPDATE SET data = EXCLUDED.data",
        job_id, attempt, pg::Bytes{data});
    return {};
  });
}

Result<AgentEvents> PostgresStore::read_agent_events(const std::string& tenant,
                                                     const std::string& job_id, int attempt) {
  return tx<AgentEvents>([&](Connection& c) -> Result<AgentEvents> {
    if (!pg::load_job(c, tenant, job_id))
      return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
    auto rows = c.query(
        "SELECT attempt, data FROM attempt_events WHERE job_id = $1 AND ($2 = 0 OR attempt = $2)"
        " ORDER BY attempt DESC LIMIT 1",
        job_id, attempt);
    if (rows.size() == 0) return no_agent_events(job_id, attempt);
    return AgentEvents{static_cast<int>(rows[0].int64(0)), rows[0].bytea(1)};
  });
}

Result<LogChunk> PostgresStore::read_log(const std::string& tenant, const std::string& job_id,
                                         int attempt, int64_t offset, int64_t max_bytes) {
  return tx<LogChunk>([&](Connection& c) -> Result<LogChunk> {
    auto job = pg::load_job(c, tenant, job_id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
    LogChunk chunk;
    chunk.offset = offset;
    const Attempt* chosen = nullptr;
    for (const auto& a : job->attempts) {
      if (attempt > 0 ? a.number == attempt : true) chosen = &a;
    }
    if (attempt > 0 && !chosen) {
      return make_error(ErrorCode::kNotFound,
                        "job " + job_id + " has no attempt " + std::to_string(attempt));
    }
    if (!chosen) {
      chunk.complete = is_terminal(job->state);
      return chunk;
    }
    chunk.attempt = chosen->number;
    chunk.size = chosen->log_size;
    chunk.complete =
        chosen->state != AttemptState::kLeased && chosen->state != AttemptState::kRunning;
    chunk.truncated = chosen->log_truncated;
    if (offset >= chosen->log_size || max_bytes <= 0) return chunk;
    int64_t end = offset + std::min(max_bytes, chosen->log_size - offset);
    // From the chunk holding `offset` (the last one starting at or before it) up to `end`.
    auto rows = c.query(
        "SELECT byte_offset, data FROM log_chunks WHERE job_id = $1 AND attempt = $2"
        " AND byte_offset < $3 AND byte_offset >= COALESCE((SELECT MAX(byte_offset) FROM log_chunks"
        "   WHERE job_id = $1 AND attempt = $2 AND byte_offset <= $4), 0)"
        " ORDER BY byte_offset",
        job_id, chosen->number, end, offset);
    std::string out;
    out.reserve(static_cast<size_t>(end - offset));
    for (int i = 0; i < rows.size(); ++i) {
      int64_t at = rows[i].int64(0);
      std::string bytes = rows[i].bytea(1);
      int64_t from = std::max(offset, at);
      int64_t to = std::min(end, at + static_cast<int64_t>(bytes.size()));
      if (to <= from) continue;
      out.append(bytes, static_cast<size_t>(from - at), static_cast<size_t>(to - from));
    }
    chunk.data = std::move(out);
    return chunk;
  });
}

}  // namespace corral
