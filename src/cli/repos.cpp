// `corral repos`, `corral repos set|rm` (admin: repository mappings) and `corral settings`
// (a user's own settings). See docs/operations.md.
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

// "owner/name" -> the API path of its mapping.
std::string repo_path(const std::string& full_name) {
  auto slash = full_name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == full_name.size() ||
      full_name.find('/', slash + 1) != std::string::npos) {
    usage_error("'" + full_name +
                "': name the repository as OWNER/NAME, e.g. octo-org/hello-world");
  }
  return "/api/v1/repos/" + url_encode(full_name.substr(0, slash)) + "/" +
         url_encode(full_name.substr(slash + 1));
}

std::string steward_text(const json& steward) {
  if (steward.is_null()) return "-";
  if (steward.contains("runner")) return "runner " + str(steward["runner"]);
  return "group " + str(steward["group"]);
}

struct SetOptions {
  ClientOptions client;
  std::string repo, group, steward_runner, steward_group;
};

}  // namespace

void add_repo_commands(CLI::App& app) {
  auto list = std::make_shared<ClientOptions>();
  auto* repos = app.add_subcommand(
      "repos", "List repository mappings (admin); `repos set` and `repos rm` change them");
  add_client_options(repos, *list);
  repos->require_subcommand(0, 1);
  repos->callback([list, repos] {
    if (!repos->get_subcommands().empty()) return;
    Client client(*list);
    auto body = client.call_json(http::verb::get, "/api/v1/repos");
    if (list->json_output) {
      std::cout << body.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{{"REPO", "GROUP", "STEWARD", "UPDATED"}};
    for (const auto& r : body["repos"]) {
      rows.push_back(
          {str(r["repo"]), str(r["group"]), steward_text(r["steward"]), ago(r["updated_at"])});
    }
    print_table(rows);
  });
  {
    auto o = std::make_shared<SetOptions>();
    auto* cmd = repos->add_subcommand("set",
                                      "Map a repository to a group and/or a steward: corral repos "
                                      "set OWNER/NAME --group G [--steward-runner R | "
                                      "--steward-group G2]");
    add_client_options(cmd, o->client);
    cmd->add_option("repo", o->repo, "Repository as OWNER/NAME")->required();
    cmd->add_option("--group", o->group,
                    "Runner group the repository's jobs go to when they name none");
    auto* by_runner = cmd->add_option(
        "--steward-runner", o->steward_runner,
        "Runner that takes the repository's jobs when every runner that could is stale");
    auto* by_group = cmd->add_option("--steward-group", o->steward_group,
                                     "Like --steward-runner, any runner of a group");
    by_runner->excludes(by_group);
    cmd->callback([o] {
      if (o->group.empty() && o->steward_runner.empty() && o->steward_group.empty()) {
        usage_error("give --group, a steward (--steward-runner or --steward-group), or both");
      }
      json steward = nullptr;
      if (!o->steward_runner.empty()) steward = {{"runner", o->steward_runner}};
      if (!o->steward_group.empty()) steward = {{"group", o->steward_group}};
      json body{{"group", o->group.empty() ? json(nullptr) : json(o->group)}, {"steward", steward}};
      Client client(o->client);
      auto r = client.call_json(http::verb::put, repo_path(o->repo), body);
      if (o->client.json_output) {
        std::cout << r.dump(2) << "\n";
        return;
      }
      std::cout << "mapped " << str(r["repo"]) << ": group " << str(r["group"]) << ", steward "
                << steward_text(r["steward"]) << "\n";
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = repos->add_subcommand(
        "rm", "Remove a repository mapping (queued jobs keep the group they got)");
    add_client_options(cmd, o->first);
    cmd->add_option("repo", o->second, "Repository as OWNER/NAME")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto r = client.call_json(http::verb::delete_, repo_path(o->second));
      if (o->first.json_output)
        std::cout << r.dump(2) << "\n";
      else
        std::cout << "removed the mapping of " << str(r["repo"]) << "\n";
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd =
        app.add_subcommand("settings", "Show or change your own settings (kept on your token)");
    add_client_options(cmd, o->first);
    cmd->add_option("--steward-fallback", o->second,
                    "on: a repository's steward may run your jobs (that do not say otherwise) when "
                    "every runner "
                    "that could is stale; off: never")
        ->check(CLI::IsMember({"on", "off"}));
    cmd->callback([o] {
      Client client(o->first);
      json settings = o->second.empty()
                          ? client.call_json(http::verb::get, "/api/v1/me/settings")
                          : client.call_json(http::verb::put, "/api/v1/me/settings",
                                             {{"steward_fallback", o->second == "on"}});
      if (o->first.json_output) {
        std::cout << settings.dump(2) << "\n";
        return;
      }
      std::cout << "steward fallback: " << (settings["steward_fallback"].get<bool>() ? "on" : "off")
                << "\n";
    });
  }
}

}  // namespace corral::cli
