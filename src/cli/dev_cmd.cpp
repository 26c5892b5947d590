// `corral dev`: the server (SQLite in ./corral-data) and one runner in one process, for a
// new user's first minutes. Uses the Docker engine at DOCKER_HOST, /var/run/docker.sock or
// Podman's service; without any, says how to get one and falls back to the shell executor.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "common/json_limits.h"
#include "net/http_client.h"
#include "runner/agent.h"
#include "server/server.h"

namespace corral::cli {

RuntimeFactory runtime_factory(const RunnerConfig& config);

namespace {

// The first engine socket that answers /_ping, or "".
std::string find_engine() {
  std::vector<std::string> candidates;
  if (const char* host = std::getenv("DOCKER_HOST"); host && *host) candidates.push_back(host);
  candidates.push_back("unix:///var/run/docker.sock");
  candidates.push_back("unix:///run/podman/podman.sock");
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"))
    candidates.push_back(std::string("unix://") + xdg + "/podman/podman.sock");
  for (const auto& candidate : candidates) {
    auto ep = Endpoint::parse(candidate);
    if (!ep.ok()) continue;
    if (ep->kind == Endpoint::Kind::kUnix && !std::filesystem::exists(ep->socket_path)) continue;
    SyncHttpClient client(*ep);
    HttpRequest req;
    req.target = "/_ping";
    req.timeout = std::chrono::seconds(3);
    auto res = client.request(req);
    if (res.ok() && res->status == 200) return candidate;
  }
  return "";
}

// Submits a first job and prints its log once it has run.
// The registration token of the dev runner, kept in the data directory: a runner name
// belongs to the token that registered it first, so the runner of a restarted `corral dev`
// must come back with the same one.
Result<std::string> dev_runner_token(Server& server, const std::filesystem::path& data_dir) {
  auto path = data_dir / "runner.token";
  std::string kept;
  if (std::ifstream in(path); in && std::getline(in, kept) && !kept.empty()) return kept;
  auto made = server.create_token(TokenKind::kRunner, "default", "corral dev");
  if (!made.ok()) return made;
  {
    std::ofstream out(path, std::ios::trunc);
    out << *made << "\n";
    if (!out) return make_error(ErrorCode::kIo, "cannot write " + path.string());
  }
  std::error_code ec;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  return made;
}

void demo(const std::string& url, const std::string& token) {
  SyncHttpClient client(*Endpoint::parse(url), token);
  json spec{{"name", "hello"},
            {"script", "echo \"hello from corral, running in $(pwd) on $(uname -sm)\""}};
  auto res = client.post("/api/v1/jobs", spec.dump());
  if (!res.ok() || res->status != 201) return;
  auto submitted = parse_json_limited(res->body, "the server's answer");
  std::string id = submitted.ok() ? json_string_or(*submitted, "id") : "";
  if (id.empty()) return;
  std::cout << "\nsubmitted a first job: " << id << "\n" << std::flush;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (std::chrono::steady_clock::now() < deadline) {
    auto job = client.get("/api/v1/jobs/" + id);
    if (job.ok() && job->status == 200) {
      auto seen = parse_json_limited(job->body, "the server's answer");
      std::string state = seen.ok() ? json_string_or(*seen, "state") : "";
      if (state == "succeeded" || state == "failed" || state == "canceled") {
        auto log = client.get("/api/v1/jobs/" + id + "/logs");
        std::cout << "---- log of " << id << " (" << state << ") ----\n"
                  << (log.ok() ? log->body : "") << "----\n\n"
                  << "corral is running. In another terminal:\n"
                  << "  export CORRAL_SERVER=" << url << "\n"
                  << "  corral submit -- echo hi      # then: corral jobs, corral logs ID, corral "
                     "runners\n"
                  << "Ctrl-C stops the server and the runner.\n"
                  << std::flush;
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

void add_dev_command(CLI::App& app) {
  struct Opts {
    std::string listen = "127.0.0.1:8080";
    std::string data_dir = "./corral-data";
    std::string executor;
    int slots = 2;
    bool demo = true;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "dev", "Run a server and one runner in one process (SQLite in ./corral-data)");
  cmd->add_option("--listen", o->listen, "Server address")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--executor", o->executor,
                  "docker or shell (default: docker when an engine answers)");
  cmd->add_option("--slots", o->slots, "Jobs the runner runs at once")->capture_default_str();
  cmd->add_flag("!--no-demo", o->demo, "Do not run the first hello job");
  cmd->callback([o] {
    SystemClock clock;
    ServerConfig server_config;
    server_config.listen = o->listen;
    server_config.data_dir = o->data_dir;
    if (const char* admin = std::getenv("CORRAL_ADMIN_TOKEN")) server_config.admin_token = admin;
    Server server(server_config, clock);
    auto started = server.start();
    if (!started.ok()) {
      std::cerr << "corral dev: " << started.error().message << "\n";
      throw CLI::RuntimeError(1);
    }
    std::cout << "corral server listening on " << server.url() << std::endl;
    if (!server.new_admin_token().empty()) {
      std::cout << "admin token (shown once; also in " << o->data_dir
                << "/admin.token): " << server.new_admin_token() << std::endl;
    }
    std::thread server_thread([&] { server.run(false); });

    std::map<std::string, std::string> settings = runner_settings_from_environment();
    auto runner_token = dev_runner_token(server, o->data_dir);
    if (!runner_token.ok()) std::cerr << "corral dev: " << runner_token.error().message << "\n";
    auto user_token = server.create_token(TokenKind::kUser, "default", "corral dev demo");
    settings["RUNNER_SERVER_URL"] = server.url();
    settings["RUNNER_TOKEN"] = runner_token.ok() ? *runner_token : "";
    if (!settings.count("RUNNER_NAME")) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      settings["RUNNER_NAME"] = std::string(host) + "-dev";
    }
    if (!settings.count("RUNNER_MAX_CONCURRENT_JOBS"))
      settings["RUNNER_MAX_CONCURRENT_JOBS"] = std::to_string(o->slots);
    if (!settings.count("DOCKER_WORKSPACE_BASE")) {
      settings["DOCKER_WORKSPACE_BASE"] =
          std::filesystem::absolute(std::filesystem::path(o->data_dir) / "workspaces").string();
    }
    std::string executor = o->executor;
    if (executor.empty() || executor == "docker") {
      std::string engine = find_engine();
      if (!engine.empty()) {
        executor = "docker";
        settings["DOCKER_HOST"] = engine;
        if (!settings.count("DOCKER_EXECUTOR_IMAGE"))
          settings["DOCKER_EXECUTOR_IMAGE"] = "busybox:latest";
        std::cout << "container engine: " << engine << " (jobs run in "
                  << settings["DOCKER_EXECUTOR_IMAGE"] << " unless they name an image)"
                  << std::endl;
      } else if (executor == "docker") {
        std::cerr << "corral dev: no container engine answers (DOCKER_HOST, /var/run/docker.sock, "
                     "Podman)\n";
        throw CLI::RuntimeError(1);
      } else {
        executor = "shell";
        std::cerr
            << "\nWARNING: no container engine found, so jobs run directly on this machine with no "
               "isolation.\n"
            << "  Get one: install Docker (https://docs.docker.com/engine/install/) and start it, "
               "or\n"
            << "  install Podman and run: scripts/podman-service.sh start /tmp/corral-podman\n"
            << "  then set DOCKER_HOST as it prints and start corral dev again.\n\n";
      }
    }
    settings["RUNNER_EXECUTOR"] = executor;
    auto config = build_runner_config({}, settings, {});
    if (!config.ok()) {
      std::cerr << "corral dev: " << config.error().message << "\n";
      server.stop();
      server_thread.join();
      throw CLI::RuntimeError(2);
    }
    std::thread demo_thread;
    if (o->demo && user_token.ok()) {
      demo_thread = std::thread([url = server.url(), token = *user_token] { demo(url, token); });
    }
    Agent agent(*config, runtime_factory(*config));
    int code = agent.run(true);
    if (demo_thread.joinable()) demo_thread.join();
    server.stop();
    server_thread.join();
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace corral::cli
