// Agent CLIs as jobs (docs/agents.md). One small interface per CLI: build its command line,
// read its JSON event stream into a readable log and a summary, say which failures are
// worth another attempt.
//
//   Claude Code  claude -p PROMPT --output-format stream-json --verbose [--model M]
//                [--max-turns N] [--allowedTools T,...] ARGS...
//   Codex        codex exec --json --skip-git-repo-check SANDBOX [PROVIDER] [-m M] ARGS... PROMPT
//
// Codex's own sandbox: the job's container is the sandbox, so in one Codex runs with
// --dangerously-bypass-approvals-and-sandbox (its landlock sandbox needs what a container
// without capabilities lacks); on the host (the shell executor) with --sandbox
// workspace-write. (`--full-auto` is gone from `codex exec` as of 0.171.) Codex reads no
// OPENAI_BASE_URL: when the container has one, the wrapper adds a model provider for it
// (PROVIDER: -c model_provider=corral -c model_providers.corral.base_url=...).
//
// The container runs a small sh wrapper (agent_wrapper_script) that picks the CLI, prints
// one marker line naming it (or naming what is missing) and execs it with stderr joined to
// stdout. AgentStream reads that output line by line: the marker selects the adapter, each
// JSON event becomes zero or more readable log lines and is kept verbatim for the event
// stream (GET /api/v1/jobs/{id}/events), and anything else passes through as it is.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace corral {

// What one agent run came to: result.agent of the job.
struct AgentSummary {
  std::string cli;
  std::string model;
  std::string final_text;
  std::string session_id;
  double cost_usd = 0;
  bool cost_known = false;  // Codex reports no cost
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  int num_turns = 0;
  int64_t duration_ms = 0;  // as the CLI reports it; else measured by the runner
  bool finished = false;    // the CLI reported an end (Claude's result, Codex's last turn)
  bool is_error = false;    // ... and it was an error
  std::string error;        // the CLI's own words for it
};
nlohmann::json to_json(const AgentSummary& summary);

class AgentAdapter {
 public:
  virtual ~AgentAdapter() = default;
  virtual std::string_view name() const = 0;
  // argv of the CLI for this job (the program name first). `isolated`: it runs in a
  // container (the container is its sandbox).
  virtual std::vector<std::string> command(const AgentSpec& spec, bool isolated) const = 0;
  // Reads one JSON event; returns the readable log text it becomes (lines ending in '\n',
  // possibly none) and updates the summary.
  virtual std::string on_event(const nlohmann::json& event, AgentSummary& summary) = 0;
  // Failures whose error text mentions one of these are transient (retried with backoff).
  virtual const std::vector<std::string>& retryable_patterns() const = 0;
};

std::unique_ptr<AgentAdapter> make_agent_adapter(std::string_view cli);  // null if unknown

// The marker lines the wrapper prints first.
inline constexpr std::string_view kAgentMarker = "corral-agent-cli: ";
inline constexpr std::string_view kAgentMissingMarker = "corral-agent-missing: ";
inline constexpr int kAgentMissingExit = 127;

// The sh script that runs the agent. `cli` is "claude", "codex" or "auto" (the runner's
// RUNNER_AGENT_CLI already applied); `auto` takes claude when it is on PATH, else codex.
// `push_hosts` ("host" or "host:port"): when not empty, and $GITHUB_TOKEN is set in the
// container, git there gets a credential helper that answers with that token for
// https://HOST only (git_credential_helper, through GIT_CONFIG_COUNT/KEY/VALUE variables:
// nothing is written to any git config file, and the script holds no token). Only resolve
// jobs on runners with RUNNER_AGENT_ALLOW_PUSH get any (JobExecutor).
std::string agent_wrapper_script(const AgentSpec& spec, std::string_view cli, bool isolated,
                                 const std::vector<std::string>& push_hosts = {});

// Splits the container's output into lines and turns them into the readable log.
class AgentStream {
 public:
  // max_events_bytes: the most of the raw event stream kept; past it the events are
  // counted but not kept (events_truncated()).
  explicit AgentStream(size_t max_events_bytes = size_t{15} << 20);  // the server takes 16 MiB

  // A piece of output, as it arrived; returns the readable text it completes.
  std::string feed(std::string_view data);
  // The output ended: returns the text of an unfinished last line, if any.
  std::string finish();

  const AgentSummary& summary() const { return summary_; }
  AgentSummary& summary() { return summary_; }
  // The CLI named by the wrapper's marker, "" before it.
  const std::string& cli() const { return summary_.cli; }
  // The wrapper found no usable CLI; missing() says what it printed.
  bool cli_missing() const { return !missing_.empty(); }
  const std::string& missing() const { return missing_; }
  // The raw JSON events, one per line, as the CLI printed them.
  const std::string& events() const { return events_; }
  bool events_truncated() const { return events_truncated_; }
  // Lines that were not JSON events (the CLI's stderr, the wrapper's words): the tail
  // that error classification reads beside the summary's error.
  const std::string& plain_tail() const { return plain_tail_; }
  // The chosen CLI's retryable patterns; none before the marker named one.
  const std::vector<std::string>& retryable_patterns() const;

 private:
  std::string on_line(std::string_view line);

  size_t max_events_bytes_;
  std::unique_ptr<AgentAdapter> adapter_;
  AgentSummary summary_;
  std::string partial_;
  std::string missing_;
  std::string events_;
  bool events_truncated_ = false;
  std::string plain_tail_;
};

// "Bash: ls -la", "Read: src/main.cpp": a tool call on one line, its input summarized.
std::string summarize_tool_call(std::string_view tool, const nlohmann::json& input,
                                size_t max_len = 160);

}  // namespace corral
