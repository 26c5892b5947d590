#include "runner/policy.h"

#include <gtest/gtest.h>

#include <thread>

#include "runner/config.h"
#include "runner/workspace.h"

namespace corral {
namespace {

RunnerConfig config_with(std::map<std::string, std::string> env) {
  env.emplace("RUNNER_SERVER_URL", "http://127.0.0.1:1");
  env.emplace("RUNNER_TOKEN", "crl_x");
  env.emplace("RUNNER_NAME", "n");
  env.emplace("DOCKER_EXECUTOR_IMAGE", "localhost/corral-test:latest");
  auto c = build_runner_config({}, env, {});
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : RunnerConfig{};
}

std::string config_error(std::map<std::string, std::string> env) {
  env.emplace("RUNNER_SERVER_URL", "http://127.0.0.1:1");
  env.emplace("RUNNER_TOKEN", "crl_x");
  env.emplace("RUNNER_NAME", "n");
  env.emplace("DOCKER_EXECUTOR_IMAGE", "img");
  auto c = build_runner_config({}, env, {});
  return c.ok() ? "" : c.error().message;
}

TEST(RunnerPolicyConfig, SafeDefaults) {
  auto c = config_with({});
  EXPECT_EQ(c.allowed_networks, (std::vector<std::string>{"none", "bridge"}));
  EXPECT_TRUE(c.allowed_images.empty());
  EXPECT_EQ(c.docker_memory_bytes, int64_t{4} << 30);
  EXPECT_EQ(c.docker_cpus, static_cast<double>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(c.pids_limit, 1024);
  EXPECT_TRUE(c.docker_user.empty());
  EXPECT_FALSE(c.read_only_rootfs);
  EXPECT_TRUE(c.git_hosts.empty());
  EXPECT_FALSE(c.allow_local_repos);
  EXPECT_EQ(c.clone_timeout_s, 600);
  EXPECT_EQ(c.log_max_bytes, int64_t{64} << 20);
}

TEST(RunnerPolicyConfig, UnlimitedIsSaidOutLoudAndZeroIsRefused) {
  auto c = config_with({{"DOCKER_MEMORY_LIMIT", "unlimited"},
                        {"DOCKER_CPU_LIMIT", "unlimited"},
                        {"DOCKER_PIDS_LIMIT", "unlimited"}});
  EXPECT_EQ(c.docker_memory_bytes, 0);
  EXPECT_EQ(c.docker_cpus, 0);
  EXPECT_EQ(c.pids_limit, 0);
  for (const char* name : {"DOCKER_PIDS_LIMIT", "DOCKER_MEMORY_LIMIT", "DOCKER_CPU_LIMIT"}) {
    std::string error = config_error({{name, "0"}});
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find("unlimited"), std::string::npos) << error;
  }
}

TEST(RunnerPolicyConfig, BadValuesNameTheSetting) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"DOCKER_USER", "root; rm"},
                                                        {"DOCKER_READ_ONLY_ROOTFS", "maybe"},
                                                        {"RUNNER_ALLOW_LOCAL_REPOS", "2"},
                                                        {"RUNNER_GIT_HOSTS", "https://github.com"},
                                                        {"RUNNER_CLONE_TIMEOUT_S", "0"},
                                                        {"RUNNER_LOG_MAX_BYTES", "12"}}) {
    std::string error = config_error({{name, value}});
    EXPECT_NE(error.find(name), std::string::npos) << name << "=" << value << ": " << error;
  }
  auto c = config_with({{"DOCKER_USER", "1000:1000"},
                        {"RUNNER_GIT_HOSTS", "github.com, git.internal:8443"},
                        {"DOCKER_ALLOWED_NETWORKS", "none"},
                        {"RUNNER_LOG_MAX_BYTES", "1m"}});
  EXPECT_EQ(c.docker_user, "1000:1000");
  EXPECT_EQ(c.git_hosts, (std::vector<std::string>{"github.com", "git.internal:8443"}));
  EXPECT_EQ(c.allowed_networks, (std::vector<std::string>{"none"}));
  EXPECT_EQ(c.log_max_bytes, 1 << 20);
}

TEST(RunnerPolicy, ClassifiesRepositoryUrls) {
  EXPECT_EQ(classify_repo_url("https://github.com/o/n.git"), RepoUrlKind::kRemote);
  EXPECT_EQ(classify_repo_url("ssh://git@host:22/o/n.git"), RepoUrlKind::kRemote);
  EXPECT_EQ(classify_repo_url("git@github.com:o/n.git"), RepoUrlKind::kRemote);
  EXPECT_EQ(classify_repo_url("file:///srv/repo"), RepoUrlKind::kLocal);
  EXPECT_EQ(classify_repo_url("/srv/repo"), RepoUrlKind::kLocal);
  EXPECT_EQ(classify_repo_url("../repo"), RepoUrlKind::kLocal);
  EXPECT_EQ(classify_repo_url("ext::sh -c touch% /tmp/x"), RepoUrlKind::kRefused);
  EXPECT_EQ(classify_repo_url("--upload-pack=touch /tmp/x"), RepoUrlKind::kRefused);
  EXPECT_EQ(classify_repo_url("fd::3"), RepoUrlKind::kRefused);
  EXPECT_EQ(classify_repo_url("gopher://host/x"), RepoUrlKind::kRefused);
  auto h = repo_url_host("https://bot:pw@Git.Example.com:8443/o/n.git");
  EXPECT_EQ(h.scheme, "https");
  EXPECT_EQ(h.host, "git.example.com:8443");
  EXPECT_EQ(repo_url_host("git@github.com:o/n.git").host, "github.com");
}

TEST(RunnerPolicy, AJobMayOnlyAskForWhatTheListsAllow) {
  auto c = config_with({{"DOCKER_ALLOWED_IMAGES", "docker.io/library/*,localhost/corral-*"}});
  JobSpec spec;
  EXPECT_FALSE(policy_refusal(c, spec));
  spec.network = "none";
  EXPECT_FALSE(policy_refusal(c, spec));
  for (const char* net : {"host", "container:abc", "mynet"}) {
    spec.network = net;
    auto refusal = policy_refusal(c, spec);
    ASSERT_TRUE(refusal) << net;
    EXPECT_NE(refusal->find("DOCKER_ALLOWED_NETWORKS"), std::string::npos) << *refusal;
  }
  spec.network = "";
  spec.image = "docker.io/library/alpine:3.20";
  EXPECT_FALSE(policy_refusal(c, spec));
  spec.image = "ghcr.io/evil/miner:1";
  ASSERT_TRUE(policy_refusal(c, spec));
  EXPECT_NE(policy_refusal(c, spec)->find("DOCKER_ALLOWED_IMAGES"), std::string::npos);
  spec.image = "";
  spec.repo = RepoSpec{"file:///etc", "", "", 0};
  ASSERT_TRUE(policy_refusal(c, spec));
  EXPECT_NE(policy_refusal(c, spec)->find("RUNNER_ALLOW_LOCAL_REPOS"), std::string::npos);
  c.allow_local_repos = true;
  EXPECT_FALSE(policy_refusal(c, spec));
  // The operator's own default network is allowed, whatever the list says.
  auto host_default = config_with({{"DOCKER_NETWORK_MODE", "host"}});
  JobSpec wants_host;
  wants_host.network = "host";
  EXPECT_FALSE(policy_refusal(host_default, wants_host));
}

// The credential helper through real git: only https, only the listed host and port.
std::string credential_fill(const std::vector<std::string>& hosts, const std::string& protocol,
                            const std::string& host) {
  std::string command = "printf 'protocol=" + protocol + "\\nhost=" + host + "\\n\\n' | git";
  for (const auto& arg : git_credential_args(hosts)) {
    std::string quoted;
    for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += " '" + quoted + "'";
  }
  command += " credential fill";
  auto out = run_command({"sh", "-c", command}, {{"CORRAL_GIT_TOKEN", "t0ken"},
                                                 {"GIT_TERMINAL_PROMPT", "0"},
                                                 {"GIT_ASKPASS", "/bin/true"},
                                                 {"HOME", "/nonexistent"}});
  EXPECT_TRUE(out.ok());
  return out.ok() ? out->output : "";
}

TEST(AgentPush, OnlyResolveJobsOnRunnersThatAllowItAndHoldATokenMayPush) {
  JobSpec resolve;
  resolve.type = "resolve";
  resolve.agent = AgentSpec{};
  auto allowing = config_with({{"RUNNER_AGENT_ALLOW_PUSH", "1"}});
  allowing.agent_env["GITHUB_TOKEN"] = "ghp_x";
  EXPECT_EQ(agent_push_hosts(allowing, resolve), (std::vector<std::string>{"github.com"}));
  allowing.git_hosts = {"git.internal:8443"};
  EXPECT_EQ(agent_push_hosts(allowing, resolve), (std::vector<std::string>{"git.internal:8443"}));

  JobSpec review = resolve;
  review.type = "review";
  EXPECT_TRUE(agent_push_hosts(allowing, review).empty());
  JobSpec script = resolve;  // a script job of type resolve is no agent job
  script.agent.reset();
  EXPECT_TRUE(agent_push_hosts(allowing, script).empty());

  auto defaults = config_with({});
  EXPECT_FALSE(defaults.agent_allow_push) << "off unless the operator says so";
  defaults.agent_env["GITHUB_TOKEN"] = "ghp_x";
  EXPECT_TRUE(agent_push_hosts(defaults, resolve).empty());
  allowing.agent_env.erase("GITHUB_TOKEN");
  EXPECT_TRUE(agent_push_hosts(allowing, resolve).empty()) << "no write credential held";

  EXPECT_NE(
      config_error({{"RUNNER_AGENT_ALLOW_PUSH", "sometimes"}}).find("RUNNER_AGENT_ALLOW_PUSH"),
      std::string::npos);
  EXPECT_TRUE(config_with({{"RUNNER_AGENT_ALLOW_PUSH", "true"}}).agent_allow_push);
}

TEST(GitCredentials, OnlyListedHostsOverHttpsGetTheToken) {
  std::vector<std::string> hosts{"git.example.com", "127.0.0.1:8443"};
  EXPECT_NE(credential_fill(hosts, "https", "git.example.com").find("password=t0ken"),
            std::string::npos);
  EXPECT_NE(credential_fill(hosts, "https", "127.0.0.1:8443").find("password=t0ken"),
            std::string::npos);
  EXPECT_EQ(credential_fill(hosts, "http", "git.example.com").find("t0ken"), std::string::npos);
  EXPECT_EQ(credential_fill(hosts, "https", "evil.example.com").find("t0ken"), std::string::npos);
  EXPECT_EQ(credential_fill(hosts, "https", "git.example.com.evil.org").find("t0ken"),
            std::string::npos);
  EXPECT_EQ(credential_fill(hosts, "https", "127.0.0.1:9999").find("t0ken"), std::string::npos);
  EXPECT_EQ(credential_fill({}, "https", "git.example.com").find("t0ken"), std::string::npos);
}

}  // namespace
}  // namespace corral
