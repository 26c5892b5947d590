#include "runtime/fake/scripted_runtime.h"

#include "net/event.h"

namespace corral {

struct ScriptedRuntime::Container {
  enum class State { kCreated, kRunning, kExited };
  ContainerSpec spec;
  ContainerScript script;
  State state = State::kCreated;
  ExitStatus status;
  Event ended;  // stop() or kill() came while it was running, or before it started
};

namespace {

std::string state_name(ScriptedRuntime::Container::State state) {
  using State = ScriptedRuntime::Container::State;
  switch (state) {
    case State::kCreated:
      return "created";
    case State::kRunning:
      return "running";
    case State::kExited:
      return "exited";
  }
  return "exited";
}

}  // namespace

ScriptedRuntime::ScriptedRuntime() {
  caps_.isolation = true;
  caps_.resource_limits = true;
  caps_.network_modes = true;
  caps_.images = true;
  caps_.exec = true;
}

ScriptedRuntime::~ScriptedRuntime() = default;

bool ScriptedRuntime::is_running(const std::string& id) const {
  auto it = containers_.find(id);
  return it != containers_.end() && it->second->state == Container::State::kRunning;
}

Result<std::shared_ptr<ScriptedRuntime::Container>> ScriptedRuntime::find(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return make_error(ErrorCode::kNotFound, "no such container " + id);
  return it->second;
}

awaitable<Result<RuntimeInfo>> ScriptedRuntime::info() {
  calls_.push_back("info");
  co_return RuntimeInfo{"scripted", "1.0", "1.41", "linux", "amd64"};
}

awaitable<Result<void>> ScriptedRuntime::ensure_image(const std::string& image, PullPolicy policy) {
  calls_.push_back("ensure_image " + image + " " + std::string(pull_policy_name(policy)));
  auto it = image_errors_.find(image);
  if (it != image_errors_.end()) co_return it->second;
  co_return ok_result();
}

awaitable<Result<std::string>> ScriptedRuntime::create(const ContainerSpec& spec) {
  if (script_.create_error) {
    calls_.push_back("create (fails)");
    co_return *script_.create_error;
  }
  std::string id = "fake_" + std::to_string(next_id_++);
  calls_.push_back("create " + id);
  created_.push_back(spec);
  auto container = std::make_shared<Container>();
  container->spec = spec;
  container->script = script_;
  containers_[id] = std::move(container);
  co_return id;
}

awaitable<Result<ExitStatus>> ScriptedRuntime::run(const std::string& id, OutputSink sink) {
  calls_.push_back("run " + id);
  auto found = find(id);
  if (!found.ok()) co_return found.error();
  std::shared_ptr<Container> c = found.value();
  if (c->state == Container::State::kExited) co_return c->status;
  if (c->ended.is_set()) {  // stopped before it started
    c->state = Container::State::kExited;
    co_return c->status;
  }
  if (c->script.run_error) co_return *c->script.run_error;
  c->state = Container::State::kRunning;
  auto executor = co_await asio::this_coro::executor;
  for (const auto& piece : c->script.output) {
    if (c->ended.is_set()) break;
    if (sink) sink(piece);
    // Let other coroutines (the log shipper, a stop) run between pieces, as real output would.
    co_await asio::post(executor, use_awaitable);
  }
  if (c->script.run_until_stopped) co_await c->ended.wait();
  if (!c->ended.is_set()) c->status = ExitStatus{c->script.exit_code, c->script.oom_killed};
  c->state = Container::State::kExited;
  co_return c->status;
}

awaitable<Result<void>> ScriptedRuntime::end(const std::string& id, int exit_code,
                                             std::string what) {
  calls_.push_back(std::move(what));
  auto found = find(id);
  if (!found.ok()) co_return found.error();
  auto& c = *found.value();
  if (c.state != Container::State::kExited && !c.ended.is_set()) {
    c.status = ExitStatus{exit_code, false};
    c.ended.set();
  }
  co_return ok_result();
}

awaitable<Result<void>> ScriptedRuntime::stop(const std::string& id, std::chrono::seconds grace) {
  auto found = find(id);
  int code = found.ok() ? found.value()->script.exit_code_on_stop : 143;
  co_return co_await end(id, code, "stop " + id + " " + std::to_string(grace.count()));
}

awaitable<Result<void>> ScriptedRuntime::kill(const std::string& id) {
  co_return co_await end(id, 137, "kill " + id);
}

awaitable<Result<void>> ScriptedRuntime::remove(const std::string& id) {
  calls_.push_back("remove " + id);
  auto it = containers_.find(id);
  if (it == containers_.end()) co_return ok_result();
  if (!it->second->ended.is_set()) {
    it->second->status = ExitStatus{137, false};
    it->second->ended.set();
  }
  containers_.erase(it);
  co_return ok_result();
}

awaitable<Result<std::vector<ContainerSummary>>> ScriptedRuntime::list(
    const std::string& label_filter) {
  calls_.push_back("list " + label_filter);
  std::vector<ContainerSummary> out;
  for (const auto& [id, c] : containers_) {
    if (!labels_match(c->spec.labels, label_filter)) continue;
    out.push_back(ContainerSummary{id, c->spec.labels, state_name(c->state)});
  }
  co_return out;
}

awaitable<Result<ExecResult>> ScriptedRuntime::exec(const std::string& id, const ExecSpec& spec) {
  calls_.push_back("exec " + id);
  auto found = find(id);
  if (!found.ok()) co_return found.error();
  if (found.value()->state != Container::State::kRunning) {
    co_return make_error(ErrorCode::kConflict, "container " + id + " is not running");
  }
  ExecResult result;
  result.exit_code = 0;
  for (const auto& arg : spec.command) result.output += arg + " ";
  if (!result.output.empty()) result.output.back() = '\n';
  co_return result;
}

}  // namespace corral
