// `corral runner setup` through streams (runner/setup_wizard.h): the questions, their
// defaults, a bad answer asked again, the registration check sending the wizard back, and
// the files it writes (.env seeded from .env.example, YAML, mode 0600). The real server and
// a terminal: tests/integration/setup_wizard_test.cpp.
#include "runner/setup_wizard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runner/env_file.h"

namespace corral {
namespace {

namespace fs = std::filesystem;

class SetupWizard : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("corral-wizard-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.target = {dir_ / ".env", SetupFileFormat::kEnv};
    options_.default_name = "this-host";
    options_.check_registration = [this](const RunnerConfig& c) {
      checked_.push_back(c.server_url + " " + c.token + " " + c.name);
      if (!refusals_.empty()) {
        auto outcome = refusals_.front();
        refusals_.erase(refusals_.begin());
        return RegistrationCheck{outcome, "refused for the test"};
      }
      return RegistrationCheck{RegistrationOutcome::kAccepted, "Registered as " + c.name + "."};
    };
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the wizard on these answer lines; returns what it wrote (or its error).
  Result<std::map<std::string, std::string>> run(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    std::istringstream in(text);
    out_.str("");
    return run_setup(in, out_, options_);
  }

  std::string read(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
  SetupOptions options_;
  std::ostringstream out_;
  std::vector<std::string> checked_;
  std::vector<RegistrationOutcome> refusals_;
};

const std::string kWizardToken = "crl_secret_token_1234";

TEST_F(SetupWizard, WritesTheAnswersToAPrivateEnvFile) {
  auto written = run({"http://ci.example:8080", kWizardToken, "box-1", "linux, x64", "2", "shell",
                      "/srv/corral/ws"});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  auto env = parse_env_text(read(dir_ / ".env"));
  EXPECT_EQ(env["RUNNER_SERVER_URL"], "http://ci.example:8080");
  EXPECT_EQ(env["RUNNER_TOKEN"], kWizardToken);
  EXPECT_EQ(env["RUNNER_NAME"], "box-1");
  EXPECT_EQ(env["RUNNER_LABELS"], "linux, x64");
  EXPECT_EQ(env["RUNNER_MAX_CONCURRENT_JOBS"], "2");
  EXPECT_EQ(env["RUNNER_EXECUTOR"], "shell");
  EXPECT_EQ(env["DOCKER_WORKSPACE_BASE"], "/srv/corral/ws");
  EXPECT_FALSE(env.count("DOCKER_EXECUTOR_IMAGE"));  // the shell executor runs no image
  // The runner reads the file and starts.
  EXPECT_TRUE(build_runner_config({}, runner_settings_from(env), {}).ok());

  struct stat st {};
  ASSERT_EQ(stat((dir_ / ".env").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(checked_,
            std::vector<std::string>{"http://ci.example:8080 " + kWizardToken + " box-1"});
  EXPECT_EQ(out_.str().find(kWizardToken), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("corral runner --env-file " + (dir_ / ".env").string()),
            std::string::npos)
      << out_.str();
}

TEST_F(SetupWizard, EnterTakesTheDefaultShownInBrackets) {
  auto written = run({"http://ci.example:8080", kWizardToken, "", "", "", "", "", "", "", "", ""});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  auto env = parse_env_text(read(dir_ / ".env"));
  EXPECT_EQ(env["RUNNER_NAME"], "this-host");
  EXPECT_EQ(env["RUNNER_LABELS"], "");
  EXPECT_EQ(env["RUNNER_MAX_CONCURRENT_JOBS"], "1");
  EXPECT_EQ(env["RUNNER_EXECUTOR"], "docker");
  EXPECT_EQ(env["DOCKER_HOST"], "unix:///var/run/docker.sock");
  EXPECT_EQ(env["DOCKER_EXECUTOR_IMAGE"], "alpine:3.20");
  EXPECT_EQ(env["DOCKER_MEMORY_LIMIT"], "4g");
  EXPECT_EQ(env["DOCKER_CPU_LIMIT"],
            std::to_string(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(env["DOCKER_WORKSPACE_BASE"], "/var/lib/corral/workspaces");
  for (const char* shown : {"Runner name [this-host]", "Jobs at once [1]", "[docker]",
                            "[unix:///var/run/docker.sock]", "[alpine:3.20]", "[4g]"}) {
    EXPECT_NE(out_.str().find(shown), std::string::npos) << shown << "\n" << out_.str();
  }
}

TEST_F(SetupWizard, ABadAnswerIsExplainedAndAskedAgain) {
  auto written =
      run({"not a url", "http://ci.example:8080", kWizardToken, "box-1", "", "0", "lots", "3",
           "podman", "docker", "", "", "1k", "2g", "0", "1.5", "relative/dir", "/ws"});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  auto env = parse_env_text(read(dir_ / ".env"));
  EXPECT_EQ(env["RUNNER_SERVER_URL"], "http://ci.example:8080");
  EXPECT_EQ(env["RUNNER_MAX_CONCURRENT_JOBS"], "3");
  EXPECT_EQ(env["RUNNER_EXECUTOR"], "docker");
  EXPECT_EQ(env["DOCKER_MEMORY_LIMIT"], "2g");
  EXPECT_EQ(env["DOCKER_CPU_LIMIT"], "1.5");
  EXPECT_EQ(env["DOCKER_WORKSPACE_BASE"], "/ws");
  // The runner's own messages, naming the setting.
  for (const char* said :
       {"RUNNER_SERVER_URL (--server-url)",
        "RUNNER_MAX_CONCURRENT_JOBS (--max-concurrent-jobs): '0' is not a whole number between 1 "
        "and 1024",
        "'lots' is not a whole number",
        "RUNNER_EXECUTOR (--executor): must be docker or shell, not 'podman'",
        "DOCKER_MEMORY_LIMIT (--docker-memory-limit): must be at least 6m",
        "DOCKER_CPU_LIMIT (--docker-cpu-limit): '0' is not a CPU count",
        "DOCKER_WORKSPACE_BASE (--docker-workspace-base): must be an absolute path"}) {
    EXPECT_NE(out_.str().find(said), std::string::npos) << said << "\n" << out_.str();
  }
}

TEST_F(SetupWizard, ARefusedRegistrationAsksForWhatWasRefused) {
  refusals_ = {RegistrationOutcome::kServerUnreachable, RegistrationOutcome::kTokenRefused,
               RegistrationOutcome::kNameRefused};
  auto written = run({"http://wrong:1", "crl_wrong", "taken", "http://ci.example:8080",
                      kWizardToken, "box-2", "", "", "shell", ""});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  EXPECT_EQ(checked_,
            (std::vector<std::string>{"http://wrong:1 crl_wrong taken",
                                      "http://ci.example:8080 crl_wrong taken",
                                      "http://ci.example:8080 " + kWizardToken + " taken",
                                      "http://ci.example:8080 " + kWizardToken + " box-2"}));
  EXPECT_EQ(parse_env_text(read(dir_ / ".env"))["RUNNER_TOKEN"], kWizardToken);
  EXPECT_EQ(out_.str().find(kWizardToken), std::string::npos) << out_.str();
}

TEST_F(SetupWizard, AnEnvExampleSeedsTheEnvFileAndKeepsItsOtherLines) {
  const std::string example =
      "# oversight settings\n"
      "ANTHROPIC_API_KEY=sk-keep-me\n"
      "RUNNER_NAME=placeholder-name\n"
      "export RUNNER_LABELS=gpu\n"
      "# RUNNER_TOKEN=commented out stays\n"
      "OVERSIGHT_REPO_DIR=/srv/repos\n";
  std::ofstream(dir_ / ".env.example") << example;
  auto written = run({"http://ci.example:8080", kWizardToken, "", "", "", "shell", "/ws"});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  std::string env_text = read(dir_ / ".env");
  EXPECT_EQ(read(dir_ / ".env.example"), example);  // the seed itself is not touched
  for (const char* kept :
       {"# oversight settings\n", "ANTHROPIC_API_KEY=sk-keep-me\n",
        "# RUNNER_TOKEN=commented out stays\n", "OVERSIGHT_REPO_DIR=/srv/repos\n"}) {
    EXPECT_NE(env_text.find(kept), std::string::npos) << kept << "\n" << env_text;
  }
  auto env = parse_env_text(env_text);
  // The seed's values were the defaults; Enter kept them.
  EXPECT_EQ(env["RUNNER_NAME"], "placeholder-name");
  EXPECT_EQ(env["RUNNER_LABELS"], "gpu");
  EXPECT_EQ(env["RUNNER_TOKEN"], kWizardToken);
  EXPECT_EQ(env_text.find("placeholder-name"),
            env_text.rfind("placeholder-name"));  // replaced, not added
  EXPECT_NE(out_.str().find("starting from"), std::string::npos) << out_.str();
}

TEST_F(SetupWizard, AYamlTargetReadsBackAsTheRunnerReadsIt) {
  options_.target = {dir_ / "runner.yml", SetupFileFormat::kYaml};
  std::ofstream(dir_ / "runner.yml") << "docker-pull-policy: always\nRUNNER_NAME: old-name\n";
  auto written = run(
      {"http://ci.example:8080", kWizardToken, "", "a,b", "", "", "", "my/image:1", "", "", "/ws"});
  ASSERT_TRUE(written.ok()) << written.error().message << "\n" << out_.str();
  auto file = read_runner_config_file((dir_ / "runner.yml").string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto config = build_runner_config(*file, {}, {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->name, "old-name");  // the file's value was the default
  EXPECT_EQ(config->token, kWizardToken);
  EXPECT_EQ(config->labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(config->docker_image, "my/image:1");
  EXPECT_EQ(config->pull_policy, PullPolicy::kAlways);  // a setting not asked about is kept
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "runner.yml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(out_.str().find("corral runner --config "), std::string::npos) << out_.str();
}

TEST_F(SetupWizard, InputEndingEarlyWritesNothing) {
  auto written = run({"http://ci.example:8080", kWizardToken, "box-1", "linux"});
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message.find("was not written"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / ".env"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
}

TEST(EnvFile, ParsesWhatComposeAndSystemdWriteAndQuotesToReadBack) {
  auto env = parse_env_text(
      "# comment\n\nA=1\nexport B=two words # note\nC=\"x \\\"y\\\" \\\\z\"\nD='$literal'\n"
      "not a line\nE=a=b\r\n");
  EXPECT_EQ(env["A"], "1");
  EXPECT_EQ(env["B"], "two words");
  EXPECT_EQ(env["C"], "x \"y\" \\z");
  EXPECT_EQ(env["D"], "$literal");
  EXPECT_EQ(env["E"], "a=b");
  EXPECT_EQ(env.size(), 5u);
  for (std::string value : {"plain", "two words", "it's", "$HOME", "a\"b\\c", "line\nbreak", ""}) {
    EXPECT_EQ(parse_env_text("X=" + env_quote(value) + "\n")["X"], value) << env_quote(value);
  }
  EXPECT_EQ(update_env_text("# c\nA=1\nB=2\n", {{"B", "3"}, {"C", "4"}}),
            "# c\nA=1\nB=3\n\n# corral runner setup\nC=4\n");
}

TEST(RunnerConfigMissing, EveryMissingSettingIsNamedAtOnce) {
  auto config = build_runner_config({}, {}, {});
  ASSERT_FALSE(config.ok());
  for (const char* name :
       {"RUNNER_SERVER_URL", "RUNNER_TOKEN", "RUNNER_NAME", "DOCKER_EXECUTOR_IMAGE"}) {
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
  EXPECT_EQ(missing_runner_settings({}, {{"RUNNER_EXECUTOR", "shell"}}, {{"RUNNER_NAME", "n"}}),
            (std::vector<std::string>{"RUNNER_SERVER_URL", "RUNNER_TOKEN"}));
}

}  // namespace
}  // namespace corral
