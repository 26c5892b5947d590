// The workflow parser's class (internal to src/workflow/): parse.cpp reads the workflow level
// (on, env, needs), parse_jobs.cpp a job (runs-on, strategy, container, outputs, steps).
// Every parse_* method returns false once it has recorded an error; the first error wins.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "workflow/workflow.h"
#include "workflow/yaml_value.h"

namespace corral::workflow::parse_detail {

using YAML::Node;

// Job, step, input and output ids: a letter or _, then letters, digits, - and _.
bool valid_id(std::string_view id);
std::string join_names(const std::vector<std::string_view>& names);
bool has_expression(std::string_view text);

class WorkflowParser {
 public:
  Result<Workflow> parse(std::string_view yaml_text);

 private:
  bool fail(int line, const std::string& path, const std::string& message) {
    if (!error_) {
      std::string where = line > 0 ? "line " + std::to_string(line) + ": " : "";
      error_ = make_error(ErrorCode::kInvalidSpec, where + path + ": " + message);
    }
    return false;
  }

  // Calls fn(key, value, key_line) for each entry of a mapping, refusing non-string and
  // duplicate keys and, when `allowed` is not empty, keys outside it.
  template <typename Fn>
  bool for_each_entry(const Node& map, const std::string& path, int line,
                      const std::vector<std::string_view>& allowed, Fn&& fn) {
    if (!map.IsMap()) return fail(line, path, "must be a mapping of keys to values");
    std::set<std::string> seen;
    for (const auto& item : map) {
      int key_line = yaml_line(item.first);
      if (!item.first.IsScalar()) return fail(key_line, path, "every key must be a plain name");
      const std::string key = item.first.Scalar();
      const std::string key_path = path.empty() ? key : path + "." + key;
      if (!seen.insert(key).second) {
        return fail(key_line, key_path, "the key appears twice; keep one of them");
      }
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return fail(key_line, key_path,
                    "unknown key; supported here: " + join_names(allowed) +
                        " (see docs/workflows.md, \"The YAML subset\")");
      }
      if (!fn(key, item.second, key_line)) return false;
    }
    return true;
  }

  // Scalars, lists and env mappings (parse.cpp).
  bool parse_string(const Node& node, const std::string& path, int line, std::string& out);
  bool parse_nonempty_string(const Node& node, const std::string& path, int line, std::string& out);
  bool parse_bool(const Node& node, const std::string& path, int line, bool& out);
  bool parse_bool_setting(const Node& node, const std::string& path, int line, BoolSetting& out);
  bool parse_positive_int(const Node& node, const std::string& path, int line,
                          std::optional<int>& out);
  // timeout-minutes: a number above 0, fractions allowed.
  bool parse_minutes(const Node& node, const std::string& path, int line,
                     std::optional<double>& out);
  // A string or a list of strings.
  bool parse_string_list(const Node& node, const std::string& path, int line,
                         std::vector<std::string>& out);
  bool parse_env(const Node& node, const std::string& path, int line, EnvList& out);

  // The workflow level (parse.cpp).
  bool parse_root(const Node& root, Workflow& wf);
  bool parse_on(const Node& node, int line, Triggers& on);
  bool parse_push(const Node& node, const std::string& path, int line, Triggers& on);
  bool parse_pull_request(const Node& node, const std::string& path, int line, Triggers& on);
  bool parse_dispatch(const Node& node, const std::string& path, int line, Triggers& on);
  bool parse_schedule(const Node& node, const std::string& path, int line, Triggers& on);
  bool check_needs(const Workflow& wf);

  // A job (parse_jobs.cpp).
  bool parse_jobs(const Node& node, int line, std::vector<Job>& jobs);
  bool parse_job(const Node& node, const std::string& path, int line, Job& job);
  bool parse_container(const Node& node, const std::string& path, int line, std::string& image);
  bool parse_outputs(const Node& node, const std::string& path, int line, EnvList& outputs);
  bool parse_strategy(const Node& node, const std::string& path, int line, Strategy& strategy);
  // A matrix value as JSON; `${{ }}` anywhere inside is refused.
  bool matrix_value(const Node& node, const std::string& path, int line, nlohmann::json& out);
  bool matrix_entries(const Node& node, const std::string& path, int line,
                      std::vector<MatrixEntry>& out);
  bool parse_matrix(const Node& node, const std::string& path, int line, MatrixSpec& matrix);
  bool parse_steps(const Node& node, const std::string& path, int line, std::vector<Step>& steps);
  bool parse_step(const Node& node, const std::string& path, Step& step);
  bool parse_shell(const Node& node, const std::string& path, int line, std::string& shell);
  bool parse_uses(const std::string& uses, const std::string& path, int line, const Node* with,
                  const std::string& with_path, int with_line, Step& step);

  std::optional<Error> error_;
  std::map<std::string, int> needs_lines_;  // job id -> line of its `needs:`
};

}  // namespace corral::workflow::parse_detail
