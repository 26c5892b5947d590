// parse_workflow(): yaml-cpp nodes -> the model of workflow.h, refusing anything outside the
// subset with "line N: <key path>: <what is wrong and what to do>".
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

#include "common/cron.h"
#include "workflow/needs.h"
#include "workflow/workflow.h"
#include "workflow/yaml_value.h"

namespace corral::workflow {
namespace {

using YAML::Node;

constexpr size_t kWfMaxWorkflowBytes = 1024 * 1024;

bool wf_valid_id(std::string_view id) {
  if (id.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(id[0])) || id[0] == '_')) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string wf_join(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool wf_has_expression(std::string_view text) {
  return text.find("${{") != std::string::npos;
}

// The first error wins: each parse_* method returns false once it has recorded one.
class WorkflowParser {
 public:
  Result<Workflow> parse(std::string_view yaml_text) {
    if (yaml_text.size() > kWfMaxWorkflowBytes) {
      return make_error(ErrorCode::kInvalidSpec,
                        "the workflow is larger than 1 MiB; split it into several files");
    }
    Node root;
    try {
      root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
      return make_error(ErrorCode::kInvalidSpec,
                        "line " + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    Workflow wf;
    try {
      if (!parse_root(root, wf)) return *error_;
    } catch (const YAML::Exception& e) {  // a node used as the wrong kind: a bug here
      return make_error(ErrorCode::kInvalidSpec, "line " + std::to_string(e.mark.line + 1) +
                                                     ": cannot read the workflow: " + e.msg);
    }
    return wf;
  }

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
                    "unknown key; supported here: " + wf_join(allowed) +
                        " (see docs/workflows.md, \"The YAML subset\")");
      }
      if (!fn(key, item.second, key_line)) return false;
    }
    return true;
  }

  bool parse_string(const Node& node, const std::string& path, int line, std::string& out) {
    if (!node.IsScalar()) return fail(line, path, "must be a string");
    out = node.Scalar();
    return true;
  }

  bool parse_nonempty_string(const Node& node, const std::string& path, int line,
                             std::string& out) {
    if (!parse_string(node, path, line, out)) return false;
    if (out.empty()) return fail(line, path, "must not be empty");
    return true;
  }

  bool parse_bool(const Node& node, const std::string& path, int line, bool& out) {
    auto value = node.IsScalar() ? yaml_to_json(node) : std::nullopt;
    if (!value || !value->is_boolean()) return fail(line, path, "must be true or false");
    out = value->get<bool>();
    return true;
  }

  bool parse_bool_setting(const Node& node, const std::string& path, int line, BoolSetting& out) {
    if (node.IsScalar() && wf_has_expression(node.Scalar())) {
      out.expression = node.Scalar();
      return true;
    }
    if (!node.IsScalar()) return fail(line, path, "must be true, false or a ${{ }} expression");
    return parse_bool(node, path, line, out.value);
  }

  bool parse_positive_int(const Node& node, const std::string& path, int line,
                          std::optional<int>& out) {
    auto value = node.IsScalar() ? yaml_to_json(node) : std::nullopt;
    if (!value || !value->is_number_integer() || value->get<long long>() <= 0 ||
        value->get<long long>() > 100000) {
      return fail(line, path, "must be a whole number above 0");
    }
    out = value->get<int>();
    return true;
  }

  // A string or a list of strings.
  bool parse_string_list(const Node& node, const std::string& path, int line,
                         std::vector<std::string>& out) {
    if (node.IsScalar()) {
      out.push_back(node.Scalar());
      return !out.back().empty() || fail(line, path, "must not be empty");
    }
    if (!node.IsSequence()) return fail(line, path, "must be a string or a list of strings");
    int index = 0;
    for (const auto& item : node) {
      std::string item_path = path + "[" + std::to_string(index++) + "]";
      std::string value;
      if (!parse_nonempty_string(item, item_path, yaml_line(item), value)) return false;
      out.push_back(std::move(value));
    }
    return true;
  }

  bool parse_env(const Node& node, const std::string& path, int line, EnvList& out) {
    return for_each_entry(
        node, path, line, {}, [&](const std::string& key, const Node& value, int key_line) {
          std::string item_path = path + "." + key;
          if (key.empty() || key.find('=') != std::string::npos) {
            return fail(key_line, item_path, "is not a valid environment variable name");
          }
          if (value.IsNull()) {
            out.emplace_back(key, "");
            return true;
          }
          if (!value.IsScalar()) return fail(key_line, item_path, "must be a string or a number");
          out.emplace_back(key, value.Scalar());
          return true;
        });
  }

  // --- workflow level ------------------------------------------------------------------------

  bool parse_root(const Node& root, Workflow& wf) {
    if (!root.IsMap()) {
      return fail(yaml_line(root), "(top level)",
                  "a workflow is a mapping with at least `on` and `jobs`");
    }
    bool have_on = false;
    bool have_jobs = false;
    bool ok = for_each_entry(root, "", 1, {"name", "on", "env", "jobs"},
                             [&](const std::string& key, const Node& value, int line) {
                               if (key == "name") return parse_string(value, key, line, wf.name);
                               if (key == "env") return parse_env(value, key, line, wf.env);
                               if (key == "on") {
                                 have_on = true;
                                 return parse_on(value, line, wf.on);
                               }
                               have_jobs = true;
                               return parse_jobs(value, line, wf.jobs);
                             });
    if (!ok) return false;
    if (!have_on) return fail(1, "on", "missing: say which events start the workflow");
    if (!have_jobs) return fail(1, "jobs", "missing: a workflow needs at least one job");
    return check_needs(wf);
  }

  bool parse_on(const Node& node, int line, Triggers& on) {
    static const std::vector<std::string_view> kEvents = {"push", "pull_request",
                                                          "workflow_dispatch", "schedule"};
    auto add_event = [&](const std::string& event, const std::string& path, int at) {
      if (event == "push") {
        on.push.emplace();
      } else if (event == "pull_request") {
        on.pull_request.emplace();
      } else if (event == "workflow_dispatch") {
        on.workflow_dispatch.emplace();
      } else if (event == "schedule") {
        return fail(at, path, "schedule needs its cron lines: schedule: [{cron: '0 2 * * *'}]");
      } else {
        return fail(at, path,
                    "event '" + event + "' is not supported; supported: " + wf_join(kEvents));
      }
      return true;
    };
    if (node.IsScalar()) return add_event(node.Scalar(), "on", line);
    if (node.IsSequence()) {
      int index = 0;
      for (const auto& item : node) {
        std::string path = "on[" + std::to_string(index++) + "]";
        std::string event;
        if (!parse_nonempty_string(item, path, yaml_line(item), event)) return false;
        if (!add_event(event, path, yaml_line(item))) return false;
      }
      return true;
    }
    if (!node.IsMap()) return fail(line, "on", "must be an event, a list or a mapping of events");
    return for_each_entry(node, "on", line, kEvents,
                          [&](const std::string& key, const Node& value, int key_line) {
                            std::string path = "on." + key;
                            if (key == "push") return parse_push(value, path, key_line, on);
                            if (key == "pull_request") {
                              return parse_pull_request(value, path, key_line, on);
                            }
                            if (key == "workflow_dispatch") {
                              return parse_dispatch(value, path, key_line, on);
                            }
                            return parse_schedule(value, path, key_line, on);
                          });
  }

  bool parse_push(const Node& node, const std::string& path, int line, Triggers& on) {
    PushTrigger& push = on.push.emplace();
    if (node.IsNull()) return true;
    return for_each_entry(
        node, path, line, {"branches", "tags", "paths"},
        [&](const std::string& key, const Node& value, int key_line) {
          auto& list = key == "branches" ? push.branches : key == "tags" ? push.tags : push.paths;
          return parse_string_list(value, path + "." + key, key_line, list);
        });
  }

  bool parse_pull_request(const Node& node, const std::string& path, int line, Triggers& on) {
    static const std::set<std::string> kTypes = {"assigned",
                                                 "unassigned",
                                                 "labeled",
                                                 "unlabeled",
                                                 "opened",
                                                 "edited",
                                                 "closed",
                                                 "reopened",
                                                 "synchronize",
                                                 "converted_to_draft",
                                                 "ready_for_review",
                                                 "locked",
                                                 "unlocked",
                                                 "review_requested",
                                                 "review_request_removed",
                                                 "auto_merge_enabled",
                                                 "auto_merge_disabled",
                                                 "milestoned",
                                                 "demilestoned",
                                                 "enqueued",
                                                 "dequeued"};
    PullRequestTrigger& pr = on.pull_request.emplace();
    if (node.IsNull()) return true;
    return for_each_entry(
        node, path, line, {"branches", "types"},
        [&](const std::string& key, const Node& value, int key_line) {
          if (key == "branches")
            return parse_string_list(value, path + ".branches", key_line, pr.branches);
          if (!parse_string_list(value, path + ".types", key_line, pr.types)) return false;
          for (const auto& type : pr.types) {
            if (!kTypes.count(type)) {
              return fail(key_line, path + ".types",
                          "'" + type +
                              "' is not a pull_request activity type (e.g. opened, "
                              "synchronize, reopened, closed)");
            }
          }
          return true;
        });
  }

  bool parse_dispatch(const Node& node, const std::string& path, int line, Triggers& on) {
    auto& inputs = on.workflow_dispatch.emplace();
    if (node.IsNull()) return true;
    return for_each_entry(
        node, path, line, {"inputs"}, [&](const std::string&, const Node& value, int key_line) {
          if (value.IsNull()) return true;
          return for_each_entry(
              value, path + ".inputs", key_line, {},
              [&](const std::string& name, const Node& spec, int name_line) {
                std::string input_path = path + ".inputs." + name;
                DispatchInput& input = inputs.emplace_back();
                input.name = name;
                if (!wf_valid_id(name)) {
                  return fail(
                      name_line, input_path,
                      "an input name starts with a letter or _ and has only letters, digits, "
                      "- and _");
                }
                if (spec.IsNull()) return true;
                bool ok = for_each_entry(
                    spec, input_path, name_line,
                    {"description", "required", "default", "type", "options"},
                    [&](const std::string& key, const Node& v, int at) {
                      std::string p = input_path + "." + key;
                      if (key == "description") return parse_string(v, p, at, input.description);
                      if (key == "required") return parse_bool(v, p, at, input.required);
                      if (key == "options") return parse_string_list(v, p, at, input.options);
                      if (key == "type") {
                        if (!parse_string(v, p, at, input.type)) return false;
                        static const std::set<std::string> kInputTypes = {"string", "boolean",
                                                                          "number", "choice"};
                        return kInputTypes.count(input.type) > 0 ||
                               fail(at, p, "must be string, boolean, number or choice");
                      }
                      auto value = v.IsScalar() ? yaml_to_json(v) : std::nullopt;
                      if (!value) return fail(at, p, "must be a single value");
                      input.default_value = std::move(*value);
                      return true;
                    });
                if (!ok) return false;
                if (input.type == "choice" && input.options.empty()) {
                  return fail(name_line, input_path, "a choice input needs `options`");
                }
                return true;
              });
        });
  }

  bool parse_schedule(const Node& node, const std::string& path, int line, Triggers& on) {
    if (!node.IsSequence()) {
      return fail(line, path, "must be a list of {cron: '...'} entries");
    }
    int index = 0;
    for (const auto& item : node) {
      std::string item_path = path + "[" + std::to_string(index++) + "]";
      bool ok = for_each_entry(item, item_path, yaml_line(item), {"cron"},
                               [&](const std::string&, const Node& value, int at) {
                                 std::string cron;
                                 if (!parse_nonempty_string(value, item_path + ".cron", at, cron))
                                   return false;
                                 auto parsed = CronExpr::parse(cron);
                                 if (!parsed.ok()) {
                                   return fail(at, item_path + ".cron", parsed.error().message);
                                 }
                                 on.schedules.push_back(cron);
                                 return true;
                               });
      if (!ok) return false;
    }
    if (index == 0) return fail(line, path, "needs at least one cron entry");
    return true;
  }

  // --- jobs ---------------------------------------------------------------------------------

  bool parse_jobs(const Node& node, int line, std::vector<Job>& jobs) {
    if (node.IsMap() && node.size() == 0) return fail(line, "jobs", "needs at least one job");
    return for_each_entry(node, "jobs", line, {},
                          [&](const std::string& id, const Node& value, int key_line) {
                            Job& job = jobs.emplace_back();
                            job.id = id;
                            job.line = key_line;
                            return parse_job(value, "jobs." + id, key_line, job);
                          });
  }

  bool parse_job(const Node& node, const std::string& path, int line, Job& job) {
    if (!wf_valid_id(job.id)) {
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
        {"name", "runs-on", "needs", "if", "env", "timeout-minutes", "continue-on-error",
         "strategy", "container", "outputs", "steps"},
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
          if (key == "timeout-minutes")
            return parse_positive_int(value, p, at, job.timeout_minutes);
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
    if (job.runs_on.empty())
      return fail(runs_on_line, path + ".runs-on", "needs at least one label");
    if (!have_steps) return fail(line, path + ".steps", "missing: a job needs at least one step");
    return true;
  }

  bool parse_container(const Node& node, const std::string& path, int line, std::string& image) {
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

  bool parse_outputs(const Node& node, const std::string& path, int line, EnvList& outputs) {
    return for_each_entry(node, path, line, {},
                          [&](const std::string& key, const Node& value, int at) {
                            std::string text;
                            if (!wf_valid_id(key)) {
                              return fail(at, path + "." + key,
                                          "an output name starts with a letter or _ and has only "
                                          "letters, digits, - and _");
                            }
                            if (!parse_string(value, path + "." + key, at, text)) return false;
                            outputs.emplace_back(key, std::move(text));
                            return true;
                          });
  }

  // --- strategy and matrix ------------------------------------------------------------------

  bool parse_strategy(const Node& node, const std::string& path, int line, Strategy& strategy) {
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
  bool matrix_value(const Node& node, const std::string& path, int line, nlohmann::json& out) {
    if (node.IsScalar() && wf_has_expression(node.Scalar())) {
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

  bool matrix_entries(const Node& node, const std::string& path, int line,
                      std::vector<MatrixEntry>& out) {
    if (!node.IsSequence()) {
      if (node.IsScalar() && wf_has_expression(node.Scalar())) {
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
                                 if (!matrix_value(value, item_path + "." + key, at, v))
                                   return false;
                                 entry.emplace_back(key, std::move(v));
                                 return true;
                               });
      if (!ok) return false;
    }
    return true;
  }

  bool parse_matrix(const Node& node, const std::string& path, int line, MatrixSpec& matrix) {
    if (node.IsScalar() && wf_has_expression(node.Scalar())) {
      return fail(line, path,
                  "expressions in a matrix (e.g. fromJSON) are not supported; list the values "
                  "themselves");
    }
    bool ok = for_each_entry(
        node, path, line, {}, [&](const std::string& key, const Node& value, int at) {
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

  // --- steps --------------------------------------------------------------------------------

  bool parse_steps(const Node& node, const std::string& path, int line, std::vector<Step>& steps) {
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

  bool parse_step(const Node& node, const std::string& path, Step& step) {
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
            return wf_valid_id(step.id) ||
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
          return parse_positive_int(value, p, at, step.timeout_minutes);
        });
    if (!ok) return false;
    if (have_run && !uses.empty()) {
      return fail(step.line, path, "a step has either `run:` or `uses:`, not both");
    }
    if (!have_run && uses.empty()) {
      return fail(step.line, path,
                  "a step needs `run:` (a command) or `uses: actions/checkout@v4`");
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

  bool parse_shell(const Node& node, const std::string& path, int line, std::string& shell) {
    if (!parse_nonempty_string(node, path, line, shell)) return false;
    if (shell == "bash" || shell == "sh" || shell == "python") return true;
    if (shell.find("{0}") != std::string::npos) return true;  // a custom command line
    return fail(line, path,
                "'" + shell +
                    "' is not supported: use bash, sh, python, or a command with {0} for the "
                    "script's path (e.g. 'perl {0}')");
  }

  bool parse_uses(const std::string& uses, const std::string& path, int line, const Node* with,
                  const std::string& with_path, int with_line, Step& step) {
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

  // --- needs --------------------------------------------------------------------------------

  bool check_needs(const Workflow& wf) {
    for (const auto& job : wf.jobs) {
      int line = needs_lines_.count(job.id) ? needs_lines_[job.id] : job.line;
      std::set<std::string> seen;
      for (const auto& need : job.needs) {
        if (!seen.insert(need).second) {
          return fail(line, "jobs." + job.id + ".needs", "'" + need + "' is listed twice");
        }
        if (need == job.id) {
          return fail(line, "jobs." + job.id + ".needs", "a job cannot need itself");
        }
        if (!wf.find_job(need)) {
          return fail(line, "jobs." + job.id + ".needs",
                      "'" + need + "' is not a job of this workflow");
        }
      }
    }
    auto order = job_needs_order(wf.jobs);
    if (!order.ok()) {
      // job_needs_order names the cycle; point at the first job on it.
      const std::string& message = order.error().message;
      int line = 0;
      std::string first;
      for (const auto& job : wf.jobs) {
        if (message.find("'" + job.id + "'") != std::string::npos) {
          line = needs_lines_.count(job.id) ? needs_lines_[job.id] : job.line;
          first = job.id;
          break;
        }
      }
      return fail(line, "jobs." + first + ".needs", message);
    }
    return true;
  }

  std::optional<Error> error_;
  std::map<std::string, int> needs_lines_;  // job id -> line of its `needs:`
};

}  // namespace

Result<Workflow> parse_workflow(std::string_view yaml_text) {
  return WorkflowParser().parse(yaml_text);
}

const Job* Workflow::find_job(std::string_view id) const {
  for (const auto& job : jobs) {
    if (job.id == id) return &job;
  }
  return nullptr;
}

std::string Step::display_name() const {
  if (!name.empty()) return name;
  if (checkout) return "Run actions/checkout@" + checkout->version;
  std::string_view first = run;
  while (!first.empty() && (first.front() == '\n' || first.front() == ' ')) first.remove_prefix(1);
  first = first.substr(0, first.find('\n'));
  return "Run " + std::string(first);
}

}  // namespace corral::workflow
