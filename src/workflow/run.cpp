#include "workflow/run.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "api/repo.h"
#include "workflow/expr.h"
#include "workflow/matrix.h"
#include "workflow/needs.h"

namespace corral::workflow {

using nlohmann::json;

namespace {

bool job_finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "canceled" || state == "skipped";
}

// "owner/name" of a repository URL: a forge's as api/repo.h reads it, else the last two
// parts of the path (file:///srv/git/app.git -> git/app).
std::string repository_name(const std::string& url) {
  if (auto name = repo_full_name_from_url(url)) return *name;
  std::string path = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() > 4 && path.ends_with(".git")) path.resize(path.size() - 4);
  auto last = path.rfind('/');
  if (last == std::string::npos || last == 0) return path;
  auto before = path.rfind('/', last - 1);
  return path.substr(before == std::string::npos ? 0 : before + 1);
}

// The contexts every expression of a job sees, as far as the server knows them.
json run_contexts(const Run& run) {
  json github = {{"event_name", run.event},
                 {"run_id", run.id},
                 {"run_attempt", std::to_string(run.attempt)},
                 {"workflow", run.name},
                 {"workspace", "/workspace"},
                 {"sha", ""},
                 {"ref", ""},
                 {"repository", ""}};
  if (run.repo.is_object()) {
    std::string url = run.repo.value("url", "");
    github["sha"] = run.repo.value("sha", "");
    github["ref"] = run.repo.value("ref", "");
    github["repository_url"] = url;
    github["repository"] = repository_name(url);
    if (auto owner = github["repository"].get<std::string>(); owner.find('/') != std::string::npos)
      github["repository_owner"] = owner.substr(0, owner.find('/'));
  }
  json env = json::object();
  for (const auto& [name, value] : run.workflow.env) env[name] = value;
  return {{"github", github}, {"inputs", run.inputs}, {"env", env}};
}

json job_contexts(const Run& run, const RunJob& rj) {
  json contexts = run_contexts(run);
  contexts["github"]["job"] = rj.job;
  contexts["matrix"] = rj.matrix;
  json needs = json::object();
  if (const Job* job = run.workflow.find_job(rj.job)) {
    for (const auto& need : job->needs) {
      // A matrix job's outputs are those of its combinations, the last finished winning, as
      // on GitHub; its result is the worst of theirs.
      json outputs = json::object();
      std::string result = "success";
      for (const auto& other : run.jobs) {
        if (other.job != need) continue;
        for (const auto& [k, v] : other.outputs.items()) outputs[k] = v;
        if (other.state == "failed")
          result = "failure";
        else if (other.state == "canceled" && result != "failure")
          result = "cancelled";
        else if (other.state == "skipped" && result == "success")
          result = "skipped";
      }
      needs[need] = {{"result", result}, {"outputs", outputs}};
    }
  }
  contexts["needs"] = needs;
  int total = 0;
  int index = 0;
  for (const auto& other : run.jobs) {
    if (other.job != rj.job) continue;
    if (other.key == rj.key) index = total;
    ++total;
  }
  contexts["strategy"] = {{"job-index", index}, {"job-total", total}};
  return contexts;
}

// A job's result for needs: the worst of its combinations'. continue-on-error makes a
// failure count as success for the jobs that need it.
std::map<std::string, JobResult> results_by_job(const Run& run) {
  std::map<std::string, JobResult> results;
  std::map<std::string, bool> all_skipped;
  for (const auto& rj : run.jobs) {
    if (!job_finished(rj.state)) continue;
    const Job* job = run.workflow.find_job(rj.job);
    JobResult r = JobResult::kSuccess;
    if (rj.state == "failed") {
      bool tolerated =
          job && job->continue_on_error.expression.empty() && job->continue_on_error.value;
      r = tolerated ? JobResult::kSuccess : JobResult::kFailure;
    } else if (rj.state == "canceled") {
      r = JobResult::kCancelled;
    } else if (rj.state == "skipped") {
      r = JobResult::kSkipped;
    }
    auto [it, fresh] = results.emplace(rj.job, r);
    if (!fresh) {
      auto rank = [](JobResult x) {
        return x == JobResult::kFailure     ? 3
               : x == JobResult::kCancelled ? 2
               : x == JobResult::kSkipped   ? 1
                                            : 0;
      };
      // Skipped only when every combination was; otherwise the worst of the others.
      if (r == JobResult::kSkipped) {
        if (it->second != JobResult::kSkipped && rank(it->second) == 0) continue;
      }
      if ((it->second == JobResult::kSkipped && r != JobResult::kSkipped) ||
          rank(r) > rank(it->second))
        it->second = r;
    }
  }
  // A job counts as finished for its dependents only when all of its combinations are.
  for (const auto& rj : run.jobs) {
    if (!job_finished(rj.state)) results.erase(rj.job);
  }
  return results;
}

bool needs_finished(const Run& run, const Job& job,
                    const std::map<std::string, JobResult>& results) {
  return std::all_of(job.needs.begin(), job.needs.end(),
                     [&](const std::string& need) { return results.count(need) > 0; });
}

// The step its runner last reported running ends as its job did (a job canceled, timed out or
// lost sends no steps of its own).
void end_running_steps(RunJob& rj, const std::string& state) {
  for (auto& step : rj.steps) {
    if (step.is_object() && step.value("state", "") == "running") {
      step["state"] = state;
      step["conclusion"] = state == "canceled"  ? "cancelled"
                           : state == "skipped" ? "skipped"
                                                : "failure";
    }
  }
}

void finish_job(RunJob& rj, const std::string& state, const std::string& message, TimeMs now) {
  rj.state = state;
  end_running_steps(rj, state);
  if (!message.empty()) rj.message = message;
  if (rj.finished_at == 0) rj.finished_at = now;
}

void settle_run_state(Run& run, TimeMs now) {
  bool all_done = std::all_of(run.jobs.begin(), run.jobs.end(),
                              [](const RunJob& rj) { return job_finished(rj.state); });
  bool any_started = std::any_of(run.jobs.begin(), run.jobs.end(), [](const RunJob& rj) {
    return rj.state != "pending" && rj.state != "queued";
  });
  if (!all_done) {
    run.state = any_started ? "running" : "queued";
    return;
  }
  auto results = results_by_job(run);
  bool failed = std::any_of(results.begin(), results.end(),
                            [](const auto& r) { return r.second == JobResult::kFailure; });
  bool canceled = std::any_of(run.jobs.begin(), run.jobs.end(),
                              [](const RunJob& rj) { return rj.state == "canceled"; });
  run.state = failed ? "failed" : (run.cancel_requested || canceled) ? "canceled" : "succeeded";
  if (run.finished_at == 0) run.finished_at = now;
}

}  // namespace

Result<Run> plan_run(Workflow workflow, const std::string& id, json repo, std::string event,
                     json inputs, TimeMs now) {
  Run run;
  run.id = id;
  run.workflow = std::move(workflow);
  run.name = run.workflow.name.empty() ? "workflow" : run.workflow.name;
  run.repo = std::move(repo);
  run.event = std::move(event);
  run.inputs = inputs.is_object() ? std::move(inputs) : json::object();
  run.created_at = now;
  auto order = job_needs_order(run.workflow.jobs);
  if (!order.ok()) return order.error();
  json base = run_contexts(run);
  for (const auto& job : run.workflow.jobs) {
    for (const auto& step : job.steps) {
      if (step.checkout && !step.checkout->path.empty()) {
        return make_error(ErrorCode::kInvalidSpec,
                          "line " + std::to_string(step.line) + ": jobs." + job.id +
                              ": actions/checkout with.path is not supported: the repository is "
                              "checked out at the workspace root ($GITHUB_WORKSPACE)");
      }
    }
    std::vector<MatrixEntry> combinations;
    if (job.strategy) {
      auto expanded = expand_matrix(job.strategy->matrix);
      if (!expanded.ok()) {
        return make_error(ErrorCode::kInvalidSpec,
                          "line " + std::to_string(job.line) + ": jobs." + job.id +
                              ".strategy.matrix: " + expanded.error().message);
      }
      combinations = std::move(expanded.value());
    }
    if (combinations.empty()) combinations.emplace_back();
    for (size_t i = 0; i < combinations.size(); ++i) {
      RunJob rj;
      rj.job = job.id;
      rj.key = job.strategy ? job.id + "." + std::to_string(i + 1) : job.id;
      rj.matrix = combinations[i].empty() ? json::object() : matrix_context(combinations[i]);
      json contexts = base;
      contexts["matrix"] = rj.matrix;
      auto name = job_display_name(job, combinations[i], contexts);
      if (!name.ok()) {
        return make_error(ErrorCode::kInvalidSpec, "line " + std::to_string(job.line) + ": jobs." +
                                                       job.id + ".name: " + name.error().message);
      }
      rj.name = *name;
      run.jobs.push_back(std::move(rj));
    }
  }
  return run;
}

json to_doc(const Run& run) {
  json jobs = json::array();
  for (const auto& rj : run.jobs) {
    jobs.push_back({{"key", rj.key},
                    {"job", rj.job},
                    {"name", rj.name},
                    {"matrix", rj.matrix},
                    {"state", rj.state},
                    {"job_id", rj.job_id},
                    {"message", rj.message},
                    {"outputs", rj.outputs},
                    {"steps", rj.steps},
                    {"started_at", rj.started_at},
                    {"finished_at", rj.finished_at}});
  }
  json workflow;
  to_json(workflow, run.workflow);
  return {{"id", run.id},
          {"tenant", run.tenant},
          {"owner_token_id", run.owner_token_id},
          {"name", run.name},
          {"state", run.state},
          {"event", run.event},
          {"repo", run.repo},
          {"inputs", run.inputs},
          {"workflow", workflow},
          {"jobs", jobs},
          {"attempt", run.attempt},
          {"cancel_requested", run.cancel_requested},
          {"error", run.error},
          {"created_at", run.created_at},
          {"started_at", run.started_at},
          {"finished_at", run.finished_at}};
}

Result<Run> run_from_doc(const json& doc) {
  if (!doc.is_object() || !doc.contains("workflow") || !doc.contains("jobs")) {
    return make_error(ErrorCode::kInternal, "a stored workflow run is not readable");
  }
  auto workflow = workflow_from_json(doc["workflow"]);
  if (!workflow.ok()) return workflow.error();
  Run run;
  run.workflow = std::move(workflow.value());
  try {
    run.id = doc.at("id").get<std::string>();
    run.tenant = doc.value("tenant", "");
    run.owner_token_id = doc.value("owner_token_id", "");
    run.name = doc.value("name", "");
    run.state = doc.value("state", "queued");
    run.event = doc.value("event", "manual");
    run.repo = doc.value("repo", json());
    run.inputs = doc.value("inputs", json::object());
    run.attempt = doc.value("attempt", 1);
    run.cancel_requested = doc.value("cancel_requested", false);
    run.error = doc.value("error", "");
    run.created_at = doc.value("created_at", TimeMs{0});
    run.started_at = doc.value("started_at", TimeMs{0});
    run.finished_at = doc.value("finished_at", TimeMs{0});
    for (const auto& j : doc.at("jobs")) {
      RunJob rj;
      rj.key = j.at("key").get<std::string>();
      rj.job = j.at("job").get<std::string>();
      rj.name = j.value("name", rj.key);
      rj.matrix = j.value("matrix", json::object());
      rj.state = j.value("state", "pending");
      rj.job_id = j.value("job_id", "");
      rj.message = j.value("message", "");
      rj.outputs = j.value("outputs", json::object());
      rj.steps = j.value("steps", json::array());
      rj.started_at = j.value("started_at", TimeMs{0});
      rj.finished_at = j.value("finished_at", TimeMs{0});
      run.jobs.push_back(std::move(rj));
    }
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInternal,
                      std::string("a stored workflow run is not readable: ") + e.what());
  }
  return run;
}

json to_api_json(const Run& run) {
  auto time_or_null = [](TimeMs t) { return t > 0 ? json(format_time(t)) : json(nullptr); };
  json jobs = json::array();
  for (const auto& rj : run.jobs) {
    const Job* job = run.workflow.find_job(rj.job);
    json steps = rj.steps;
    if (steps.empty() && job) {
      // Not run yet: the steps it will run, all pending.
      for (const auto& step : job->steps)
        steps.push_back({{"name", step.display_name()}, {"state", "pending"}});
    }
    jobs.push_back({{"key", rj.key},
                    {"job", rj.job},
                    {"name", rj.name},
                    {"matrix", rj.matrix},
                    {"needs", job ? json(job->needs) : json::array()},
                    {"state", rj.state},
                    {"job_id", rj.job_id.empty() ? json(nullptr) : json(rj.job_id)},
                    {"message", rj.message},
                    {"outputs", rj.outputs},
                    {"started_at", time_or_null(rj.started_at)},
                    {"finished_at", time_or_null(rj.finished_at)},
                    {"steps", steps}});
  }
  return {{"id", run.id},
          {"name", run.name},
          {"state", run.state},
          {"event", run.event},
          {"repo", run.repo},
          {"inputs", run.inputs},
          {"attempt", run.attempt},
          {"cancel_requested", run.cancel_requested},
          {"error", run.error.empty() ? json(nullptr) : json(run.error)},
          {"created_at", time_or_null(run.created_at)},
          {"started_at", time_or_null(run.started_at)},
          {"finished_at", time_or_null(run.finished_at)},
          {"jobs", jobs}};
}

Advance advance(Run& run, const std::map<std::string, JobReport>& reports, TimeMs now) {
  Advance out;
  // 1. What the corral jobs say.
  for (auto& rj : run.jobs) {
    if (rj.job_id.empty() || job_finished(rj.state)) continue;
    auto it = reports.find(rj.job_id);
    if (it == reports.end()) continue;
    const JobReport& r = it->second;
    std::string state = r.state == "leased" ? "queued" : r.state;
    if (r.started_at && !rj.started_at) {
      rj.started_at = r.started_at;
      out.changed = true;
    }
    if (state == rj.state) continue;
    rj.state = state;
    if (job_finished(state)) {
      rj.outputs = r.outputs.is_object() ? r.outputs : json::object();
      // Without a result (canceled, timed out, lost) the steps reported live stay.
      if (r.steps.is_array() && !r.steps.empty()) rj.steps = r.steps;
      end_running_steps(rj, state);
      rj.finished_at = r.finished_at ? r.finished_at : now;
      // Why it failed, from the step that did.
      for (const auto& step : rj.steps) {
        if (state != "failed" || !rj.message.empty() || !step.is_object()) break;
        if (step.value("conclusion", "") == "failure") {
          rj.message = "step '" + step.value("name", "?") + "' failed" +
                       (step.value("message", "").empty() ? "" : ": " + step.value("message", ""));
        }
      }
    }
    out.changed = true;
  }

  // 2. fail-fast: a failed combination cancels its siblings (GitHub's default).
  for (const auto& failed : run.jobs) {
    if (failed.state != "failed") continue;
    const Job* job = run.workflow.find_job(failed.job);
    if (!job || !job->strategy || !job->strategy->fail_fast) continue;
    if (job->continue_on_error.expression.empty() && job->continue_on_error.value) continue;
    for (auto& sibling : run.jobs) {
      if (sibling.job != failed.job || job_finished(sibling.state)) continue;
      if (!sibling.job_id.empty()) out.cancel.push_back(sibling.job_id);
      finish_job(sibling, "canceled", "canceled by fail-fast: " + failed.name + " failed", now);
      out.changed = true;
    }
  }

  // 3. A canceled run: what runs is canceled (its corral job), what waits is decided below.
  if (run.cancel_requested) {
    for (auto& rj : run.jobs) {
      if (rj.job_id.empty() || job_finished(rj.state)) continue;
      out.cancel.push_back(rj.job_id);
      finish_job(rj, "canceled", "the run was canceled", now);
      out.changed = true;
    }
  }

  // 4. Pending jobs whose needs have all finished: run, skip, or ask their if:.
  for (bool progressed = true; progressed;) {
    progressed = false;
    auto results = results_by_job(run);
    for (size_t i = 0; i < run.jobs.size(); ++i) {
      RunJob& rj = run.jobs[i];
      if (rj.state != "pending") continue;
      const Job* job = run.workflow.find_job(rj.job);
      if (!job) {
        finish_job(rj, "failed", "the workflow has no job '" + rj.job + "'", now);
        progressed = out.changed = true;
        continue;
      }
      if (!needs_finished(run, *job, results)) continue;
      JobGate gate = job_gate(run.workflow.jobs, *job, results, run.cancel_requested);
      bool go = gate.kind == JobGate::kRun;
      if (gate.kind == JobGate::kEvaluateIf || (go && !job->if_condition.empty())) {
        auto decided = evaluate_condition(job->if_condition, job_contexts(run, rj), gate.status);
        if (!decided.ok()) {
          finish_job(rj, "failed", "jobs." + job->id + ".if: " + decided.error().message, now);
          progressed = out.changed = true;
          continue;
        }
        go = *decided;
      }
      if (!go) {
        std::string why =
            gate.kind == JobGate::kSkip
                ? (run.cancel_requested ? "the run was canceled" : "a job it needs did not succeed")
                : "its if: is false";
        finish_job(rj, "skipped", "skipped: " + why, now);
        progressed = out.changed = true;
        continue;
      }
      rj.state = "queued";  // the server submits it; a failed submit fails it
      out.submit.push_back(i);
      progressed = out.changed = true;
    }
  }

  std::string before = run.state;
  TimeMs finished_before = run.finished_at;
  settle_run_state(run, now);
  if (run.state != before || run.finished_at != finished_before) out.changed = true;
  // 4. The run started when its first job did.
  for (const auto& rj : run.jobs) {
    if (rj.started_at && (!run.started_at || rj.started_at < run.started_at)) {
      run.started_at = rj.started_at;
      out.changed = true;
    }
  }
  return out;
}

bool report_steps(Run& run, const std::string& key, const std::string& job_id, const json& steps,
                  TimeMs job_started_at) {
  for (auto& rj : run.jobs) {
    if (rj.key != key) continue;
    if (rj.job_id != job_id || job_finished(rj.state) || !steps.is_array() || rj.steps == steps)
      return false;
    rj.steps = steps;
    if (!rj.started_at) rj.started_at = job_started_at;
    if (rj.started_at && (!run.started_at || rj.started_at < run.started_at)) {
      run.started_at = rj.started_at;
    }
    return true;
  }
  return false;
}

Result<JobSpec> job_spec_for(const Run& run, size_t index, const std::string& server_url) {
  const RunJob& rj = run.jobs.at(index);
  const Job* job = run.workflow.find_job(rj.job);
  if (!job) return make_error(ErrorCode::kInvalidSpec, "the workflow has no job '" + rj.job + "'");
  json contexts = job_contexts(run, rj);
  auto where = [&](const std::string& key) { return "jobs." + job->id + "." + key + ": "; };
  json labels = json::array();
  for (const auto& label : job->runs_on) {
    auto value = interpolate(label, contexts);
    if (!value.ok())
      return make_error(ErrorCode::kInvalidSpec, where("runs-on") + value.error().message);
    if (*value == "self-hosted" || value->empty()) continue;  // every corral runner is
    labels.push_back(*value);
  }
  json body = {{"name", run.name + " / " + rj.name}, {"labels", labels}};
  if (!job->container_image.empty()) {
    auto image = interpolate(job->container_image, contexts);
    if (!image.ok())
      return make_error(ErrorCode::kInvalidSpec, where("container") + image.error().message);
    body["image"] = *image;
  }
  if (job->timeout_minutes) {
    // Whole seconds, rounded up: a fraction of a minute is allowed (0.5 = 30 s).
    body["timeout_s"] = static_cast<int64_t>(std::ceil(*job->timeout_minutes * 60));
  }
  bool checks_out = std::any_of(job->steps.begin(), job->steps.end(),
                                [](const Step& s) { return s.checkout.has_value(); });
  if (checks_out && run.repo.is_object()) {
    json repo = {{"url", run.repo.value("url", "")}};
    if (!run.repo.value("sha", "").empty()) repo["sha"] = run.repo["sha"];
    if (!run.repo.value("ref", "").empty()) repo["ref"] = run.repo["ref"];
    body["repo"] = repo;
  }
  // What the runner needs to run the steps: the job as parsed, the workflow's env, and the
  // contexts known now (the runner adds steps, env, secrets and job as it goes).
  json workflow_job;
  to_json(workflow_job, *job);
  contexts["github"]["server_url"] = server_url;
  body["workflow"] = {{"run_id", run.id},
                      {"key", rj.key},
                      {"job", workflow_job},
                      {"env", json::array()},
                      {"contexts", contexts}};
  for (const auto& [name, value] : run.workflow.env)
    body["workflow"]["env"].push_back({name, value});
  // One attempt: a workflow job that fails is rerun with rerun-failed, as on GitHub.
  body["max_attempts"] = 1;
  auto spec = parse_job_spec(body);
  if (!spec.ok()) {
    return make_error(spec.error().code,
                      "jobs." + job->id + " cannot be submitted: " + spec.error().message);
  }
  return spec;
}

std::string job_idempotency_key(const Run& run, size_t index) {
  return "workflow:" + run.id + ":" + std::to_string(run.attempt) + ":" + run.jobs.at(index).key;
}

void request_cancel(Run& run) {
  if (!run_finished(run)) run.cancel_requested = true;
}

bool rerun_failed(Run& run, TimeMs now) {
  std::set<std::string> again;  // workflow job ids: the failed and canceled ones, as on GitHub
  for (const auto& rj : run.jobs) {
    if (rj.state == "failed" || rj.state == "canceled") again.insert(rj.job);
  }
  if (again.empty()) return false;
  // And every job that needs one of them, directly or not.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& job : run.workflow.jobs) {
      if (again.count(job.id)) continue;
      for (const auto& need : job.needs) {
        if (again.count(need)) {
          again.insert(job.id);
          grew = true;
          break;
        }
      }
    }
  }
  for (auto& rj : run.jobs) {
    if (!again.count(rj.job)) continue;
    rj.state = "pending";
    rj.job_id.clear();
    rj.message.clear();
    rj.outputs = json::object();
    rj.steps = json::array();
    rj.started_at = rj.finished_at = 0;
  }
  run.attempt += 1;
  run.cancel_requested = false;
  run.finished_at = 0;
  settle_run_state(run, now);
  return true;
}

bool run_finished(const Run& run) {
  return run.state == "succeeded" || run.state == "failed" || run.state == "canceled";
}

}  // namespace corral::workflow
