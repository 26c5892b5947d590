// The seeds' own entry points (runner/setting_aliases.h): ADOS Work Runner's and Monk CI's
// variables as aliases of the runner's settings, and Monk CI's positional command form,
// through the same functions `corral runner` uses (runner_settings_from, build_runner_config).
#include "runner/setting_aliases.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "runner/config.h"

namespace corral {
namespace {

// The shell executor needs no image, so these environments hold nothing but the seeds' names.
Result<RunnerConfig> alias_config(const std::map<std::string, std::string>& environment,
                                  const std::map<std::string, std::string>& flags = {}) {
  auto env = runner_settings_from(environment);
  env.emplace("RUNNER_EXECUTOR", "shell");
  return build_runner_config({}, env, flags);
}

std::string alias_error(const std::map<std::string, std::string>& environment,
                        const std::map<std::string, std::string>& flags = {}) {
  auto c = alias_config(environment, flags);
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.error().message;
}

const std::map<std::string, std::string> kAdosEnvironment = {
    {"ADOS_API_URL", "http://ados.internal:8080"},
    {"ADOS_TOKEN", "crl_ados"},
    {"ADOS_RUNNER_ID", "ados-runner-7"},
    {"WORKSPACE_DIR", "/srv/ados/work"},
    {"ADOS_MODE", "review,ci"},
    {"ADOS_GROUP", "gpu"},
    {"ADOS_CPUS", "2.5"},
    {"ADOS_MEMORY", "3g"},
    {"ADOS_HOSTNAME", "ados-host.example"},
    {"ADOS_TENANT_ID", "acme"},
};

TEST(RunnerSettingAliases, AdosWorkRunnersVariablesAloneMakeAConfig) {
  auto c = alias_config(kAdosEnvironment);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server_url, "http://ados.internal:8080");
  EXPECT_EQ(c->token, "crl_ados");
  EXPECT_EQ(c->name, "ados-runner-7");
  EXPECT_EQ(c->workspace_base, "/srv/ados/work");
  EXPECT_EQ(c->modes, (std::vector<std::string>{"review", "ci"}));
  EXPECT_EQ(c->group, "gpu");
  EXPECT_DOUBLE_EQ(c->docker_cpus, 2.5);
  EXPECT_EQ(c->docker_memory_bytes, int64_t{3} * 1024 * 1024 * 1024);
  EXPECT_EQ(c->hostname, "ados-host.example");
  EXPECT_EQ(c->tenant, "acme");
}

TEST(RunnerSettingAliases, MonkCisVariablesAloneMakeAConfig) {
  auto c = alias_config({{"API_URL", "http://monk.internal:9000"},
                         {"REGISTRATION_TOKEN", "crl_monk"},
                         {"RUNNER_NAME", "monk-1"},
                         {"RUNNER_DESCRIPTION", "builds the docs"},
                         {"RUNNER_LABELS", "linux, x64"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server_url, "http://monk.internal:9000");
  EXPECT_EQ(c->token, "crl_monk");
  EXPECT_EQ(c->name, "monk-1");
  EXPECT_EQ(c->description, "builds the docs");
  EXPECT_EQ(c->labels, (std::vector<std::string>{"linux", "x64"}));
}

TEST(RunnerSettingAliases, TheCorralNameWinsOverAnAliasAndFlagsOverBoth) {
  auto environment = kAdosEnvironment;
  environment["RUNNER_NAME"] = "corral-name";
  environment["DOCKER_WORKSPACE_BASE"] = "/var/lib/corral/ws";
  environment["RUNNER_TENANT"] = "";  // set, even if empty: ADOS_TENANT_ID is not read
  auto c = alias_config(environment, {{"RUNNER_GROUP", "from-flag"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->name, "corral-name");
  EXPECT_EQ(c->workspace_base, "/var/lib/corral/ws");
  EXPECT_EQ(c->tenant, "");
  EXPECT_EQ(c->group, "from-flag");
  EXPECT_EQ(c->server_url, "http://ados.internal:8080");  // no corral name set: the alias

  // Of two aliases of one setting, the one listed first wins (ADOS's before Monk CI's).
  auto both = runner_settings_from({{"ADOS_API_URL", "http://a:1"}, {"API_URL", "http://m:1"}});
  EXPECT_EQ(both.at("RUNNER_SERVER_URL"), "http://a:1");
  // oversight's names go through the same table.
  auto oversight =
      runner_settings_from({{"OVERSIGHT_REPO_DIR", "/cache"}, {"OVERSIGHT_CLI", "codex"}});
  EXPECT_EQ(oversight.at("RUNNER_REPO_CACHE"), "/cache");
  EXPECT_EQ(oversight.at("RUNNER_AGENT_CLI"), "codex");
}

TEST(RunnerSettingAliases, ABadValueNamesTheVariableTheUserSet) {
  auto environment = kAdosEnvironment;
  environment["ADOS_MEMORY"] = "lots";
  std::string why = alias_error(environment);
  EXPECT_NE(why.find("DOCKER_MEMORY_LIMIT (--docker-memory-limit, set as ADOS_MEMORY)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("'lots' is not a size"), std::string::npos) << why;

  // The same bad value from a flag is the flag's: no word of the alias.
  why = alias_error(kAdosEnvironment, {{"DOCKER_MEMORY_LIMIT", "lots"}});
  EXPECT_EQ(why.find("ADOS_MEMORY"), std::string::npos) << why;
  EXPECT_NE(why.find("DOCKER_MEMORY_LIMIT (--docker-memory-limit)"), std::string::npos) << why;

  environment = kAdosEnvironment;
  environment["ADOS_TENANT_ID"] = "Acme Corp";
  why = alias_error(environment);
  EXPECT_NE(
      why.find("RUNNER_TENANT (--tenant, set as ADOS_TENANT_ID): 'Acme Corp' is not a tenant name"),
      std::string::npos)
      << why;
  environment = kAdosEnvironment;
  environment["ADOS_HOSTNAME"] = "two\nlines";
  why = alias_error(environment);
  EXPECT_NE(why.find("set as ADOS_HOSTNAME"), std::string::npos) << why;
}

TEST(RunnerSettingAliases, AMissingRequiredSettingMentionsItsAliases) {
  std::string why = alias_error({{"ADOS_TOKEN", "crl_x"}, {"ADOS_RUNNER_ID", "r"}});
  EXPECT_NE(
      why.find("RUNNER_SERVER_URL (--server-url): is required (or set ADOS_API_URL or API_URL)"),
      std::string::npos)
      << why;
  why = alias_error({{"API_URL", "http://m:1"}, {"REGISTRATION_TOKEN", "crl_x"}});
  EXPECT_NE(why.find("RUNNER_NAME (--name): is required (or set ADOS_RUNNER_ID)"),
            std::string::npos)
      << why;
}

TEST(RunnerSettingAliases, EveryAliasNamesASettingOnce) {
  std::set<std::string> seen;
  const auto& names = runner_setting_names();
  for (const auto& a : runner_setting_aliases()) {
    EXPECT_TRUE(seen.insert(a.alias).second) << a.alias << " listed twice";
    EXPECT_NE(std::find(names.begin(), names.end(), a.setting), names.end())
        << a.alias << " stands for " << a.setting << ", which is no setting";
    EXPECT_EQ(std::find(names.begin(), names.end(), a.alias), names.end())
        << a.alias << " is a setting's own name";
  }
}

// Monk CI: corral runner API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]
TEST(RunnerPositionalForm, MapsTheArgumentsInOrder) {
  std::map<std::string, std::string> flags;
  ASSERT_TRUE(add_positional_settings({"http://monk:9000", "crl_m", "box-1"}, flags).ok());
  EXPECT_EQ(flags, (std::map<std::string, std::string>{{"RUNNER_SERVER_URL", "http://monk:9000"},
                                                       {"RUNNER_TOKEN", "crl_m"},
                                                       {"RUNNER_NAME", "box-1"}}));
  flags.clear();
  ASSERT_TRUE(
      add_positional_settings(
          {"http://monk:9000", "crl_m", "box-1", "the box", "linux,x64", "gpu", " arm , "}, flags)
          .ok());
  EXPECT_EQ(flags.at("RUNNER_DESCRIPTION"), "the box");
  EXPECT_EQ(flags.at("RUNNER_LABELS"), "linux,x64,gpu,arm");
  flags.clear();
  ASSERT_TRUE(add_positional_settings({}, flags).ok());
  EXPECT_TRUE(flags.empty());
}

TEST(RunnerPositionalForm, ArgumentsCountAsFlagsAndBeatTheEnvironment) {
  std::map<std::string, std::string> flags;
  ASSERT_TRUE(
      add_positional_settings({"http://monk:9000", "crl_m", "box-1", "desc", "a"}, flags).ok());
  auto c = alias_config({{"API_URL", "http://env:1"},
                         {"RUNNER_TOKEN", "crl_env"},
                         {"RUNNER_NAME", "env-name"},
                         {"RUNNER_LABELS", "env-label"}},
                        flags);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server_url, "http://monk:9000");
  EXPECT_EQ(c->token, "crl_m");
  EXPECT_EQ(c->name, "box-1");
  EXPECT_EQ(c->description, "desc");
  EXPECT_EQ(c->labels, (std::vector<std::string>{"a"}));
}

TEST(RunnerPositionalForm, ABadFormSaysHowAndNeverEchoesTheToken) {
  std::map<std::string, std::string> flags;
  auto one = add_positional_settings({"http://monk:9000"}, flags);
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.error().message.find("1 argument was given"), std::string::npos)
      << one.error().message;
  EXPECT_NE(one.error().message.find("usage: corral runner API_URL REGISTRATION_TOKEN NAME"),
            std::string::npos);
  auto two = add_positional_settings({"http://monk:9000", "crl_secret"}, flags);
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message.find("crl_secret"), std::string::npos) << two.error().message;
  EXPECT_TRUE(flags.empty());

  flags = {{"RUNNER_NAME", "from-flag"}};
  auto both = add_positional_settings({"http://monk:9000", "crl_m", "box-1"}, flags);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("--name and the argument NAME both set RUNNER_NAME"),
            std::string::npos)
      << both.error().message;
  EXPECT_EQ(flags.at("RUNNER_NAME"), "from-flag");
  EXPECT_EQ(flags.size(), 1u);
}

}  // namespace
}  // namespace corral
