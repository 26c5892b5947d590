#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "workflow/expr.h"
#include "workflow/matrix.h"
#include "workflow_examples.h"

namespace corral::workflow {
namespace {

using nlohmann::json;

// The matrix of a one-job workflow; `matrix_yaml` is indented by 6.
MatrixSpec matrix_of(const std::string& matrix_yaml) {
  auto wf =
      parse_workflow("on: push\njobs:\n  test:\n    runs-on: x\n    strategy:\n      matrix:\n" +
                     matrix_yaml + "    steps: [{run: a}]\n");
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().message);
  return wf.ok() ? wf->jobs.at(0).strategy->matrix : MatrixSpec{};
}

std::vector<MatrixEntry> expand(const std::string& matrix_yaml) {
  auto combinations = expand_matrix(matrix_of(matrix_yaml));
  EXPECT_TRUE(combinations.ok()) << (combinations.ok() ? "" : combinations.error().message);
  return combinations.ok() ? *combinations : std::vector<MatrixEntry>{};
}

std::vector<std::string> names(const std::string& job, const std::vector<MatrixEntry>& all) {
  std::vector<std::string> out;
  for (const auto& combination : all) out.push_back(matrix_display_name(job, combination));
  return out;
}

TEST(WorkflowMatrixTest, NodeCiExampleFansOutOverNodeVersions) {
  auto wf = parse_workflow(examples::kNodeCi);
  ASSERT_TRUE(wf.ok());
  const Job& job = wf->jobs.at(0);
  auto combinations = expand_matrix(job.strategy->matrix);
  ASSERT_TRUE(combinations.ok());
  EXPECT_EQ(names("build", *combinations),
            (std::vector<std::string>{"build (14.x)", "build (16.x)", "build (18.x)"}));
  EXPECT_EQ(matrix_context(combinations->at(1)), (json{{"node-version", "16.x"}}));
  auto step_name =
      interpolate(job.steps[1].name, {{"matrix", matrix_context(combinations->at(2))}});
  ASSERT_TRUE(step_name.ok());
  EXPECT_EQ(*step_name, "Use Node.js 18.x");
}

TEST(WorkflowMatrixTest, CartesianProductFirstAxisSlowest) {
  auto all = expand("        os: [ubuntu, windows]\n        node: [18, 20]\n");
  EXPECT_EQ(names("build", all),
            (std::vector<std::string>{"build (ubuntu, 18)", "build (ubuntu, 20)",
                                      "build (windows, 18)", "build (windows, 20)"}));
  EXPECT_TRUE(all[0][1].second.is_number());
}

// docs.github.com, "Running variations of jobs in a workflow", "Example: Expanding or adding
// matrix configurations": the six combinations it lists, in its order.
TEST(WorkflowMatrixTest, GitHubIncludeExample) {
  auto all = expand(R"(        fruit: [apple, pear]
        animal: [cat, dog]
        include:
          - color: green
          - color: pink
            animal: cat
          - fruit: apple
            shape: circle
          - fruit: banana
          - fruit: banana
            animal: cat
)");
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(
      all[0],
      (MatrixEntry{{"fruit", "apple"}, {"animal", "cat"}, {"color", "pink"}, {"shape", "circle"}}));
  EXPECT_EQ(all[1],
            (MatrixEntry{
                {"fruit", "apple"}, {"animal", "dog"}, {"color", "green"}, {"shape", "circle"}}));
  EXPECT_EQ(all[2], (MatrixEntry{{"fruit", "pear"}, {"animal", "cat"}, {"color", "pink"}}));
  EXPECT_EQ(all[3], (MatrixEntry{{"fruit", "pear"}, {"animal", "dog"}, {"color", "green"}}));
  EXPECT_EQ(all[4], (MatrixEntry{{"fruit", "banana"}}));
  EXPECT_EQ(all[5], (MatrixEntry{{"fruit", "banana"}, {"animal", "cat"}}));
}

// Same page, "Example: Expanding configurations" and "Example: Adding configurations".
TEST(WorkflowMatrixTest, GitHubExpandAndAddExamples) {
  auto expanded = expand(R"(        os: [windows-latest, ubuntu-latest]
        node: [14, 16]
        include:
          - os: windows-latest
            node: 16
            npm: 6
)");
  EXPECT_EQ(names("test", expanded),
            (std::vector<std::string>{"test (windows-latest, 14)", "test (windows-latest, 16, 6)",
                                      "test (ubuntu-latest, 14)", "test (ubuntu-latest, 16)"}));

  auto added = expand(R"(        os: [macos-latest, windows-latest, ubuntu-latest]
        version: [12, 14, 16]
        include:
          - os: windows-latest
            version: 17
)");
  ASSERT_EQ(added.size(), 10u);
  EXPECT_EQ(added.back(), (MatrixEntry{{"os", "windows-latest"}, {"version", 17}}));
}

// Same page, "Excluding matrix configurations": 12 combinations, 3 excluded.
TEST(WorkflowMatrixTest, GitHubExcludeExample) {
  auto all = expand(R"(        os: [macos-latest, windows-latest]
        version: [12, 14, 16]
        environment: [staging, production]
        exclude:
          - os: macos-latest
            version: 12
            environment: production
          - os: windows-latest
            version: 16
)");
  ASSERT_EQ(all.size(), 9u);
  for (const auto& c : all) {
    json m = matrix_context(c);
    EXPECT_FALSE(m["os"] == "macos-latest" && m["version"] == 12 &&
                 m["environment"] == "production");
    EXPECT_FALSE(m["os"] == "windows-latest" && m["version"] == 16);
  }
}

TEST(WorkflowMatrixTest, IncludeOnlyAndIncludeBringsBackAnExcludedCombination) {
  auto only = expand(R"(        include:
          - site: production
            datacenter: site-a
          - site: staging
            datacenter: site-b
)");
  EXPECT_EQ(names("deploy", only),
            (std::vector<std::string>{"deploy (production, site-a)", "deploy (staging, site-b)"}));

  auto back = expand(R"(        os: [a, b]
        exclude: [{os: b}]
        include: [{os: b, extra: x}]
)");
  EXPECT_EQ(back, (std::vector<MatrixEntry>{{{"os", "a"}}, {{"os", "b"}, {"extra", "x"}}}));
}

TEST(WorkflowMatrixTest, ObjectValuesAndTypedComparison) {
  auto all = expand(R"(        node:
          - {version: 14}
          - {version: 20, env: NODE_OPTIONS=--openssl-legacy-provider}
        os: [linux]
        exclude:
          - node: {version: 14}
        include:
          - os: linux
            tag: '20'
)");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(matrix_display_name("t", all[0]),
            "t ({\"env\":\"NODE_OPTIONS=--openssl-legacy-provider\",\"version\":20}, linux, 20)");
  auto version = evaluate("matrix.node.version", {{"matrix", matrix_context(all[0])}});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 20);

  // 16 (a number) and '16' (a string) are different values.
  auto typed = expand("        node: [16]\n        exclude: [{node: '16'}]\n");
  EXPECT_EQ(typed.size(), 1u);
}

TEST(WorkflowMatrixTest, AtMost256Combinations) {
  std::string sixteen = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]";
  EXPECT_EQ(expand("        a: " + sixteen + "\n        b: " + sixteen + "\n").size(), 256u);

  auto too_many = expand_matrix(
      matrix_of("        a: " + sixteen + "\n        b: " + sixteen + "\n        c: [x, y]\n"));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().message,
            "the matrix makes 512 combinations; at most 256 are allowed: split the job or "
            "exclude combinations");
  // Excluding brings it back under the limit.
  EXPECT_EQ(expand("        a: " + sixteen + "\n        b: " + sixteen +
                   "\n        c: [x, y]\n        exclude: [{c: y}]\n")
                .size(),
            256u);
  // A product far beyond the limit is refused before it is built.
  MatrixSpec huge;
  for (int axis = 0; axis < 8; ++axis) {
    huge.axes.emplace_back("a" + std::to_string(axis), std::vector<json>(10, json(1)));
  }
  auto refused = expand_matrix(huge);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message,
              ::testing::StartsWith("the matrix makes 100000000 combinations; at most 256"));
}

TEST(WorkflowMatrixTest, JobDisplayName) {
  Job job;
  job.id = "build";
  MatrixEntry combination{{"os", "linux"}, {"node", 18}};
  json contexts = {{"matrix", matrix_context(combination)}};
  EXPECT_EQ(*job_display_name(job, combination, contexts), "build (linux, 18)");
  EXPECT_EQ(*job_display_name(job, {}, contexts), "build");
  job.name = "Build";
  EXPECT_EQ(*job_display_name(job, combination, contexts), "Build (linux, 18)");
  job.name = "Node ${{ matrix.node }} on ${{ matrix.os }}";
  EXPECT_EQ(*job_display_name(job, combination, contexts), "Node 18 on linux");
}

}  // namespace
}  // namespace corral::workflow
