// JSON codecs of the workflow model. Optional fields are written only when set, so a stored
// job reads like the YAML it came from.
#include "workflow/workflow.h"

namespace corral::workflow {
namespace {

using nlohmann::json;

json wf_pairs_to_json(const EnvList& list) {
  json out = json::array();
  for (const auto& [key, value] : list) out.push_back(json::array({key, value}));
  return out;
}

EnvList wf_pairs_from_json(const json& j) {
  EnvList out;
  for (const auto& pair : j)
    out.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  return out;
}

json wf_entry_to_json(const MatrixEntry& entry) {
  json out = json::array();
  for (const auto& [key, value] : entry) out.push_back(json::array({key, value}));
  return out;
}

MatrixEntry wf_entry_from_json(const json& j) {
  MatrixEntry out;
  for (const auto& pair : j) out.emplace_back(pair.at(0).get<std::string>(), pair.at(1));
  return out;
}

template <typename T>
void wf_get_optional(const json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<T>();
}

void wf_get_pairs(const json& j, const char* key, EnvList& out) {
  if (auto it = j.find(key); it != j.end()) out = wf_pairs_from_json(*it);
}

}  // namespace

void to_json(json& j, const BoolSetting& v) {
  if (v.expression.empty()) {
    j = v.value;
  } else {
    j = v.expression;
  }
}

void from_json(const json& j, BoolSetting& v) {
  v = {};
  if (j.is_string()) {
    v.expression = j.get<std::string>();
  } else {
    v.value = j.get<bool>();
  }
}

void to_json(json& j, const Triggers& v) {
  j = json::object();
  if (v.push) {
    j["push"] = {{"branches", v.push->branches}, {"tags", v.push->tags}, {"paths", v.push->paths}};
  }
  if (v.pull_request) {
    j["pull_request"] = {{"branches", v.pull_request->branches}, {"types", v.pull_request->types}};
  }
  if (v.workflow_dispatch) {
    json inputs = json::array();
    for (const auto& input : *v.workflow_dispatch) {
      inputs.push_back({{"name", input.name},
                        {"description", input.description},
                        {"required", input.required},
                        {"type", input.type},
                        {"default", input.default_value},
                        {"options", input.options}});
    }
    j["workflow_dispatch"] = {{"inputs", inputs}};
  }
  if (!v.schedules.empty()) j["schedule"] = v.schedules;
}

void from_json(const json& j, Triggers& v) {
  v = {};
  if (auto it = j.find("push"); it != j.end()) {
    auto& push = v.push.emplace();
    wf_get_optional(*it, "branches", push.branches);
    wf_get_optional(*it, "tags", push.tags);
    wf_get_optional(*it, "paths", push.paths);
  }
  if (auto it = j.find("pull_request"); it != j.end()) {
    auto& pr = v.pull_request.emplace();
    wf_get_optional(*it, "branches", pr.branches);
    wf_get_optional(*it, "types", pr.types);
  }
  if (auto it = j.find("workflow_dispatch"); it != j.end()) {
    auto& inputs = v.workflow_dispatch.emplace();
    for (const auto& item : it->value("inputs", json::array())) {
      DispatchInput input;
      input.name = item.at("name").get<std::string>();
      wf_get_optional(item, "description", input.description);
      wf_get_optional(item, "required", input.required);
      wf_get_optional(item, "type", input.type);
      input.default_value = item.value("default", json());
      wf_get_optional(item, "options", input.options);
      inputs.push_back(std::move(input));
    }
  }
  wf_get_optional(j, "schedule", v.schedules);
}

void to_json(json& j, const Step& v) {
  j = {{"line", v.line}};
  if (!v.id.empty()) j["id"] = v.id;
  if (!v.name.empty()) j["name"] = v.name;
  if (!v.run.empty()) j["run"] = v.run;
  if (v.checkout) {
    json checkout = {{"version", v.checkout->version}};
    if (v.checkout->fetch_depth) checkout["fetch_depth"] = *v.checkout->fetch_depth;
    if (!v.checkout->ref.empty()) checkout["ref"] = v.checkout->ref;
    if (!v.checkout->path.empty()) checkout["path"] = v.checkout->path;
    j["checkout"] = checkout;
  }
  if (!v.shell.empty()) j["shell"] = v.shell;
  if (!v.working_directory.empty()) j["working_directory"] = v.working_directory;
  if (!v.env.empty()) j["env"] = wf_pairs_to_json(v.env);
  if (!v.if_condition.empty()) j["if"] = v.if_condition;
  if (v.continue_on_error != BoolSetting{}) j["continue_on_error"] = v.continue_on_error;
  if (v.timeout_minutes) j["timeout_minutes"] = *v.timeout_minutes;
}

void from_json(const json& j, Step& v) {
  v = {};
  wf_get_optional(j, "line", v.line);
  wf_get_optional(j, "id", v.id);
  wf_get_optional(j, "name", v.name);
  wf_get_optional(j, "run", v.run);
  if (auto it = j.find("checkout"); it != j.end()) {
    auto& checkout = v.checkout.emplace();
    checkout.version = it->at("version").get<std::string>();
    if (auto depth = it->find("fetch_depth"); depth != it->end())
      checkout.fetch_depth = depth->get<int>();
    wf_get_optional(*it, "ref", checkout.ref);
    wf_get_optional(*it, "path", checkout.path);
  }
  wf_get_optional(j, "shell", v.shell);
  wf_get_optional(j, "working_directory", v.working_directory);
  wf_get_pairs(j, "env", v.env);
  wf_get_optional(j, "if", v.if_condition);
  wf_get_optional(j, "continue_on_error", v.continue_on_error);
  if (auto it = j.find("timeout_minutes"); it != j.end()) v.timeout_minutes = it->get<double>();
}

void to_json(json& j, const Strategy& v) {
  json axes = json::array();
  for (const auto& [name, values] : v.matrix.axes)
    axes.push_back({{"name", name}, {"values", values}});
  json include = json::array();
  for (const auto& entry : v.matrix.include) include.push_back(wf_entry_to_json(entry));
  json exclude = json::array();
  for (const auto& entry : v.matrix.exclude) exclude.push_back(wf_entry_to_json(entry));
  j = {{"matrix", {{"axes", axes}, {"include", include}, {"exclude", exclude}}},
       {"fail_fast", v.fail_fast}};
  if (v.max_parallel) j["max_parallel"] = *v.max_parallel;
}

void from_json(const json& j, Strategy& v) {
  v = {};
  const json& matrix = j.at("matrix");
  for (const auto& axis : matrix.value("axes", json::array())) {
    v.matrix.axes.emplace_back(axis.at("name").get<std::string>(),
                               axis.at("values").get<std::vector<json>>());
  }
  for (const auto& entry : matrix.value("include", json::array())) {
    v.matrix.include.push_back(wf_entry_from_json(entry));
  }
  for (const auto& entry : matrix.value("exclude", json::array())) {
    v.matrix.exclude.push_back(wf_entry_from_json(entry));
  }
  wf_get_optional(j, "fail_fast", v.fail_fast);
  if (auto it = j.find("max_parallel"); it != j.end()) v.max_parallel = it->get<int>();
}

void to_json(json& j, const Job& v) {
  j = {{"id", v.id}, {"line", v.line}, {"runs_on", v.runs_on}, {"steps", v.steps}};
  if (!v.name.empty()) j["name"] = v.name;
  if (!v.needs.empty()) j["needs"] = v.needs;
  if (!v.if_condition.empty()) j["if"] = v.if_condition;
  if (!v.env.empty()) j["env"] = wf_pairs_to_json(v.env);
  if (v.timeout_minutes) j["timeout_minutes"] = *v.timeout_minutes;
  if (v.continue_on_error != BoolSetting{}) j["continue_on_error"] = v.continue_on_error;
  if (v.strategy) j["strategy"] = *v.strategy;
  if (!v.container_image.empty()) j["container_image"] = v.container_image;
  if (!v.outputs.empty()) j["outputs"] = wf_pairs_to_json(v.outputs);
}

void from_json(const json& j, Job& v) {
  v = {};
  v.id = j.at("id").get<std::string>();
  wf_get_optional(j, "line", v.line);
  wf_get_optional(j, "name", v.name);
  wf_get_optional(j, "runs_on", v.runs_on);
  wf_get_optional(j, "needs", v.needs);
  wf_get_optional(j, "if", v.if_condition);
  wf_get_pairs(j, "env", v.env);
  if (auto it = j.find("timeout_minutes"); it != j.end()) v.timeout_minutes = it->get<double>();
  wf_get_optional(j, "continue_on_error", v.continue_on_error);
  if (auto it = j.find("strategy"); it != j.end()) v.strategy = it->get<Strategy>();
  wf_get_optional(j, "container_image", v.container_image);
  wf_get_pairs(j, "outputs", v.outputs);
  wf_get_optional(j, "steps", v.steps);
}

void to_json(json& j, const Workflow& v) {
  j = {{"on", v.on}, {"jobs", v.jobs}};
  if (!v.name.empty()) j["name"] = v.name;
  if (!v.env.empty()) j["env"] = wf_pairs_to_json(v.env);
}

void from_json(const json& j, Workflow& v) {
  v = {};
  wf_get_optional(j, "name", v.name);
  v.on = j.at("on").get<Triggers>();
  wf_get_pairs(j, "env", v.env);
  v.jobs = j.at("jobs").get<std::vector<Job>>();
}

Result<Workflow> workflow_from_json(const json& j) {
  try {
    return j.get<Workflow>();
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidSpec, std::string("not a stored workflow: ") + e.what());
  }
}

}  // namespace corral::workflow
