#include "runner/warm_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace corral {

namespace {

constexpr const char* kPoolWorkspaceMount = "/workspace";
// How often ready containers are checked for a dropped engine connection (no API call).
constexpr std::chrono::milliseconds kCheckInterval{1'000};
constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};

bool shell_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string single_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

ContainerSpec pool_container_spec(const RunnerConfig& config, const std::string& runner_id) {
  ContainerSpec c;
  c.image = config.docker_image;
  // The shell reads the job from stdin (pool_input) and execs it.
  c.entrypoint = {"/bin/sh"};
  c.command = {"-s"};
  c.open_stdin = true;
  c.working_dir = kPoolWorkspaceMount;
  // As JobExecutor::container_spec() makes a job's container with the runner's defaults.
  c.memory_bytes = config.docker_memory_bytes;
  c.cpus = config.docker_cpus;
  c.pids_limit = config.pids_limit;
  c.network_mode = config.docker_network_mode;
  c.labels = {{"corral.runner", runner_id}, {"corral.pool", "true"}};
  c.cap_drop_all = true;
  c.no_new_privileges = true;
  c.user = config.docker_user;
  if (config.read_only_rootfs) {
    c.read_only_rootfs = true;
    c.tmpfs = {"/tmp"};
  }
  return c;
}

bool pool_serves(const ContainerSpec& pool, const ContainerSpec& job) {
  if (job.command.empty() || !job.entrypoint.empty() || !job.name.empty() || job.open_stdin) {
    return false;
  }
  for (const auto& [name, value] : job.env) {
    if (!shell_name(name) || value.find('\0') != std::string::npos) return false;
  }
  for (const auto& arg : job.command) {
    if (arg.find('\0') != std::string::npos) return false;
  }
  return job.image == pool.image && job.working_dir == pool.working_dir &&
         job.memory_bytes == pool.memory_bytes && job.cpus == pool.cpus &&
         job.pids_limit == pool.pids_limit && job.network_mode == pool.network_mode &&
         job.cap_drop_all == pool.cap_drop_all && job.no_new_privileges == pool.no_new_privileges &&
         job.user == pool.user && job.read_only_rootfs == pool.read_only_rootfs &&
         job.tmpfs == pool.tmpfs;
}

std::string pool_input(const ContainerSpec& job, const std::vector<std::string>& image_entrypoint) {
  std::string input;
  for (const auto& [name, value] : job.env)
    input += "export " + name + "=" + single_quoted(value) + "\n";
  input += "exec";
  for (const auto& arg : image_entrypoint) input += " " + single_quoted(arg);
  for (const auto& arg : job.command) input += " " + single_quoted(arg);
  input += " </dev/null\n";
  return input;
}

namespace {
std::filesystem::path spool_marker(const std::filesystem::path& slot_dir) {
  return slot_dir.string() + ".spool";
}
}  // namespace

void mark_spool(const std::filesystem::path& slot_dir, const std::filesystem::path& spool_file) {
  std::ofstream(spool_marker(slot_dir), std::ios::trunc) << spool_file.string() << "\n";
}

void unmark_spool(const std::filesystem::path& slot_dir) {
  std::error_code ec;
  std::filesystem::remove(spool_marker(slot_dir), ec);
}

int remove_marked_spools(const std::filesystem::path& slots_dir,
                         const std::filesystem::path& spool_dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(slots_dir, ec)) {
    if (entry.path().extension() != ".spool") continue;
    std::string named;
    std::getline(std::ifstream(entry.path()), named);
    std::filesystem::path spool(named);
    // Only a file directly in the spool directory: a marker is not a way to delete others.
    if (!named.empty() && spool.parent_path() == spool_dir && std::filesystem::remove(spool, ec)) {
      ++removed;
    }
    std::filesystem::remove(entry.path(), ec);
  }
  return removed;
}

WarmPool::WarmPool(asio::any_io_executor executor, ContainerRuntime& runtime,
                   asio::thread_pool& blocking, const RunnerConfig& config, std::string runner_id)
    : executor_(std::move(executor)),
      runtime_(runtime),
      blocking_(blocking),
      config_(config),
      runner_id_(std::move(runner_id)),
      template_(pool_container_spec(config, runner_id_)),
      slots_dir_(std::filesystem::path(config.workspace_base) / ".pool" / runner_id_),
      size_(config.docker_pool_size) {}

nlohmann::json WarmPool::status() const {
  int ready = 0;
  for (const auto& slot : ready_) ready += runtime_.held(slot.id) ? 1 : 0;
  return {{"size", size_}, {"ready", ready}};
}

std::optional<PooledContainer> WarmPool::take(const ContainerSpec& job) {
  if (stopping_ || !pool_serves(template_, job)) return std::nullopt;
  drop_lost();
  if (ready_.empty()) return std::nullopt;
  Slot slot = std::move(ready_.front());
  ready_.pop_front();
  changed_.set();
  return PooledContainer{slot.id, slot.dir, std::move(slot.image_entrypoint)};
}

void WarmPool::drop_lost() {
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (runtime_.held(it->id)) {
      ++it;
      continue;
    }
    spdlog::info("warm pool: container {} lost its engine connection; replacing it",
                 it->id.substr(0, 12));
    lost_.push_back(std::move(*it));
    it = ready_.erase(it);
  }
}

awaitable<Result<WarmPool::Slot>> WarmPool::make_one() {
  Slot slot;
  slot.dir = slots_dir_ / std::to_string(next_slot_++);
  std::error_code ec;
  std::filesystem::create_directories(slot.dir, ec);
  if (ec) {
    co_return make_error(ErrorCode::kIo, "cannot create the pool's workspace " + slot.dir.string() +
                                             ": " + ec.message());
  }
  auto image = co_await runtime_.ensure_image(template_.image, config_.pull_policy);
  if (!image.ok()) co_return image.error();
  // The pool's containers run `sh -s` instead of the image's entrypoint; a job's input
  // runs it (pool_input). Looked up with each container: the image may have been replaced.
  auto entrypoint = co_await runtime_.image_entrypoint(template_.image);
  if (!entrypoint.ok()) co_return entrypoint.error();
  slot.image_entrypoint = std::move(entrypoint.value());
  ContainerSpec spec = template_;
  spec.binds = {slot.dir.string() + ":" + kPoolWorkspaceMount};
  auto created = co_await runtime_.create(spec);
  if (!created.ok()) co_return created.error();
  slot.id = created.value();
  auto started = co_await runtime_.start_held(slot.id);
  if (!started.ok()) {
    (void)co_await runtime_.remove(slot.id);
    co_return started.error();
  }
  co_return slot;
}

awaitable<void> WarmPool::remove_slot(Slot slot) {
  auto removed = co_await runtime_.remove(slot.id);
  if (!removed.ok()) {
    spdlog::warn("warm pool: cannot remove container {} (will retry): {}", slot.id.substr(0, 12),
                 removed.error().message);
    lost_.push_back(std::move(slot));
    co_return;
  }
  std::error_code ec;
  std::filesystem::remove_all(slot.dir, ec);
}

awaitable<void> WarmPool::run() {
  // Only references in the co_await expression: g++ 12 mishandles temporaries with
  // destructors there (a lambda holding a path would be destroyed twice).
  co_await run_blocking(blocking_, [this] {
    std::error_code ec;
    std::filesystem::remove_all(slots_dir_, ec);  // left by an earlier run of this runner
    return 0;
  });
  spdlog::info("warm pool: keeping {} container(s) of {} ready", size_, template_.image);
  auto backoff = kFirstBackoff;
  while (!stopping_) {
    drop_lost();
    if (!lost_.empty()) {
      auto lost = std::move(lost_);
      lost_.clear();
      for (auto& slot : lost) co_await remove_slot(std::move(slot));
    }
    if (stopping_) break;
    if (static_cast<int>(ready_.size()) < size_) {
      auto made = co_await make_one();
      if (made.ok()) {
        ready_.push_back(std::move(made.value()));
        backoff = kFirstBackoff;
        continue;
      }
      spdlog::warn("warm pool: cannot make a container (retrying in {} ms): {}", backoff.count(),
                   made.error().message);
      co_await changed_.wait_for(backoff);
      changed_.reset();
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    co_await changed_.wait_for(kCheckInterval);
    changed_.reset();
  }
  stopped_.set();
}

awaitable<void> WarmPool::shutdown() {
  stopping_ = true;
  changed_.set();
  co_await stopped_.wait();
  std::vector<Slot> all(std::make_move_iterator(ready_.begin()),
                        std::make_move_iterator(ready_.end()));
  ready_.clear();
  all.insert(all.end(), std::make_move_iterator(lost_.begin()),
             std::make_move_iterator(lost_.end()));
  lost_.clear();
  for (auto& slot : all) co_await remove_slot(std::move(slot));
  // Up to three more rounds for those the engine refused (say, caught in a state change).
  for (int round = 0; round < 3 && !lost_.empty(); ++round) {
    auto again = std::move(lost_);
    lost_.clear();
    co_await async_sleep(std::chrono::milliseconds(200));
    for (auto& slot : again) co_await remove_slot(std::move(slot));
  }
  std::error_code ec;
  std::filesystem::remove(slots_dir_, ec);  // once empty
}

}  // namespace corral
