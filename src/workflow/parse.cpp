// parse_workflow(): yaml-cpp nodes -> the model of workflow.h, refusing anything outside the
// subset with "line N: <key path>: <what is wrong and what to do>". This file reads the
// workflow level; parse_jobs.cpp reads the jobs.
#include <cctype>

#include "common/cron.h"
#include "workflow/needs.h"
#include "workflow/workflow_parser.h"

namespace corral::workflow {
namespace parse_detail {

namespace {
constexpr size_t kWfMaxWorkflowBytes = 1024 * 1024;
}  // namespace

bool valid_id(std::string_view id) {
  if (id.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(id[0])) || id[0] == '_')) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string join_names(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool has_expression(std::string_view text) {
  return text.find("${{") != std::string::npos;
}

Result<Workflow> WorkflowParser::parse(std::string_view yaml_text) {
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

bool WorkflowParser::parse_string(const Node& node, const std::string& path, int line,
                                  std::string& out) {
  if (!node.IsScalar()) return fail(line, path, "must be a string");
  out = node.Scalar();
  return true;
}

bool WorkflowParser::parse_nonempty_string(const Node& node, const std::string& path, int line,
                                           std::string& out) {
  if (!parse_string(node, path, line, out)) return false;
  if (out.empty()) return fail(line, path, "must not be empty");
  return true;
}

bool WorkflowParser::parse_bool(const Node& node, const std::string& path, int line, bool& out) {
  auto value = node.IsScalar() ? yaml_to_json(node) : std::nullopt;
  if (!value || !value->is_boolean()) return fail(line, path, "must be true or false");
  out = value->get<bool>();
  return true;
}

bool WorkflowParser::parse_bool_setting(const Node& node, const std::string& path, int line,
                                        BoolSetting& out) {
  if (node.IsScalar() && has_expression(node.Scalar())) {
    out.expression = node.Scalar();
    return true;
  }
  if (!node.IsScalar()) return fail(line, path, "must be true, false or a ${{ }} expression");
  return parse_bool(node, path, line, out.value);
}

bool WorkflowParser::parse_positive_int(const Node& node, const std::string& path, int line,
                                        std::optional<int>& out) {
  auto value = node.IsScalar() ? yaml_to_json(node) : std::nullopt;
  if (!value || !value->is_number_integer() || value->get<long long>() <= 0 ||
      value->get<long long>() > 100000) {
    return fail(line, path, "must be a whole number above 0");
  }
  out = value->get<int>();
  return true;
}

bool WorkflowParser::parse_minutes(const Node& node, const std::string& path, int line,
                                   std::optional<double>& out) {
  // At most a year: beyond that a number is a mistake, and its milliseconds would overflow.
  constexpr double kMaxMinutes = 366.0 * 24 * 60;
  auto value = node.IsScalar() ? yaml_to_json(node) : std::nullopt;
  if (!value || !value->is_number() || !(value->get<double>() > 0) ||
      value->get<double>() > kMaxMinutes) {
    return fail(line, path, "must be a number of minutes above 0 (fractions allowed: 0.5 = 30 s)");
  }
  out = value->get<double>();
  return true;
}

// A string or a list of strings.
bool WorkflowParser::parse_string_list(const Node& node, const std::string& path, int line,
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

bool WorkflowParser::parse_env(const Node& node, const std::string& path, int line, EnvList& out) {
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

bool WorkflowParser::parse_root(const Node& root, Workflow& wf) {
  if (!root.IsMap()) {
    return fail(std::max(yaml_line(root), 1), "(top level)",
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

bool WorkflowParser::parse_on(const Node& node, int line, Triggers& on) {
  static const std::vector<std::string_view> kEvents = {"push", "pull_request", "workflow_dispatch",
                                                        "schedule"};
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
                  "event '" + event + "' is not supported; supported: " + join_names(kEvents));
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

bool WorkflowParser::parse_push(const Node& node, const std::string& path, int line, Triggers& on) {
  PushTrigger& push = on.push.emplace();
  if (node.IsNull()) return true;
  return for_each_entry(
      node, path, line, {"branches", "tags", "paths"},
      [&](const std::string& key, const Node& value, int key_line) {
        auto& list = key == "branches" ? push.branches : key == "tags" ? push.tags : push.paths;
        return parse_string_list(value, path + "." + key, key_line, list);
      });
}

bool WorkflowParser::parse_pull_request(const Node& node, const std::string& path, int line,
                                        Triggers& on) {
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
  return for_each_entry(node, path, line, {"branches", "types"},
                        [&](const std::string& key, const Node& value, int key_line) {
                          if (key == "branches")
                            return parse_string_list(value, path + ".branches", key_line,
                                                     pr.branches);
                          if (!parse_string_list(value, path + ".types", key_line, pr.types))
                            return false;
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

bool WorkflowParser::parse_dispatch(const Node& node, const std::string& path, int line,
                                    Triggers& on) {
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
              if (!valid_id(name)) {
                return fail(name_line, input_path,
                            "an input name starts with a letter or _ and has only letters, digits, "
                            "- and _");
              }
              if (spec.IsNull()) return true;
              bool ok = for_each_entry(spec, input_path, name_line,
                                       {"description", "required", "default", "type", "options"},
                                       [&](const std::string& key, const Node& v, int at) {
                                         std::string p = input_path + "." + key;
                                         if (key == "description")
                                           return parse_string(v, p, at, input.description);
                                         if (key == "required")
                                           return parse_bool(v, p, at, input.required);
                                         if (key == "options")
                                           return parse_string_list(v, p, at, input.options);
                                         if (key == "type") {
                                           if (!parse_string(v, p, at, input.type)) return false;
                                           static const std::set<std::string> kInputTypes = {
                                               "string", "boolean", "number", "choice"};
                                           return kInputTypes.count(input.type) > 0 ||
                                                  fail(at, p,
                                                       "must be string, boolean, number or choice");
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

bool WorkflowParser::parse_schedule(const Node& node, const std::string& path, int line,
                                    Triggers& on) {
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

bool WorkflowParser::check_needs(const Workflow& wf) {
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

}  // namespace parse_detail

Result<Workflow> parse_workflow(std::string_view yaml_text) {
  return parse_detail::WorkflowParser().parse(yaml_text);
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
