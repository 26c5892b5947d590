#include "runner/agent_cli.h"

#include <algorithm>
#include <cstdio>

#include "common/json_limits.h"
#include "runner/workspace.h"

namespace corral {

namespace {

using nlohmann::json;

constexpr size_t kMaxLineBytes = size_t{8} << 20;  // a longer line is passed on unparsed
constexpr size_t kPlainTailBytes = 16 * 1024;

// The prompt travels in the environment (CORRAL_AGENT_PROMPT), not in the script's text:
// the command line shows where it goes with this placeholder.
constexpr std::string_view kPromptArg = "\x01prompt";
// Where the wrapper puts Codex's model provider for OPENAI_BASE_URL, when the container has one.
constexpr std::string_view kProviderArgs = "\x01provider";

std::string str(const json& j, const char* key) {
  return json_string_or(j, key, "");
}

int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

std::string with_newline(std::string text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

std::string first_line(std::string_view text, size_t max_len) {
  auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "";
  text.remove_prefix(start);
  std::string line(text.substr(0, text.find('\n')));
  if (line.size() > max_len) line = line.substr(0, max_len - 3) + "...";
  return line;
}

// A tool result's text: a string, or a list of {type: text, text} blocks.
std::string tool_result_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& block : content) {
      if (block.is_object() && str(block, "type") == "text") out += str(block, "text") + "\n";
    }
  }
  return out;
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

class ClaudeAdapter final : public AgentAdapter {
 public:
  std::string_view name() const override { return "claude"; }

  std::vector<std::string> command(const AgentSpec& spec, bool) const override {
    std::vector<std::string> argv{"claude",          "-p",          std::string(kPromptArg),
                                  "--output-format", "stream-json", "--verbose"};
    if (!spec.model.empty()) argv.insert(argv.end(), {"--model", spec.model});
    if (spec.max_turns > 0)
      argv.insert(argv.end(), {"--max-turns", std::to_string(spec.max_turns)});
    if (!spec.allowed_tools.empty()) {
      std::string tools;
      for (const auto& t : spec.allowed_tools) tools += (tools.empty() ? "" : ",") + t;
      argv.insert(argv.end(), {"--allowedTools", tools});
    }
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    return argv;
  }

  std::string on_event(const json& event, AgentSummary& summary) override {
    std::string type = str(event, "type");
    if (type == "system" && str(event, "subtype") == "init") {
      summary.model = str(event, "model");
      summary.session_id = str(event, "session_id");
      std::string version = str(event, "claude_code_version");
      return "agent: Claude Code" + (version.empty() ? "" : " " + version) +
             (summary.model.empty() ? "" : ", model " + summary.model) + "\n";
    }
    if (type == "assistant") return assistant(event.value("message", json::object()), summary);
    if (type == "user") return tool_results(event.value("message", json::object()));
    if (type == "result") return result(event, summary);
    return "";
  }

  const std::vector<std::string>& retryable_patterns() const override {
    static const std::vector<std::string> kPatterns{
        "529", "overloaded", "rate limit", "rate_limit", "502", "503", "ETIMEDOUT", "ECONNRESET"};
    return kPatterns;
  }

 private:
  std::string assistant(const json& message, AgentSummary& summary) {
    std::string out;
    if (!message.is_object() || !message.contains("content") || !message["content"].is_array())
      return out;
    if (summary.model.empty()) summary.model = str(message, "model");
    for (const auto& block : message["content"]) {
      std::string kind = str(block, "type");
      if (kind == "text") {
        std::string text = str(block, "text");
        if (!text.empty()) {
          out += with_newline(text);
          summary.final_text = text;
        }
      } else if (kind == "tool_use") {
        out += "> " +
               summarize_tool_call(str(block, "name"), block.value("input", json::object())) + "\n";
      }
    }
    return out;
  }

  static std::string tool_results(const json& message) {
    std::string out;
    if (!message.is_object() || !message.contains("content") || !message["content"].is_array())
      return out;
    for (const auto& block : message["content"]) {
      if (str(block, "type") != "tool_result") continue;
      bool is_error = block.value("is_error", false);
      if (!is_error) continue;
      out += "  tool error: " + first_line(tool_result_text(block.value("content", json())), 300) +
             "\n";
    }
    return out;
  }

  static std::string result(const json& event, AgentSummary& summary) {
    summary.finished = true;
    summary.is_error = event.value("is_error", false) || str(event, "subtype") != "success";
    std::string text = str(event, "result");
    if (!text.empty() && !summary.is_error) summary.final_text = text;
    if (summary.is_error) {
      summary.error = !text.empty() ? text : str(event, "subtype");
      if (event.contains("errors") && event["errors"].is_array()) {
        for (const auto& e : event["errors"]) {
          if (e.is_string())
            summary.error += (summary.error.empty() ? "" : "; ") + e.get<std::string>();
        }
      }
    }
    if (auto id = str(event, "session_id"); !id.empty()) summary.session_id = id;
    if (event.contains("total_cost_usd") && event["total_cost_usd"].is_number()) {
      summary.cost_usd = event["total_cost_usd"].get<double>();
      summary.cost_known = true;
    }
    summary.num_turns = static_cast<int>(num(event, "num_turns"));
    summary.duration_ms = num(event, "duration_ms");
    const json usage = event.value("usage", json::object());
    summary.input_tokens = num(usage, "input_tokens") + num(usage, "cache_creation_input_tokens");
    summary.output_tokens = num(usage, "output_tokens");
    summary.cache_read_tokens = num(usage, "cache_read_input_tokens");
    char line[256];
    std::snprintf(line, sizeof line,
                  "agent: %s after %.1f s, %d turn%s, $%.4f, %lld input / %lld output tokens\n",
                  summary.is_error ? "failed" : "finished",
                  static_cast<double>(summary.duration_ms) / 1000.0, summary.num_turns,
                  summary.num_turns == 1 ? "" : "s", summary.cost_usd,
                  static_cast<long long>(summary.input_tokens) +
                      static_cast<long long>(summary.cache_read_tokens),
                  static_cast<long long>(summary.output_tokens));
    std::string out = line;
    if (summary.is_error) out += "agent: error: " + first_line(summary.error, 2000) + "\n";
    return out;
  }
};

class CodexAdapter final : public AgentAdapter {
 public:
  std::string_view name() const override { return "codex"; }

  std::vector<std::string> command(const AgentSpec& spec, bool isolated) const override {
    std::vector<std::string> argv{"codex", "exec", "--json", "--skip-git-repo-check"};
    if (isolated) {
      argv.emplace_back("--dangerously-bypass-approvals-and-sandbox");
    } else {
      argv.insert(argv.end(), {"--sandbox", "workspace-write"});
    }
    argv.emplace_back(kProviderArgs);
    if (!spec.model.empty()) argv.insert(argv.end(), {"-m", spec.model});
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    argv.emplace_back(kPromptArg);
    return argv;
  }

  std::string on_event(const json& event, AgentSummary& summary) override {
    std::string type = str(event, "type");
    if (type == "thread.started") {
      summary.session_id = str(event, "thread_id");
      return "agent: Codex" + (summary.model.empty() ? "" : ", model " + summary.model) + "\n";
    }
    if (type == "item.started" || type == "item.completed") {
      return item(event.value("item", json::object()), type == "item.completed", summary);
    }
    if (type == "turn.completed") {
      summary.finished = true;
      summary.is_error = false;
      ++summary.num_turns;
      const json usage = event.value("usage", json::object());
      int64_t cached = num(usage, "cached_input_tokens");
      summary.input_tokens += num(usage, "input_tokens") - cached;
      summary.cache_read_tokens += cached;
      summary.output_tokens += num(usage, "output_tokens");
      return "";
    }
    if (type == "turn.failed") {
      summary.finished = true;
      summary.is_error = true;
      summary.error = str(event.value("error", json::object()), "message");
      return "agent: failed: " + first_line(summary.error, 2000) + "\n";
    }
    if (type == "error") {
      // Also the CLI's notes while it retries a request; the turn's end decides.
      summary.error = str(event, "message");
      return "agent: error: " + first_line(summary.error, 2000) + "\n";
    }
    return "";
  }

  const std::vector<std::string>& retryable_patterns() const override {
    static const std::vector<std::string> kPatterns{"429",        "502",        "503",
                                                    "rate limit", "rate_limit", "ETIMEDOUT",
                                                    "ECONNRESET", "timeout",    "timed out"};
    return kPatterns;
  }

 private:
  static std::string item(const json& item, bool completed, AgentSummary& summary) {
    std::string kind = str(item, "type");
    if (kind.empty()) kind = str(item, "item_type");
    if (kind == "command_execution") {
      if (!completed)
        return "> " + summarize_tool_call("shell", {{"command", str(item, "command")}}) + "\n";
      int64_t code = num(item, "exit_code");
      if (str(item, "status") == "failed" || code != 0) {
        return "  tool error: exit " + std::to_string(code) + "\n";
      }
      return "";
    }
    if (!completed) return "";
    if (kind == "agent_message" || kind == "assistant_message") {
      std::string text = str(item, "text");
      if (text.empty()) return "";
      summary.final_text = text;
      return with_newline(text);
    }
    if (kind == "file_change") {
      std::string paths;
      if (item.contains("changes") && item["changes"].is_array()) {
        for (const auto& change : item["changes"])
          paths += (paths.empty() ? "" : ", ") + str(change, "path");
      }
      return "> edit: " + first_line(paths, 300) + "\n";
    }
    if (kind == "mcp_tool_call") {
      return "> " + str(item, "server") + "." + str(item, "tool") + "\n";
    }
    if (kind == "web_search") return "> web search: " + first_line(str(item, "query"), 200) + "\n";
    if (kind == "error") return "agent: error: " + first_line(str(item, "message"), 2000) + "\n";
    return "";
  }
};

}  // namespace

json to_json(const AgentSummary& s) {
  return {{"cli", s.cli},
          {"model", s.model},
          {"final_text", s.final_text},
          {"cost_usd", s.cost_known ? json(s.cost_usd) : json(nullptr)},
          {"input_tokens", s.input_tokens},
          {"output_tokens", s.output_tokens},
          {"cache_read_tokens", s.cache_read_tokens},
          {"num_turns", s.num_turns},
          {"duration_ms", s.duration_ms},
          {"session_id", s.session_id}};
}

std::unique_ptr<AgentAdapter> make_agent_adapter(std::string_view cli) {
  if (cli == "claude") return std::make_unique<ClaudeAdapter>();
  if (cli == "codex") return std::make_unique<CodexAdapter>();
  return nullptr;
}

std::string summarize_tool_call(std::string_view tool, const json& input, size_t max_len) {
  std::string detail;
  if (input.is_object()) {
    // The one field that says what the call does, for the tools both CLIs have.
    for (const char* key :
         {"command", "file_path", "path", "pattern", "url", "query", "description"}) {
      if (auto it = input.find(key); it != input.end() && it->is_string()) {
        detail = it->get<std::string>();
        break;
      }
    }
    if (detail.empty() && !input.empty()) detail = input.dump();
  } else if (!input.is_null()) {
    detail = input.dump();
  }
  std::replace(detail.begin(), detail.end(), '\n', ' ');
  std::string line = std::string(tool) + (detail.empty() ? "" : ": " + detail);
  if (line.size() > max_len) line = line.substr(0, max_len - 3) + "...";
  return line;
}

std::string agent_wrapper_script(const AgentSpec& spec, std::string_view cli, bool isolated,
                                 const std::vector<std::string>& push_hosts) {
  auto command_line = [&](std::string_view name) {
    std::string line = "exec";
    for (const auto& arg : make_agent_adapter(name)->command(spec, isolated)) {
      line += ' ';
      if (arg == kPromptArg) {
        line += "\"$CORRAL_AGENT_PROMPT\"";
      } else if (arg == kProviderArgs) {
        line += "\"$@\"";  // set below from OPENAI_BASE_URL
      } else {
        line += shell_quote(arg);
      }
    }
    // Both CLIs add a piped stdin to the prompt (and Codex waits for it to end).
    return line + " </dev/null";
  };
  std::string s = "exec 2>&1\n";
  // The CLIs keep state under $HOME; a non-root user may have none that is writable.
  s += "if [ -z \"$HOME\" ] || [ ! -w \"$HOME\" ]; then HOME=/tmp/corral-agent-home; export HOME; "
       "mkdir -p \"$HOME\"; fi\n";
  if (!push_hosts.empty()) {
    // git reads settings from GIT_CONFIG_KEY_n/VALUE_n after every config file: the empty
    // helper first drops the helpers of the image's config, then one helper per host.
    std::string keys = "GIT_CONFIG_COUNT";
    s += "if [ -n \"$GITHUB_TOKEN\" ]; then\n";
    s += "  GIT_CONFIG_COUNT=" + std::to_string(push_hosts.size() + 1) + "\n";
    s += "  GIT_CONFIG_KEY_0=credential.helper GIT_CONFIG_VALUE_0=\n";
    for (size_t i = 0; i < push_hosts.size(); ++i) {
      std::string n = std::to_string(i + 1);
      s += "  GIT_CONFIG_KEY_" + n + "=" +
           shell_quote("credential.https://" + push_hosts[i] + ".helper") + " GIT_CONFIG_VALUE_" +
           n + "=" + shell_quote(git_credential_helper("GITHUB_TOKEN")) + "\n";
    }
    for (size_t i = 0; i <= push_hosts.size(); ++i) {
      keys += " GIT_CONFIG_KEY_" + std::to_string(i) + " GIT_CONFIG_VALUE_" + std::to_string(i);
    }
    s += "  export " + keys + "\n";
    s += "fi\n";
  }
  s += "cli=" + std::string(cli) + "\n";
  s += "if [ \"$cli\" = auto ]; then\n"
       "  if command -v claude >/dev/null 2>&1; then cli=claude\n"
       "  elif command -v codex >/dev/null 2>&1; then cli=codex\n"
       "  else echo \"" +
       std::string(kAgentMissingMarker) +
       "neither claude (Claude Code) nor codex is installed in this image\"; exit " +
       std::to_string(kAgentMissingExit) +
       "; fi\n"
       "fi\n";
  s += "if ! command -v \"$cli\" >/dev/null 2>&1; then echo \"" + std::string(kAgentMissingMarker) +
       "$cli is not installed in this image\"; exit " + std::to_string(kAgentMissingExit) +
       "; fi\n";
  s += "echo \"" + std::string(kAgentMarker) + "$cli\"\n";
  s += "case $cli in\n";
  s += "  claude) " + command_line("claude") + " ;;\n";
  s += "  codex)\n"
       "    set --\n"
       "    if [ -n \"$OPENAI_BASE_URL\" ]; then set -- -c model_provider=corral -c "
       "model_providers.corral.name=corral "
       "-c \"model_providers.corral.base_url=\\\"$OPENAI_BASE_URL\\\"\" -c "
       "model_providers.corral.env_key=OPENAI_API_KEY "
       "-c model_providers.corral.wire_api=responses; fi\n"
       "    " +
       command_line("codex") + " ;;\n";
  s += "esac\n";
  return s;
}

AgentStream::AgentStream(size_t max_events_bytes) : max_events_bytes_(max_events_bytes) {}

std::string AgentStream::feed(std::string_view data) {
  std::string out;
  while (!data.empty()) {
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(data);
      if (partial_.size() > kMaxLineBytes) {
        // Too long to be an event worth parsing: pass it on as it is.
        out += on_line(partial_);
        partial_.clear();
      }
      break;
    }
    partial_.append(data.substr(0, nl));
    data.remove_prefix(nl + 1);
    out += on_line(partial_);
    partial_.clear();
  }
  return out;
}

const std::vector<std::string>& AgentStream::retryable_patterns() const {
  static const std::vector<std::string> kNone;
  return adapter_ ? adapter_->retryable_patterns() : kNone;
}

std::string AgentStream::finish() {
  if (partial_.empty()) return "";
  std::string out = on_line(partial_);
  partial_.clear();
  return out;
}

std::string AgentStream::on_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.substr(0, kAgentMarker.size()) == kAgentMarker && !adapter_) {
    summary_.cli = std::string(line.substr(kAgentMarker.size()));
    adapter_ = make_agent_adapter(summary_.cli);
    return "";
  }
  if (line.substr(0, kAgentMissingMarker.size()) == kAgentMissingMarker && !adapter_) {
    missing_ = std::string(line.substr(kAgentMissingMarker.size()));
    return "";
  }
  if (adapter_ && !line.empty() && line.front() == '{') {
    auto event = parse_json_limited(line, "agent event", {kMaxJsonDepth, kMaxLineBytes});
    if (event.ok() && event->is_object()) {
      if (events_.size() + line.size() + 1 <= max_events_bytes_) {
        events_.append(line);
        events_ += '\n';
      } else {
        events_truncated_ = true;
      }
      return adapter_->on_event(*event, summary_);
    }
  }
  plain_tail_.append(line);
  plain_tail_ += '\n';
  if (plain_tail_.size() > kPlainTailBytes)
    plain_tail_.erase(0, plain_tail_.size() - kPlainTailBytes);
  return std::string(line) + "\n";
}

}  // namespace corral
