// A workflow run: a parsed workflow, the jobs it expands into (one per matrix combination),
// and how far each has got. Pure decisions, no I/O: the server (server/workflow_runs.cpp)
// reads the corral jobs' states, calls advance(), submits what it says, and stores the run.
//
//   pending --(needs finished, gate says run)--> queued (a corral job exists) --> running
//      |                                                            --> succeeded | failed |
//      canceled
//      +--(a need failed, or its if: is false)--> skipped
//
// A run is queued until one of its jobs runs, running until every job has finished, then
// succeeded, failed (a job failed without continue-on-error) or canceled.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/clock.h"
#include "common/result.h"
#include "workflow/workflow.h"

namespace corral::workflow {

// One workflow job of a run: a job of the workflow, or one matrix combination of it.
struct RunJob {
  std::string key;   // unique in the run: the job's id, or "<id>.<n>" for combination n (1-based)
  std::string job;   // the workflow job's id
  std::string name;  // as shown: "build (18, ubuntu)"
  nlohmann::json matrix = nlohmann::json::object();  // the matrix context; {} without one
  std::string state = "pending";  // pending queued running succeeded failed canceled skipped
  std::string job_id;             // the corral job, once submitted
  std::string message;            // why it was skipped or failed to start
  nlohmann::json outputs = nlohmann::json::object();
  nlohmann::json steps = nlohmann::json::array();  // [{name, state, exit_code, ...}] as run
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
};

struct Run {
  std::string id;
  std::string tenant;
  std::string owner_token_id;
  std::string name;
  std::string state = "queued";
  std::string event = "manual";  // push | pull_request | manual | schedule
  nlohmann::json repo;           // {url, ref, sha} or null
  nlohmann::json inputs = nlohmann::json::object();
  Workflow workflow;
  std::vector<RunJob> jobs;
  int attempt = 1;  // rerun-failed adds one
  bool cancel_requested = false;
  std::string error;  // why a run started by a webhook could not be planned (its file's error)
  TimeMs created_at = 0;
  TimeMs started_at = 0;  // when its first job started running (0 = none yet)
  TimeMs finished_at = 0;
};

// A new run of `workflow`: its jobs planned (matrices expanded, names given), all pending.
// Errors (kInvalidSpec) name what cannot be run: a matrix past its limit, a name that does
// not evaluate, `with.path` on a checkout.
Result<Run> plan_run(Workflow workflow, const std::string& id, nlohmann::json repo,
                     std::string event, nlohmann::json inputs, TimeMs now);

// The run as its stored document (WorkflowRunRecord::doc) and back.
nlohmann::json to_doc(const Run& run);
Result<Run> run_from_doc(const nlohmann::json& doc);

// What the API shows: {id, name, state, event, repo, created_at, started_at, finished_at,
// attempt, jobs: [{key, name, matrix, needs, state, job_id, message, outputs, steps}]}.
nlohmann::json to_api_json(const Run& run);

// How a submitted job stands, read from its corral job.
struct JobReport {
  std::string state;  // the corral job's: queued leased running succeeded failed canceled
  nlohmann::json outputs = nlohmann::json::object();
  nlohmann::json steps = nlohmann::json::array();
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
};

// What advance() asks the server to do.
struct Advance {
  std::vector<size_t> submit;       // indexes into run.jobs: make their corral jobs
  std::vector<std::string> cancel;  // corral jobs to cancel (run canceled, fail-fast)
  bool changed = false;             // the run must be stored
};

// Folds the reports (by corral job id) into the run and decides what starts next. A job
// whose gate cannot be decided (its if: does not evaluate) fails with the error as message.
Advance advance(Run& run, const std::map<std::string, JobReport>& reports, TimeMs now);

// The steps of a running job as its runner reports them while they run (each step's
// {name, state, started_at, ...}, the one running now with state "running"). False (nothing
// changed) unless `job_id` is still the job's corral job and it has not finished: a report
// of an earlier attempt or one arriving after the job's end is ignored. Steps run only once
// the job has started: the job and the run show started_at (the job's, job_started_at) even
// before advance() has seen the job's start.
bool report_steps(Run& run, const std::string& key, const std::string& job_id,
                  const nlohmann::json& steps, TimeMs job_started_at);

// The corral job for run.jobs[index]: labels from runs-on (without self-hosted), image,
// timeout, the run's repository when the job checks it out, and spec.workflow (what the
// runner needs to run the steps: runner/workflow_steps.h).
Result<JobSpec> job_spec_for(const Run& run, size_t index, const std::string& server_url);

// The idempotency key of run.jobs[index]'s corral job in this attempt of the run: a
// repeated submit (two servers, a retry after a crash) gets the same job.
std::string job_idempotency_key(const Run& run, size_t index);

// Marks the run canceled-on-request; advance() then cancels what runs and skips what waits
// (jobs whose if: calls always() or cancelled() still run).
void request_cancel(Run& run);

// Puts the failed and canceled jobs (and every job that needs them, skipped or not) back to
// pending for another attempt of the run; false when there is none to rerun (a job skipped
// by its own if: stays as it was).
bool rerun_failed(Run& run, TimeMs now);

bool run_finished(const Run& run);

}  // namespace corral::workflow
