// /api/v1/workflow-runs: GitHub-Actions-style workflow runs (docs/workflows.md). The server
// parses the workflow, keeps the run (store: WorkflowRunRecord), and queues each of its jobs
// as a corral job when the jobs it needs have finished (workflow/run.h decides); runners run
// the steps (runner/workflow_steps.h).
#include <spdlog/spdlog.h>

#include <regex>
#include <set>

#include "common/crypto.h"
#include "common/numbers.h"
#include "server/context.h"
#include "server/json_body.h"
#include "store/shared_sql.h"
#include "workflow/run.h"
#include "workflow/triggers.h"

namespace corral {

namespace {

using workflow::Run;

constexpr size_t kMaxWorkflowBytes = 256 * 1024;
constexpr int kAdvanceTries = 8;

// The stored row of a run not stored yet.
WorkflowRunRecord new_record(const Run& run, TimeMs now) {
  WorkflowRunRecord rec;
  rec.id = run.id;
  rec.tenant = run.tenant;
  rec.owner_token_id = run.owner_token_id;
  rec.name = run.name;
  rec.state = run.state;
  rec.event = run.event;
  rec.created_at = rec.updated_at = now;
  rec.finished_at = run.finished_at;
  rec.doc = workflow::to_doc(run);
  return rec;
}

Error no_workflow_run(const std::string& id) {
  return make_error(ErrorCode::kNotFound, "no workflow run with id " + id +
                                              " in your tenant; `corral workflow runs` lists them");
}

// The corral jobs of the run's unfinished jobs, as advance() reads them.
awaitable<std::map<std::string, workflow::JobReport>> job_reports(ServerContext& ctx,
                                                                  const Run& run) {
  std::map<std::string, workflow::JobReport> reports;
  for (const auto& rj : run.jobs) {
    if (rj.job_id.empty()) continue;
    if (rj.state == "succeeded" || rj.state == "failed" || rj.state == "canceled" ||
        rj.state == "skipped")
      continue;
    const std::string& job_id = rj.job_id;
    auto job = co_await ctx.db([&] { return ctx.store.get_job(run.tenant, job_id); });
    if (!job.ok()) continue;
    workflow::JobReport report;
    report.state = std::string(to_string(job->state));
    if (!job->attempts.empty()) report.started_at = job->attempts.back().started_at;
    report.finished_at = job->finished_at;
    if (job->result.is_object() && job->result.contains("workflow") &&
        job->result["workflow"].is_object()) {
      const json& wf = job->result["workflow"];
      if (wf.contains("outputs") && wf["outputs"].is_object()) report.outputs = wf["outputs"];
      if (wf.contains("steps") && wf["steps"].is_array()) report.steps = wf["steps"];
    }
    reports.emplace(rj.job_id, std::move(report));
  }
  co_return reports;
}

// Submits run.jobs[index]'s corral job; a job that cannot be submitted fails with the reason.
awaitable<void> submit_run_job(ServerContext& ctx, Run& run, const WorkflowRunRecord& record,
                               const std::optional<Token>& owner, size_t index) {
  auto& rj = run.jobs[index];
  auto fail = [&](const std::string& why) {
    rj.state = "failed";
    rj.message = why;
    rj.finished_at = ctx.clock.now_ms();
  };
  if (!owner) {
    fail("the token that started the run was revoked; its jobs are not queued");
    co_return;
  }
  auto spec = workflow::job_spec_for(run, index, "");
  if (!spec.ok()) {
    fail(spec.error().message);
    co_return;
  }
  spec->secrets = record.secrets;
  auto created = co_await submit_job(ctx, *owner, std::move(spec.value()),
                                     workflow::job_idempotency_key(run, index));
  if (!created.ok()) {
    fail("could not be queued: " + created.error().message);
    co_return;
  }
  rj.job_id = created->job.id;
  rj.state = "queued";
}

// Reads the run, lets `change` change it (a coroutine: awaitable<Result<bool>>(Run&,
// WorkflowRunRecord&, TimeMs now), true when the run and its record must be stored) and stores it
// over the version read; again from the start when another server stored it first.
template <typename Change>
awaitable<Result<Run>> update_run(ServerContext& ctx, const std::string& tenant,
                                  const std::string& id, Change change) {
  for (int tries = 0;; ++tries) {
    auto record = co_await ctx.db([&] { return ctx.store.get_workflow_run(tenant, id); });
    if (!record.ok()) co_return record.error();
    if (!record->has_value()) co_return no_workflow_run(id);
    WorkflowRunRecord rec = std::move(**record);
    auto run = workflow::run_from_doc(rec.doc);
    if (!run.ok()) co_return run.error();
    TimeMs now = ctx.clock.now_ms();
    auto changed = co_await change(*run, rec, now);
    if (!changed.ok()) co_return changed.error();
    if (!*changed) co_return run;
    rec.doc = workflow::to_doc(*run);
    rec.name = run->name;
    rec.state = run->state;
    rec.finished_at = run->finished_at;
    rec.updated_at = now;
    auto stored = co_await ctx.db([&] { return ctx.store.update_workflow_run(rec); });
    if (!stored.ok()) co_return stored.error();
    if (*stored) co_return run;
    if (tries + 1 >= kAdvanceTries) {
      co_return make_error(ErrorCode::kConflict, "workflow run " + id + " changed under every try");
    }
  }
}

// Folds in the run's jobs' states, submits and cancels what advance() says, and stores it.
awaitable<Result<Run>> advance_run(ServerContext& ctx, const std::string& tenant,
                                   const std::string& id) {
  bool finished = false;
  auto run = co_await update_run(
      ctx, tenant, id,
      [&](Run& run, WorkflowRunRecord& rec, TimeMs now) -> awaitable<Result<bool>> {
        if (workflow::run_finished(run)) co_return false;
        auto reports = co_await job_reports(ctx, run);
        auto step = workflow::advance(run, reports, now);
        bool changed = step.changed;
        std::vector<std::string> to_cancel = step.cancel;
        std::optional<Token> owner;
        if (!step.submit.empty()) {
          const std::string& owner_id = rec.owner_token_id;
          auto token = co_await ctx.db([&] { return ctx.store.get_token(owner_id); });
          if (token.ok() && token->revoked_at == 0) owner = *token;
        }
        // A job that cannot be queued fails, which may decide others: advance until settled.
        while (!step.submit.empty()) {
          for (size_t index : step.submit) co_await submit_run_job(ctx, run, rec, owner, index);
          step = workflow::advance(run, {}, now);
          to_cancel.insert(to_cancel.end(), step.cancel.begin(), step.cancel.end());
        }
        for (const auto& job_id : to_cancel) {
          auto canceled =
              co_await ctx.db([&] { return ctx.store.cancel_job(tenant, job_id, now); });
          if (canceled.ok()) ctx.events.job_changed(job_id);
        }
        finished = workflow::run_finished(run);
        co_return changed;
      });
  if (run.ok() && finished) spdlog::info("workflow run {} ({}) {}", run->id, run->name, run->state);
  co_return run;
}

// Applies `change` (Result<void>(Run&, WorkflowRunRecord&, TimeMs now)) to the stored run,
// then advances it.
template <typename Change>
awaitable<Result<Run>> change_run(ServerContext& ctx, const std::string& tenant,
                                  const std::string& id, Change change) {
  auto changed = co_await update_run(
      ctx, tenant, id,
      [&](Run& run, WorkflowRunRecord& rec, TimeMs now) -> awaitable<Result<bool>> {
        if (auto refused = change(run, rec, now); !refused.ok()) co_return refused.error();
        co_return true;
      });
  if (!changed.ok()) co_return changed.error();
  co_return co_await advance_run(ctx, tenant, id);
}

Result<json> optional_object(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return json::object();
  if (!body[key].is_object()) {
    return make_error(ErrorCode::kInvalidSpec,
                      std::string("field '") + key + "': must be an object");
  }
  return body[key];
}

Result<std::map<std::string, std::string>> parse_run_secrets(const json& body) {
  auto secrets = optional_object(body, "secrets");
  if (!secrets.ok()) return secrets.error();
  static const std::regex kName("^[A-Za-z_][A-Za-z0-9_]*$");
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : secrets->items()) {
    if (!std::regex_match(name, kName) || !value.is_string()) {
      return make_error(ErrorCode::kInvalidSpec,
                        "field 'secrets." + name +
                            "': secrets are {NAME: \"value\"} with NAME a valid "
                            "environment variable name");
    }
    out[name] = value.get<std::string>();
  }
  return out;
}

Result<json> parse_run_repo(const json& body) {
  if (!body.contains("repo") || body["repo"].is_null()) return json();
  const json& repo = body["repo"];
  if (!repo.is_object() || !repo.contains("url") || !repo["url"].is_string() ||
      repo["url"].get<std::string>().empty()) {
    return make_error(
        ErrorCode::kInvalidSpec,
        "field 'repo': must be {url, ref?, sha?}, the repository actions/checkout checks out");
  }
  for (const auto& [key, value] : repo.items()) {
    if ((key != "url" && key != "ref" && key != "sha") || !value.is_string()) {
      return make_error(ErrorCode::kInvalidSpec,
                        "field 'repo." + key + "': repo takes the strings url, ref and sha");
    }
  }
  if (repo.contains("sha") &&
      !std::regex_match(repo["sha"].get<std::string>(), std::regex("^[0-9a-fA-F]{7,64}$"))) {
    return make_error(ErrorCode::kInvalidSpec, "field 'repo.sha': must be a commit sha (hex)");
  }
  return repo;
}

awaitable<Response> create_run(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (!body->is_object()) {
    co_return error_of(
        make_error(ErrorCode::kInvalidSpec,
                   "the body must be {workflow: \"<YAML>\", repo?, event?, inputs?, secrets?}"));
  }
  for (const auto& [key, value] : body->items()) {
    static const std::set<std::string> kKnown{"workflow", "repo", "event", "inputs", "secrets"};
    if (!kKnown.count(key)) {
      co_return error_of(make_error(
          ErrorCode::kInvalidSpec,
          "field '" + key + "': unknown; a run takes workflow, repo, event, inputs and secrets"));
    }
  }
  if (!body->contains("workflow") || !(*body)["workflow"].is_string() ||
      (*body)["workflow"].get<std::string>().empty()) {
    co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                  "field 'workflow': the workflow file's YAML text, as a string"));
  }
  const std::string& text = (*body)["workflow"].get_ref<const std::string&>();
  if (text.size() > kMaxWorkflowBytes) {
    co_return error_of(make_error(
        ErrorCode::kInvalidSpec,
        "field 'workflow': longer than " + std::to_string(kMaxWorkflowBytes / 1024) + " KiB"));
  }
  std::string event = body->value("event", "manual");
  if (event != "manual" && event != "push" && event != "pull_request" && event != "schedule") {
    co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                  "field 'event': one of manual, push, pull_request, schedule"));
  }
  auto repo = parse_run_repo(*body);
  if (!repo.ok()) co_return error_of(repo.error());
  auto inputs = optional_object(*body, "inputs");
  if (!inputs.ok()) co_return error_of(inputs.error());
  auto secrets = parse_run_secrets(*body);
  if (!secrets.ok()) co_return error_of(secrets.error());

  auto parsed = workflow::parse_workflow(text);
  if (!parsed.ok())
    co_return error_of(make_error(ErrorCode::kInvalidSpec, "workflow: " + parsed.error().message));
  TimeMs now = ctx.clock.now_ms();
  auto run =
      workflow::plan_run(std::move(parsed.value()), new_id("wfr"), *repo, event, *inputs, now);
  if (!run.ok())
    co_return error_of(make_error(ErrorCode::kInvalidSpec, "workflow: " + run.error().message));
  run->tenant = caller->tenant;
  run->owner_token_id = caller->id;
  WorkflowRunRecord rec = new_record(*run, now);
  rec.secrets = std::move(secrets.value());
  auto inserted = co_await ctx.db([&] { return ctx.store.insert_workflow_run(rec); });
  if (!inserted.ok()) co_return error_of(inserted.error());
  spdlog::info("workflow run {} ({}, {} jobs) started by {}", run->id, run->name, run->jobs.size(),
               caller->id);
  auto advanced = co_await advance_run(ctx, caller->tenant, rec.id);
  if (!advanced.ok()) co_return error_of(advanced.error());
  co_return json_ok(workflow::to_api_json(*advanced), http::status::created);
}

// A page of runs, newest first: `limit` 1..200 (20), `cursor` the next_cursor of the page
// before ("<created_at>:<id>" of its last run; null on the last page).
awaitable<Response> list_runs(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto limit = query_int(req, "limit", 20, 1, 200);
  if (!limit.ok()) co_return error_of(limit.error());
  TimeMs after_created = 0;
  std::string after_id;
  if (std::string cursor = req.query_value("cursor"); !cursor.empty()) {
    auto colon = cursor.find(':');
    auto created = parse_number<TimeMs>(cursor.substr(0, colon));
    if (colon == std::string::npos || !created || *created <= 0 || colon + 1 == cursor.size()) {
      co_return error_of(make_error(
          ErrorCode::kBadRequest,
          "query 'cursor': '" + cursor + "' is not a cursor; pass the next_cursor of a page"));
    }
    after_created = *created;
    after_id = cursor.substr(colon + 1);
  }
  int wanted = static_cast<int>(*limit);
  auto records = co_await ctx.db([&] {
    return ctx.store.list_workflow_runs(caller->tenant, wanted + 1, after_created, after_id);
  });
  if (!records.ok()) co_return error_of(records.error());
  json runs = json::array();
  json next_cursor = nullptr;
  for (size_t i = 0; i < records->size() && i < static_cast<size_t>(wanted); ++i) {
    const auto& rec = (*records)[i];
    auto run = workflow::run_from_doc(rec.doc);
    if (run.ok()) runs.push_back(workflow::to_api_json(*run));
    if (records->size() > static_cast<size_t>(wanted) && i + 1 == static_cast<size_t>(wanted))
      next_cursor = std::to_string(rec.created_at) + ":" + rec.id;
  }
  co_return json_ok({{"runs", runs}, {"next_cursor", next_cursor}});
}

awaitable<Response> get_run(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto record = co_await ctx.db([&] { return ctx.store.get_workflow_run(caller->tenant, id); });
  if (!record.ok()) co_return error_of(record.error());
  if (!record->has_value()) co_return error_of(no_workflow_run(id));
  auto run = workflow::run_from_doc((*record)->doc);
  if (!run.ok()) co_return error_of(run.error());
  co_return json_ok(workflow::to_api_json(*run));
}

awaitable<Response> cancel_run(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto run = co_await change_run(
      ctx, caller->tenant, id, [](Run& run, WorkflowRunRecord&, TimeMs) -> Result<void> {
        if (workflow::run_finished(run)) {
          return make_error(ErrorCode::kConflict,
                            "workflow run " + run.id + " has finished already (" + run.state + ")");
        }
        workflow::request_cancel(run);
        return {};
      });
  if (!run.ok()) co_return error_of(run.error());
  co_return json_ok(workflow::to_api_json(*run));
}

awaitable<Response> rerun_failed_jobs(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  json body = json::object();
  if (!req.msg.body().empty()) {
    auto parsed = parse_json_body(req);
    if (!parsed.ok()) co_return error_of(parsed.error());
    body = *parsed;
  }
  auto secrets = parse_run_secrets(body);
  if (!secrets.ok()) co_return error_of(secrets.error());
  auto run = co_await change_run(
      ctx, caller->tenant, id, [&](Run& run, WorkflowRunRecord& rec, TimeMs now) -> Result<void> {
        if (!workflow::run_finished(run)) {
          return make_error(ErrorCode::kConflict,
                            "workflow run " + run.id + " is still " + run.state +
                                ": wait for it to finish, or cancel it first");
        }
        if (!workflow::rerun_failed(run, now)) {
          return make_error(
              ErrorCode::kConflict,
              "workflow run " + run.id + " has no failed or canceled job to run again");
        }
        // A finished run's secrets were deleted: the rerun gets those sent with it.
        rec.secrets = *secrets;
        return {};
      });
  if (!run.ok()) co_return error_of(run.error());
  co_return json_ok(workflow::to_api_json(*run));
}

}  // namespace

awaitable<void> advance_workflow_run(ServerContext& ctx, const std::string& tenant,
                                     const std::string& run_id) {
  auto advanced = co_await advance_run(ctx, tenant, run_id);
  if (!advanced.ok() && advanced.error().code != ErrorCode::kNotFound) {
    spdlog::warn("workflow run {}: {}", run_id, advanced.error().message);
  }
}

awaitable<Result<bool>> report_workflow_steps(ServerContext& ctx, const Job& job,
                                              const json& steps) {
  const json* wf = job.spec.workflow ? &*job.spec.workflow : nullptr;
  if (!wf || !wf->contains("run_id") || !(*wf)["run_id"].is_string() || !wf->contains("key") ||
      !(*wf)["key"].is_string()) {
    co_return make_error(ErrorCode::kInvalidSpec,
                         "job " + job.id + " is not a workflow run's job: it has no steps");
  }
  std::string run_id = (*wf)["run_id"], key = (*wf)["key"];
  bool stored = false;
  auto run =
      co_await update_run(ctx, job.tenant, run_id,
                          [&](Run& run, WorkflowRunRecord&, TimeMs now) -> awaitable<Result<bool>> {
                            // A job reporting steps has started, whether or not its start
                            // is stored yet.
                            TimeMs started = job.started_at ? job.started_at : now;
                            stored = workflow::report_steps(run, key, job.id, steps, started);
                            co_return stored;
                          });
  if (!run.ok()) co_return run.error();
  co_return stored;
}

awaitable<void> sweep_workflow_runs(ServerContext& ctx) {
  auto active = co_await ctx.db([&] { return ctx.store.active_workflow_runs(); });
  if (!active.ok()) {
    spdlog::error("workflow runs: {}", active.error().message);
    co_return;
  }
  for (const auto& [tenant, id] : *active) co_await advance_workflow_run(ctx, tenant, id);
}

awaitable<void> start_discovered_workflows(ServerContext& ctx, const Job& job) {
  const json& discover = (*job.spec.workflow)["discover"];
  if (!job.result.is_object() || !job.result.contains("workflow_files") ||
      !job.result["workflow_files"].is_array())
    co_return;
  auto text = [&](const char* key) {
    return discover.contains(key) && discover[key].is_string() ? discover[key].get<std::string>()
                                                               : std::string();
  };
  std::string event = text("event"), ref = text("ref"), sha = text("sha"),
              delivery = text("delivery");
  if (sha.empty() && job.result.contains("sha") && job.result["sha"].is_string())
    sha = job.result["sha"];
  if (delivery.empty()) delivery = job.id;  // a schedule's tick: its job is the occasion
  std::vector<std::string> changed;
  if (discover.contains("changed_paths") && discover["changed_paths"].is_array()) {
    for (const auto& p : discover["changed_paths"]) {
      if (p.is_string()) changed.push_back(p.get<std::string>());
    }
  }
  json repo = {{"url", text("url")}, {"ref", ref}, {"sha", sha}};
  for (const auto& file : job.result["workflow_files"]) {
    if (!file.is_object() || !file.contains("path") || !file.contains("text") ||
        !file["path"].is_string() || !file["text"].is_string())
      continue;
    std::string path = file["path"];
    TimeMs now = ctx.clock.now_ms();
    Run run;
    auto parsed = workflow::parse_workflow(file["text"].get<std::string>());
    if (parsed.ok()) {
      bool triggered = event == "push"       ? workflow::push_triggers(parsed->on, ref, changed)
                       : event == "schedule" ? !parsed->on.schedules.empty()
                                             : workflow::pull_request_triggers(
                                                   parsed->on, text("base_ref"), text("action"));
      if (!triggered) continue;
      auto planned = workflow::plan_run(std::move(parsed.value()), new_id("wfr"), repo, event,
                                        json::object(), now);
      if (planned.ok()) {
        run = std::move(planned.value());
        if (run.workflow.name.empty()) run.name = path;
      } else {
        run.id = new_id("wfr");
        run.error = planned.error().message;
      }
    } else if (event == "schedule") {
      continue;  // reported on the pushes that changed it, not at every tick
    } else {
      run.id = new_id("wfr");
      run.error = parsed.error().message;
    }
    if (!run.error.empty()) {
      // As on GitHub: a file that cannot run shows as a failed run, with its error.
      run.name = path;
      run.event = event;
      run.repo = repo;
      run.state = "failed";
      run.created_at = run.finished_at = now;
      run.error = path + ": " + run.error;
    }
    run.tenant = job.tenant;
    run.owner_token_id = job.owner_token_id;
    WorkflowRunRecord rec = new_record(run, now);
    rec.delivery = delivery + ":" + path;
    auto inserted = co_await ctx.db([&] { return ctx.store.insert_workflow_run(rec); });
    if (!inserted.ok()) {
      if (inserted.error().code != ErrorCode::kConflict) {
        spdlog::error("workflow run of {} ({}): {}", path, delivery, inserted.error().message);
      }
      continue;  // this delivery started it already
    }
    spdlog::info("workflow run {} ({}) started by {} delivery {}", run.id, path, event, delivery);
    if (run.error.empty()) co_await advance_workflow_run(ctx, run.tenant, run.id);
  }
}

void add_workflow_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/workflow-runs",
             [&ctx](RequestContext& req) { return create_run(ctx, req); });
  router.add(http::verb::get, "/api/v1/workflow-runs",
             [&ctx](RequestContext& req) { return list_runs(ctx, req); });
  router.add(http::verb::get, "/api/v1/workflow-runs/{id}",
             [&ctx](RequestContext& req) { return get_run(ctx, req); });
  router.add(http::verb::post, "/api/v1/workflow-runs/{id}/cancel",
             [&ctx](RequestContext& req) { return cancel_run(ctx, req); });
  router.add(http::verb::post, "/api/v1/workflow-runs/{id}/rerun-failed",
             [&ctx](RequestContext& req) { return rerun_failed_jobs(ctx, req); });
}

}  // namespace corral
