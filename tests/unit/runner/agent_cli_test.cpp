// The agent adapters (runner/agent_cli.h): command lines, the wrapper script run by a real
// sh with stand-in CLIs on PATH, and the event streams the real CLIs printed against the
// mock model server (tests/agent/fixtures, captured from Claude Code and Codex).
#include "runner/agent_cli.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace corral {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

AgentSpec spec_with(std::string cli, std::string prompt) {
  AgentSpec spec;
  spec.cli = std::move(cli);
  spec.prompt = std::move(prompt);
  return spec;
}

TEST(AgentCli, ClaudeCommandLineCarriesModelTurnsToolsAndArgs) {
  AgentSpec spec = spec_with("claude", "review it");
  spec.model = "claude-sonnet-4-5";
  spec.max_turns = 7;
  spec.allowed_tools = {"Read", "Bash(git diff:*)"};
  spec.args = {"--append-system-prompt", "be brief"};
  auto argv = make_agent_adapter("claude")->command(spec, true);
  ASSERT_GE(argv.size(), 6u);
  EXPECT_EQ(argv[0], "claude");
  EXPECT_EQ(argv[1], "-p");
  std::vector<std::string> tail(argv.begin() + 3, argv.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"--output-format", "stream-json", "--verbose",
                                            "--model", "claude-sonnet-4-5", "--max-turns", "7",
                                            "--allowedTools", "Read,Bash(git diff:*)",
                                            "--append-system-prompt", "be brief"}));
}

TEST(AgentCli, CodexCommandLineEndsWithThePrompt) {
  AgentSpec spec = spec_with("codex", "fix it");
  spec.model = "gpt-5-codex";
  auto argv = make_agent_adapter("codex")->command(spec, true);
  ASSERT_GE(argv.size(), 5u);
  EXPECT_EQ((std::vector<std::string>(argv.begin(), argv.begin() + 5)),
            (std::vector<std::string>{"codex", "exec", "--json", "--skip-git-repo-check",
                                      "--dangerously-bypass-approvals-and-sandbox"}));
  EXPECT_NE(std::find(argv.begin(), argv.end(), "gpt-5-codex"), argv.end());
  // On the host, Codex keeps its own sandbox.
  auto host = make_agent_adapter("codex")->command(spec, false);
  EXPECT_EQ(std::find(host.begin(), host.end(), "--dangerously-bypass-approvals-and-sandbox"),
            host.end());
  EXPECT_NE(std::find(host.begin(), host.end(), "workspace-write"), host.end());
  EXPECT_EQ(make_agent_adapter("cursor"), nullptr);
}

TEST(AgentCli, ToolCallsAreSummarizedOnOneLine) {
  EXPECT_EQ(summarize_tool_call("Bash", {{"command", "ls -la\nwc -l x"}}), "Bash: ls -la wc -l x");
  EXPECT_EQ(summarize_tool_call("Read", {{"file_path", "/workspace/a.cpp"}}),
            "Read: /workspace/a.cpp");
  EXPECT_EQ(summarize_tool_call("Todo", nlohmann::json::object()), "Todo");
  std::string long_line = summarize_tool_call("Bash", {{"command", std::string(500, 'x')}}, 40);
  EXPECT_EQ(long_line.size(), 40u);
  EXPECT_EQ(long_line.substr(37), "...");
}

// Runs the wrapper with `bin` first on PATH and returns {exit code, output}.
std::pair<int, std::string> run_wrapper(const std::string& script, const fs::path& bin,
                                        const std::string& prompt, const std::string& env = "") {
  fs::path file = bin / "wrapper.sh";
  std::ofstream(file) << script;
  // PATH holds only the stand-ins and mkdir: a CLI installed on this machine stays out.
  std::string cmd = "env -i " + env + " PATH=" + bin.string() +
                    " HOME=/nonexistent CORRAL_AGENT_PROMPT='" + prompt + "' /bin/sh " +
                    file.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class AgentWrapper : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = fs::temp_directory_path() / ("corral-agent-wrapper-" + std::to_string(::getpid()));
    fs::remove_all(bin_);
    fs::create_directories(bin_);
    fs::create_symlink("/bin/mkdir", bin_ / "mkdir");
  }
  void TearDown() override { fs::remove_all(bin_); }
  // A stand-in CLI that prints its name, its arguments one per line, and $HOME.
  void stand_in(const std::string& name) {
    fs::path path = bin_ / name;
    std::ofstream(path) << "#!/bin/sh\necho \"" << name
                        << " ran\"\nfor a in \"$@\"; do echo \"arg:$a\"; done\n"
                        << "echo \"home:$HOME\"\necho oops >&2\n";
    fs::permissions(path, fs::perms::owner_all);
  }
  fs::path bin_;
};

TEST_F(AgentWrapper, AutoPrefersClaudeAndPassesThePromptAsOneArgument) {
  stand_in("claude");
  stand_in("codex");
  auto [code, out] = run_wrapper(agent_wrapper_script(spec_with("auto", "x"), "auto", true), bin_,
                                 "review $PWD; `rm -rf /`");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("corral-agent-cli: claude\n"), std::string::npos) << out;
  EXPECT_NE(out.find("claude ran"), std::string::npos);
  EXPECT_NE(out.find("arg:review $PWD; `rm -rf /`\n"), std::string::npos) << out;
  // stderr joins stdout; an unwritable HOME is replaced by a writable one.
  EXPECT_NE(out.find("oops"), std::string::npos);
  EXPECT_NE(out.find("home:/tmp/corral-agent-home"), std::string::npos) << out;
}

TEST_F(AgentWrapper, AutoFallsBackToCodexAndAFixedChoiceIsKept) {
  stand_in("codex");
  auto [code, out] =
      run_wrapper(agent_wrapper_script(spec_with("auto", "x"), "auto", true), bin_, "p");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("corral-agent-cli: codex\n"), std::string::npos) << out;
  EXPECT_NE(out.find("arg:exec\n"), std::string::npos);
  EXPECT_EQ(out.find("model_provider"), std::string::npos) << out;
  // Codex reads no OPENAI_BASE_URL: the wrapper makes it a model provider.
  auto [with_url_code, with_url] =
      run_wrapper(agent_wrapper_script(spec_with("codex", "x"), "codex", true), bin_, "p",
                  "OPENAI_BASE_URL=http://127.0.0.1:9/v1");
  EXPECT_EQ(with_url_code, 0);
  EXPECT_NE(with_url.find("arg:model_provider=corral\n"), std::string::npos) << with_url;
  EXPECT_NE(with_url.find("arg:model_providers.corral.base_url=\"http://127.0.0.1:9/v1\"\n"),
            std::string::npos)
      << with_url;

  auto [missing_code, missing] =
      run_wrapper(agent_wrapper_script(spec_with("claude", "x"), "claude", true), bin_, "p");
  EXPECT_EQ(missing_code, kAgentMissingExit);
  EXPECT_NE(missing.find("corral-agent-missing: claude is not installed in this image"),
            std::string::npos)
      << missing;
}

// A resolve job on a runner that may push: git in the container asks the wrapper's
// credential helper, which answers with $GITHUB_TOKEN for the push hosts only.
TEST_F(AgentWrapper, PushHostsGetACredentialHelperThatReadsTheTokenFromTheEnvironment) {
  fs::path path = bin_ / "claude";
  std::ofstream(path) << "#!/bin/sh\n"
                      << "echo \"count:$GIT_CONFIG_COUNT\"\n"
                      << "for h in 127.0.0.1:8443 evil.example.com; do\n"
                      << "  printf 'protocol=https\\nhost=%s\\n\\n' \"$h\" |"
                      << " GIT_TERMINAL_PROMPT=0 /usr/bin/git credential fill\n"
                      << "  echo \"fill $h:$?\"\n"
                      << "done\n"
                      << "printf 'protocol=http\\nhost=127.0.0.1:8443\\n\\n' |"
                      << " GIT_TERMINAL_PROMPT=0 /usr/bin/git credential fill\n";
  fs::permissions(path, fs::perms::owner_all);
  const std::string token = "ghp_t0ken_for_pushes";
  std::string script =
      agent_wrapper_script(spec_with("claude", "x"), "claude", true, {"127.0.0.1:8443"});
  EXPECT_EQ(script.find(token), std::string::npos);

  auto [code, out] = run_wrapper(script, bin_, "p", "GITHUB_TOKEN=" + token);
  EXPECT_EQ(code, 128) << out;  // the last fill: plain http gets nothing
  EXPECT_NE(out.find("host=127.0.0.1:8443\nusername=x-access-token\npassword=" + token + "\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("fill 127.0.0.1:8443:0"), std::string::npos) << out;
  EXPECT_NE(out.find("fill evil.example.com:128"), std::string::npos) << out;
  EXPECT_EQ(out.find("password=" + token, out.find("fill 127.0.0.1:8443:0")), std::string::npos)
      << "only the push host gets the token: " << out;

  // Without a token in the container, or without push hosts, git gets no helper at all.
  auto [no_token_code, no_token] = run_wrapper(script, bin_, "p");
  EXPECT_NE(no_token.find("count:\n"), std::string::npos) << no_token;
  EXPECT_EQ(no_token.find("password="), std::string::npos) << no_token;
  auto [no_hosts_code, no_hosts] =
      run_wrapper(agent_wrapper_script(spec_with("claude", "x"), "claude", true), bin_, "p",
                  "GITHUB_TOKEN=" + token);
  EXPECT_NE(no_hosts.find("count:\n"), std::string::npos) << no_hosts;
  EXPECT_EQ(no_hosts.find("password="), std::string::npos) << no_hosts;
  EXPECT_NE(no_hosts.find("fill 127.0.0.1:8443:128"), std::string::npos) << no_hosts;
}

TEST_F(AgentWrapper, NoCliAtAllIsNamedAndTheStreamSaysSo) {
  auto [code, out] =
      run_wrapper(agent_wrapper_script(spec_with("auto", "x"), "auto", true), bin_, "p");
  EXPECT_EQ(code, kAgentMissingExit);
  AgentStream stream;
  std::string log = stream.feed(out);
  log += stream.finish();
  EXPECT_TRUE(stream.cli_missing());
  EXPECT_NE(stream.missing().find("neither claude (Claude Code) nor codex"), std::string::npos);
  EXPECT_EQ(log.find("corral-agent-missing"), std::string::npos)
      << "the marker is not shown: " << log;
}

TEST(AgentStreamTest, SplitsLinesAcrossPiecesAndKeepsEventsVerbatim) {
  AgentStream stream;
  std::string input =
      "corral-agent-cli: claude\n"
      R"({"type":"system","subtype":"init","model":"m1","session_id":"s1","claude_code_version":"2.1"})"
      "\nplain words from stderr\n"
      R"({"type":"assistant","message":{"content":[{"type":"text","text":"Looks fine."},)"
      R"({"type":"tool_use","name":"Bash","input":{"command":"git diff"}}]}})"
      "\n"
      R"({"type":"result","subtype":"success","is_error":false,"duration_ms":1500,"num_turns":2,)"
      R"("result":"Looks fine.","session_id":"s1","total_cost_usd":0.25,)"
      R"("usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":20}})"
      "\n";
  std::string log;
  for (size_t i = 0; i < input.size(); i += 7)
    log += stream.feed(std::string_view(input).substr(i, 7));
  log += stream.finish();
  EXPECT_EQ(stream.cli(), "claude");
  EXPECT_NE(log.find("agent: Claude Code 2.1, model m1\n"), std::string::npos) << log;
  EXPECT_NE(log.find("plain words from stderr\n"), std::string::npos);
  EXPECT_NE(log.find("Looks fine.\n> Bash: git diff\n"), std::string::npos) << log;
  EXPECT_NE(log.find("agent: finished after 1.5 s, 2 turns, $0.2500"), std::string::npos) << log;
  EXPECT_EQ(log.find("{\"type\""), std::string::npos) << "no raw JSON in the log: " << log;
  const auto& s = stream.summary();
  EXPECT_EQ(s.final_text, "Looks fine.");
  EXPECT_DOUBLE_EQ(s.cost_usd, 0.25);
  EXPECT_EQ(s.input_tokens, 15);
  EXPECT_EQ(s.cache_read_tokens, 100);
  EXPECT_EQ(s.output_tokens, 20);
  EXPECT_EQ(s.num_turns, 2);
  EXPECT_EQ(s.session_id, "s1");
  EXPECT_FALSE(s.is_error);
  // Three events, each on its own line, exactly as printed.
  EXPECT_EQ(std::count(stream.events().begin(), stream.events().end(), '\n'), 3);
  EXPECT_EQ(stream.events().find("plain words"), std::string::npos);
  EXPECT_EQ(stream.plain_tail(), "plain words from stderr\n");
}

TEST(AgentStreamTest, KeepsNoMoreEventsThanItsLimit) {
  AgentStream stream(100);
  stream.feed("corral-agent-cli: codex\n");
  for (int i = 0; i < 10; ++i)
    stream.feed(R"({"type":"turn.started","n":12345678901234})"
                "\n");
  EXPECT_LE(stream.events().size(), 100u);
  EXPECT_TRUE(stream.events_truncated());
}

// ---- the real CLIs' output, captured against tests/agent/mock-model.mjs

struct Replay {
  std::string log;
  AgentSummary summary;
};

Replay replay(const std::string& cli, const std::string& scenario) {
  fs::path dir = fs::path(CORRAL_SOURCE_DIR) / "tests/agent/fixtures";
  std::string out = read_file(dir / (cli + "-" + scenario + ".stdout.jsonl"));
  EXPECT_FALSE(out.empty()) << "missing fixture " << cli << "-" << scenario;
  AgentStream stream;
  Replay r;
  r.log = stream.feed("corral-agent-cli: " + cli + "\n");
  r.log += stream.feed(out);
  r.log += stream.finish();
  r.summary = stream.summary();
  return r;
}

TEST(AgentFixtures, ClaudeReviewGivesFinalTextCostAndTokens) {
  auto r = replay("claude", "ok");
  EXPECT_FALSE(r.summary.is_error);
  EXPECT_TRUE(r.summary.finished);
  EXPECT_NE(r.summary.final_text.find("mock review"), std::string::npos) << r.summary.final_text;
  EXPECT_TRUE(r.summary.cost_known);
  EXPECT_GT(r.summary.output_tokens, 0);
  EXPECT_GT(r.summary.num_turns, 0);
  EXPECT_FALSE(r.summary.session_id.empty());
  EXPECT_FALSE(r.summary.model.empty());
  EXPECT_EQ(r.log.find("{\"type\""), std::string::npos) << r.log;
}

TEST(AgentFixtures, ClaudeToolCallShowsAsOneLine) {
  auto r = replay("claude", "tool");
  EXPECT_NE(r.log.find("> Bash: "), std::string::npos) << r.log;
  EXPECT_FALSE(r.summary.is_error);
}

TEST(AgentFixtures, ClaudeErrorsAreClassified) {
  auto overloaded = replay("claude", "overloaded");
  EXPECT_TRUE(overloaded.summary.is_error) << overloaded.log;
  auto adapter = make_agent_adapter("claude");
  std::string overloaded_text = overloaded.summary.error + "\n" + overloaded.log;
  bool retryable = false;
  for (const auto& p : adapter->retryable_patterns()) {
    if (overloaded_text.find(p) != std::string::npos) retryable = true;
  }
  EXPECT_TRUE(retryable) << overloaded_text;

  auto unauthorized = replay("claude", "unauthorized");
  EXPECT_TRUE(unauthorized.summary.is_error) << unauthorized.log;
  EXPECT_FALSE(unauthorized.summary.error.empty());
}

TEST(AgentFixtures, CodexReviewGivesFinalTextAndTokens) {
  auto r = replay("codex", "ok");
  EXPECT_FALSE(r.summary.is_error) << r.log;
  EXPECT_TRUE(r.summary.finished);
  EXPECT_NE(r.summary.final_text.find("mock review"), std::string::npos) << r.log;
  EXPECT_GT(r.summary.output_tokens, 0);
  EXPECT_EQ(r.summary.num_turns, 1);
  EXPECT_FALSE(r.summary.session_id.empty());
  EXPECT_FALSE(r.summary.cost_known);
}

TEST(AgentFixtures, CodexToolCallShowsAsOneLine) {
  auto r = replay("codex", "tool");
  EXPECT_NE(r.log.find("> shell: "), std::string::npos) << r.log;
}

TEST(AgentFixtures, CodexErrorsAreErrors) {
  for (const char* scenario : {"overloaded", "unauthorized"}) {
    auto r = replay("codex", scenario);
    EXPECT_TRUE(r.summary.is_error || !r.summary.error.empty()) << scenario << ": " << r.log;
  }
}

}  // namespace
}  // namespace corral
