// /api/v1/jobs and /api/v1/queue: submitting, reading, cancelling, logs.
#include <spdlog/spdlog.h>

#include <map>

#include "api/repo.h"
#include "common/crypto.h"
#include "common/json_limits.h"
#include "server/context.h"
#include "server/dispatch.h"
#include "server/json_body.h"
#include "server/steward.h"
#include "server/why.h"

namespace corral {

namespace {

// Retry-After of a submit over --max-queued-per-tenant: jobs finish within minutes.
constexpr int kQueueQuotaRetryAfterS = 30;

awaitable<Result<Token>> user_or_admin(ServerContext& ctx, const RequestContext& req) {
  return authenticate_user(ctx, req);
}

// A submitted spec: what parse_job_spec checks, and no secret or workflow the caller may not set.
Result<JobSpec> parse_submitted_spec(const json& body) {
  if (auto r = check_submitted_secrets(body); !r.ok()) return r.error();
  if (body.is_object() && body.contains("workflow")) {
    return make_error(ErrorCode::kInvalidSpec,
                      "field 'workflow': set by the server for the jobs of a workflow run; start "
                      "one with POST /api/v1/workflow-runs (`corral workflow run FILE`)");
  }
  return parse_job_spec(body);
}

Result<std::string> idempotency_key(const RequestContext& req) {
  std::string key(req.msg["Idempotency-Key"]);
  if (key.size() > 255) {
    return make_error(ErrorCode::kBadRequest, "Idempotency-Key is longer than 255 characters");
  }
  return key;
}

// RFC 7240: a client that sends "Prefer: return=minimal" gets each submitted job back as its
// id and state only, not the whole job (a bulk submitter reads ids; the whole job is a
// GET away). The answer says so in Preference-Applied.
bool prefers_minimal(const RequestContext& req) {
  std::string_view prefer = req.msg["Prefer"];
  while (!prefer.empty()) {
    size_t comma = prefer.find(',');
    std::string_view item = prefer.substr(0, comma);
    prefer = comma == std::string_view::npos ? std::string_view() : prefer.substr(comma + 1);
    item = item.substr(0, item.find(';'));  // preference parameters say nothing here
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (boost::beast::iequals(item, "return=minimal") ||
        boost::beast::iequals(item, "return=\"minimal\""))
      return true;
  }
  return false;
}

json minimal_json(const Job& job) {
  return {{"id", job.id}, {"state", to_string(job.state)}};
}

Response submitted(json body, bool created, bool minimal) {
  Response res = json_ok(body, created ? http::status::created : http::status::ok);
  if (minimal) res.set("Preference-Applied", "return=minimal");
  return res;
}

awaitable<Response> submit(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  auto spec = parse_submitted_spec(*body);
  if (!spec.ok()) co_return error_of(spec.error());
  auto key = idempotency_key(req);
  if (!key.ok()) co_return error_of(key.error());
  auto created = co_await submit_job(ctx, *caller, std::move(spec.value()), *key);
  if (!created.ok()) co_return error_of(created.error());
  const bool minimal = prefers_minimal(req);
  co_return submitted(minimal ? minimal_json(created->job) : to_json(created->job),
                      created->created, minimal);
}

// The job a spec makes for its owner, not yet stored. `repos` holds the repository mappings
// already read (a batch's jobs often share one): a job of a mapped repository that names no
// group gets the mapping's (api/repo.h).
awaitable<Result<Job>> new_job(ServerContext& ctx, const Token& owner, JobSpec spec,
                               const std::string& idempotency_key,
                               std::map<std::string, std::optional<RepoMapping>>& repos) {
  Job job;
  job.id = new_id("job");
  job.tenant = owner.tenant;
  job.owner_token_id = owner.id;
  job.spec = std::move(spec);
  if (job.spec.name.empty()) {
    job.spec.name = !job.spec.command.empty() ? job.spec.command[0]
                    : job.spec.agent          ? job.spec.agent->cli + " agent"
                                              : "script";
  }
  job.created_at = ctx.clock.now_ms();
  job.not_before = job.created_at;
  job.idempotency_key = idempotency_key;
  apply_repo_mapping(job, nullptr);
  if (!job.repo_name.empty() && job.spec.group.empty()) {
    auto known = repos.find(job.repo_name);
    if (known == repos.end()) {
      auto repo = co_await ctx.db([&] { return ctx.store.find_repo(job.tenant, job.repo_name); });
      if (!repo.ok()) co_return repo.error();
      known = repos.emplace(job.repo_name, std::move(repo.value())).first;
    }
    if (known->second) apply_repo_mapping(job, &*known->second);
  }
  co_return job;
}

// The 429 of a submit past --max-queued-per-tenant (a plain function: g++ 12 mishandles the
// temporaries of a conditional inside a coroutine).
Error queue_quota_error(const std::string& tenant, int64_t unfinished, int64_t adding,
                        int64_t limit) {
  std::string passing = adding > 1 ? "; " + std::to_string(adding) + " more would pass" : ",";
  return too_many_requests(
      "tenant '" + tenant + "' already has " + std::to_string(unfinished) +
          " unfinished jobs (queued, leased or running)" + passing +
          " the server's limit (--max-queued-per-tenant " + std::to_string(limit) +
          "): retry once some have finished, cancel some, or ask the operator to raise the limit",
      kQueueQuotaRetryAfterS);
}

// The store's refusal past --max-queued-per-tenant (checked in the insert's transaction, so
// on SQLite it holds exactly), worded for the client; other errors as they are.
Error worded_store_error(const ServerContext& ctx, const Error& error, const std::string& tenant,
                         int64_t adding) {
  if (error.code != ErrorCode::kTooManyRequests) return error;
  auto detail = json::parse(error.detail_json, nullptr, false);
  if (!detail.is_object() || !detail.contains("unfinished")) return error;
  return queue_quota_error(tenant, detail["unfinished"].get<int64_t>(), adding,
                           ctx.config.max_queued_per_tenant);
}

}  // namespace

awaitable<Result<CreateJobResult>> submit_job(ServerContext& ctx, const Token& owner, JobSpec spec,
                                              const std::string& idempotency_key) {
  std::map<std::string, std::optional<RepoMapping>> repos;
  auto job = co_await new_job(ctx, owner, std::move(spec), idempotency_key, repos);
  if (!job.ok()) co_return job.error();
  // Stored, and leased at once to a runner parked here that may take it (dispatch.h).
  auto created = co_await create_and_dispatch(ctx, *job);
  if (!created.ok()) co_return worded_store_error(ctx, created.error(), job->tenant, 1);
  co_return created;
}

namespace {

// POST /api/v1/jobs/batch {jobs: [spec, ...]}: up to kMaxBatchJobs jobs in one transaction,
// all or none. Every spec is checked before any is stored; a bad one refuses the whole batch
// with its index in the message. With an Idempotency-Key, job i is stored under "<key>/<i>",
// so a repeated batch answers the jobs the first one made.
constexpr size_t kMaxBatchJobs = 500;

awaitable<Response> submit_batch(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto known = check_known_fields(*body, "", {"jobs"}); !known.ok()) {
    co_return error_of(known.error());
  }
  const json* specs = body->contains("jobs") ? &(*body)["jobs"] : nullptr;
  if (!specs || !specs->is_array() || specs->empty() || specs->size() > kMaxBatchJobs) {
    co_return error_of(invalid_field(
        "jobs", "must be a list of 1 to " + std::to_string(kMaxBatchJobs) +
                    " job specs (as POST /api/v1/jobs takes); send more in several batches"));
  }
  auto key = idempotency_key(req);
  if (!key.ok()) co_return error_of(key.error());
  std::vector<JobSpec> parsed;
  parsed.reserve(specs->size());
  for (size_t i = 0; i < specs->size(); ++i) {
    auto spec = parse_submitted_spec((*specs)[i]);
    if (!spec.ok()) {
      Error error = spec.error();
      error.message = "jobs[" + std::to_string(i) + "]: " + error.message +
                      " (no job of this batch was stored)";
      co_return error_of(error);
    }
    parsed.push_back(std::move(spec.value()));
  }
  std::vector<Job> jobs;
  jobs.reserve(parsed.size());
  std::map<std::string, std::optional<RepoMapping>> repos;
  for (size_t i = 0; i < parsed.size(); ++i) {
    // (A named key: g++ 12 mishandles a temporary of a conditional inside co_await.)
    std::string job_key;
    if (!key->empty()) job_key = *key + "/" + std::to_string(i);
    auto job = co_await new_job(ctx, *caller, std::move(parsed[i]), job_key, repos);
    if (!job.ok()) co_return error_of(job.error());
    jobs.push_back(std::move(job.value()));
  }
  auto created = co_await ctx.db(
      [&] { return ctx.store.create_jobs(jobs, ctx.config.max_queued_per_tenant); });
  if (!created.ok()) {
    co_return error_of(worded_store_error(ctx, created.error(), caller->tenant,
                                          static_cast<int64_t>(jobs.size())));
  }
  const bool minimal = prefers_minimal(req);
  bool any_new = false;
  json out = json::array();
  for (const auto& one : *created) {
    if (one.created) ctx.events.job_available(one.job);
    any_new = any_new || one.created;
    out.push_back(minimal ? minimal_json(one.job) : to_json(one.job));
  }
  co_return submitted({{"jobs", std::move(out)}}, any_new, minimal);
}

awaitable<Response> list_jobs(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  JobQuery query;
  std::string state = req.query_value("state");
  if (!state.empty()) {
    query.state = parse_job_state(state);
    if (!query.state) {
      co_return error_of(
          make_error(ErrorCode::kBadRequest,
                     "query parameter 'state' must be one of queued, leased, running, "
                     "succeeded, failed, canceled"));
    }
  }
  auto limit = query_int(req, "limit", 50, 1, 500);
  if (!limit.ok()) co_return error_of(limit.error());
  query.limit = static_cast<int>(*limit);
  auto cursor = query_int(req, "cursor", 0, 0, INT64_MAX);
  if (!cursor.ok()) co_return error_of(cursor.error());
  query.cursor = *cursor;
  query.label = req.query_value("label");
  query.runner = req.query_value("runner");
  auto page = co_await ctx.read([&] { return ctx.store.list_jobs(caller->tenant, query); });
  if (!page.ok()) co_return error_of(page.error());
  json jobs = json::array();
  for (const auto& j : page->jobs) jobs.push_back(to_json(j));
  co_return json_ok({{"jobs", jobs},
                     {"next_cursor", page->next_cursor ? json(std::to_string(page->next_cursor))
                                                       : json(nullptr)}});
}

awaitable<Response> get_job(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto job = co_await ctx.read([&] { return ctx.store.get_job(caller->tenant, id); });
  if (!job.ok()) co_return error_of(job.error());
  co_return json_ok(to_json(*job));
}

awaitable<Response> cancel(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto job =
      co_await ctx.db([&] { return ctx.store.cancel_job(caller->tenant, id, ctx.clock.now_ms()); });
  if (!job.ok()) co_return error_of(job.error());
  ctx.events.job_changed(id);  // watchers of a job canceled while queued get their "end"
  co_return json_ok(to_json(*job));
}

awaitable<Response> logs(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto offset = query_int(req, "offset", 0, 0, INT64_MAX);
  if (!offset.ok()) co_return error_of(offset.error());
  auto attempt = query_int(req, "attempt", 0, 0, 1'000'000);
  if (!attempt.ok()) co_return error_of(attempt.error());
  auto limit = query_int(req, "limit", 8 * 1024 * 1024, 1, 64 * 1024 * 1024);
  if (!limit.ok()) co_return error_of(limit.error());
  auto chunk = co_await ctx.read([&] {
    return ctx.store.read_log(caller->tenant, id, static_cast<int>(*attempt), *offset, *limit);
  });
  if (!chunk.ok()) co_return error_of(chunk.error());
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set("X-Corral-Attempt", std::to_string(chunk->attempt));
  res.set("X-Corral-Log-Size", std::to_string(chunk->size));
  res.set("X-Corral-Next-Offset",
          std::to_string(chunk->offset + static_cast<int64_t>(chunk->data.size())));
  res.set("X-Corral-Log-Complete", chunk->complete ? "true" : "false");
  res.body() = std::move(chunk->data);
  res.prepare_payload();
  co_return res;
}

// An agent job's raw event stream (JSON lines), for the dashboard's transcript and for
// anyone who wants every event the CLI printed.
awaitable<Response> agent_events(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto attempt = query_int(req, "attempt", 0, 0, 1'000'000);
  if (!attempt.ok()) co_return error_of(attempt.error());
  auto events = co_await ctx.read(
      [&] { return ctx.store.read_agent_events(caller->tenant, id, static_cast<int>(*attempt)); });
  if (!events.ok()) co_return error_of(events.error());
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "application/x-ndjson");
  res.set("X-Corral-Attempt", std::to_string(events->attempt));
  res.body() = std::move(events->data);
  res.prepare_payload();
  co_return res;
}

// GET /api/v1/queue's answer: the counts by state, group and label set, the runners by
// status, and the head of the queue, each job with what holds it (the same words as /why).
json queue_page(const RunnerList& list, const QueueStats& stats, const std::vector<Job>& queued,
                const StewardFacts& steward, TimeMs now) {
  json groups = json::array();
  for (const auto& g : stats.by_group) {
    groups.push_back({{"group", g.group}, {"queued", g.queued}, {"running", g.running}});
  }
  json label_sets = json::array();
  for (const auto& l : stats.by_labels)
    label_sets.push_back({{"labels", l.labels}, {"queued", l.queued}});
  std::map<std::string, int> by_status = {
      {"idle", 0}, {"busy", 0}, {"draining", 0}, {"offline", 0}};
  for (const auto& r : list.runners()) ++by_status[std::string(to_string(r.status))];
  json waiting = json::array();
  QueuePosition position;
  int last_priority = INT32_MAX;
  // Jobs alike in what matching reads share one look at the runners per list (a fleet of
  // thousands): RunnerList::fit.
  for (const auto& job : queued) {
    if (job.spec.priority != last_priority) {
      position.higher_priority += position.older;
      position.older = 0;
      last_priority = job.spec.priority;
    }
    auto fit = list.fit(job);
    auto why = explain_wait({job, list.runners(), position, now, &steward, fit.get()});
    waiting.push_back({{"id", job.id},
                       {"name", job.spec.name},
                       {"labels", job.spec.labels},
                       {"group", job.spec.group},
                       {"type", job.spec.type},
                       {"priority", job.spec.priority},
                       {"created_at", format_time(job.created_at)},
                       {"not_before", why["not_before"]},
                       {"position", why["position"]},
                       {"reason", why["summary"]},
                       {"reason_code", why["reasons"][0]["code"]}});
    if (job.not_before <= now) ++position.older;
  }
  return {{"by_state", stats.by_state},
          {"by_group", groups},
          {"by_labels", label_sets},
          {"runners", by_status},
          {"waiting", waiting},
          {"oldest_queued_at",
           stats.oldest_queued_at ? json(format_time(stats.oldest_queued_at)) : json(nullptr)},
          {"oldest_queued_age_s",
           stats.oldest_queued_at ? json((now - stats.oldest_queued_at) / 1000.0) : json(nullptr)}};
}

// Reads the tenant's runners and keeps the list (runner_snapshots.h). Parameters by value:
// it also runs detached, after the request that started it has ended.
awaitable<Result<RunnerSnapshots::Snapshot>> read_runners(ServerContext& ctx, std::string tenant,
                                                          uint64_t generation, const char* by) {
  ctx.metrics.runner_list_reads.add({by});
  TimeMs at = ctx.clock.now_ms();
  // Without what the explanations never read: of the usage report its health only
  // (runner_error), no capabilities. Ten thousand full registrations are a lot of JSON.
  auto runners =
      co_await ctx.read([&] { return ctx.store.list_runners(tenant, RunnerListing::kBrief); });
  if (!runners.ok()) co_return runners.error();
  auto snapshot = std::make_shared<const RunnerList>(std::move(runners.value()));
  ctx.runner_snapshots->put(tenant, snapshot, at, generation, ctx.clock.now_ms() - at);
  co_return snapshot;
}

// The tenant's runners for /queue and /why: the kept list while it is fresh enough, renewed
// in the background once it is a second old; read here only when there is none.
awaitable<Result<RunnerSnapshots::Snapshot>> tenant_runners(ServerContext& ctx,
                                                            const std::string& tenant) {
  auto found = ctx.runner_snapshots->lookup(tenant, ctx.clock.now_ms());
  // Another request is reading the missing list: wait for it (looked at every 5 ms; after
  // RunnerSnapshots::kWaitForRead without one, this request reads its own).
  if (found.wait) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (found.wait) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
      found = ctx.runner_snapshots->lookup(tenant, ctx.clock.now_ms());
    }
  }
  if (found.refresh) {
    asio::co_spawn(co_await asio::this_coro::executor,
                   refresh_runner_list(ctx, tenant, found.generation, "refresh"), asio::detached);
  }
  if (found.runners) co_return found.runners;
  co_return co_await read_runners(ctx, tenant, found.generation, "page");
}

// /queue and /why: the tenant's runners first (usually the kept list, no store call), then
// the page in one trip to the read pool: its reads, and also the matching, the explanations
// and the JSON, which for fifty jobs against thousands of runners take milliseconds. An I/O
// thread serves thousands of connections, parked claims and submits among them; a page
// computed there would hold up their answers (docs/architecture.md, "The store").

awaitable<Response> queue(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto kept_runners = co_await tenant_runners(ctx, caller->tenant);
  if (!kept_runners.ok()) co_return error_of(kept_runners.error());
  TimeMs now = ctx.clock.now_ms();
  auto page = co_await ctx.read([&]() -> Result<std::string> {
    auto stats = ctx.store.queue_stats(caller->tenant, now);
    if (!stats.ok()) return stats.error();
    auto queued = ctx.store.queued_jobs(caller->tenant, 50);
    if (!queued.ok()) return queued.error();
    auto steward =
        load_steward_facts(ctx.store, caller->tenant, now, ctx.config.steward_stale_after_ms);
    if (!steward.ok()) return steward.error();
    return json_text(queue_page(**kept_runners, *stats, *queued, *steward, now));
  });
  if (!page.ok()) co_return error_of(page.error());
  co_return json_response(http::status::ok, *page);
}

awaitable<Response> why(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto kept_runners = co_await tenant_runners(ctx, caller->tenant);
  if (!kept_runners.ok()) co_return error_of(kept_runners.error());
  TimeMs now = ctx.clock.now_ms();
  auto page = co_await ctx.read([&]() -> Result<std::string> {
    auto job = ctx.store.get_job(caller->tenant, id);
    if (!job.ok()) return job.error();
    QueuePosition position;
    if (job->state == JobState::kQueued) {
      auto pos = ctx.store.queue_position(caller->tenant, id, now);
      if (!pos.ok()) return pos.error();
      position = *pos;
    }
    auto steward =
        load_steward_facts(ctx.store, caller->tenant, now, ctx.config.steward_stale_after_ms);
    if (!steward.ok()) return steward.error();
    const RunnerList& list = **kept_runners;
    auto fit = list.fit(*job);
    return json_text(explain_wait({*job, list.runners(), position, now, &*steward, fit.get()}));
  });
  if (!page.ok()) co_return error_of(page.error());
  co_return json_response(http::status::ok, *page);
}

// One entry per day from first_day: {day, jobs, cost_usd, input_tokens, output_tokens,
// cache_read_tokens}, the sums of the jobs' result.agent figures.
json agent_cost_by_day(const std::vector<FinishedResult>& results, TimeMs first_day, int days) {
  constexpr TimeMs kDay = 86'400'000;
  struct Day {
    int64_t jobs = 0, input_tokens = 0, output_tokens = 0, cache_read_tokens = 0;
    double cost_usd = 0;
  };
  std::vector<Day> by_day(static_cast<size_t>(days));
  for (const auto& r : results) {
    auto i = (r.finished_at - first_day) / kDay;
    if (i < 0 || i >= days) continue;
    auto parsed = parse_json_limited(r.result, "a stored result");
    if (!parsed.ok() || !parsed->is_object() || !parsed->contains("agent")) continue;
    const json& agent = (*parsed)["agent"];
    if (!agent.is_object()) continue;
    Day& d = by_day[static_cast<size_t>(i)];
    ++d.jobs;
    if (agent.contains("cost_usd") && agent["cost_usd"].is_number())
      d.cost_usd += agent["cost_usd"].get<double>();
    d.input_tokens += json_int_or(agent, "input_tokens", 0);
    d.cache_read_tokens += json_int_or(agent, "cache_read_tokens", 0);
    d.output_tokens += json_int_or(agent, "output_tokens", 0);
  }
  json out = json::array();
  for (int i = 0; i < days; ++i) {
    const Day& d = by_day[static_cast<size_t>(i)];
    out.push_back({{"day", format_time(first_day + i * kDay).substr(0, 10)},
                   {"jobs", d.jobs},
                   {"cost_usd", d.cost_usd},
                   {"input_tokens", d.input_tokens},
                   {"output_tokens", d.output_tokens},
                   {"cache_read_tokens", d.cache_read_tokens}});
  }
  return out;
}

awaitable<Response> stats(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await user_or_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto hours = query_int(req, "hours", 24, 1, 24 * 31);
  if (!hours.ok()) co_return error_of(hours.error());
  auto stats = co_await ctx.read([&] {
    return ctx.store.job_stats(caller->tenant, static_cast<int>(*hours), ctx.clock.now_ms());
  });
  if (!stats.ok()) co_return error_of(stats.error());
  json hourly = json::array();
  for (const auto& h : stats->hours) {
    hourly.push_back({{"start", format_time(h.start)},
                      {"succeeded", h.succeeded},
                      {"failed", h.failed},
                      {"canceled", h.canceled}});
  }
  int64_t finished = stats->succeeded + stats->failed + stats->canceled;
  auto optional_ms = [](const std::optional<TimeMs>& v) { return v ? json(*v) : json(nullptr); };
  // Canceled jobs say nothing about whether work succeeds: the rate is over ended runs.
  int64_t decided = stats->succeeded + stats->failed;
  // Agent runs' cost and tokens per UTC day over the last `days` days (the overview's chart).
  auto days = query_int(req, "days", 14, 1, 366);
  if (!days.ok()) co_return error_of(days.error());
  constexpr TimeMs kDay = 86'400'000;
  TimeMs first_day = (ctx.clock.now_ms() / kDay - (*days - 1)) * kDay;
  auto results =
      co_await ctx.read([&] { return ctx.store.agent_results(caller->tenant, first_day); });
  if (!results.ok()) co_return error_of(results.error());
  co_return json_ok(
      {{"hours", hourly},
       {"agent_by_day", agent_cost_by_day(*results, first_day, static_cast<int>(*days))},
       {"finished", finished},
       {"succeeded", stats->succeeded},
       {"failed", stats->failed},
       {"canceled", stats->canceled},
       {"success_rate",
        decided ? json(static_cast<double>(stats->succeeded) / decided) : json(nullptr)},
       {"median_queue_wait_ms", optional_ms(stats->median_queue_wait_ms)},
       {"median_run_ms", optional_ms(stats->median_run_ms)}});
}

}  // namespace

awaitable<void> refresh_runner_list(ServerContext& ctx, std::string tenant, uint64_t generation,
                                    const char* by) {
  auto read = co_await read_runners(ctx, std::move(tenant), generation, by);
  if (!read.ok()) spdlog::warn("reading the runners for /queue: {}", read.error().message);
}

void add_job_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/jobs",
             [&ctx](RequestContext& req) { return submit(ctx, req); });
  router.add(http::verb::post, "/api/v1/jobs/batch",
             [&ctx](RequestContext& req) { return submit_batch(ctx, req); });
  router.add(http::verb::get, "/api/v1/jobs",
             [&ctx](RequestContext& req) { return list_jobs(ctx, req); });
  router.add(http::verb::get, "/api/v1/jobs/{id}",
             [&ctx](RequestContext& req) { return get_job(ctx, req); });
  router.add(http::verb::post, "/api/v1/jobs/{id}/cancel",
             [&ctx](RequestContext& req) { return cancel(ctx, req); });
  router.add(http::verb::get, "/api/v1/jobs/{id}/logs",
             [&ctx](RequestContext& req) { return logs(ctx, req); });
  router.add(http::verb::get, "/api/v1/jobs/{id}/events",
             [&ctx](RequestContext& req) { return agent_events(ctx, req); });
  router.add(http::verb::get, "/api/v1/queue",
             [&ctx](RequestContext& req) { return queue(ctx, req); });
  router.add(http::verb::get, "/api/v1/jobs/{id}/why",
             [&ctx](RequestContext& req) { return why(ctx, req); });
  router.add(http::verb::get, "/api/v1/stats",
             [&ctx](RequestContext& req) { return stats(ctx, req); });
}

}  // namespace corral
