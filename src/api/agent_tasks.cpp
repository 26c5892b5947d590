#include "api/agent_tasks.h"

#include <regex>

#include "api/repo.h"
#include "common/numbers.h"

namespace corral {

namespace {

std::string replace_all(std::string text, std::string_view what, const std::string& with) {
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

Result<std::string> checked_full_name(const std::string& owner, std::string name) {
  if (name.size() > 4 && name.substr(name.size() - 4) == ".git") name.resize(name.size() - 4);
  return normalize_repo_full_name(owner, name);
}

constexpr std::string_view kResultNote =
    "Write what you found as JSON to .corral/result.json in the repository's directory (create "
    ".corral/ if needed; it is read by corral, not committed), then answer with a short summary.";

}  // namespace

Result<TaskTarget> parse_task_url(const std::string& url, std::string_view kind) {
  static const std::regex kUrl(
      R"(^https?://([^/\s]+)/([^/\s]+)/([^/\s]+)/(pull|issues)/([0-9]{1,9})(/.*)?$)");
  std::smatch m;
  std::string example = kind == "pull" ? "https://github.com/OWNER/REPO/pull/123"
                                       : "https://github.com/OWNER/REPO/issues/123";
  if (!std::regex_match(url, m, kUrl) || m[4].str() != kind) {
    return make_error(ErrorCode::kBadRequest, "'" + url + "' is not a " +
                                                  (kind == "pull" ? "pull request" : "issue") +
                                                  " URL such as " + example);
  }
  auto full_name = checked_full_name(m[2].str(), m[3].str());
  if (!full_name.ok()) return full_name.error();
  auto number = parse_number<int>(m[5].str());
  if (!number) {
    return make_error(ErrorCode::kBadRequest,
                      "'" + url + "' has a number too large for a pull request or issue");
  }
  TaskTarget t;
  t.host = m[1].str();
  t.full_name = *full_name;
  t.number = *number;
  t.clone_url = "https://" + t.host + "/" + m[2].str() + "/" + m[3].str() + ".git";
  return t;
}

Result<TaskTarget> parse_repo_target(const std::string& text) {
  static const std::regex kShort(R"(^([^/\s:]+)/([^/\s]+)$)");
  static const std::regex kUrl(R"(^https?://([^/\s]+)/([^/\s]+)/([^/\s]+?)/?$)");
  std::smatch m;
  TaskTarget t;
  std::string owner, name;
  if (std::regex_match(text, m, kShort)) {
    t.host = "github.com";
    owner = m[1].str();
    name = m[2].str();
  } else if (std::regex_match(text, m, kUrl)) {
    t.host = m[1].str();
    owner = m[2].str();
    name = m[3].str();
  } else {
    return make_error(
        ErrorCode::kBadRequest,
        "'" + text + "' is not a repository: give OWNER/REPO or https://github.com/OWNER/REPO");
  }
  auto full_name = checked_full_name(owner, name);
  if (!full_name.ok()) return full_name.error();
  t.full_name = *full_name;
  if (name.size() > 4 && name.substr(name.size() - 4) == ".git") name.resize(name.size() - 4);
  t.clone_url = "https://" + t.host + "/" + owner + "/" + name + ".git";
  return t;
}

std::string fill_task_prompt(std::string prompt, const TaskTarget& target) {
  std::string url = "https://" + target.host + "/" + target.full_name;
  prompt = replace_all(std::move(prompt), "{repo}", target.full_name);
  prompt = replace_all(std::move(prompt), "{number}", std::to_string(target.number));
  return replace_all(std::move(prompt), "{url}", url);
}

std::string default_task_prompt(std::string_view type, const TaskTarget& target) {
  std::string prompt;
  if (type == "review") {
    prompt =
        "Review pull request #{number} of {repo} ({url}/pull/{number}). The repository is checked "
        "out in the current directory at the pull request's head commit. Find what the change does "
        "with git (its commits since it left the default branch, and their diff). Look for bugs, "
        "security problems, missing tests and unclear code; do not change any file. ";
    prompt += kResultNote;
    prompt +=
        " Its shape: {\"summary\": \"...\", \"findings\": [{\"file\": \"path\", \"line\": 1, "
        "\"severity\": \"high|medium|low\", \"message\": \"...\"}]}.";
  } else if (type == "analysis-pr") {
    prompt =
        "Analyse the open pull requests of {repo} ({url}). The repository is checked out in the "
        "current directory. List them with the gh CLI or the forge's API ($GITHUB_TOKEN is set "
        "when "
        "the runner has one). For each, say what it changes, how risky it is, and whether it looks "
        "ready to merge. ";
    prompt += kResultNote;
    prompt +=
        " Its shape: {\"summary\": \"...\", \"items\": [{\"number\": 1, \"title\": \"...\", "
        "\"assessment\": \"...\", \"risk\": \"high|medium|low\"}]}.";
  } else if (type == "analysis-issue") {
    prompt =
        "Triage the open issues of {repo} ({url}). The repository is checked out in the current "
        "directory. List them with the gh CLI or the forge's API ($GITHUB_TOKEN is set when the "
        "runner has one). For each, say what kind it is, how urgent, and where in the code a fix "
        "would go. ";
    prompt += kResultNote;
    prompt +=
        " Its shape: {\"summary\": \"...\", \"items\": [{\"number\": 1, \"title\": \"...\", "
        "\"category\": \"bug|feature|question|other\", \"priority\": \"high|medium|low\", "
        "\"suggestion\": \"...\"}]}.";
  } else if (type == "resolve") {
    prompt =
        "Resolve issue #{number} of {repo} ({url}/issues/{number}). The repository is checked out "
        "in the current directory. Read the issue with the gh CLI or the forge's API. Make the "
        "fix, "
        "with a test, on a new branch named corral/issue-{number}, and commit it. Then push it "
        "with `git push origin corral/issue-{number}`: git has a credential only when this "
        "runner allows pushes; if the push fails, leave the branch committed and say so. ";
    prompt += kResultNote;
    prompt +=
        " Its shape: {\"summary\": \"...\", \"branch\": \"corral/issue-{number}\", \"commits\": "
        "[\"sha\"], \"pushed\": true}.";
  }
  return fill_task_prompt(std::move(prompt), target);
}

json agent_task_spec(std::string_view type, const TaskTarget& target, const std::string& prompt,
                     const std::string& cli) {
  std::string name = std::string(type) + " " + target.full_name;
  if (target.number > 0) name += "#" + std::to_string(target.number);
  json repo{{"url", target.clone_url}};
  if (type == "review") repo["ref"] = "refs/pull/" + std::to_string(target.number) + "/head";
  // Claude Code asks before it writes a file or runs a command; a job cannot answer, so the
  // tasks allow what they need (Codex runs in the container's sandbox without asking).
  json tools = {"Read", "Grep", "Glob", "Bash", "Write", "Edit"};
  return {{"name", name},
          {"type", std::string(type)},
          {"repo", repo},
          {"agent", {{"cli", cli}, {"prompt", prompt}, {"allowed_tools", tools}}}};
}

}  // namespace corral
