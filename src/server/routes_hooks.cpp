// POST /api/v1/hooks/github: GitHub's webhook. A push or pull_request delivery, signed with
// the repository mapping's webhook secret (X-Hub-Signature-256), queues one small job: a
// runner checks the repository out at the event's sha and returns its .github/workflows
// files; when that job finishes the server starts the workflows the event triggers
// (start_discovered_workflows). The server itself never clones. A delivery is handled once:
// X-GitHub-Delivery is the job's idempotency key.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "api/repo.h"
#include "common/crypto.h"
#include "common/json_limits.h"
#include "server/context.h"

namespace corral {

namespace {

Error hook_error(ErrorCode code, const std::string& why) {
  return make_error(code, why);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string text_at(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return "";
    at = &(*at)[key];
  }
  return at->is_string() ? at->get<std::string>() : "";
}

awaitable<Response> github_hook(ServerContext& ctx, RequestContext& req) {
  const std::string& body = req.msg.body();
  std::string event(req.msg["X-GitHub-Event"]);
  std::string delivery(req.msg["X-GitHub-Delivery"]);
  std::string signature(req.msg["X-Hub-Signature-256"]);
  if (signature.rfind("sha256=", 0) != 0) {
    co_return error_of(hook_error(
        ErrorCode::kUnauthorized,
        "missing X-Hub-Signature-256: give the GitHub webhook a secret, and the same secret to the "
        "repository mapping (PUT /api/v1/repos/OWNER/NAME {webhook_secret})"));
  }
  auto payload = parse_json_limited(body, "the webhook's payload", {kMaxJsonDepth, body.size()});
  if (!payload.ok() || !payload->is_object()) {
    co_return error_of(
        hook_error(ErrorCode::kBadRequest, "the webhook's payload is not a JSON object"));
  }
  std::string full_name = lower(text_at(*payload, {"repository", "full_name"}));
  if (full_name.empty()) {
    co_return error_of(
        hook_error(ErrorCode::kBadRequest, "the payload names no repository.full_name"));
  }
  // Whose repository it is: the mapping whose secret signed this body.
  auto mappings = co_await ctx.db([&] { return ctx.store.repos_with_webhook(full_name); });
  if (!mappings.ok()) co_return error_of(mappings.error());
  const RepoMapping* repo = nullptr;
  for (const auto& m : *mappings) {
    if (constant_time_equal("sha256=" + hmac_sha256_hex(m.webhook_secret, body), signature))
      repo = &m;
  }
  if (!repo) {
    co_return error_of(
        hook_error(ErrorCode::kUnauthorized,
                   "X-Hub-Signature-256 matches no webhook secret set for repository " + full_name +
                       " (PUT /api/v1/repos/" + full_name + " {webhook_secret})"));
  }
  if (event == "ping") co_return json_ok({{"pong", true}, {"repo", full_name}});
  if (event != "push" && event != "pull_request") {
    co_return json_ok(
        {{"ignored", "event '" + event + "' starts no workflow (push and pull_request do)"}},
        http::status::accepted);
  }
  if (delivery.empty() || delivery.size() > 200) {
    co_return error_of(hook_error(ErrorCode::kBadRequest, "missing X-GitHub-Delivery"));
  }

  json discover = {{"event", event}, {"delivery", delivery}, {"repository", full_name}};
  std::string sha, ref;
  if (event == "push") {
    sha = text_at(*payload, {"after"});
    ref = text_at(*payload, {"ref"});
    if (sha.empty() || sha.find_first_not_of('0') == std::string::npos) {
      co_return json_ok({{"ignored", "a push that deletes " + ref + " starts no workflow"}},
                        http::status::accepted);
    }
    std::set<std::string> changed;
    if (payload->contains("commits") && (*payload)["commits"].is_array()) {
      for (const auto& commit : (*payload)["commits"]) {
        for (const char* kind : {"added", "removed", "modified"}) {
          if (!commit.is_object() || !commit.contains(kind) || !commit[kind].is_array()) continue;
          for (const auto& path : commit[kind]) {
            if (path.is_string()) changed.insert(path.get<std::string>());
          }
        }
      }
    }
    discover["changed_paths"] = changed;
  } else {
    sha = text_at(*payload, {"pull_request", "head", "sha"});
    const json& number = (*payload)["number"];
    ref = "refs/pull/" +
          (number.is_number_integer() ? std::to_string(number.get<int64_t>()) : std::string("0")) +
          "/merge";
    discover["action"] = text_at(*payload, {"action"});
    discover["base_ref"] = text_at(*payload, {"pull_request", "base", "ref"});
  }
  if (sha.empty())
    co_return error_of(hook_error(ErrorCode::kBadRequest, "the payload names no commit sha"));
  discover["sha"] = sha;
  discover["ref"] = ref;
  std::string url =
      !repo->clone_url.empty() ? repo->clone_url : text_at(*payload, {"repository", "clone_url"});
  if (url.empty()) url = "https://github.com/" + full_name + ".git";
  discover["url"] = url;

  // Runs started by the webhook belong to the admin who set the secret.
  const std::string& owner_id = repo->updated_by;
  auto owner = co_await ctx.db([&] { return ctx.store.get_token(owner_id); });
  if (!owner.ok() || owner->revoked_at != 0) {
    co_return error_of(
        hook_error(ErrorCode::kConflict,
                   "the token that set " + full_name +
                       "'s webhook secret is revoked: an admin must set the secret again"));
  }
  json spec_body = {
      {"name", "workflows of " + full_name + " at " + sha.substr(0, 12) + " (" + event + ")"},
      {"repo", {{"url", url}, {"sha", sha}}},
      {"workflow", {{"discover", discover}}},
      {"max_attempts", 3}};
  auto spec = parse_job_spec(spec_body);
  if (!spec.ok()) co_return error_of(spec.error());
  auto created =
      co_await submit_job(ctx, *owner, std::move(spec.value()), "github-delivery:" + delivery);
  if (!created.ok()) co_return error_of(created.error());
  if (!created->created) {
    co_return json_ok({{"duplicate", true}, {"job_id", created->job.id}, {"delivery", delivery}});
  }
  spdlog::info("github {} of {} at {} (delivery {}): job {} reads its workflows", event, full_name,
               sha, delivery, created->job.id);
  co_return json_ok({{"duplicate", false}, {"job_id", created->job.id}, {"delivery", delivery}},
                    http::status::accepted);
}

}  // namespace

void add_hook_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/hooks/github",
             [&ctx](RequestContext& req) { return github_hook(ctx, req); });
}

}  // namespace corral
