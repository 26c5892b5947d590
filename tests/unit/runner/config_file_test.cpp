// The runner's YAML config file: what it accepts, and a clear error (never an exception) for
// anything else. Inputs like these came from tests/fuzz/runner_config_fuzz.cpp.
#include <gtest/gtest.h>

#include "runner/config.h"

namespace corral {
namespace {

std::string config_error(std::string_view yaml) {
  auto parsed = parse_runner_config(yaml, "runner.yaml");
  EXPECT_FALSE(parsed.ok()) << yaml;
  return parsed.ok() ? "" : parsed.error().message;
}

TEST(RunnerConfigFile, ReadsBothSpellingsAndLists) {
  auto parsed = parse_runner_config(
      "RUNNER_NAME: box\nlabels: [linux, x64]\nmax-concurrent-jobs: 2\n", "runner.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->at("RUNNER_NAME"), "box");
  EXPECT_EQ(parsed->at("RUNNER_LABELS"), "linux,x64");
  EXPECT_EQ(parsed->at("RUNNER_MAX_CONCURRENT_JOBS"), "2");
  EXPECT_TRUE(parse_runner_config("", "runner.yaml")->empty());
}

TEST(RunnerConfigFile, RefusesWhatIsNotAFlatMappingOfSettings) {
  EXPECT_NE(config_error("- a\n- b\n").find("must be a YAML mapping"), std::string::npos);
  EXPECT_NE(config_error("? [a, b]\n: c\n").find("every key must be a setting name"),
            std::string::npos);
  EXPECT_NE(config_error("labels:\n  - [nested]\n").find("'labels' must be a list of plain values"),
            std::string::npos);
  EXPECT_NE(config_error("labels: {a: 1}\n").find("must be a value or a list"), std::string::npos);
  EXPECT_NE(config_error("colour: blue\n").find("unknown setting 'colour'"), std::string::npos);
  EXPECT_NE(config_error("a: [unclosed\n").find("cannot read runner.yaml"), std::string::npos);
  EXPECT_NE(config_error(std::string(2 * 1024 * 1024, '#')).find("larger than 1 MiB"),
            std::string::npos);
}

}  // namespace
}  // namespace corral
