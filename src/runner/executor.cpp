#include "runner/executor.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/crypto.h"
#include "common/json_limits.h"
#include "common/redact.h"
#include "runner/agent_cli.h"
#include "runner/policy.h"
#include "runner/result_file.h"
#include "runner/warm_pool.h"
#include "runner/workspace.h"

namespace corral {

namespace {
constexpr const char* kWorkspaceMount = "/workspace";
constexpr size_t kMaxResultBytes = 256 * 1024;
// How long a step past its timeout-minutes has between TERM and KILL.
constexpr std::chrono::seconds kStepKillGrace{5};
// A step's progress report waits at most this long for the server.
constexpr std::chrono::milliseconds kStepProgressTimeout{2000};

// "2 min" or "3.0 s": a step's timeout as its error message shows it.
std::string timeout_text(std::chrono::milliseconds timeout) {
  if (timeout.count() % 60'000 == 0) return std::to_string(timeout.count() / 60'000) + " min";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(timeout.count()) / 1000);
  return buf;
}

// The checkout's .github/workflows/*.yml and *.yaml as [{path, text}], by name: regular files
// only (a link could point anywhere on this host), at most 64 of at most 256 KiB each.
json read_workflow_files(const std::filesystem::path& workspace) {
  namespace fs = std::filesystem;
  json files = json::array();
  std::error_code ec;
  std::vector<fs::path> names;
  for (const auto& entry : fs::directory_iterator(workspace / ".github" / "workflows", ec)) {
    auto status = entry.symlink_status(ec);
    auto ext = entry.path().extension();
    if (ec || !fs::is_regular_file(status) || (ext != ".yml" && ext != ".yaml")) continue;
    if (entry.file_size(ec) > 256 * 1024 || ec) continue;
    names.push_back(entry.path());
  }
  std::sort(names.begin(), names.end());
  if (names.size() > 64) names.resize(64);
  for (const auto& path : names) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    files.push_back({{"path", ".github/workflows/" + path.filename().string()}, {"text", text}});
  }
  return files;
}

std::string attempt_path(const ClaimedJob& job) {
  return "/api/v1/jobs/" + job.job_id + "/attempts/" + std::to_string(job.attempt);
}

const char* reason_text(StopReason reason) {
  switch (reason) {
    case StopReason::kCanceled:
      return "canceled";
    case StopReason::kTimedOut:
      return "timed out";
    case StopReason::kStale:
      return "stale attempt";
    case StopReason::kShutdown:
      return "runner shutting down";
    case StopReason::kNone:
      break;
  }
  return "";
}
}  // namespace

JobExecutor::JobExecutor(AgentContext& ctx, ClaimedJob job) : ctx_(ctx), job_(std::move(job)) {}

std::string JobExecutor::git_token() const {
  for (const auto* vars : {&job_.spec.secrets, &job_.spec.env}) {
    if (auto it = vars->find("CORRAL_GIT_TOKEN"); it != vars->end() && !it->second.empty())
      return it->second;
  }
  return ctx_.config.git_token;
}

SecretMasker JobExecutor::secret_masker() const {
  SecretMasker masker;
  for (const auto& [name, value] : job_.spec.secrets) masker.add(value);
  // The runner's own credentials, which a job may get hold of (a clone's remote, a helper).
  masker.add(ctx_.config.git_token);
  masker.add(git_token());
  if (job_.spec.agent) {
    for (const auto& [name, value] : ctx_.config.agent_env) {
      if (looks_secret(name)) masker.add(value);
    }
  }
  if (job_.spec.repo) masker.add(url_credential(job_.spec.repo->url));
  return masker;
}

void JobExecutor::note(const std::string& line) {
  if (log_) log_->append("corral: " + line + "\n");
}

void JobExecutor::stop(StopReason reason) {
  if (stop_reason_ != StopReason::kNone || done_.is_set()) return;
  stop_reason_ = reason;
  spdlog::info("job {} attempt {}: stopping ({})", job_.job_id, job_.attempt, reason_text(reason));
  if (clone_killer_) clone_killer_->kill();
  // A warm container taken but not yet running is only removed (cleanup()).
  if (!container_id_.empty() && !container_exited_ && (!pooled_ || run_started_)) {
    asio::co_spawn(
        ctx_.executor, [self = shared_from_this()]() { return self->stop_container(); },
        asio::detached);
  }
}

awaitable<void> JobExecutor::stop_container() {
  std::string id = container_id_;
  if (stop_reason_ == StopReason::kStale) {
    // Another runner owns this job now: no grace.
    (void)co_await ctx_.runtime.kill(id);
  } else {
    (void)co_await ctx_.runtime.stop(id, std::chrono::seconds(ctx_.config.stop_grace_s));
  }
  // A stop that raced the container's start finds nothing running; keep killing until the
  // run has really ended.
  for (int i = 0; i < 30 && !co_await exited_.wait_for(std::chrono::seconds(1)); ++i) {
    (void)co_await ctx_.runtime.kill(id);
  }
}

awaitable<void> JobExecutor::watch_timeout(std::chrono::seconds limit) {
  bool exited =
      co_await exited_.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  if (!exited) stop(StopReason::kTimedOut);
}

ContainerSpec JobExecutor::container_spec() const {
  const auto& spec = job_.spec;
  const auto& cfg = ctx_.config;
  ContainerSpec c;
  c.image = spec.image.empty() ? cfg.docker_image : spec.image;
  // A script's stderr joins its stdout, so the log keeps the order things were written in
  // (two pipes would let the engine interleave them by arrival).
  c.command = !spec.command.empty()
                  ? spec.command
                  : std::vector<std::string>{"/bin/sh", "-c", "exec 2>&1\n" + spec.script};
  c.env = spec.env;
  for (const auto& [name, value] : spec.secrets) c.env[name] = value;
  if (spec.workflow) {
    // A workflow job: the container waits while the runner runs each step in it (exec), as
    // GitHub's runner does with a job container. Its secrets reach a step only where the
    // workflow says so (${{ secrets.X }}), never as the container's environment.
    // It is the container's first process whatever the image's ENTRYPOINT, so a step's
    // timeout can signal every other process (`kill -1`) and leave it standing.
    c.entrypoint = {"/bin/sh"};
    c.command = {"-c", "trap 'exit 0' TERM INT; while :; do sleep 1; done"};
    for (const auto& [name, value] : spec.secrets) c.env.erase(name);
  }
  if (spec.agent) {
    if (spec.image.empty() && !cfg.agent_image.empty()) c.image = cfg.agent_image;
    // A resolve job pushes only where the runner allows it to (policy.h, agent_push_hosts).
    auto push_hosts = agent_push_hosts(cfg, spec);
    c.command = {"/bin/sh", "-c",
                 agent_wrapper_script(*spec.agent, agent_cli(),
                                      ctx_.runtime.capabilities().isolation, push_hosts)};
    c.env["CORRAL_AGENT_PROMPT"] = spec.agent->prompt;
    // The runner's credentials win over the job's: a job cannot send the runner's key to
    // a base URL of its own choosing. A resolve job that may not push gets no GITHUB_TOKEN
    // of the runner's: its task is to push, and it must not find a way with that token.
    for (const auto& [name, value] : cfg.agent_env) {
      if (name == "GITHUB_TOKEN" && spec.type == "resolve" && push_hosts.empty()) continue;
      c.env[name] = value;
    }
  }
  c.env["CI"] = "true";
  c.env["CORRAL"] = "true";
  c.env["CORRAL_JOB_ID"] = job_.job_id;
  c.env["CORRAL_ATTEMPT"] = std::to_string(job_.attempt);
  c.working_dir = kWorkspaceMount;
  c.binds = {workspace_dir_.string() + ":" + kWorkspaceMount};
  // The job may ask for less than the runner's limits, never more.
  c.memory_bytes = cfg.docker_memory_bytes;
  if (spec.memory_bytes > 0 && (c.memory_bytes == 0 || spec.memory_bytes < c.memory_bytes))
    c.memory_bytes = spec.memory_bytes;
  c.cpus = cfg.docker_cpus;
  if (spec.cpus > 0 && (c.cpus == 0 || spec.cpus < c.cpus)) c.cpus = spec.cpus;
  c.pids_limit = cfg.pids_limit;
  c.network_mode = spec.network.empty() ? cfg.docker_network_mode : spec.network;
  c.labels = {{"corral.runner", ctx_.runner_id},
              {"corral.job", job_.job_id},
              {"corral.attempt", std::to_string(job_.attempt)}};
  c.cap_drop_all = true;
  c.no_new_privileges = true;
  c.user = cfg.docker_user;
  if (cfg.read_only_rootfs) {
    c.read_only_rootfs = true;
    c.tmpfs = {"/tmp"};
  }
  return c;
}

awaitable<void> JobExecutor::run() {
  co_await execute();
  co_await cleanup();
  done_.set();
}

awaitable<void> JobExecutor::execute() {
  const auto& cfg = ctx_.config;
  auto paths = workspace_paths(cfg.workspace_base, job_.job_id, job_.attempt);
  workspace_dir_ = paths.dir;
  auto timeout = std::chrono::milliseconds(cfg.request_timeout_ms);

  // 1. start: the server confirms the attempt is still ours.
  for (int tries = 0;; ++tries) {
    HttpRequest req{http::verb::post, attempt_path(job_) + "/start", "{}", "application/json", {},
                    timeout};
    auto res = co_await ctx_.server.request(std::move(req));
    if (res.ok() && res->status == 200) break;
    if (res.ok() && res->status == 409) {
      spdlog::warn("job {} attempt {}: the server refused start (409); dropping it", job_.job_id,
                   job_.attempt);
      stop_reason_ = StopReason::kStale;
      co_return;
    }
    if (tries >= 5 || stop_reason_ != StopReason::kNone) {
      spdlog::error("job {} attempt {}: cannot start ({}); leaving it to the lease", job_.job_id,
                    job_.attempt, res.ok() ? res->body : res.error().message);
      stop_reason_ = StopReason::kShutdown;
      co_return;
    }
    co_await async_sleep(std::chrono::milliseconds(200 << tries));
  }

  log_ = std::make_unique<LogShipper>(ctx_.server, job_.job_id, job_.attempt, paths.spool_file,
                                      timeout);
  if (auto opened = log_->open(); !opened.ok()) spdlog::error("{}", opened.error().message);
  log_->mask_secrets(secret_masker());
  log_->limit_bytes(cfg.log_max_bytes);
  log_->on_stale = [this] { stop(StopReason::kStale); };
  asio::co_spawn(ctx_.executor, log_->run(),
                 [this](const std::exception_ptr&) { shipper_done_.set(); });

  FinishReport report;
  report.state = AttemptState::kFailed;
  std::string failure_message;
  auto fail = [&](FailureReason reason, const std::string& message) {
    fail_attempt(report, failure_message, reason, message);
  };

  // 2. workspace (a warm container's, if the job can take one) and clone.
  bool ready = true;
  // What the job asks for must be allowed here (runner/policy.h); refused at once.
  if (auto refusal = policy_refusal(cfg, job_.spec)) {
    fail(FailureReason::kPolicy, "refused by this runner's policy: " + *refusal);
    ready = false;
  }
  if (ready && ctx_.pool && !job_.spec.workflow) {
    if (auto warm = ctx_.pool->take(container_spec())) {
      container_id_ = warm->id;
      workspace_dir_ = warm->workspace;
      pool_entrypoint_ = std::move(warm->image_entrypoint);
      pooled_ = true;
      mark_spool(workspace_dir_, paths.spool_file);  // for a restart after a crash
      spdlog::info("job {} attempt {}: warm container {}", job_.job_id, job_.attempt,
                   container_id_.substr(0, 12));
    }
  }
  std::error_code fs_ec;
  if (ready) std::filesystem::create_directories(workspace_dir_, fs_ec);
  if (fs_ec) {
    fail(FailureReason::kEngine,
         "cannot create the workspace " + workspace_dir_.string() + ": " + fs_ec.message());
    ready = false;
  }
  if (ready && job_.spec.repo) ready = co_await clone(workspace_dir_, report, failure_message);
  if (ready && !cfg.docker_user.empty() && ctx_.runtime.capabilities().isolation) {
    auto opened = co_await run_blocking(
        ctx_.blocking, [&] { return open_workspace_to(workspace_dir_, cfg.docker_user); });
    if (!opened.ok()) {
      fail(FailureReason::kEngine, opened.error().message);
      ready = false;
    }
  }

  // A GitHub webhook's first job: the checkout's workflow files are its result; no container.
  bool discovered = false;
  if (ready && stop_reason_ == StopReason::kNone && job_.spec.workflow &&
      job_.spec.workflow->contains("discover")) {
    auto files =
        co_await run_blocking(ctx_.blocking, [&] { return read_workflow_files(workspace_dir_); });
    report.result = json{{"workflow_files", files}};
    // The commit checked out (a ref's, when the job named no sha): the runs start at it.
    std::ifstream head(workspace_dir_ / ".git" / "HEAD");
    std::string head_sha;
    if (std::getline(head, head_sha) && head_sha.size() == 40 &&
        head_sha.find_first_not_of("0123456789abcdef") == std::string::npos) {
      report.result["sha"] = head_sha;
    }
    report.state = AttemptState::kSucceeded;
    report.exit_code = 0;
    note("found " + std::to_string(files.size()) + " workflow file(s) in .github/workflows");
    discovered = true;
    ready = false;
  }

  // 3. image and container.
  auto container_started = std::chrono::steady_clock::now();
  ContainerSpec spec = container_spec();
  if (ready && stop_reason_ == StopReason::kNone && pooled_ && !ctx_.runtime.held(container_id_)) {
    // The engine dropped the warm container (say, it restarted) while the attempt cloned:
    // start cold, on the same workspace.
    spdlog::warn("job {} attempt {}: warm container {} was lost; starting a cold one", job_.job_id,
                 job_.attempt, container_id_.substr(0, 12));
    (void)co_await ctx_.runtime.remove(container_id_);
    container_id_.clear();
    pooled_ = false;
  }
  if (ready && stop_reason_ == StopReason::kNone && !pooled_ &&
      ctx_.runtime.capabilities().images) {
    auto image = co_await ctx_.runtime.ensure_image(spec.image, cfg.pull_policy);
    if (!image.ok()) {
      fail(FailureReason::kImagePull,
           "cannot get image " + spec.image + ": " + image.error().message);
      ready = false;
    }
  }
  if (ready && stop_reason_ == StopReason::kNone && !pooled_) {
    auto created = co_await ctx_.runtime.create(spec);
    if (!created.ok()) {
      fail(created.error().code == ErrorCode::kImagePull ? FailureReason::kImagePull
                                                         : FailureReason::kEngine,
           "cannot create the container: " + created.error().message);
      ready = false;
    } else {
      container_id_ = *created;
    }
  }

  // 4. run, streaming output, under the job's timeout.
  if (ready && stop_reason_ == StopReason::kNone) {
    int limit_s = job_.spec.timeout_s > 0 ? job_.spec.timeout_s : cfg.docker_timeout_s;
    asio::co_spawn(
        ctx_.executor,
        [self = shared_from_this(), limit_s]() {
          return self->watch_timeout(std::chrono::seconds(limit_s));
        },
        asio::detached);
    if (job_.spec.agent) agent_ = std::make_unique<AgentStream>();
    auto run_started = std::chrono::steady_clock::now();
    bool first_output = true;
    auto container_up = [&] {
      if (!std::exchange(first_output, false) || !ctx_.metrics) return;
      ctx_.metrics->container_start.observe(
          {pooled_ ? "true" : "false"},
          std::chrono::duration<double>(std::chrono::steady_clock::now() - container_started)
              .count());
    };
    OutputSink sink = [this, &container_up](std::string_view out) {
      container_up();
      if (ctx_.metrics) ctx_.metrics->log_bytes.add({}, static_cast<double>(out.size()));
      if (agent_) {
        log_->append(agent_->feed(out));
      } else {
        output_tail_.append(out);
        log_->append(out);
      }
    };
    run_started_ = true;
    Result<ExitStatus> status = make_error(ErrorCode::kInternal, "not run");
    std::optional<WorkflowJobOutcome> steps;
    if (job_.spec.workflow) {
      steps = co_await run_steps(sink, status);
    } else if (pooled_) {
      // The job's environment and command go through stdin: never in the engine's inspect.
      std::string input = pool_input(spec, pool_entrypoint_);
      status = co_await ctx_.runtime.run_with_input(container_id_, std::move(input), sink);
    } else {
      status = co_await ctx_.runtime.run(container_id_, sink);
    }
    if (agent_) {
      log_->append(agent_->finish());
      output_tail_.append(agent_->plain_tail());
      if (agent_->summary().duration_ms == 0) {
        agent_->summary().duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - run_started)
                                            .count();
      }
      if (agent_->summary().model.empty()) agent_->summary().model = job_.spec.agent->model;
    }
    container_up();  // it printed nothing
    container_exited_ = true;
    exited_.set();
    if (!status.ok()) {
      fail(FailureReason::kEngine, "the container engine failed: " + status.error().message);
    } else {
      report.exit_code = status->exit_code;
      if (stop_reason_ == StopReason::kTimedOut) {
        fail(FailureReason::kTimedOut,
             "job timed out after " + std::to_string(limit_s) + "s and was stopped");
      } else if (status->oom_killed) {
        fail(FailureReason::kOomKilled, "the job ran out of memory (limit " +
                                            std::to_string(spec.memory_bytes / (1024 * 1024)) +
                                            " MiB) and was killed");
      } else if (agent_) {
        judge_agent(status->exit_code, report, failure_message);
      } else if (steps) {
        report.exit_code = steps->succeeded ? 0 : 1;
        report.result = json{{"workflow", {{"steps", steps->steps}, {"outputs", steps->outputs}}}};
        if (steps->succeeded) {
          report.state = AttemptState::kSucceeded;
        } else {
          report.state = AttemptState::kFailed;
          note(steps->failure.empty() ? "the job failed" : steps->failure);
        }
      } else if (status->exit_code == 0) {
        report.state = AttemptState::kSucceeded;
      } else {
        report.state = AttemptState::kFailed;
        note("exit code " + std::to_string(status->exit_code));
      }
    }
  }
  // A plain non-zero exit or an engine error that mentions an overload, a rate limit or a
  // reset connection is worth another attempt; anything else fails at once.
  if (report.state == AttemptState::kFailed &&
      (report.reason.empty() || report.reason == to_string(FailureReason::kEngine) ||
       (report.reason == to_string(FailureReason::kAgent) && agent_ && !agent_->cli_missing()))) {
    auto patterns = cfg.transient_patterns;
    patterns.insert(patterns.end(), job_.spec.retry.transient_patterns.begin(),
                    job_.spec.retry.transient_patterns.end());
    if (agent_) {
      const auto& retryable = agent_->retryable_patterns();
      patterns.insert(patterns.end(), retryable.begin(), retryable.end());
    }
    if (matches_transient_pattern(output_tail_.text(), patterns) ||
        matches_transient_pattern(failure_message, patterns)) {
      report.reason = to_string(FailureReason::kTransient);
      note("the failure looks transient (its output matches a transient pattern)");
    }
  }
  if (stop_reason_ == StopReason::kCanceled) {
    report.state = AttemptState::kCanceled;
    report.reason = to_string(FailureReason::kCanceled);
    note("canceled");
  }

  // The job may leave a JSON result in /workspace/.corral/result.json: read without
  // trusting it (a FIFO, a link, a huge file), off the I/O thread (runner/result_file.h), and
  // nested at most kMaxJsonDepth deep (common/json_limits.h): a deeper one would overflow the
  // stack when copied or sent.
  auto result_text =
      co_await run_blocking(ctx_.blocking, [&]() -> Result<std::optional<std::string>> {
        if (discovered) return std::optional<std::string>();  // the repository's, not a job's
        return read_result_file(workspace_dir_, kMaxResultBytes);
      });
  if (!result_text.ok()) {
    note("ignored .corral/result.json: " + result_text.error().message);
  } else if (result_text->has_value()) {
    auto parsed =
        parse_json_limited(**result_text, ".corral/result.json", {kMaxJsonDepth, kMaxResultBytes});
    if (parsed.ok()) {
      json steps_part = report.result.is_object() && report.result.contains("workflow")
                            ? report.result["workflow"]
                            : json();
      report.result = std::move(parsed.value());
      if (!steps_part.is_null()) {  // a workflow job's steps are the runner's to report
        if (!report.result.is_object()) report.result = json{{"data", report.result}};
        report.result["workflow"] = std::move(steps_part);
      }
    } else {
      note("ignored .corral/result.json: " + parsed.error().message);
    }
  }
  if (agent_ && !agent_->cli().empty()) {
    // result.agent beside what the job wrote itself (a review's findings).
    if (!report.result.is_object()) {
      report.result = report.result.is_null() ? json::object() : json{{"data", report.result}};
    }
    report.result["agent"] = to_json(agent_->summary());
  }

  // 5. flush the log, then report (unless the attempt is no longer ours to report).
  log_->close();
  co_await shipper_done_.wait();
  if (stop_reason_ == StopReason::kStale || stop_reason_ == StopReason::kShutdown || log_->stale())
    co_return;
  if (agent_ && !agent_->events().empty()) co_await send_events();
  co_await finish(report);
}

awaitable<WorkflowJobOutcome> JobExecutor::run_steps(const OutputSink& sink,
                                                     Result<ExitStatus>& status) {
  // The container waits (its command sleeps) while the steps run in it one by one.
  Event container_done;
  asio::co_spawn(
      ctx_.executor,
      [this, sink, &status, &container_done]() -> awaitable<void> {
        status = co_await ctx_.runtime.run(container_id_, sink);
        container_done.set();
      },
      asio::detached);
  auto exec = [this](std::vector<std::string> argv, std::map<std::string, std::string> env,
                     std::string working_dir,
                     std::chrono::milliseconds timeout) -> awaitable<Result<int>> {
    ExecSpec spec;
    spec.command = std::move(argv);
    spec.env = std::move(env);
    spec.working_dir = std::move(working_dir);
    spec.user = ctx_.config.docker_user;
    spec.on_output = [this](std::string_view out) {
      output_tail_.append(out);
      log_->append(out);
    };
    if (timeout.count() <= 0) {
      auto ran = co_await ctx_.runtime.exec(container_id_, spec);
      if (!ran.ok()) co_return ran.error();
      co_return ran->exit_code;
    }
    // A step with timeout-minutes: the exec runs beside a deadline. Past it, the step's
    // processes are signalled from a second exec: `kill -1` reaches every process of the
    // container's user but its first one (the waiting command), so the steps after it still
    // have their container. TERM first, then KILL after a grace, as GitHub's runner does.
    Event done;
    Result<ExecResult> ran = make_error(ErrorCode::kInternal, "not run");
    asio::co_spawn(
        ctx_.executor,
        [&]() -> awaitable<void> {
          ran = co_await ctx_.runtime.exec(container_id_, spec);
          done.set();
        },
        asio::detached);
    bool timed_out = !co_await done.wait_for(timeout);
    if (timed_out) {
      auto signal_all = [&](const char* signal) -> awaitable<void> {
        ExecSpec kill;
        kill.command = {"/bin/sh", "-c", std::string("kill -") + signal + " -1"};
        kill.user = ctx_.config.docker_user;
        (void)co_await ctx_.runtime.exec(container_id_, kill);
      };
      co_await signal_all("TERM");
      if (!co_await done.wait_for(kStepKillGrace)) co_await signal_all("KILL");
      co_await done.wait();
    }
    if (!ran.ok()) co_return ran.error();
    if (timed_out) {
      co_return make_error(ErrorCode::kTimeout, "ran past its timeout-minutes (" +
                                                    timeout_text(timeout) + ") and was stopped");
    }
    co_return ran->exit_code;
  };
  // Ready once an exec works (the engine starts the container a moment after run() asks);
  // the same exec says whether the image has bash, the default shell.
  WorkflowStepsPlace place{workspace_dir_, std::string(kWorkspaceMount), ctx_.config.name, false};
  Result<int> probe = make_error(ErrorCode::kInternal, "not probed");
  for (int tries = 0; tries < 60 && !container_done.is_set() && stop_reason_ == StopReason::kNone;
       ++tries) {
    ExecSpec spec;
    spec.command = {"/bin/sh", "-c", "command -v bash >/dev/null"};
    spec.user = ctx_.config.docker_user;
    auto ran = co_await ctx_.runtime.exec(container_id_, spec);
    if (ran.ok()) {
      probe = ran->exit_code;
      break;
    }
    probe = ran.error();
    co_await async_sleep(std::chrono::milliseconds(std::min(20 * (tries + 1), 250)));
  }
  WorkflowJobOutcome outcome;
  if (!probe.ok()) {
    outcome.failure = "cannot run the steps in the container: " + probe.error().message;
  } else {
    place.bash_exists = *probe == 0;
    WorkflowStepsIo io;
    io.run = exec;
    io.log = [this](const std::string& line) { log_->append(line + "\n"); };
    io.log_offset = [this] { return log_->written(); };
    io.stopped = [this] { return stop_reason_ != StopReason::kNone; };
    io.progress = [this](const json& steps) -> awaitable<void> {
      // Best effort, and quick: the finish report carries the steps in any case.
      HttpRequest req{http::verb::put,
                      attempt_path(job_) + "/steps",
                      secret_masker().mask(json{{"steps", steps}}.dump()),
                      "application/json",
                      {},
                      kStepProgressTimeout};
      auto res = co_await ctx_.server.request(std::move(req));
      if (!res.ok() || res->status >= 300) {
        spdlog::debug("job {} attempt {}: step progress not sent: {}", job_.job_id, job_.attempt,
                      res.ok() ? "HTTP " + std::to_string(res->status) : res.error().message);
      }
    };
    outcome = co_await run_workflow_steps(*job_.spec.workflow, job_.spec.secrets, place, io);
  }
  // The steps are done: the container goes (a stop of the attempt may have ended it already).
  if (!container_done.is_set()) (void)co_await ctx_.runtime.kill(container_id_);
  co_await container_done.wait();
  co_return outcome;
}

std::string JobExecutor::agent_cli() const {
  const auto& cli = job_.spec.agent->cli;
  return cli == "auto" && !ctx_.config.agent_cli.empty() ? ctx_.config.agent_cli : cli;
}

void JobExecutor::judge_agent(int exit_code, FinishReport& report, std::string& failure_message) {
  const auto& summary = agent_->summary();
  if (agent_->cli_missing()) {
    fail_attempt(report, failure_message, FailureReason::kAgent,
                 "no agent CLI to run: " + agent_->missing() +
                     " (use an image with it, such as the one scripts/make-agent-image.sh builds)");
    return;
  }
  if (exit_code == 0 && !summary.is_error) {
    report.state = AttemptState::kSucceeded;
    return;
  }
  // The CLI's own words: its error event, else the last thing it printed.
  std::string why = summary.error;
  if (why.empty()) {
    std::string_view tail = agent_->plain_tail();
    while (!tail.empty() && tail.back() == '\n') tail.remove_suffix(1);
    why = std::string(
        tail.substr(tail.rfind('\n') == std::string_view::npos ? 0 : tail.rfind('\n') + 1));
  }
  if (why.empty()) why = "exit code " + std::to_string(exit_code);
  fail_attempt(
      report, failure_message, FailureReason::kAgent,
      (agent_->cli().empty() ? std::string("the agent") : agent_->cli()) + " failed: " + why);
}

awaitable<void> JobExecutor::send_events() {
  // The raw event stream, kept beside the log (GET /api/v1/jobs/{id}/events). Best effort:
  // the readable log and the result already hold what matters.
  const auto& events = agent_->events();
  SecretMasker masker = secret_masker();
  for (int tries = 0; tries < 3; ++tries) {
    HttpRequest req{http::verb::put,
                    attempt_path(job_) + "/events",
                    masker.mask(events),
                    "application/x-ndjson",
                    {},
                    std::chrono::milliseconds(ctx_.config.request_timeout_ms)};
    auto res = co_await ctx_.server.request(std::move(req));
    if (res.ok() && res->status < 300) co_return;
    if (res.ok() && res->status < 500) {
      spdlog::warn("job {} attempt {}: the server refused the agent's events (HTTP {}): {}",
                   job_.job_id, job_.attempt, res->status, res->body);
      co_return;
    }
    co_await async_sleep(std::chrono::milliseconds(500 << tries));
  }
  spdlog::warn("job {} attempt {}: could not send the agent's events", job_.job_id, job_.attempt);
}

void JobExecutor::fail_attempt(FinishReport& report, std::string& failure_message,
                               FailureReason reason, const std::string& message) {
  report.state = AttemptState::kFailed;
  report.reason = to_string(reason);
  failure_message = message;
  note(message);
}

awaitable<bool> JobExecutor::clone(const std::filesystem::path& dir, FinishReport& report,
                                   std::string& failure_message) {
  const auto& cfg = ctx_.config;
  const auto& repo = *job_.spec.repo;
  CloneOptions options;
  options.depth = repo.depth > 0 ? repo.depth : cfg.clone_depth;
  options.token = git_token();
  options.credential_hosts = cfg.git_hosts;
  options.allow_local = cfg.allow_local_repos;
  // The cache when it can serve the repository (runner/repo_cache.h): its mirrors are kept
  // apart per tenant (the registration token stands for it) and credential. A workspace it
  // fills has the whole history, whatever the depth.
  RepoCache* cache = RepoCache::can_serve(repo) ? ctx_.repo_cache : nullptr;
  const std::string partition = sha256_hex(cfg.server_url + "\n" + cfg.token);
  note("cloning " + without_userinfo(repo.url) +
       (repo.sha.empty() ? (repo.ref.empty() ? "" : " at " + repo.ref) : " at " + repo.sha) +
       (cache ? " through the repository cache"
              : (options.depth > 0 ? " (depth " + std::to_string(options.depth) + ")" : "")));
  if (stop_reason_ != StopReason::kNone) co_return false;
  clone_killer_ = std::make_shared<CommandKiller>();
  options.killer = clone_killer_.get();
  auto limit = std::chrono::seconds(cfg.clone_timeout_s);
  // A plain lambda returning the member coroutine (whose frame owns its arguments): a
  // capturing coroutine lambda would leave its frame pointing at a destroyed closure.
  asio::co_spawn(
      ctx_.executor, [self = shared_from_this(), limit]() { return self->watch_clone(limit); },
      asio::detached);
  // Only references in the co_await expression (g++ 12 mishandles temporaries with
  // destructors there); options, repo, dir and the killer (a member) outlive the await.
  auto clone_started = std::chrono::steady_clock::now();
  std::string source = "clone";  // how, for the metric
  auto cloned = co_await run_blocking(ctx_.clones, [&]() -> Result<std::string> {
    if (!cache) return clone_repository(repo, dir, options);
    auto outcome = cache->checkout(repo, dir, options, partition);
    if (!outcome.ok()) return outcome.error();
    source = outcome->mirror_name();
    return outcome->summary() + "\n" + outcome->transcript;
  });
  clone_finished_.set();  // clone_killer_ stays: a later kill() only marks it
  if (ctx_.metrics) {
    ctx_.metrics->checkout.observe(
        {cloned.ok() ? source : "failed"},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - clone_started).count());
  }
  if (clone_timed_out_) {
    fail_attempt(report, failure_message, FailureReason::kClone,
                 "the clone timed out after " + std::to_string(cfg.clone_timeout_s) +
                     "s and git was killed (RUNNER_CLONE_TIMEOUT_S)");
    co_return false;
  }
  if (!cloned.ok()) {
    fail_attempt(report, failure_message, FailureReason::kClone, cloned.error().message);
    co_return false;
  }
  if (cache) {
    // The first line is the cache's summary, a note like the others.
    auto end = cloned->find('\n');
    note(cloned->substr(0, end));
    if (end + 1 < cloned->size()) log_->append(cloned->substr(end + 1));
  } else if (!cloned->empty()) {
    log_->append(*cloned);
  }
  co_return true;
}

awaitable<void> JobExecutor::watch_clone(std::chrono::seconds limit) {
  bool finished = co_await clone_finished_.wait_for(
      std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  if (!finished && clone_killer_) {
    clone_timed_out_ = true;
    clone_killer_->kill();
  }
}

awaitable<void> JobExecutor::finish(const FinishReport& report) {
  if (ctx_.metrics) {
    ctx_.metrics->attempts_finished.add(
        {std::string(to_string(report.state)), reason_label(report.state, report.reason)});
  }
  json body{{"state", to_string(report.state)}, {"reason", report.reason}};
  if (report.exit_code) body["exit_code"] = *report.exit_code;
  if (!report.result.is_null()) body["result"] = report.result;
  auto backoff = std::chrono::milliseconds(200);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    HttpRequest req{http::verb::post,
                    attempt_path(job_) + "/finish",
                    body.dump(),
                    "application/json",
                    {},
                    std::chrono::milliseconds(ctx_.config.request_timeout_ms)};
    auto res = co_await ctx_.server.request(std::move(req));
    if (res.ok() && res->status == 200) {
      spdlog::info("job {} attempt {}: {} (exit {})", job_.job_id, job_.attempt,
                   to_string(report.state),
                   report.exit_code ? std::to_string(*report.exit_code) : "-");
      co_return;
    }
    if (res.ok() && res->status < 500 && res->status != 429) {
      spdlog::warn("job {} attempt {}: the server refused finish (HTTP {}): {}", job_.job_id,
                   job_.attempt, res->status, res->body);
      co_return;
    }
    if (std::chrono::steady_clock::now() > give_up) {
      spdlog::error("job {} attempt {}: could not report the result; the lease will requeue it",
                    job_.job_id, job_.attempt);
      co_return;
    }
    co_await async_sleep(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

awaitable<void> JobExecutor::cleanup() {
  exited_.set();  // ends the timeout watch if the container never ran
  if (!container_id_.empty()) {
    auto removed = co_await ctx_.runtime.remove(container_id_);
    if (!removed.ok()) {
      spdlog::warn("job {}: cannot remove container {}: {}", job_.job_id, container_id_,
                   removed.error().message);
    }
  }
  auto paths = workspace_paths(ctx_.config.workspace_base, job_.job_id, job_.attempt);
  co_await run_blocking(ctx_.blocking, [&] {
    std::error_code ec;
    if (!workspace_dir_.empty()) std::filesystem::remove_all(workspace_dir_, ec);
    if (workspace_dir_ != paths.dir) std::filesystem::remove_all(paths.dir, ec);
    std::filesystem::remove(paths.dir.parent_path(), ec);  // the job dir, once empty
    return 0;
  });
  log_.reset();  // removes the spool
  if (pooled_) unmark_spool(workspace_dir_);
}

}  // namespace corral
