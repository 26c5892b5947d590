// /api/v1/jobs/{job_id}/attempts/{attempt}/{start,logs,events,steps,finish}: the runner's side of
// an attempt, and /api/v1/runners/{id}/reports, the starts and finishes of several attempts in
// one call. The attempt number is the fencing token: the store refuses (409) any call whose
// attempt is not the job's current one or not the calling runner's.
#include <vector>

#include "common/numbers.h"
#include "server/context.h"

namespace corral {

namespace {

Result<int> attempt_number(const RequestContext& req) {
  const auto& text = req.params.at("attempt");
  if (auto n = parse_number<int>(text); n && *n > 0) return *n;
  return make_error(ErrorCode::kBadRequest,
                    "attempt must be a positive integer, not '" + text + "'");
}

// POST|PUT /api/v1/jobs/{job_id}/attempts/{attempt}/<what>: fn(req, runner, job_id, attempt)
// once the caller is known to be a runner and the attempt number reads.
template <typename F>
void add_attempt_route(Router& router, ServerContext& ctx, http::verb verb, const char* what,
                       F fn) {
  router.add(verb, std::string("/api/v1/jobs/{job_id}/attempts/{attempt}/") + what,
             [&ctx, fn](RequestContext& req) -> awaitable<Response> {
               auto runner = co_await authenticate_runner(ctx, req);
               if (!runner.ok()) co_return error_of(runner.error());
               auto attempt = attempt_number(req);
               if (!attempt.ok()) co_return error_of(attempt.error());
               co_return co_await fn(req, *runner, req.params["job_id"], *attempt);
             });
}

// Whether `attempt` is the job's current one, the runner's, and not over: the fencing the
// store applies to start, logs and finish, for the routes that read before they write.
bool holds_attempt(const Job& job, const Runner& runner, int attempt) {
  if (job.attempts.empty()) return false;
  const Attempt& current = job.attempts.back();
  return current.number == attempt && current.runner_id == runner.id &&
         (job.state == JobState::kLeased || job.state == JobState::kRunning);
}

// The finish report in the metrics: the attempt always, the job when it is over for good
// (a retried job is queued again).
void count_finished(ServerMetrics& metrics, const FinishReport& report, const Job& job) {
  std::string reason = reason_label(report.state, report.reason);
  metrics.attempts_finished.add({std::string(to_string(report.state)), reason});
  if (job.state != JobState::kSucceeded && job.state != JobState::kFailed &&
      job.state != JobState::kCanceled) {
    return;
  }
  metrics.jobs_finished.add({std::string(to_string(job.state)), reason});
  if (job.started_at > 0) {
    TimeMs queued_since = std::max(job.created_at, job.not_before);
    metrics.queue_wait.observe({}, std::max<TimeMs>(0, job.started_at - queued_since) / 1000.0);
  }
}

// What a job that read a repository's workflow files found starts before its finish is
// stored: a server that dies in between has not stored the finish, the runner sends it again
// (here or to another server), and each file starts at most one run per delivery however
// often that happens.
awaitable<void> before_finish(ServerContext& ctx, const Runner& runner, const std::string& job_id,
                              int attempt, const FinishReport& report) {
  if (report.state != AttemptState::kSucceeded || !report.result.is_object() ||
      !report.result.contains("workflow_files")) {
    co_return;
  }
  auto current = co_await ctx.db([&] { return ctx.store.get_job("", job_id); });
  if (current.ok() && current->spec.workflow && current->spec.workflow->contains("discover") &&
      holds_attempt(*current, runner, attempt)) {
    current->result = report.result;
    co_await start_discovered_workflows(ctx, *current);
  }
}

// Once a finish is stored: metrics, watchers, and a workflow run's next jobs (now, not at
// the sweep).
awaitable<void> after_finish(ServerContext& ctx, const FinishReport& report, const Job& job) {
  count_finished(ctx.metrics, report, job);
  ctx.events.job_changed(job.id);
  if (job.spec.workflow && job.spec.workflow->contains("run_id") &&
      (*job.spec.workflow)["run_id"].is_string()) {
    std::string run_id = (*job.spec.workflow)["run_id"];
    co_await advance_workflow_run(ctx, job.tenant, run_id);
  }
}

// ---- POST /api/v1/runners/{id}/reports: the start and finish of several attempts in one
// call (docs/api.md, "Batched reports"). Each item has exactly the effect and the fencing of
// its own start or finish call; the items of one kind go to the store in one call
// (start_attempts, finish_attempts), so they commit together. Starts are stored before
// finishes (an attempt may be in both).

constexpr size_t kMaxBatchReports = 500;

// One item: {job_id, attempt} plus, for a finish, what the finish call takes.
Result<AttemptFinish> parse_report_item(const json& item, const std::string& where, bool finish) {
  auto bad = [&](const std::string& field, const std::string& why) {
    return invalid_field(where + (field.empty() ? "" : "." + field), why);
  };
  if (!item.is_object()) return bad("", "must be an object {job_id, attempt, ...}");
  AttemptFinish out;
  auto id = item.find("job_id");
  if (id == item.end() || !id->is_string() || id->get<std::string>().empty()) {
    return bad("job_id", "must be the job's id (a string)");
  }
  out.job_id = *id;
  auto attempt = item.find("attempt");
  if (attempt == item.end() || !attempt->is_number_integer() || attempt->get<int64_t>() < 1 ||
      attempt->get<int64_t>() > INT32_MAX) {
    return bad("attempt", "must be the attempt's number (a whole number from 1)");
  }
  out.attempt = attempt->get<int>();
  if (!finish) {
    if (item.size() != 2) return bad("", "a start is {job_id, attempt} and nothing more");
    return out;
  }
  json report = item;
  report.erase("job_id");
  report.erase("attempt");
  auto parsed = parse_finish_report(report);
  if (!parsed.ok()) {
    Error error = parsed.error();
    error.message = where + ": " + error.message;
    return error;
  }
  out.report = std::move(parsed.value());
  return out;
}

Result<std::vector<AttemptFinish>> parse_report_items(const json& body, const char* kind) {
  std::vector<AttemptFinish> items;
  auto list = body.find(kind);
  if (list == body.end()) return items;
  if (!list->is_array()) {
    return invalid_field(kind, "must be a list of {job_id, attempt, ...} objects");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    auto item = parse_report_item((*list)[i], std::string(kind) + "[" + std::to_string(i) + "]",
                                  std::string_view(kind) == "finish");
    if (!item.ok()) return item.error();
    items.push_back(std::move(item.value()));
  }
  return items;
}

// An item's answer: {job_id, attempt, status} and the error of a refused one.
json item_answer(const AttemptFinish& item, const Error* error) {
  json out = {{"job_id", item.job_id},
              {"attempt", item.attempt},
              {"status", error ? error->status() : 200}};
  if (error) {
    out["error"] = {{"code", std::string(code_name(error->code))}, {"message", error->message}};
  }
  return out;
}

awaitable<Response> batch_report(ServerContext& ctx, RequestContext& req) {
  auto runner = co_await authenticate_runner(ctx, req, req.params["id"]);
  if (!runner.ok()) co_return error_of(runner.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto known = check_known_fields(*body, "", {"start", "finish"}); !known.ok()) {
    co_return error_of(known.error());
  }
  auto starts = parse_report_items(*body, "start");
  if (!starts.ok()) co_return error_of(starts.error());
  auto finishes = parse_report_items(*body, "finish");
  if (!finishes.ok()) co_return error_of(finishes.error());
  if (starts->size() + finishes->size() > kMaxBatchReports) {
    co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                  "a report holds at most " + std::to_string(kMaxBatchReports) +
                                      " starts and finishes in all, not " +
                                      std::to_string(starts->size() + finishes->size()) +
                                      ": send the rest in another"));
  }
  json started = json::array();
  if (!starts->empty()) {
    std::vector<AttemptRef> refs;
    for (const auto& item : *starts) refs.push_back({item.job_id, item.attempt});
    auto results = co_await ctx.db(
        [&] { return ctx.store.start_attempts(runner->id, refs, ctx.clock.now_ms()); });
    for (size_t i = 0; i < results.size(); ++i) {
      started.push_back(item_answer((*starts)[i], results[i].ok() ? nullptr : &results[i].error()));
    }
  }
  json finished = json::array();
  if (!finishes->empty()) {
    for (const auto& item : *finishes) {
      co_await before_finish(ctx, *runner, item.job_id, item.attempt, item.report);
    }
    auto results = co_await ctx.db(
        [&] { return ctx.store.finish_attempts(runner->id, *finishes, ctx.clock.now_ms()); });
    for (size_t i = 0; i < results.size(); ++i) {
      const AttemptFinish& item = (*finishes)[i];
      if (!results[i].ok()) {
        finished.push_back(item_answer(item, &results[i].error()));
        continue;
      }
      co_await after_finish(ctx, item.report, *results[i]);
      json answer = item_answer(item, nullptr);
      answer["state"] = std::string(to_string(results[i]->state));
      finished.push_back(std::move(answer));
    }
  }
  co_return json_ok({{"start", std::move(started)}, {"finish", std::move(finished)}});
}

}  // namespace

void add_attempt_routes(Router& router, ServerContext& ctx) {
  add_attempt_route(router, ctx, http::verb::post, "start",
                    [&ctx](RequestContext& req, const Runner& runner, std::string job_id,
                           int attempt) -> awaitable<Response> {
                      auto started = co_await ctx.db([&] {
                        return ctx.store.start_attempt(runner.id, job_id, attempt,
                                                       ctx.clock.now_ms());
                      });
                      if (!started.ok()) co_return error_of(started.error());
                      co_return json_ok(to_json(*started));
                    });

  add_attempt_route(
      router, ctx, http::verb::post, "logs",
      [&ctx](RequestContext& req, const Runner& runner, std::string job_id,
             int attempt) -> awaitable<Response> {
        auto offset = parse_number<int64_t>(req.query_value("offset"));
        if (!offset || *offset < 0) {
          co_return error_of(make_error(
              ErrorCode::kBadRequest, "query parameter 'offset' (a byte offset >= 0) is required"));
        }
        auto appended = co_await ctx.db([&] {
          return ctx.store.append_log(runner.id, job_id, attempt, *offset, req.msg.body(),
                                      ctx.clock.now_ms());
        });
        if (!appended.ok()) co_return error_of(appended.error());
        ctx.metrics.log_bytes.add({}, static_cast<double>(appended->stored.size()));
        // Watchers get exactly the bytes the readable log gained (none for a repeat
        // or past the cap).
        if (!appended->stored.empty()) {
          ctx.events.log_appended(job_id, attempt, appended->stored_offset, appended->stored);
        }
        co_return json_ok({{"next_offset", appended->next_offset}});
      });

  // An agent's raw event stream, sent once before finish (runner/agent_cli.h).
  add_attempt_route(
      router, ctx, http::verb::put, "events",
      [&ctx](RequestContext& req, const Runner& runner, std::string job_id,
             int attempt) -> awaitable<Response> {
        auto stored = co_await ctx.db(
            [&] { return ctx.store.put_agent_events(runner.id, job_id, attempt, req.msg.body()); });
        if (!stored.ok()) co_return error_of(stored.error());
        co_return json_ok({{"bytes", req.msg.body().size()}});
      });

  // A workflow job's steps as they run (runner/workflow_steps.h): its run shows them live.
  add_attempt_route(
      router, ctx, http::verb::put, "steps",
      [&ctx](RequestContext& req, const Runner& runner, std::string job_id,
             int attempt) -> awaitable<Response> {
        auto body = parse_json_body(req);
        if (!body.ok()) co_return error_of(body.error());
        if (!body->is_object() || !body->contains("steps") || !(*body)["steps"].is_array() ||
            !std::all_of((*body)["steps"].begin(), (*body)["steps"].end(),
                         [](const json& step) { return step.is_object(); })) {
          co_return error_of(invalid_field(
              "steps", "must be a list of step objects ({name, state, started_at, ...})"));
        }
        auto job = co_await ctx.db([&] { return ctx.store.get_job("", job_id); });
        if (!job.ok()) co_return error_of(job.error());
        if (!holds_attempt(*job, runner, attempt) || job->state != JobState::kRunning) {
          co_return error_of(make_error(ErrorCode::kConflict,
                                        "attempt " + std::to_string(attempt) + " of job " + job_id +
                                            " is not this runner's running attempt"));
        }
        auto stored = co_await report_workflow_steps(ctx, *job, (*body)["steps"]);
        if (!stored.ok()) co_return error_of(stored.error());
        co_return json_ok({{"stored", *stored}});
      });

  add_attempt_route(router, ctx, http::verb::post, "finish",
                    [&ctx](RequestContext& req, const Runner& runner, std::string job_id,
                           int attempt) -> awaitable<Response> {
                      auto body = parse_json_body(req);
                      if (!body.ok()) co_return error_of(body.error());
                      auto report = parse_finish_report(*body);
                      if (!report.ok()) co_return error_of(report.error());
                      co_await before_finish(ctx, runner, job_id, attempt, *report);
                      auto job = co_await ctx.db([&] {
                        return ctx.store.finish_attempt(runner.id, job_id, attempt, *report,
                                                        ctx.clock.now_ms());
                      });
                      if (!job.ok()) co_return error_of(job.error());
                      co_await after_finish(ctx, *report, *job);
                      co_return json_ok(to_json(*job));
                    });

  router.add(http::verb::post, "/api/v1/runners/{id}/reports",
             [&ctx](RequestContext& req) { return batch_report(ctx, req); });
}

}  // namespace corral
