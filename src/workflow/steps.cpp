#include "workflow/steps.h"

#include <algorithm>
#include <cctype>

namespace corral::workflow {
namespace {

using nlohmann::json;

Error wf_file_error(size_t line, const std::string& message) {
  return make_error(ErrorCode::kInvalidSpec, "line " + std::to_string(line) + ": " + message);
}

void wf_set(EnvList& list, const std::string& name, std::string value) {
  for (auto& [k, v] : list) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  list.emplace_back(name, std::move(value));
}

bool wf_valid_name(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '=';
  });
}

// Interpolates one layer of variables into `env`, with contexts["env"] = env before the layer.
Result<void> wf_apply_layer(const EnvList& layer, const json& contexts, const std::string& where,
                            std::map<std::string, std::string>& env) {
  json layer_contexts = contexts;
  layer_contexts["env"] = json(env);
  for (const auto& [name, value] : layer) {
    auto text = interpolate(value, layer_contexts);
    if (!text.ok()) {
      return make_error(ErrorCode::kInvalidSpec,
                        where + " env " + name + ": " + text.error().message);
    }
    env[name] = std::move(*text);
  }
  return ok_result();
}

std::string wf_ref_name(const std::string& ref) {
  for (std::string_view prefix : {"refs/heads/", "refs/tags/", "refs/pull/"}) {
    if (ref.rfind(prefix, 0) == 0) return ref.substr(prefix.size());
  }
  return ref;
}

}  // namespace

Result<EnvList> parse_command_file(std::string_view content) {
  EnvList out;
  size_t line_number = 0;
  size_t at = 0;
  auto next_line = [&](std::string_view& line) {
    if (at >= content.size()) return false;
    size_t end = content.find('\n', at);
    if (end == std::string_view::npos) end = content.size();
    line = content.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    ++line_number;
    return true;
  };
  std::string_view line;
  while (next_line(line)) {
    if (line.empty()) continue;
    size_t equals = line.find('=');
    size_t heredoc = line.find("<<");
    if (heredoc != std::string_view::npos &&
        (equals == std::string_view::npos || heredoc < equals)) {
      std::string name(line.substr(0, heredoc));
      std::string delimiter(line.substr(heredoc + 2));
      if (!wf_valid_name(name)) {
        return wf_file_error(line_number,
                             "'" + std::string(line) + "' has no valid name before <<");
      }
      if (delimiter.empty()) {
        return wf_file_error(line_number, "'" + std::string(line) + "' has no delimiter after <<");
      }
      size_t start_line = line_number;
      std::string value;
      bool closed = false;
      bool first = true;
      while (next_line(line)) {
        if (line == delimiter) {
          closed = true;
          break;
        }
        if (!first) value += '\n';
        value += line;
        first = false;
      }
      if (!closed) {
        return wf_file_error(
            start_line, "the value of '" + name + "' is not ended by a line '" + delimiter + "'");
      }
      wf_set(out, name, std::move(value));
    } else if (equals != std::string_view::npos) {
      std::string name(line.substr(0, equals));
      if (!wf_valid_name(name)) {
        return wf_file_error(line_number, "'" + std::string(line) + "' has no valid name before =");
      }
      wf_set(out, name, std::string(line.substr(equals + 1)));
    } else {
      return wf_file_error(line_number,
                           "'" + std::string(line) + "' is neither name=value nor name<<DELIMITER");
    }
  }
  return out;
}

json github_context(const RunFacts& facts, const StepPaths& paths) {
  std::string owner = facts.repository.substr(0, facts.repository.find('/'));
  std::string ref_type = facts.ref.rfind("refs/tags/", 0) == 0 ? "tag" : "branch";
  return {{"sha", facts.sha},
          {"ref", facts.ref},
          {"ref_name", wf_ref_name(facts.ref)},
          {"ref_type", ref_type},
          {"repository", facts.repository},
          {"repository_owner", owner},
          {"event_name", facts.event_name},
          {"run_id", facts.run_id},
          {"run_attempt", facts.run_attempt},
          {"workflow", facts.workflow},
          {"job", facts.job},
          {"workspace", paths.workspace}};
}

json runner_context(const RunFacts& facts, const StepPaths& paths) {
  return {{"os", facts.runner_os},
          {"arch", facts.runner_arch},
          {"name", facts.runner_name},
          {"temp", paths.temp_dir}};
}

Result<std::map<std::string, std::string>> step_environment(
    const Workflow& workflow, const Job& job, const Step& step, const EnvList& exported,
    const RunFacts& facts, const StepPaths& paths, const json& contexts) {
  std::map<std::string, std::string> env = {{"CI", "true"}};
  CORRAL_TRY(wf_apply_layer(workflow.env, contexts, "workflow", env));
  CORRAL_TRY(wf_apply_layer(job.env, contexts, "job " + job.id, env));
  for (const auto& [name, value] : exported) env[name] = value;  // already plain text
  std::string where = "step " + (step.id.empty() ? step.display_name() : step.id);
  CORRAL_TRY(wf_apply_layer(step.env, contexts, where, env));

  json github = github_context(facts, paths);
  for (const char* key : {"sha", "ref", "ref_name", "ref_type", "repository", "repository_owner",
                          "event_name", "run_id", "run_attempt", "workflow", "job", "workspace"}) {
    std::string name = key;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    env["GITHUB_" + name] = github[key].get<std::string>();
  }
  env["GITHUB_ACTIONS"] = "true";
  env["GITHUB_OUTPUT"] = paths.output_file;
  env["GITHUB_ENV"] = paths.env_file;
  if (!step.id.empty()) env["GITHUB_ACTION"] = step.id;
  env["RUNNER_OS"] = facts.runner_os;
  env["RUNNER_ARCH"] = facts.runner_arch;
  env["RUNNER_NAME"] = facts.runner_name;
  env["RUNNER_TEMP"] = paths.temp_dir;
  return env;
}

Result<std::vector<std::string>> shell_command(std::string_view shell, std::string_view script_path,
                                               bool bash_exists) {
  std::string path(script_path);
  if (shell.empty()) {
    if (bash_exists) return std::vector<std::string>{"bash", "-e", path};
    return std::vector<std::string>{"sh", "-e", path};
  }
  if (shell == "bash") {
    if (!bash_exists) {
      return make_error(ErrorCode::kInvalidSpec,
                        "shell: bash, but the container has no bash; use an image with bash or "
                        "shell: sh");
    }
    return std::vector<std::string>{"bash", "--noprofile", "--norc", "-eo", "pipefail", path};
  }
  if (shell == "sh") return std::vector<std::string>{"sh", "-e", path};
  if (shell == "python") return std::vector<std::string>{"python", path};
  std::vector<std::string> argv;
  bool has_placeholder = false;
  size_t at = 0;
  while (at < shell.size()) {
    size_t start = shell.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    size_t end = shell.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = shell.size();
    std::string word(shell.substr(start, end - start));
    for (size_t p = word.find("{0}"); p != std::string::npos;
         p = word.find("{0}", p + path.size())) {
      word.replace(p, 3, path);
      has_placeholder = true;
    }
    argv.push_back(std::move(word));
    at = end;
  }
  if (!has_placeholder) {
    return make_error(ErrorCode::kInvalidSpec,
                      "shell '" + std::string(shell) +
                          "': a custom shell needs {0} where the script's path goes");
  }
  return argv;
}

StepResult fold_step_result(JobResult outcome, bool continue_on_error) {
  StepResult result{outcome, outcome};
  if (outcome == JobResult::kFailure && continue_on_error) result.conclusion = JobResult::kSuccess;
  return result;
}

StatusFunctions step_status(const std::vector<StepResult>& earlier, bool job_cancelled) {
  bool failed = std::any_of(earlier.begin(), earlier.end(), [](const StepResult& r) {
    return r.conclusion == JobResult::kFailure;
  });
  bool cancelled =
      job_cancelled || std::any_of(earlier.begin(), earlier.end(), [](const StepResult& r) {
        return r.conclusion == JobResult::kCancelled;
      });
  return StatusFunctions{
      .success = !failed && !cancelled, .failure = failed, .cancelled = cancelled};
}

std::string_view job_status(const StatusFunctions& status) {
  if (status.cancelled) return "cancelled";
  return status.failure ? "failure" : "success";
}

JobResult fold_job_result(const std::vector<StepResult>& steps, bool job_cancelled,
                          bool continue_on_error) {
  bool failed = std::any_of(steps.begin(), steps.end(), [](const StepResult& r) {
    return r.conclusion == JobResult::kFailure;
  });
  if (failed) return continue_on_error ? JobResult::kSuccess : JobResult::kFailure;
  bool cancelled =
      job_cancelled || std::any_of(steps.begin(), steps.end(), [](const StepResult& r) {
        return r.conclusion == JobResult::kCancelled;
      });
  return cancelled ? JobResult::kCancelled : JobResult::kSuccess;
}

Result<bool> resolve_bool_setting(const BoolSetting& setting, const json& contexts) {
  if (setting.expression.empty()) return setting.value;
  auto text = interpolate(setting.expression, contexts);
  if (!text.ok()) return text.error();
  // `${{ matrix.experimental }}` interpolates to "true"/"false"; anything else must too.
  if (*text == "true") return true;
  if (*text == "false" || text->empty()) return false;
  return make_error(ErrorCode::kInvalidSpec,
                    "'" + setting.expression + "' gave '" + *text + "', not true or false");
}

json steps_context_entry(const StepResult& result, const EnvList& outputs) {
  json out_values = json::object();
  for (const auto& [name, value] : outputs) out_values[name] = value;
  return {{"outcome", job_result_name(result.outcome)},
          {"conclusion", job_result_name(result.conclusion)},
          {"outputs", out_values}};
}

}  // namespace corral::workflow
