// The job graph of a workflow: in what order jobs may start, and whether a job whose `needs`
// have finished runs, is skipped, or is decided by its `if:`.
//
// GitHub's rule, followed here: a job runs only when every job it needs succeeded, unless its
// `if:` calls a status function (always(), failure(), cancelled(), success()); then the `if:`
// alone decides, with success()/failure() answered from all the jobs it depends on, directly
// or through others (a failure two levels up makes failure() true).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "workflow/expr.h"
#include "workflow/workflow.h"

namespace corral::workflow {

// needs.<id>.result as GitHub names it.
enum class JobResult { kSuccess, kFailure, kCancelled, kSkipped };
std::string_view job_result_name(JobResult result);  // "success", "failure", ...

// The jobs' ids ordered so that every job comes after the jobs it needs (file order among
// jobs that are free to go), or an error naming an unknown job or a cycle:
// "jobs 'a' -> 'b' -> 'a' need each other in a cycle; remove one of these needs".
Result<std::vector<std::string>> job_needs_order(const std::vector<Job>& jobs);

// What to do with a job once all the jobs it needs have a result.
struct JobGate {
  enum Kind {
    kRun,         // no `if:` and every need succeeded
    kSkip,        // a need did not succeed and the `if:` calls no status function, or the
                  // run was canceled and it does not either
    kEvaluateIf,  // evaluate `if:` with `status` (evaluate_condition)
  };
  Kind kind = kRun;
  StatusFunctions status;
};

// `results` holds at least the results of the job's needs (and of their needs, transitively;
// missing ancestors count as succeeded). `run_cancelled`: the run is being canceled.
JobGate job_gate(const std::vector<Job>& jobs, const Job& job,
                 const std::map<std::string, JobResult>& results, bool run_cancelled);

}  // namespace corral::workflow
