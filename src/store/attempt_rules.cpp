#include "store/attempt_rules.h"

#include <algorithm>

namespace corral {

namespace {
std::string attempt_name(const std::string& job_id, int attempt) {
  return "attempt " + std::to_string(attempt) + " of job " + job_id;
}
}  // namespace

Error attempt_missing(const std::string& job_id, int attempt) {
  return make_error(ErrorCode::kConflict, attempt_name(job_id, attempt) + " does not exist");
}

Error attempt_not_active(const std::string& job_id, int attempt, const AttemptFence& fence) {
  return make_error(ErrorCode::kConflict, attempt_name(job_id, attempt) +
                                              " is no longer active (it is " + fence.state + ")");
}

Result<AttemptFence> check_fence(const std::optional<AttemptFence>& found,
                                 const std::string& runner_id, const std::string& job_id,
                                 int attempt) {
  if (!found) return attempt_missing(job_id, attempt);
  if (found->runner_id != runner_id) {
    return make_error(ErrorCode::kConflict,
                      attempt_name(job_id, attempt) + " belongs to another runner");
  }
  if (found->job_attempt != attempt) {
    return make_error(ErrorCode::kConflict, attempt_name(job_id, attempt) +
                                                " is stale: the job is on attempt " +
                                                std::to_string(found->job_attempt));
  }
  return *found;
}

Result<LogAppendPlan> plan_log_append(const AttemptFence& fence, const std::string& job_id,
                                      int attempt, int64_t offset, std::string_view data,
                                      int64_t cap) {
  LogAppendPlan plan;
  plan.result.next_offset = fence.log_received;
  plan.result.stored_offset = fence.log_size;
  plan.new_size = fence.log_size;
  plan.new_received = fence.log_received;
  plan.truncated = fence.log_truncated;
  if (offset > fence.log_received) {
    Error e =
        make_error(ErrorCode::kRangeNotSatisfiable,
                   "log offset " + std::to_string(offset) + " leaves a gap: the server has " +
                       std::to_string(fence.log_received) + " bytes; resend from next_offset");
    e.detail_json = json{{"next_offset", fence.log_received}}.dump();
    return e;
  }
  int64_t end = offset + static_cast<int64_t>(data.size());
  if (end <= fence.log_received) return plan;  // a repeat of bytes already received
  if (!fence.active()) return attempt_not_active(job_id, attempt, fence);
  std::string_view fresh = data.substr(static_cast<size_t>(fence.log_received - offset));
  if (!fence.log_truncated) {
    int64_t room = std::max<int64_t>(0, cap - fence.log_size);
    if (static_cast<int64_t>(fresh.size()) <= room) {
      plan.result.stored.assign(fresh);
    } else {
      plan.result.stored.assign(fresh.substr(0, static_cast<size_t>(room)));
      plan.result.stored += "\n[corral] log truncated: it reached the server's limit of " +
                            std::to_string(cap) +
                            " bytes (corral server --log-max-bytes); later output was not kept\n";
      plan.truncated = true;
    }
  }
  plan.change = true;
  plan.new_size = fence.log_size + static_cast<int64_t>(plan.result.stored.size());
  plan.new_received = end;
  plan.result.next_offset = end;
  return plan;
}

FinishPlan plan_finish(const FinishReport& report, bool cancel_requested, int attempt, TimeMs now,
                       const std::function<RetryFacts()>& retry_facts) {
  FinishPlan plan;
  plan.attempt_state = to_string(report.state);
  plan.job_state = plan.attempt_state;
  plan.attempt_reason = report.reason;  // the runner's words are kept as they came
  if (cancel_requested) {
    plan.job_state = "canceled";
    if (plan.attempt_reason.empty())
      plan.attempt_reason = std::string(to_string(FailureReason::kCanceled));
  }
  plan.job_reason = plan.attempt_reason;
  if (report.state == AttemptState::kFailed && !cancel_requested) {
    FailureReason failure = plan.attempt_reason.empty() ? FailureReason::kExitCode
                                                        : parse_failure_reason(plan.attempt_reason);
    auto facts = retry_facts();
    if (attempt < facts.max_attempts && facts.policy.retries(failure)) {
      plan.retry = true;
      plan.job_state = "queued";
      plan.job_reason = to_string(failure);
      plan.not_before = now + facts.policy.backoff_ms(attempt);
      return plan;
    }
  }
  if (!report.result.is_null()) plan.result = report.result.dump();
  return plan;
}

Error no_agent_events(const std::string& job_id, int attempt) {
  return make_error(ErrorCode::kNotFound,
                    "job " + job_id + (attempt > 0 ? " attempt " + std::to_string(attempt) : "") +
                        " has no agent events: it is not an agent job, or no attempt's agent has"
                        " finished yet (the live log shows the agent's work meanwhile)");
}

JobSpec job_spec_of(const std::string& spec_json) {
  auto spec = parse_job_spec(json::parse(spec_json));
  return spec.ok() ? *spec : JobSpec{};
}

RetryPolicy retry_policy_of_spec(const std::string& spec_json) {
  auto spec = parse_job_spec(json::parse(spec_json, nullptr, false));
  return spec.ok() ? spec->retry : RetryPolicy{};
}

Result<LogReadPlan> plan_log_read(const std::optional<Job>& job, const std::string& job_id,
                                  int attempt, int64_t offset, int64_t max_bytes) {
  if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
  LogReadPlan plan;
  plan.chunk.offset = offset;
  const Attempt* chosen = nullptr;
  for (const auto& a : job->attempts) {
    if (attempt > 0 ? a.number == attempt : true) chosen = &a;
  }
  if (attempt > 0 && !chosen) {
    return make_error(ErrorCode::kNotFound,
                      "job " + job_id + " has no attempt " + std::to_string(attempt));
  }
  if (!chosen) {
    plan.chunk.complete = is_terminal(job->state);
    return plan;
  }
  plan.chunk.attempt = chosen->number;
  plan.chunk.size = chosen->log_size;
  plan.chunk.complete =
      chosen->state != AttemptState::kLeased && chosen->state != AttemptState::kRunning;
  plan.chunk.truncated = chosen->log_truncated;
  if (offset < chosen->log_size && max_bytes > 0)
    plan.want = std::min(max_bytes, chosen->log_size - offset);
  return plan;
}

}  // namespace corral
