#include "workflow/needs.h"

#include <algorithm>
#include <set>

namespace corral::workflow {
namespace {

const Job* wf_find(const std::vector<Job>& jobs, const std::string& id) {
  for (const auto& job : jobs) {
    if (job.id == id) return &job;
  }
  return nullptr;
}

// A cycle among `left` (jobs not yet ordered), as "'a' -> 'b' -> 'a'".
std::string wf_describe_cycle(const std::vector<Job>& jobs, const std::set<std::string>& left) {
  // Every job left has a need that is also left; walk those until a job repeats.
  std::vector<std::string> path;
  std::string current;
  for (const auto& job : jobs) {
    if (left.count(job.id)) {
      current = job.id;
      break;
    }
  }
  while (std::find(path.begin(), path.end(), current) == path.end()) {
    path.push_back(current);
    const Job* job = wf_find(jobs, current);
    for (const auto& need : job->needs) {
      if (left.count(need)) {
        current = need;
        break;
      }
    }
  }
  auto start = std::find(path.begin(), path.end(), current);
  std::string out;
  for (auto it = start; it != path.end(); ++it) out += "'" + *it + "' -> ";
  return out + "'" + current + "'";
}

void wf_ancestors(const std::vector<Job>& jobs, const Job& job, std::set<std::string>& out) {
  for (const auto& need : job.needs) {
    if (!out.insert(need).second) continue;
    if (const Job* parent = wf_find(jobs, need)) wf_ancestors(jobs, *parent, out);
  }
}

}  // namespace

std::string_view job_result_name(JobResult result) {
  switch (result) {
    case JobResult::kSuccess:
      return "success";
    case JobResult::kFailure:
      return "failure";
    case JobResult::kCancelled:
      return "cancelled";
    case JobResult::kSkipped:
      return "skipped";
  }
  return "failure";
}

Result<std::vector<std::string>> job_needs_order(const std::vector<Job>& jobs) {
  for (const auto& job : jobs) {
    for (const auto& need : job.needs) {
      if (!wf_find(jobs, need)) {
        return make_error(ErrorCode::kInvalidSpec,
                          "job '" + job.id + "' needs '" + need + "', which is not a job here");
      }
    }
  }
  std::vector<std::string> order;
  std::set<std::string> done;
  std::set<std::string> left;
  for (const auto& job : jobs) left.insert(job.id);
  while (!left.empty()) {
    // The first job in file order whose needs are all done: file order is kept where free.
    const Job* ready = nullptr;
    for (const auto& job : jobs) {
      if (!left.count(job.id)) continue;
      bool all_done = std::all_of(job.needs.begin(), job.needs.end(),
                                  [&](const std::string& need) { return done.count(need) > 0; });
      if (all_done) {
        ready = &job;
        break;
      }
    }
    if (!ready) {
      return make_error(ErrorCode::kInvalidSpec,
                        "jobs " + wf_describe_cycle(jobs, left) +
                            " need each other in a cycle; remove one of these needs");
    }
    order.push_back(ready->id);
    done.insert(ready->id);
    left.erase(ready->id);
  }
  return order;
}

JobGate job_gate(const std::vector<Job>& jobs, const Job& job,
                 const std::map<std::string, JobResult>& results, bool run_cancelled) {
  std::set<std::string> ancestors;
  wf_ancestors(jobs, job, ancestors);
  JobGate gate;
  bool any_failed = false;
  bool all_succeeded = true;
  for (const auto& id : ancestors) {
    auto it = results.find(id);
    JobResult result = it == results.end() ? JobResult::kSuccess : it->second;
    any_failed = any_failed || result == JobResult::kFailure;
    // As on GitHub, a skipped ancestor makes success() false too (hence the common
    // `if: always() && !failure() && !cancelled()` to run after skipped jobs).
    all_succeeded = all_succeeded && result == JobResult::kSuccess;
  }
  bool needs_succeeded =
      std::all_of(job.needs.begin(), job.needs.end(), [&](const std::string& id) {
        auto it = results.find(id);
        return it == results.end() || it->second == JobResult::kSuccess;
      });
  gate.status.success = all_succeeded && !run_cancelled;
  gate.status.failure = any_failed;
  gate.status.cancelled = run_cancelled;
  if (calls_status_function(job.if_condition)) {
    gate.kind = JobGate::kEvaluateIf;
  } else if (!needs_succeeded || run_cancelled) {
    gate.kind = JobGate::kSkip;
  } else {
    gate.kind = job.if_condition.empty() ? JobGate::kRun : JobGate::kEvaluateIf;
  }
  return gate;
}

}  // namespace corral::workflow
