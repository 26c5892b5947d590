#include "api/repo.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "common/redact.h"

namespace corral {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool valid_part(const std::string& part) {
  static const std::regex kPart("^[A-Za-z0-9._-]{1,100}$");
  return std::regex_match(part, kPart) && part != "." && part != "..";
}

// Runner and group names as runners register them.
bool valid_runner_or_group(const std::string& s) {
  static const std::regex kName("^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$");
  return std::regex_match(s, kName);
}

}  // namespace

json to_json(const RepoMapping& repo) {
  json steward = nullptr;
  if (!repo.steward_runner.empty())
    steward = {{"runner", repo.steward_runner}};
  else if (!repo.steward_group.empty())
    steward = {{"group", repo.steward_group}};
  return {{"repo", repo.full_name},
          {"tenant", repo.tenant},
          {"group", repo.group.empty() ? json(nullptr) : json(repo.group)},
          {"steward", steward},
          {"created_at", repo.created_at > 0 ? json(format_time(repo.created_at)) : json(nullptr)},
          {"updated_at", repo.updated_at > 0 ? json(format_time(repo.updated_at)) : json(nullptr)},
          {"updated_by", repo.updated_by},
          {"url", repo.clone_url.empty() ? json(nullptr) : json(without_userinfo(repo.clone_url))},
          {"webhook_secret_set", !repo.webhook_secret.empty()},
          {"last_auto_refresh_at", repo.last_auto_refresh_at > 0
                                       ? json(format_time(repo.last_auto_refresh_at))
                                       : json(nullptr)}};
}

Result<std::string> normalize_repo_full_name(const std::string& owner, const std::string& name) {
  for (const auto& [what, part] : {std::pair{"owner", owner}, std::pair{"name", name}}) {
    if (!valid_part(part)) {
      return make_error(ErrorCode::kBadRequest,
                        std::string("repository ") + what + " '" + part +
                            "' is not valid: use 1-100 letters, digits, '.', '_' or '-', as in "
                            "/api/v1/repos/octo-org/hello-world");
    }
  }
  std::string n = name;
  if (n.size() > 4 && lower(n.substr(n.size() - 4)) == ".git") n.resize(n.size() - 4);
  return lower(owner) + "/" + lower(n);
}

Result<void> parse_repo_mapping_body(const json& body, RepoMapping& out) {
  if (!body.is_object()) {
    return invalid_field(
        "(body)", "must be a JSON object {group, steward: {runner: NAME} | {group: NAME} | null}");
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "group" && it.key() != "steward" && it.key() != "tenant" && it.key() != "url" &&
        it.key() != "webhook_secret") {
      return invalid_field(it.key(),
                           "unknown field; a mapping has group, steward, url, webhook_secret and "
                           "(for admins of other tenants) tenant");
    }
  }
  out.webhook_secret.clear();
  out.webhook_secret_given = body.contains("webhook_secret");
  if (out.webhook_secret_given && !body["webhook_secret"].is_null()) {
    if (!body["webhook_secret"].is_string() ||
        body["webhook_secret"].get<std::string>().size() > 256) {
      return invalid_field("webhook_secret",
                           "must be the secret of the repository's GitHub webhook (a string of at "
                           "most 256 characters), or null or \"\" for none");
    }
    out.webhook_secret = body["webhook_secret"].get<std::string>();
  }
  out.clone_url.clear();
  if (body.contains("url") && !body["url"].is_null()) {
    static const std::regex kUrl(R"(^(https?://|ssh://|git://|file://|git@|/)[^\s]{1,2000}$)");
    if (!body["url"].is_string() || !std::regex_match(body["url"].get<std::string>(), kUrl)) {
      return invalid_field("url",
                           "must be a clone URL such as https://github.com/OWNER/REPO.git or "
                           "git@host:OWNER/REPO.git");
    }
    out.clone_url = body["url"].get<std::string>();
  }
  out.group.clear();
  out.steward_runner.clear();
  out.steward_group.clear();
  if (body.contains("group") && !body["group"].is_null()) {
    if (!body["group"].is_string() || !valid_runner_or_group(body["group"].get<std::string>())) {
      return invalid_field(
          "group",
          "must be a runner group name (letters, digits and _.:@-, up to 128), e.g. \"gpu-pool\"");
    }
    out.group = body["group"].get<std::string>();
  }
  if (body.contains("steward") && !body["steward"].is_null()) {
    const auto& s = body["steward"];
    if (!s.is_object() || s.size() != 1 || !(s.contains("runner") || s.contains("group"))) {
      return invalid_field(
          "steward",
          "must be {\"runner\": NAME} or {\"group\": NAME} (one of them), or null for none");
    }
    const char* key = s.contains("runner") ? "runner" : "group";
    if (!s[key].is_string() || !valid_runner_or_group(s[key].get<std::string>())) {
      return invalid_field(std::string("steward.") + key,
                           "must be a runner or group name (letters, digits and _.:@-, up to 128)");
    }
    (s.contains("runner") ? out.steward_runner : out.steward_group) = s[key].get<std::string>();
  }
  if (out.group.empty() && !out.has_steward() && out.webhook_secret.empty()) {
    return invalid_field("group",
                         "a mapping needs a group, a steward or a webhook_secret; to remove one, "
                         "DELETE it");
  }
  return {};
}

std::optional<std::string> repo_full_name_from_url(const std::string& url) {
  std::string path;
  auto scheme_end = url.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = lower(url.substr(0, scheme_end));
    if (scheme == "file") return std::nullopt;
    std::string rest = url.substr(scheme_end + 3);
    auto slash = rest.find('/');
    if (slash == std::string::npos) return std::nullopt;
    path = rest.substr(slash + 1);
  } else {
    // scp-like: [user@]host:path, where host has no '/' (else it is a local path).
    auto colon = url.find(':');
    auto first_slash = url.find('/');
    if (colon == std::string::npos || colon == 0 ||
        (first_slash != std::string::npos && first_slash < colon)) {
      return std::nullopt;
    }
    path = url.substr(colon + 1);
  }
  auto query = path.find_first_of("?#");
  if (query != std::string::npos) path.resize(query);
  while (!path.empty() && path.back() == '/') path.pop_back();
  auto last = path.rfind('/');
  if (last == std::string::npos || last == 0) return std::nullopt;
  auto before = path.rfind('/', last - 1);
  std::string owner = path.substr(before == std::string::npos ? 0 : before + 1,
                                  last - (before == std::string::npos ? 0 : before + 1));
  std::string name = path.substr(last + 1);
  auto full = normalize_repo_full_name(owner, name);
  if (!full.ok()) return std::nullopt;
  return *full;
}

void apply_repo_mapping(Job& job, const RepoMapping* repo) {
  if (job.repo_name.empty() && job.spec.repo) {
    job.repo_name = repo_full_name_from_url(job.spec.repo->url).value_or("");
  }
  if (!job.spec.group.empty()) {
    job.group_source = kGroupFromJob;
  } else if (repo && !repo->group.empty()) {
    job.spec.group = repo->group;
    job.group_source = kGroupFromRepo;
  }
}

}  // namespace corral
