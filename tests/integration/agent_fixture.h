// What the agent-job tests share (agent_test.cpp, agent_push_test.cpp): the mock model
// server (tests/agent/mock-model.mjs) and a fixture with the real server and runners whose
// agent containers reach the mock. Included by one test file each: the anonymous namespace
// gives every file its own copy.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAgentImage = "localhost/corral-agent:latest";
constexpr const char* kAnthropicKey = "sk-ant-test-0123456789abcdef";
constexpr const char* kOpenAiKey = "sk-openai-test-0123456789abcdef";

// The mock model server, on a port of its own.
class MockModel {
 public:
  MockModel() {
    dir_ = make_temp_dir("corral-mock-model");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/env", "node",
                                 std::string(CORRAL_SOURCE_DIR) + "/tests/agent/mock-model.mjs",
                                 "--port", "0", "--ignore-stdin"},
        std::map<std::string, std::string>{}, dir_ / "mock.log");
    bool up = wait_until(
        [&] {
          return process_->output().find("PORT=") != std::string::npos || !process_->running();
        },
        20s);
    std::string out = process_->output();
    auto at = out.find("PORT=");
    if (!up || at == std::string::npos)
      throw std::runtime_error("the mock model server did not start: " + out);
    port_ = std::stoi(out.substr(at + 5));
  }
  ~MockModel() {
    process_.reset();
    fs::remove_all(dir_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  json requests() {
    Api api(url(), "");
    return api.get("/_mock/requests");
  }
  std::string log() const { return process_->output(); }

 private:
  fs::path dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

class AgentJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty()) {
      GTEST_SKIP()
          << "DOCKER_HOST is not set: run through scripts/test.sh, which starts Podman's service "
             "and builds the agent image";
    }
    mock_ = std::make_unique<MockModel>();
    server_ = std::make_unique<ServerProcess>();
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  void TearDown() override {
    runners_.clear();
    server_.reset();
    mock_.reset();
  }

  // A runner whose agent jobs reach the mock: host networking (the mock listens on the
  // host's loopback), the runner's own keys, and the CLIs told to give up on an overloaded
  // API at once so corral's retry policy is what retries.
  RunnerProcess& start_runner(const std::string& name,
                              std::map<std::string, std::string> env = {}) {
    std::map<std::string, std::string> full{
        {"DOCKER_EXECUTOR_IMAGE", kAgentImage},
        {"DOCKER_NETWORK_MODE", "host"},
        {"ANTHROPIC_BASE_URL", mock_->url()},
        {"ANTHROPIC_API_KEY", kAnthropicKey},
        {"OPENAI_BASE_URL", mock_->url() + "/v1"},
        {"OPENAI_API_KEY", kOpenAiKey},
        {"DISABLE_TELEMETRY", "1"},
        {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
        {"CLAUDE_CODE_MAX_RETRIES", "0"},
        {"RUNNER_AGENT_ENV",
         "DISABLE_TELEMETRY,CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC,CLAUDE_CODE_MAX_RETRIES"},
    };
    for (auto& [k, v] : env) full[k] = v;
    runners_.push_back(std::make_unique<RunnerProcess>(*server_, name, std::move(full)));
    return *runners_.back();
  }
  std::string submit(json spec) { return api_->post("/api/v1/jobs", spec, 201)["id"]; }
  std::string log_of(const std::string& id) {
    return api_->request(http::verb::get, "/api/v1/jobs/" + id + "/logs").body;
  }
  json agent_job(const std::string& cli, const std::string& prompt) {
    return {{"agent", {{"cli", cli}, {"prompt", prompt}}}, {"timeout_s", 120}};
  }

  std::unique_ptr<MockModel> mock_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

}  // namespace
}  // namespace corral::testing
