// The jobs of a workflow file: runs-on, needs, strategy and matrix, container, outputs and
// steps (with the built-in actions/checkout). See workflow_parser.h.
#include "workflow/workflow_parser.h"

namespace corral::workflow::parse_detail {

bool WorkflowParser::parse_jobs(const Node& node, int line, std::vector<Job>& jobs) {
  if (node.IsMap() && node.size() == 0) return fail(line, "jobs", "needs at least one job");
  return for_each_entry(node, "jobs", line, {},
                        [&](const std::string& id, const Node& value, int key_line) {
                          Job& job = jobs.emplace_back();
                          job.id = id;
                          job.line = key_line;
                          return parse_job(value, "jobs." + id, key_line, job);
                        });
}

bool WorkflowParser::parse_job(const Node& node, const std::string& path, int line, Job& job) {
  if (!valid_id(job.id)) {
    return fail(line, path,
                "a job id starts with a letter or _ and has only letters, digits, - and _");
  }
  if (node.IsMap() && node["uses"]) {
    return fail(yaml_line(node["uses"]), path + ".uses",
                "reusable workflows are not supported; copy the called workflow's jobs here");
  }
  int runs_on_line = 0;  // 0: no runs-on
  bool have_steps = false;
  bool ok = for_each_entry(
      node, path, line,
      {"name", "runs-on", "needs", "if", "env", "timeout-minutes", "continue-on-error", "strategy",
       "container", "outputs", "steps"},
      [&](const std::string& key, const Node& value, int at) {
        std::string p = path + "." + key;
        if (key == "name") return parse_string(value, p, at, job.name);
        if (key == "runs-on") {
          runs_on_line = at;
          if (value.IsMap()) {
            return fail(at, p, "runs-on groups are not supported; list the runner labels");
          }
          return parse_string_list(value, p, at, job.runs_on);
        }
        if (key == "needs") {
          if (!parse_string_list(value, p, at, job.needs)) return false;
          needs_lines_[job.id] = at;
          return true;
        }
        if (key == "if") return parse_string(value, p, at, job.if_condition);
        if (key == "env") return parse_env(value, p, at, job.env);
        if (key == "timeout-minutes") return parse_minutes(value, p, at, job.timeout_minutes);
        if (key == "continue-on-error")
          return parse_bool_setting(value, p, at, job.continue_on_error);
        if (key == "strategy") return parse_strategy(value, p, at, job.strategy.emplace());
        if (key == "container") return parse_container(value, p, at, job.container_image);
        if (key == "outputs") return parse_outputs(value, p, at, job.outputs);
        have_steps = true;
        return parse_steps(value, p, at, job.steps);
      });
  if (!ok) return false;
  if (runs_on_line == 0) {
    return fail(line, path + ".runs-on",
                "missing: give the runner labels, e.g. [self-hosted, linux]");
  }
  if (job.runs_on.empty()) return fail(runs_on_line, path + ".runs-on", "needs at least one label");
  if (!have_steps) return fail(line, path + ".steps", "missing: a job needs at least one step");
  return true;
}

bool WorkflowParser::parse_container(const Node& node, const std::string& path, int line,
                                     std::string& image) {
  if (node.IsScalar()) return parse_nonempty_string(node, path, line, image);
  bool have_image = false;
  bool ok = for_each_entry(node, path, line, {"image"},
                           [&](const std::string&, const Node& value, int at) {
                             have_image = true;
                             return parse_nonempty_string(value, path + ".image", at, image);
                           });
  if (!ok) return false;
  return have_image || fail(line, path + ".image", "missing: name the container image");
}

bool WorkflowParser::parse_outputs(const Node& node, const std::string& path, int line,
                                   EnvList& outputs) {
  return for_each_entry(node, path, line, {},
                        [&](const std::string& key, const Node& value, int at) {
                          std::string text;
                          if (!valid_id(key)) {
                            return fail(at, path + "." + key,
                                        "an output name starts with a letter or _ and has only "
                                        "letters, digits, - and _");
                          }
                          if (!parse_string(value, path + "." + key, at, text)) return false;
                          outputs.emplace_back(key, std::move(text));
                          return true;
                        });
}

bool WorkflowParser::parse_strategy(const Node& node, const std::string& path, int line,
                                    Strategy& strategy) {
  bool have_matrix = false;
  bool ok = for_each_entry(node, path, line, {"matrix", "fail-fast", "max-parallel"},
                           [&](const std::string& key, const Node& value, int at) {
                             std::string p = path + "." + key;
                             if (key == "fail-fast")
                               return parse_bool(value, p, at, strategy.fail_fast);
                             if (key == "max-parallel") {
                               return parse_positive_int(value, p, at, strategy.max_parallel);
                             }
                             have_matrix = true;
                             return parse_matrix(value, p, at, strategy.matrix);
                           });
  if (!ok) return false;
  return have_matrix || fail(line, path + ".matrix", "missing: a strategy needs a matrix");
}

// A matrix value as JSON; `${{ }}` anywhere inside is refused.
bool WorkflowParser::matrix_value(const Node& node, const std::string& path, int line,
                                  nlohmann::json& out) {
  if (node.IsScalar() && has_expression(node.Scalar())) {
    return fail(line, path,
                "expressions in a matrix are not supported; list the values themselves");
  }
  if (node.IsSequence()) {
    out = nlohmann::json::array();
    int index = 0;
    for (const auto& item : node) {
      nlohmann::json v;
      if (!matrix_value(item, path + "[" + std::to_string(index++) + "]", yaml_line(item), v))
        return false;
      out.push_back(std::move(v));
    }
    return true;
  }
  if (node.IsMap()) {
    out = nlohmann::json::object();
    return for_each_entry(node, path, line, {},
                          [&](const std::string& key, const Node& value, int at) {
                            return matrix_value(value, path + "." + key, at, out[key]);
                          });
  }
  auto v = yaml_to_json(node);
  if (!v) return fail(line, path, "must be a string, number, boolean, list or mapping");
  out = std::move(*v);
  return true;
}

bool WorkflowParser::matrix_entries(const Node& node, const std::string& path, int line,
                                    std::vector<MatrixEntry>& out) {
  if (!node.IsSequence()) {
    if (node.IsScalar() && has_expression(node.Scalar())) {
      return fail(line, path,
                  "expressions in a matrix are not supported; list the values themselves");
    }
    return fail(line, path, "must be a list of mappings, e.g. - {os: linux, node: 18}");
  }
  int index = 0;
  for (const auto& item : node) {
    std::string item_path = path + "[" + std::to_string(index++) + "]";
    MatrixEntry& entry = out.emplace_back();
    bool ok = for_each_entry(item, item_path, yaml_line(item), {},
                             [&](const std::string& key, const Node& value, int at) {
                               nlohmann::json v;
                               if (!matrix_value(value, item_path + "." + key, at, v)) return false;
                               entry.emplace_back(key, std::move(v));
                               return true;
                             });
    if (!ok) return false;
  }
  return true;
}

bool WorkflowParser::parse_matrix(const Node& node, const std::string& path, int line,
                                  MatrixSpec& matrix) {
  if (node.IsScalar() && has_expression(node.Scalar())) {
    return fail(line, path,
                "expressions in a matrix (e.g. fromJSON) are not supported; list the values "
                "themselves");
  }
  bool ok =
      for_each_entry(node, path, line, {}, [&](const std::string& key, const Node& value, int at) {
        std::string p = path + "." + key;
        if (key == "include") return matrix_entries(value, p, at, matrix.include);
        if (key == "exclude") return matrix_entries(value, p, at, matrix.exclude);
        nlohmann::json values;
        if (!matrix_value(value, p, at, values)) return false;
        if (!values.is_array()) return fail(at, p, "a matrix axis must be a list of values");
        if (values.empty()) return fail(at, p, "a matrix axis needs at least one value");
        matrix.axes.emplace_back(key, std::vector<nlohmann::json>(values.begin(), values.end()));
        return true;
      });
  if (!ok) return false;
  if (matrix.axes.empty() && matrix.include.empty()) {
    return fail(line, path, "a matrix needs at least one axis or an include list");
  }
  return true;
}

bool WorkflowParser::parse_steps(const Node& node, const std::string& path, int line,
                                 std::vector<Step>& steps) {
  if (!node.IsSequence() || node.size() == 0) {
    return fail(line, path, "must be a list of steps, each with `run:` or `uses:`");
  }
  std::map<std::string, int> ids;
  int index = 0;
  for (const auto& item : node) {
    std::string step_path = path + "[" + std::to_string(index++) + "]";
    Step& step = steps.emplace_back();
    step.line = yaml_line(item);
    if (!parse_step(item, step_path, step)) return false;
    if (!step.id.empty()) {
      auto [it, inserted] = ids.emplace(step.id, step.line);
      if (!inserted) {
        return fail(step.line, step_path + ".id",
                    "'" + step.id + "' is already the id of the step on line " +
                        std::to_string(it->second) + "; step ids must be unique in a job");
      }
    }
  }
  return true;
}

bool WorkflowParser::parse_step(const Node& node, const std::string& path, Step& step) {
  bool have_run = false;
  std::string uses;
  int uses_line = 0;
  Node with;  // a copy: the iteration's nodes are temporaries
  bool have_with = false;
  int with_line = 0;
  bool ok = for_each_entry(
      node, path, step.line,
      {"name", "id", "run", "uses", "with", "shell", "working-directory", "env", "if",
       "continue-on-error", "timeout-minutes"},
      [&](const std::string& key, const Node& value, int at) {
        std::string p = path + "." + key;
        if (key == "name") return parse_string(value, p, at, step.name);
        if (key == "id") {
          if (!parse_nonempty_string(value, p, at, step.id)) return false;
          return valid_id(step.id) ||
                 fail(at, p,
                      "a step id starts with a letter or _ and has only letters, digits, - "
                      "and _");
        }
        if (key == "run") {
          have_run = true;
          return parse_nonempty_string(value, p, at, step.run);
        }
        if (key == "uses") {
          uses_line = at;
          return parse_nonempty_string(value, p, at, uses);
        }
        if (key == "with") {
          with = value;
          have_with = true;
          with_line = at;
          return true;
        }
        if (key == "shell") return parse_shell(value, p, at, step.shell);
        if (key == "working-directory") {
          return parse_nonempty_string(value, p, at, step.working_directory);
        }
        if (key == "env") return parse_env(value, p, at, step.env);
        if (key == "if") return parse_string(value, p, at, step.if_condition);
        if (key == "continue-on-error") {
          return parse_bool_setting(value, p, at, step.continue_on_error);
        }
        return parse_minutes(value, p, at, step.timeout_minutes);
      });
  if (!ok) return false;
  if (have_run && !uses.empty()) {
    return fail(step.line, path, "a step has either `run:` or `uses:`, not both");
  }
  if (!have_run && uses.empty()) {
    return fail(step.line, path, "a step needs `run:` (a command) or `uses: actions/checkout@v4`");
  }
  if (have_run) {
    if (have_with) return fail(with_line, path + ".with", "`with:` belongs to a `uses:` step");
    return true;
  }
  if (!step.shell.empty() || !step.working_directory.empty()) {
    return fail(step.line, path,
                "`shell` and `working-directory` belong to `run:` steps, not to `uses:`");
  }
  return parse_uses(uses, path + ".uses", uses_line, have_with ? &with : nullptr, path + ".with",
                    with_line, step);
}

bool WorkflowParser::parse_shell(const Node& node, const std::string& path, int line,
                                 std::string& shell) {
  if (!parse_nonempty_string(node, path, line, shell)) return false;
  if (shell == "bash" || shell == "sh" || shell == "python") return true;
  if (shell.find("{0}") != std::string::npos) return true;  // a custom command line
  return fail(line, path,
              "'" + shell +
                  "' is not supported: use bash, sh, python, or a command with {0} for the "
                  "script's path (e.g. 'perl {0}')");
}

bool WorkflowParser::parse_uses(const std::string& uses, const std::string& path, int line,
                                const Node* with, const std::string& with_path, int with_line,
                                Step& step) {
  constexpr std::string_view kCheckout = "actions/checkout@";
  if (uses.rfind(kCheckout, 0) != 0 || uses.size() == kCheckout.size()) {
    if (uses == "actions/checkout") {
      return fail(line, path, "\"actions/checkout\" needs a version, e.g. actions/checkout@v4");
    }
    return fail(line, path,
                "\"" + uses +
                    "\" is not supported: only actions/checkout is built in; install the tool "
                    "in a run step instead");
  }
  Checkout& checkout = step.checkout.emplace();
  checkout.version = uses.substr(kCheckout.size());
  if (!with || with->IsNull()) return true;
  return for_each_entry(
      *with, with_path, with_line, {"fetch-depth", "ref", "path"},
      [&](const std::string& key, const Node& value, int at) {
        std::string p = with_path + "." + key;
        if (key == "ref") return parse_nonempty_string(value, p, at, checkout.ref);
        if (key == "fetch-depth") {
          auto v = value.IsScalar() ? yaml_to_json(value) : std::nullopt;
          if (!v || !v->is_number_integer() || v->get<long long>() < 0 ||
              v->get<long long>() > 1000000000) {
            return fail(at, p, "must be a whole number, 0 for the full history");
          }
          checkout.fetch_depth = v->get<int>();
          return true;
        }
        if (!parse_nonempty_string(value, p, at, checkout.path)) return false;
        const std::string& dir = checkout.path;
        bool escapes = dir.front() == '/' || dir == ".." || dir.rfind("../", 0) == 0 ||
                       dir.find("/../") != std::string::npos ||
                       (dir.size() >= 3 && dir.compare(dir.size() - 3, 3, "/..") == 0);
        return !escapes || fail(at, p, "must be a relative path inside the workspace");
      });
}

}  // namespace corral::workflow::parse_detail
