// What both stores decide about an attempt, whatever their SQL: the fence every runner call
// goes through, what a log append does to the attempt's log, and what a finish makes of the
// job. Pure functions; SqliteStore and PostgresStore read the facts and apply the plans.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"
#include "store/store.h"

namespace corral {

// An attempt and its job as a runner call finds them.
struct AttemptFence {
  std::string runner_id;
  std::string state;     // the attempt's
  int64_t log_size = 0;  // readable bytes
  int job_attempt = 0;   // the job's current attempt
  bool cancel_requested = false;
  std::string job_state;
  int64_t log_received = 0;  // bytes the runner sent
  bool log_truncated = false;

  bool active() const { return state == "leased" || state == "running"; }
};

// A runner call about (job_id, attempt) goes on only if the attempt exists (`found`), is the
// calling runner's, and is the job's current one; otherwise a 409 that says which.
Result<AttemptFence> check_fence(const std::optional<AttemptFence>& found,
                                 const std::string& runner_id, const std::string& job_id,
                                 int attempt);
Error attempt_missing(const std::string& job_id, int attempt);
Error attempt_not_active(const std::string& job_id, int attempt, const AttemptFence& fence);
// kNotFound for a job (or attempt) without agent events, saying why there may be none.
Error no_agent_events(const std::string& job_id, int attempt);

// An append of `data` at byte `offset` (store.h, Store::append_log). Offsets count every byte
// the runner sent; the readable log stops at `cap` bytes plus a line saying so.
struct LogAppendPlan {
  LogAppend result;          // the answer; result.stored is what to write at stored_offset
  bool change = false;       // false: a repeat of bytes already received, nothing to do
  int64_t new_size = 0;      // the readable size after the append
  int64_t new_received = 0;  // bytes received after the append
  bool truncated = false;    // the log is truncated after the append
};
// A gap is a 416 with {"next_offset":N} in the error detail; new bytes for an attempt that is
// no longer active are a 409.
Result<LogAppendPlan> plan_log_append(const AttemptFence& fence, const std::string& job_id,
                                      int attempt, int64_t offset, std::string_view data,
                                      int64_t cap);

// A job spec from its JSON text (an empty spec when it cannot be read).
JobSpec job_spec_of(const std::string& spec_json);
// The retry policy of a job spec's JSON text (the defaults when it cannot be read).
RetryPolicy retry_policy_of_spec(const std::string& spec_json);

// read_log's answer but for its bytes (store.h, Store::read_log): the attempt asked for
// (0: the latest), its log's size, whether the log is complete; `want` is how many bytes to
// read from the offset (0: none). kNotFound without the job or the attempt.
struct LogReadPlan {
  LogChunk chunk;
  int64_t want = 0;
};
Result<LogReadPlan> plan_log_read(const std::optional<Job>& job, const std::string& job_id,
                                  int attempt, int64_t offset, int64_t max_bytes);

// What a finish report makes of an active attempt and its job: the job ends with the
// attempt's state (canceled when a cancel was requested), or, for a failure its retry
// policy names while attempts are left, goes back to the queue after the backoff.
struct FinishPlan {
  std::string attempt_state;
  std::string attempt_reason;
  std::string job_state;
  std::string job_reason;
  bool retry = false;
  TimeMs not_before = 0;              // when retry: the next attempt's earliest start
  std::optional<std::string> result;  // the job's result (JSON), when it ends with one
};
// The job's retry facts, read only for a failure that might be retried.
struct RetryFacts {
  int max_attempts = 0;
  RetryPolicy policy;
};
FinishPlan plan_finish(const FinishReport& report, bool cancel_requested, int attempt, TimeMs now,
                       const std::function<RetryFacts()>& retry_facts);

}  // namespace corral
