// The workflow model: a GitHub-Actions-style workflow file, parsed into plain structs.
//
//   Workflow ── on (Triggers), env, jobs[]
//     Job ──── runs-on labels, needs, if, env, strategy (matrix), container, outputs, steps[]
//       Step ─ run | uses: actions/checkout@…, shell, working-directory, env, if, id
//
// parse_workflow() accepts exactly the subset docs/workflows.md lists and refuses anything
// else with an error naming the line and the key path, e.g.
//   line 12: jobs.build.steps[2].uses: "actions/setup-node@v3" is not supported: ...
// Everything keeps the order of the file (jobs, steps, env, outputs, matrix axes), so a run
// shows its jobs as the author wrote them. Expressions (`${{ }}`) are kept as text here and
// evaluated later by workflow/expr.h, once the contexts (github, matrix, needs, ...) are known.
//
// The job graph (order, skipping) is in workflow/needs.h.
//
// Nothing here does I/O; to_json/from_json let the server store a parsed workflow and send
// one job's steps to a runner.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace corral::workflow {

// `env:` of a workflow, job or step, in file order. Values are strings (a YAML scalar's text,
// `node: 18` gives "18") and may hold `${{ }}` expressions.
using EnvList = std::vector<std::pair<std::string, std::string>>;

// A boolean that may also be written as an expression, e.g.
// `continue-on-error: ${{ matrix.experimental }}`: `expression` is empty when `value` holds it.
struct BoolSetting {
  bool value = false;
  std::string expression;
  bool operator==(const BoolSetting&) const = default;
};

struct PushTrigger {
  std::vector<std::string> branches;  // glob patterns; empty = no filter
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  bool operator==(const PushTrigger&) const = default;
};

struct PullRequestTrigger {
  std::vector<std::string> branches;  // base branches (globs); empty = any
  std::vector<std::string> types;     // activity types; empty = GitHub's default set
  bool operator==(const PullRequestTrigger&) const = default;
};

struct DispatchInput {
  std::string name;
  std::string description;
  bool required = false;
  std::string type = "string";       // string | boolean | number | choice
  nlohmann::json default_value;      // null when none
  std::vector<std::string> options;  // for type choice
  bool operator==(const DispatchInput&) const = default;
};

struct Triggers {
  std::optional<PushTrigger> push;
  std::optional<PullRequestTrigger> pull_request;
  std::optional<std::vector<DispatchInput>> workflow_dispatch;  // present = manual runs allowed
  std::vector<std::string> schedules;  // 5-field cron expressions, UTC as on GitHub
  bool operator==(const Triggers&) const = default;
};

// `uses: actions/checkout@<version>`, the one built-in action: the run's repository at its sha.
struct Checkout {
  std::string version;             // the text after '@', e.g. "v3"; any version behaves the same
  std::optional<int> fetch_depth;  // with.fetch-depth (0 = full history)
  std::string ref;                 // with.ref; empty = the run's sha
  std::string path;                // with.path; empty = $GITHUB_WORKSPACE itself
  bool operator==(const Checkout&) const = default;
};

struct Step {
  int line = 0;                      // where the step starts in the file, for messages
  std::string id;                    // empty when the step has none
  std::string name;                  // as written (may hold expressions); see display_name()
  std::string run;                   // set for run steps
  std::optional<Checkout> checkout;  // set for `uses: actions/checkout@…`
  std::string shell;                 // empty = the default (bash when present, else sh)
  std::string working_directory;
  EnvList env;
  std::string if_condition;  // empty = success()
  BoolSetting continue_on_error;
  // A number of minutes, fractions allowed (0.5 = 30 s), as GitHub's runner reads it.
  std::optional<double> timeout_minutes;

  // The name a log and the dashboard show: `name`, else "Run <first line of run>", else
  // "Run actions/checkout@<version>" (as GitHub shows unnamed steps).
  std::string display_name() const;
  bool operator==(const Step&) const = default;
};

// Keys and values in file order: one `include`/`exclude` entry, or one matrix combination.
// (A json object would sort its keys, and the order shows in a job's name.)
using MatrixEntry = std::vector<std::pair<std::string, nlohmann::json>>;

// `strategy.matrix` as written; workflow/matrix.h expands it into combinations. Values are
// typed as YAML 1.2 reads them: `18` a number, `'18'` and `18.x` strings, `true` a boolean.
struct MatrixSpec {
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> axes;  // file order
  std::vector<MatrixEntry> include;
  std::vector<MatrixEntry> exclude;
  bool operator==(const MatrixSpec&) const = default;
};

struct Strategy {
  MatrixSpec matrix;
  bool fail_fast = true;
  std::optional<int> max_parallel;
  bool operator==(const Strategy&) const = default;
};

struct Job {
  int line = 0;
  std::string id;                    // the key under `jobs:`
  std::string name;                  // empty = the id
  std::vector<std::string> runs_on;  // labels, `self-hosted` kept; may hold expressions
  std::vector<std::string> needs;    // job ids, validated: known, no cycle
  std::string if_condition;          // empty = success()
  EnvList env;
  std::optional<double> timeout_minutes;  // minutes, fractions allowed
  BoolSetting continue_on_error;
  std::optional<Strategy> strategy;
  std::string container_image;  // empty = the runner's default image
  EnvList outputs;              // name -> expression, e.g. ${{ steps.x.outputs.y }}
  std::vector<Step> steps;
  bool operator==(const Job&) const = default;
};

struct Workflow {
  std::string name;  // empty when the file has none
  Triggers on;
  EnvList env;
  std::vector<Job> jobs;  // file order

  const Job* find_job(std::string_view id) const;
  bool operator==(const Workflow&) const = default;
};

// Parses and validates a workflow file. Errors are kInvalidSpec and start with
// "line N: <key path>: ".
Result<Workflow> parse_workflow(std::string_view yaml_text);

// JSON codecs, for storing a parsed workflow and sending one job to a runner. A MatrixEntry is
// written as an array of [key, value] pairs to keep its order. from_json throws
// nlohmann::json::exception on a malformed document; workflow_from_json returns it as an error.
Result<Workflow> workflow_from_json(const nlohmann::json& j);
void to_json(nlohmann::json& j, const BoolSetting& v);
void from_json(const nlohmann::json& j, BoolSetting& v);
void to_json(nlohmann::json& j, const Triggers& v);
void from_json(const nlohmann::json& j, Triggers& v);
void to_json(nlohmann::json& j, const Step& v);
void from_json(const nlohmann::json& j, Step& v);
void to_json(nlohmann::json& j, const Strategy& v);
void from_json(const nlohmann::json& j, Strategy& v);
void to_json(nlohmann::json& j, const Job& v);
void from_json(const nlohmann::json& j, Job& v);
void to_json(nlohmann::json& j, const Workflow& v);
void from_json(const nlohmann::json& j, Workflow& v);

}  // namespace corral::workflow
