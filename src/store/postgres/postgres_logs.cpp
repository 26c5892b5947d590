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

Result<void> PostgresStore::write_log_bytes(pg::Connection& c, const std::string& job_id,
                                            int attempt, int64_t at, const std::string& bytes) {
  c.query("INSERT INTO log_chunks (job_id, attempt, byte_offset, data) VALUES ($1, $2, $3, $4)",
          job_id, attempt, at, pg::Bytes{bytes});
  return {};
}

Result<void> PostgresStore::put_agent_events(const std::string& runner_id,
                                             const std::string& job_id, int attempt,
                                             std::string_view data) {
  return tx<void>([&](Connection& c) -> Result<void> {
    auto active = active_attempt(c, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    c.query(
        "INSERT INTO attempt_events (job_id, attempt, data) VALUES ($1, $2, $3)"
        " ON CONFLICT (job_id, attempt) DO UPDATE SET data = EXCLUDED.data",
        job_id, attempt, pg::Bytes{data});
    return {};
  });
}

Result<std::string> PostgresStore::log_bytes(pg::Connection& c, const std::string& job_id,
                                             int attempt, int64_t offset, int64_t n) {
  int64_t end = offset + n;
  // From the chunk holding `offset` (the last one starting at or before it) up to `end`.
  auto rows = c.query(
      "SELECT byte_offset, data FROM log_chunks WHERE job_id = $1 AND attempt = $2"
      " AND byte_offset < $3 AND byte_offset >= COALESCE((SELECT MAX(byte_offset) FROM log_chunks"
      "   WHERE job_id = $1 AND attempt = $2 AND byte_offset <= $4), 0)"
      " ORDER BY byte_offset",
      job_id, attempt, end, offset);
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
  return out;
}

}  // namespace corral
