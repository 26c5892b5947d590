#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "workflow/needs.h"
#include "workflow/workflow.h"
#include "workflow_examples.h"

namespace corral::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Workflow parsed(const std::string& yaml) {
  auto wf = parse_workflow(yaml);
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().message);
  return wf.ok() ? *wf : Workflow{};
}

std::string refusal(const std::string& yaml) {
  auto wf = parse_workflow(yaml);
  if (wf.ok()) return "parsed";
  EXPECT_EQ(wf.error().code, ErrorCode::kInvalidSpec);
  return wf.error().message;
}

// A workflow around one job body (indented by 4).
std::string with_job(const std::string& job_body) {
  return "on: push\njobs:\n  build:\n" + job_body;
}

// A workflow around a list of steps (each line indented by 6).
std::string with_steps(const std::string& steps) {
  return with_job("    runs-on: linux\n    steps:\n" + steps);
}

// --- the examples of issue 18 ----------------------------------------------------------------

TEST(WorkflowParseTest, NodeCiExample) {
  Workflow wf = parsed(examples::kNodeCi);
  EXPECT_EQ(wf.name, "Node.js CI");
  ASSERT_TRUE(wf.on.push.has_value());
  EXPECT_EQ(wf.on.push->branches, std::vector<std::string>{"main"});
  ASSERT_TRUE(wf.on.pull_request.has_value());
  EXPECT_EQ(wf.on.pull_request->branches, std::vector<std::string>{"main"});
  EXPECT_FALSE(wf.on.workflow_dispatch.has_value());
  ASSERT_EQ(wf.jobs.size(), 1u);
  const Job& job = wf.jobs[0];
  EXPECT_EQ(job.id, "build");
  EXPECT_EQ(job.line, 10);
  EXPECT_EQ(job.runs_on, (std::vector<std::string>{"self-hosted", "linux"}));
  ASSERT_TRUE(job.strategy.has_value());
  ASSERT_EQ(job.strategy->matrix.axes.size(), 1u);
  EXPECT_EQ(job.strategy->matrix.axes[0].first, "node-version");
  EXPECT_EQ(job.strategy->matrix.axes[0].second,
            (std::vector<nlohmann::json>{"14.x", "16.x", "18.x"}));
  EXPECT_TRUE(job.strategy->fail_fast);
  ASSERT_EQ(job.steps.size(), 5u);
  ASSERT_TRUE(job.steps[0].checkout.has_value());
  EXPECT_EQ(job.steps[0].checkout->version, "v3");
  EXPECT_EQ(job.steps[0].display_name(), "Run actions/checkout@v3");
  EXPECT_EQ(job.steps[1].name, "Use Node.js ${{ matrix.node-version }}");
  EXPECT_EQ(job.steps[1].run, "node --version");
  EXPECT_EQ(job.steps[1].line, 21);
  EXPECT_EQ(job.steps[3].display_name(), "Run npm run build --if-present");
  EXPECT_EQ(job.steps[4].run, "npm test");
}

TEST(WorkflowParseTest, DockerImageExample) {
  Workflow wf = parsed(examples::kDockerImage);
  EXPECT_EQ(wf.name, "Docker Image CI");
  ASSERT_EQ(wf.jobs.size(), 1u);
  const Job& job = wf.jobs[0];
  EXPECT_FALSE(job.strategy.has_value());
  ASSERT_EQ(job.steps.size(), 2u);
  EXPECT_TRUE(job.steps[0].checkout.has_value());
  EXPECT_EQ(job.steps[1].display_name(), "Build the Docker image");
  EXPECT_EQ(job.steps[1].run, "docker build . --file Dockerfile --tag my-image-name:$(date +%s)");
}

// --- on ----------------------------------------------------------------------------------------

TEST(WorkflowParseTest, OnAsStringListAndMapping) {
  Workflow one = parsed("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n");
  EXPECT_TRUE(one.on.push.has_value());
  EXPECT_FALSE(one.on.pull_request.has_value());

  Workflow list = parsed(
      "on: [push, pull_request, workflow_dispatch]\njobs:\n  a:\n    runs-on: x\n    steps:\n"
      "      - run: 'true'\n");
  EXPECT_TRUE(list.on.push.has_value());
  EXPECT_TRUE(list.on.pull_request.has_value());
  EXPECT_TRUE(list.on.workflow_dispatch.has_value());

  Workflow map = parsed(R"(on:
  push:
    branches: [main, 'releases/**']
    tags: v*
    paths:
      - 'src/**'
  pull_request:
    types: [opened, synchronize]
  workflow_dispatch:
    inputs:
      level:
        description: Log level
        required: true
        default: warning
        type: choice
        options: [info, warning]
      dry-run:
        type: boolean
        default: false
  schedule:
    - cron: '30 5 * * 1-5'
    - cron: '0 0 * * *'
jobs:
  a:
    runs-on: x
    steps:
      - run: 'true'
)");
  ASSERT_TRUE(map.on.push.has_value());
  EXPECT_EQ(map.on.push->branches, (std::vector<std::string>{"main", "releases/**"}));
  EXPECT_EQ(map.on.push->tags, std::vector<std::string>{"v*"});
  EXPECT_EQ(map.on.push->paths, std::vector<std::string>{"src/**"});
  EXPECT_EQ(map.on.pull_request->types, (std::vector<std::string>{"opened", "synchronize"}));
  ASSERT_TRUE(map.on.workflow_dispatch.has_value());
  ASSERT_EQ(map.on.workflow_dispatch->size(), 2u);
  const DispatchInput& level = (*map.on.workflow_dispatch)[0];
  EXPECT_EQ(level.name, "level");
  EXPECT_EQ(level.description, "Log level");
  EXPECT_TRUE(level.required);
  EXPECT_EQ(level.type, "choice");
  EXPECT_EQ(level.default_value, "warning");
  EXPECT_EQ(level.options, (std::vector<std::string>{"info", "warning"}));
  EXPECT_EQ((*map.on.workflow_dispatch)[1].default_value, false);
  EXPECT_EQ(map.on.schedules, (std::vector<std::string>{"30 5 * * 1-5", "0 0 * * *"}));
}

TEST(WorkflowParseTest, OnRefusals) {
  const std::string jobs = "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n";
  EXPECT_EQ(refusal("on: release\n" + jobs),
            "line 1: on: event 'release' is not supported; supported: push, pull_request, "
            "workflow_dispatch, schedule");
  EXPECT_EQ(refusal("on: [push, issues]\n" + jobs),
            "line 1: on[1]: event 'issues' is not supported; supported: push, pull_request, "
            "workflow_dispatch, schedule");
  EXPECT_THAT(refusal("on:\n  push:\n    branches-ignore: [main]\n" + jobs),
              StartsWith("line 3: on.push.branches-ignore: unknown key; supported here: "
                         "branches, tags, paths"));
  EXPECT_EQ(refusal("on:\n  schedule:\n    - cron: '0 25 * * *'\n" + jobs),
            "line 3: on.schedule[0].cron: cron field 2 (hour) '25': must be 0-23");
  EXPECT_THAT(refusal("on:\n  pull_request:\n    types: [opened, pushed]\n" + jobs),
              StartsWith("line 3: on.pull_request.types: 'pushed' is not a pull_request "
                         "activity type"));
  EXPECT_EQ(
      refusal("on:\n  workflow_dispatch:\n    inputs:\n      env:\n        type: environment\n" +
              jobs),
      "line 5: on.workflow_dispatch.inputs.env.type: must be string, boolean, number or "
      "choice");
  EXPECT_EQ(refusal("on: schedule\n" + jobs),
            "line 1: on: schedule needs its cron lines: schedule: [{cron: '0 2 * * *'}]");
  EXPECT_EQ(refusal(jobs), "line 1: on: missing: say which events start the workflow");
}

// --- jobs --------------------------------------------------------------------------------------

TEST(WorkflowParseTest, JobFieldsAndEnvAtEveryLevel) {
  Workflow wf = parsed(R"(name: full
on: push
env:
  B: workflow-b
  A: workflow-a
jobs:
  test:
    name: Test ${{ matrix.os }}
    runs-on: [self-hosted, linux, node]
    if: github.ref == 'refs/heads/main'
    timeout-minutes: 30
    continue-on-error: ${{ matrix.experimental }}
    container: node:18
    env:
      NODE: 18
    outputs:
      version: ${{ steps.v.outputs.version }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        os: [linux]
    steps:
      - id: v
        name: Version
        run: echo "version=1" >> "$GITHUB_OUTPUT"
        shell: bash
        working-directory: app
        env:
          STEP: 'yes'
          EMPTY:
        if: always()
        continue-on-error: true
        timeout-minutes: 5
  deploy:
    needs: test
    runs-on: linux
    container:
      image: alpine:3
    steps:
      - uses: actions/checkout@main
        with:
          fetch-depth: 0
          ref: ${{ github.sha }}
          path: src/app
)");
  EXPECT_EQ(wf.env, (EnvList{{"B", "workflow-b"}, {"A", "workflow-a"}}));
  ASSERT_EQ(wf.jobs.size(), 2u);
  const Job& test = wf.jobs[0];
  EXPECT_EQ(test.name, "Test ${{ matrix.os }}");
  EXPECT_EQ(test.runs_on, (std::vector<std::string>{"self-hosted", "linux", "node"}));
  EXPECT_EQ(test.if_condition, "github.ref == 'refs/heads/main'");
  EXPECT_EQ(test.timeout_minutes, 30);
  EXPECT_EQ(test.continue_on_error.expression, "${{ matrix.experimental }}");
  EXPECT_EQ(test.container_image, "node:18");
  EXPECT_EQ(test.env, (EnvList{{"NODE", "18"}}));
  EXPECT_EQ(test.outputs, (EnvList{{"version", "${{ steps.v.outputs.version }}"}}));
  ASSERT_TRUE(test.strategy.has_value());
  EXPECT_FALSE(test.strategy->fail_fast);
  EXPECT_EQ(test.strategy->max_parallel, 2);
  const Step& step = test.steps.at(0);
  EXPECT_EQ(step.id, "v");
  EXPECT_EQ(step.shell, "bash");
  EXPECT_EQ(step.working_directory, "app");
  EXPECT_EQ(step.env, (EnvList{{"STEP", "yes"}, {"EMPTY", ""}}));
  EXPECT_EQ(step.if_condition, "always()");
  EXPECT_TRUE(step.continue_on_error.value);
  EXPECT_TRUE(step.continue_on_error.expression.empty());
  EXPECT_EQ(step.timeout_minutes, 5);

  const Job& deploy = wf.jobs[1];
  EXPECT_EQ(deploy.needs, std::vector<std::string>{"test"});
  EXPECT_EQ(deploy.runs_on, std::vector<std::string>{"linux"});
  EXPECT_EQ(deploy.container_image, "alpine:3");
  const Checkout& checkout = deploy.steps.at(0).checkout.value();
  EXPECT_EQ(checkout.version, "main");
  EXPECT_EQ(checkout.fetch_depth, 0);
  EXPECT_EQ(checkout.ref, "${{ github.sha }}");
  EXPECT_EQ(checkout.path, "src/app");
}

TEST(WorkflowParseTest, JobsKeepFileOrderAndNeedsOrderFollowsTheGraph) {
  Workflow wf = parsed(R"(on: push
jobs:
  deploy:
    needs: [build, test]
    runs-on: x
    steps: [{run: deploy}]
  test:
    needs: build
    runs-on: x
    steps: [{run: test}]
  lint:
    runs-on: x
    steps: [{run: lint}]
  build:
    runs-on: x
    steps: [{run: build}]
)");
  std::vector<std::string> ids;
  for (const auto& job : wf.jobs) ids.push_back(job.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"deploy", "test", "lint", "build"}));
  auto order = job_needs_order(wf.jobs);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (std::vector<std::string>{"lint", "build", "test", "deploy"}));
}

TEST(WorkflowParseTest, NeedsRefusals) {
  EXPECT_EQ(refusal(R"(on: push
jobs:
  a:
    runs-on: x
    needs: [b, nope]
    steps: [{run: a}]
  b:
    runs-on: x
    steps: [{run: b}]
)"),
            "line 5: jobs.a.needs: 'nope' is not a job of this workflow");
  EXPECT_EQ(refusal(R"(on: push
jobs:
  a:
    runs-on: x
    needs: c
    steps: [{run: a}]
  b:
    runs-on: x
    needs: a
    steps: [{run: b}]
  c:
    needs: [b]
    runs-on: x
    steps: [{run: c}]
)"),
            "line 5: jobs.a.needs: jobs 'a' -> 'c' -> 'b' -> 'a' need each other in a cycle; "
            "remove one of these needs");
  EXPECT_EQ(refusal("on: push\njobs:\n  a:\n    runs-on: x\n    needs: a\n    steps: [{run: a}]\n"),
            "line 5: jobs.a.needs: a job cannot need itself");
}

TEST(WorkflowParseTest, JobRefusals) {
  EXPECT_THAT(
      refusal(with_job("    runs-on: x\n    permissions: read-all\n    steps: [{run: a}]\n")),
      StartsWith("line 5: jobs.build.permissions: unknown key; supported here: name, "
                 "runs-on, needs, if, env, timeout-minutes, continue-on-error, strategy, "
                 "container, outputs, steps"));
  EXPECT_EQ(refusal(with_job("    steps: [{run: a}]\n")),
            "line 3: jobs.build.runs-on: missing: give the runner labels, e.g. [self-hosted, "
            "linux]");
  EXPECT_EQ(refusal(with_job("    runs-on: x\n")),
            "line 3: jobs.build.steps: missing: a job needs at least one step");
  EXPECT_EQ(refusal(with_job("    runs-on: x\n    steps: []\n")),
            "line 5: jobs.build.steps: must be a list of steps, each with `run:` or `uses:`");
  EXPECT_EQ(refusal(with_job("    runs-on: {group: big}\n    steps: [{run: a}]\n")),
            "line 4: jobs.build.runs-on: runs-on groups are not supported; list the runner labels");
  EXPECT_EQ(refusal(with_job("    runs-on: x\n    timeout-minutes: soon\n    steps: [{run: a}]\n")),
            "line 5: jobs.build.timeout-minutes: must be a number of minutes above 0 (fractions "
            "allowed: 0.5 = 30 s)");
  EXPECT_EQ(
      refusal(with_job("    runs-on: x\n    continue-on-error: maybe\n    steps: [{run: a}]\n")),
      "line 5: jobs.build.continue-on-error: must be true or false");
  EXPECT_EQ(refusal(with_job(
                "    runs-on: x\n    container:\n      image: a\n      options: --privileged\n"
                "    steps: [{run: a}]\n")),
            "line 7: jobs.build.container.options: unknown key; supported here: image (see "
            "docs/workflows.md, \"The YAML subset\")");
  EXPECT_EQ(refusal(with_job("    uses: org/repo/.github/workflows/ci.yml@main\n")),
            "line 4: jobs.build.uses: reusable workflows are not supported; copy the called "
            "workflow's jobs here");
  EXPECT_EQ(refusal("on: push\njobs:\n  2build:\n    runs-on: x\n    steps: [{run: a}]\n"),
            "line 3: jobs.2build: a job id starts with a letter or _ and has only letters, "
            "digits, - and _");
  EXPECT_EQ(refusal(with_job("    runs-on: x\n    env: [A=1]\n    steps: [{run: a}]\n")),
            "line 5: jobs.build.env: must be a mapping of keys to values");
  EXPECT_EQ(refusal(with_job("    runs-on: x\n    env:\n      A: {b: 1}\n    steps: [{run: a}]\n")),
            "line 6: jobs.build.env.A: must be a string or a number");
  EXPECT_EQ(refusal("on: push\njobs: {}\n"), "line 2: jobs: needs at least one job");
}

TEST(WorkflowParseTest, TopLevelRefusals) {
  EXPECT_THAT(refusal("on: push\npermissions: read-all\njobs: {}\n"),
              StartsWith("line 2: permissions: unknown key; supported here: name, on, env, jobs"));
  EXPECT_EQ(refusal("- on: push\n"),
            "line 1: (top level): a workflow is a mapping with at least `on` and `jobs`");
  EXPECT_EQ(refusal("on: push\nname: a\nname: b\njobs: {}\n"),
            "line 3: name: the key appears twice; keep one of them");
  EXPECT_EQ(refusal("on: push\n"), "line 1: jobs: missing: a workflow needs at least one job");
  EXPECT_EQ(refusal(""),
            "line 1: (top level): a workflow is a mapping with at least `on` and `jobs`");
}

TEST(WorkflowParseTest, BadYamlNamesItsLine) {
  EXPECT_EQ(refusal("on: push\njobs:\n  build:\n    runs-on: [linux\n    steps:\n      - run: a\n"),
            "line 5: not valid YAML: end of sequence flow not found");
  EXPECT_THAT(refusal("on: push\njobs:\n  build:\n    runs-on: x\n      steps: a\n"),
              StartsWith("line 5: not valid YAML: "));
}

// --- strategy ----------------------------------------------------------------------------------

TEST(WorkflowParseTest, MatrixIncludeExcludeAndTypedValues) {
  Workflow wf = parsed(with_job(R"(    runs-on: x
    strategy:
      matrix:
        os: [ubuntu, windows]
        node: [14, 16, '18', 3.10]
        flags: [{debug: true}]
        include:
          - os: ubuntu
            experimental: true
        exclude:
          - os: windows
            node: 14
    steps: [{run: a}]
)"));
  const MatrixSpec& m = wf.jobs.at(0).strategy->matrix;
  ASSERT_EQ(m.axes.size(), 3u);
  EXPECT_EQ(m.axes[0].first, "os");
  EXPECT_EQ(m.axes[1].first, "node");
  ASSERT_EQ(m.axes[1].second.size(), 4u);
  EXPECT_TRUE(m.axes[1].second[0].is_number_integer());
  EXPECT_EQ(m.axes[1].second[0], 14);
  EXPECT_EQ(m.axes[1].second[2], "18");  // quoted: a string
  EXPECT_EQ(m.axes[1].second[3], 3.1);   // as on GitHub, 3.10 is the number 3.1
  EXPECT_EQ(m.axes[2].second[0], (nlohmann::json{{"debug", true}}));
  ASSERT_EQ(m.include.size(), 1u);
  EXPECT_EQ(m.include[0], (MatrixEntry{{"os", "ubuntu"}, {"experimental", true}}));
  ASSERT_EQ(m.exclude.size(), 1u);
  EXPECT_EQ(m.exclude[0], (MatrixEntry{{"os", "windows"}, {"node", 14}}));
}

TEST(WorkflowParseTest, StrategyRefusals) {
  auto strategy = [](const std::string& body) {
    return refusal(with_job("    runs-on: x\n    strategy:\n" + body + "    steps: [{run: a}]\n"));
  };
  EXPECT_EQ(strategy("      matrix: ${{ fromJSON(needs.a.outputs.m) }}\n"),
            "line 6: jobs.build.strategy.matrix: expressions in a matrix (e.g. fromJSON) are not "
            "supported; list the values themselves");
  EXPECT_EQ(strategy("      matrix:\n        os: ['${{ env.OS }}']\n"),
            "line 7: jobs.build.strategy.matrix.os[0]: expressions in a matrix are not "
            "supported; list the values themselves");
  EXPECT_EQ(strategy("      matrix:\n        os: linux\n"),
            "line 7: jobs.build.strategy.matrix.os: a matrix axis must be a list of values");
  EXPECT_EQ(strategy("      matrix:\n        os: []\n"),
            "line 7: jobs.build.strategy.matrix.os: a matrix axis needs at least one value");
  EXPECT_EQ(strategy("      matrix: {}\n"),
            "line 6: jobs.build.strategy.matrix: a matrix needs at least one axis or an include "
            "list");
  EXPECT_EQ(strategy("      matrix:\n        include: {os: a}\n"),
            "line 7: jobs.build.strategy.matrix.include: must be a list of mappings, e.g. - {os: "
            "linux, node: 18}");
  EXPECT_EQ(strategy("      fail-fast: false\n"),
            "line 5: jobs.build.strategy.matrix: missing: a strategy needs a matrix");
  EXPECT_EQ(strategy("      matrix: {a: [1]}\n      max-parallel: 0\n"),
            "line 7: jobs.build.strategy.max-parallel: must be a whole number above 0");
  EXPECT_EQ(strategy("      matrix: {a: [1]}\n      fail-fast: sometimes\n"),
            "line 7: jobs.build.strategy.fail-fast: must be true or false");
}

// --- steps -------------------------------------------------------------------------------------

TEST(WorkflowParseTest, OtherActionsAreRefusedClearly) {
  EXPECT_EQ(refusal(R"(on: push
jobs:
  build:
    runs-on: [self-hosted, linux]
    steps:
      - uses: actions/checkout@v3
      - run: echo one
      - uses: actions/setup-node@v3
        with:
          node-version: 18
)"),
            "line 8: jobs.build.steps[2].uses: \"actions/setup-node@v3\" is not supported: only "
            "actions/checkout is built in; install the tool in a run step instead");
  EXPECT_THAT(refusal(with_steps("      - uses: docker://alpine:3\n")),
              HasSubstr("\"docker://alpine:3\" is not supported"));
  EXPECT_THAT(refusal(with_steps("      - uses: ./.github/actions/local\n")),
              HasSubstr("\"./.github/actions/local\" is not supported"));
  EXPECT_EQ(refusal(with_steps("      - uses: actions/checkout\n")),
            "line 6: jobs.build.steps[0].uses: \"actions/checkout\" needs a version, e.g. "
            "actions/checkout@v4");
}

TEST(WorkflowParseTest, StepRefusals) {
  EXPECT_EQ(refusal(with_steps("      - run: a\n        uses: actions/checkout@v4\n")),
            "line 6: jobs.build.steps[0]: a step has either `run:` or `uses:`, not both");
  EXPECT_EQ(refusal(with_steps("      - run: a\n      - name: nothing\n")),
            "line 7: jobs.build.steps[1]: a step needs `run:` (a command) or `uses: "
            "actions/checkout@v4`");
  EXPECT_EQ(
      refusal(with_steps("      - id: same\n        run: a\n      - id: same\n        run: b\n")),
      "line 8: jobs.build.steps[1].id: 'same' is already the id of the step on line 6; "
      "step ids must be unique in a job");
  EXPECT_EQ(refusal(with_steps("      - id: 'has space'\n        run: a\n")),
            "line 6: jobs.build.steps[0].id: a step id starts with a letter or _ and has only "
            "letters, digits, - and _");
  EXPECT_EQ(refusal(with_steps("      - run: a\n        with: {x: 1}\n")),
            "line 7: jobs.build.steps[0].with: `with:` belongs to a `uses:` step");
  EXPECT_THAT(
      refusal(with_steps("      - uses: actions/checkout@v4\n        with:\n          token: x\n")),
      StartsWith("line 8: jobs.build.steps[0].with.token: unknown key; supported here: "
                 "fetch-depth, ref, path"));
  EXPECT_EQ(refusal(with_steps(
                "      - uses: actions/checkout@v4\n        with:\n          fetch-depth: -1\n")),
            "line 8: jobs.build.steps[0].with.fetch-depth: must be a whole number, 0 for the full "
            "history");
  EXPECT_EQ(refusal(with_steps(
                "      - uses: actions/checkout@v4\n        with:\n          path: ../out\n")),
            "line 8: jobs.build.steps[0].with.path: must be a relative path inside the workspace");
  EXPECT_EQ(refusal(with_steps("      - run: a\n        shell: pwsh\n")),
            "line 7: jobs.build.steps[0].shell: 'pwsh' is not supported: use bash, sh, python, or "
            "a command with {0} for the script's path (e.g. 'perl {0}')");
  EXPECT_THAT(refusal(with_steps("      - run: a\n        continue_on_error: true\n")),
              StartsWith("line 7: jobs.build.steps[0].continue_on_error: unknown key"));
  EXPECT_EQ(refusal(with_steps("      - run: [a, b]\n")),
            "line 6: jobs.build.steps[0].run: must be a string");
  EXPECT_EQ(refusal(with_steps("      - uses: actions/checkout@v4\n        shell: bash\n")),
            "line 6: jobs.build.steps[0]: `shell` and `working-directory` belong to `run:` steps, "
            "not to `uses:`");
  EXPECT_EQ(refusal(with_steps("      - run\n")),
            "line 6: jobs.build.steps[0]: must be a mapping of keys to values");
}

TEST(WorkflowParseTest, CustomShellAndMultiLineRun) {
  Workflow wf =
      parsed(with_steps("      - shell: perl {0}\n        run: |\n          print 1;\n"
                        "          print 2;\n"));
  const Step& step = wf.jobs.at(0).steps.at(0);
  EXPECT_EQ(step.shell, "perl {0}");
  EXPECT_EQ(step.run, "print 1;\nprint 2;\n");
  EXPECT_EQ(step.display_name(), "Run print 1;");
}

// Every other refusal, each with the line and key path it names.
TEST(WorkflowParseTest, MoreRefusalsNameLineAndPath) {
  const std::string jobs = "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n";
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"on: [push, [pull_request]]\n" + jobs, "line 1: on[1]: must be a string"},
      {"on:\n  push:\n    branches: {main: true}\n" + jobs,
       "line 3: on.push.branches: must be a string or a list of strings"},
      {"on:\n  push:\n    tags: ['']\n" + jobs, "line 3: on.push.tags[0]: must not be empty"},
      {"on:\n  workflow_dispatch:\n    inputs:\n      9lives: {}\n" + jobs,
       "line 4: on.workflow_dispatch.inputs.9lives: an input name starts with a letter or _ and "
       "has only letters, digits, - and _"},
      {"on:\n  workflow_dispatch:\n    inputs:\n      pick:\n        type: choice\n" + jobs,
       "line 4: on.workflow_dispatch.inputs.pick: a choice input needs `options`"},
      {"on:\n  workflow_dispatch:\n    inputs:\n      x:\n        default: [1]\n" + jobs,
       "line 5: on.workflow_dispatch.inputs.x.default: must be a single value"},
      {"on:\n  workflow_dispatch:\n    inputs:\n      x:\n        required: yes please\n" + jobs,
       "line 5: on.workflow_dispatch.inputs.x.required: must be true or false"},
      {"on:\n  schedule: '0 1 * * *'\n" + jobs,
       "line 2: on.schedule: must be a list of {cron: '...'} entries"},
      {"on:\n  schedule: []\n" + jobs, "line 2: on.schedule: needs at least one cron entry"},
      {"on:\n  schedule:\n    - crontab: '* * * * *'\n" + jobs,
       "line 3: on.schedule[0].crontab: unknown key; supported here: cron (see docs/workflows.md, "
       "\"The YAML subset\")"},
      {"on: push\n[a]: 1\n" + jobs, "line 2: : every key must be a plain name"},
      {"on: push\nname: [a]\n" + jobs, "line 2: name: must be a string"},
      {"on: push\nenv:\n  A=B: x\n" + jobs,
       "line 3: env.A=B: is not a valid environment variable name"},
      {with_job("    runs-on: []\n    steps: [{run: a}]\n"),
       "line 4: jobs.build.runs-on: needs at least one label"},
      {with_job("    runs-on: [linux, [x]]\n    steps: [{run: a}]\n"),
       "line 4: jobs.build.runs-on[1]: must be a string"},
      {with_job("    runs-on: x\n    needs: {a: b}\n    steps: [{run: a}]\n"),
       "line 5: jobs.build.needs: must be a string or a list of strings"},
      {with_job("    runs-on: x\n    container: {}\n    steps: [{run: a}]\n"),
       "line 5: jobs.build.container.image: missing: name the container image"},
      {with_job("    runs-on: x\n    container: ''\n    steps: [{run: a}]\n"),
       "line 5: jobs.build.container: must not be empty"},
      {with_job("    runs-on: x\n    outputs:\n      'a b': x\n    steps: [{run: a}]\n"),
       "line 6: jobs.build.outputs.a b: an output name starts with a letter or _ and has only "
       "letters, digits, - and _"},
      {with_job("    runs-on: x\n    outputs:\n      a: {b: c}\n    steps: [{run: a}]\n"),
       "line 6: jobs.build.outputs.a: must be a string"},
      {with_job("    runs-on: x\n    strategy:\n      matrix:\n        exclude: [os]\n"
                "        os: [a]\n    steps: [{run: a}]\n"),
       "line 7: jobs.build.strategy.matrix.exclude[0]: must be a mapping of keys to values"},
      {with_job("    runs-on: x\n    strategy:\n      matrix:\n        x: [.inf]\n"
                "    steps: [{run: a}]\n"),
       "line 7: jobs.build.strategy.matrix.x[0]: must be a string, number, boolean, list or "
       "mapping"},
      {with_job("    runs-on: x\n    strategy:\n      matrix:\n        include:\n"
                "          - os: ${{ env.OS }}\n    steps: [{run: a}]\n"),
       "line 8: jobs.build.strategy.matrix.include[0].os: expressions in a matrix are not "
       "supported; list the values themselves"},
      {with_steps("      - run: a\n        timeout-minutes: 0\n"),
       "line 7: jobs.build.steps[0].timeout-minutes: must be a number of minutes above 0 "
       "(fractions allowed: 0.5 = 30 s)"},
      {with_steps("      - uses: actions/checkout@v4\n        with:\n          ref: ''\n"),
       "line 8: jobs.build.steps[0].with.ref: must not be empty"},
      {with_steps("      - uses: actions/checkout@v4\n        with:\n          path: /etc\n"),
       "line 8: jobs.build.steps[0].with.path: must be a relative path inside the workspace"},
      {with_steps("      - uses: actions/checkout@v4\n        with:\n          path: a/../..\n"),
       "line 8: jobs.build.steps[0].with.path: must be a relative path inside the workspace"},
      {with_steps("      - run: ''\n"), "line 6: jobs.build.steps[0].run: must not be empty"},
      {with_steps("      - run: a\n        env:\n          X: [1]\n"),
       "line 8: jobs.build.steps[0].env.X: must be a string or a number"},
      {with_steps("      - run: a\n        shell: cmd\n"),
       "line 7: jobs.build.steps[0].shell: 'cmd' is not supported: use bash, sh, python, or a "
       "command with {0} for the script's path (e.g. 'perl {0}')"},
  };
  for (const auto& c : cases) EXPECT_EQ(refusal(c.yaml), c.message) << c.yaml;

  EXPECT_EQ(refusal(std::string(1024 * 1024 + 1, ' ')),
            "the workflow is larger than 1 MiB; split it into several files");
}

// --- JSON --------------------------------------------------------------------------------------

TEST(WorkflowParseTest, JsonRoundTripKeepsEverything) {
  Workflow wf = parsed(R"(name: rt
on:
  push: {branches: [main], tags: ['v*']}
  pull_request: {types: [opened]}
  workflow_dispatch:
    inputs:
      who: {description: name, default: me, required: true}
  schedule: [{cron: '0 1 * * *'}]
env: {Z: '1', A: '2'}
jobs:
  b:
    runs-on: [self-hosted, linux]
    strategy:
      fail-fast: false
      max-parallel: 3
      matrix:
        z: [1, {x: y}]
        a: [true]
        include: [{z: 1, extra: e}]
        exclude: [{a: true, z: 2}]
    continue-on-error: ${{ matrix.a }}
    timeout-minutes: 9
    container: {image: 'img:1'}
    outputs: {o: '${{ steps.s.outputs.o }}'}
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depth: 2, ref: dev, path: sub}
      - id: s
        name: step
        run: echo hi
        shell: sh
        working-directory: sub
        env: {Y: y, B: b}
        if: failure()
        continue-on-error: true
        timeout-minutes: 1
  c:
    needs: [b]
    if: always()
    runs-on: x
    env: {K: v}
    steps: [{run: c}]
)");
  nlohmann::json j = wf;
  // Through text, as the server stores it.
  auto back = workflow_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, wf);
  EXPECT_EQ(back->jobs[0].strategy->matrix.include[0],
            (MatrixEntry{{"z", 1}, {"extra", "e"}}));  // order kept
  EXPECT_EQ(back->env, (EnvList{{"Z", "1"}, {"A", "2"}}));

  // One job alone, as sent to a runner.
  nlohmann::json job_json = wf.jobs[0];
  EXPECT_EQ(job_json.get<Job>(), wf.jobs[0]);

  auto bad = workflow_from_json(nlohmann::json{{"jobs", 3}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, StartsWith("not a stored workflow: "));
}

}  // namespace
}  // namespace corral::workflow
