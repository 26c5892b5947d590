#include "server/steward.h"

#include <algorithm>

#include "server/matching.h"
#include "store/store.h"

namespace corral {

bool is_steward_of(const Runner& runner, const RepoMapping& repo) {
  if (runner.tenant != repo.tenant) return false;
  if (!repo.steward_runner.empty()) return runner.reg.name == repo.steward_runner;
  return !repo.steward_group.empty() && runner.reg.group == repo.steward_group;
}

bool steward_fallback_allowed(const Job& job, bool owner_setting) {
  return job.spec.steward_fallback.value_or(owner_setting);
}

bool heartbeat_stale(const Runner& runner, TimeMs now, TimeMs stale_after_ms) {
  return now - runner.last_heartbeat_at > stale_after_ms;
}

const RepoMapping* StewardFacts::repo_of(const Job& job) const {
  if (job.repo_name.empty()) return nullptr;
  for (const auto& r : repos) {
    if (r.tenant == job.tenant && r.full_name == job.repo_name && r.has_steward()) return &r;
  }
  return nullptr;
}

bool StewardFacts::owner_setting(const std::string& token_id) const {
  auto it = owner_allows.find(token_id);
  return it != owner_allows.end() && it->second;
}

std::string_view to_string(StewardVerdict verdict) {
  switch (verdict) {
    case StewardVerdict::kNoSteward:
      return "no_steward";
    case StewardVerdict::kNotSteward:
      return "not_steward";
    case StewardVerdict::kNotNeeded:
      return "not_needed";
    case StewardVerdict::kCannot:
      return "cannot";
    case StewardVerdict::kNotAllowed:
      return "not_allowed";
    case StewardVerdict::kRunnersFresh:
      return "runners_fresh";
    case StewardVerdict::kEligible:
      return "eligible";
  }
  return "no_steward";
}

NormalRunners normal_runners(const Job& job, const std::vector<Runner>& runners) {
  NormalRunners out;
  for (const auto& r : runners) {
    if (r.draining || !runner_can_take(r, job)) continue;
    out.runners.push_back(&r);
    out.last_heartbeat_at = std::max(out.last_heartbeat_at, r.last_heartbeat_at);
  }
  return out;
}

StewardVerdict steward_verdict(const Runner& runner, const Job& job, const StewardFacts& facts) {
  const RepoMapping* repo = facts.repo_of(job);
  if (!repo) return StewardVerdict::kNoSteward;
  if (!is_steward_of(runner, *repo)) return StewardVerdict::kNotSteward;
  auto gaps = match_gaps(runner, job);
  if (gaps.empty()) return StewardVerdict::kNotNeeded;
  if (gaps.other_tenant || !gaps.missing_labels.empty()) return StewardVerdict::kCannot;
  if (!steward_fallback_allowed(job, facts.owner_setting(job.owner_token_id)))
    return StewardVerdict::kNotAllowed;
  for (const Runner* r : normal_runners(job, facts.runners).runners) {
    if (r->id != runner.id && !heartbeat_stale(*r, facts.now, facts.stale_after_ms)) {
      return StewardVerdict::kRunnersFresh;
    }
  }
  return StewardVerdict::kEligible;
}

bool steward_may_take(const Runner& runner, const Job& job, const StewardFacts& facts) {
  return steward_verdict(runner, job, facts) == StewardVerdict::kEligible;
}

bool may_claim(const Runner& runner, const Job& job, const StewardFacts& facts) {
  if (heartbeat_stale(runner, facts.now, facts.stale_after_ms)) return false;
  return runner_can_take(runner, job) || steward_may_take(runner, job, facts);
}

Result<StewardFacts> load_steward_facts(Store& store, const std::string& tenant, TimeMs now,
                                        TimeMs stale_after_ms, const Runner* for_runner) {
  StewardFacts facts;
  facts.now = now;
  facts.stale_after_ms = stale_after_ms;
  auto repos = store.list_repos(tenant);
  if (!repos.ok()) return repos.error();
  for (auto& r : *repos) {
    if (r.has_steward()) facts.repos.push_back(std::move(r));
  }
  if (for_runner) {
    std::erase_if(facts.repos,
                  [&](const RepoMapping& r) { return !is_steward_of(*for_runner, r); });
  }
  if (facts.repos.empty()) return facts;
  auto runners = store.list_runners(tenant);
  if (!runners.ok()) return runners.error();
  facts.runners = std::move(runners.value());
  auto tokens = store.list_tokens();
  if (!tokens.ok()) return tokens.error();
  for (const auto& t : *tokens) {
    if (t.tenant == tenant) facts.owner_allows[t.id] = t.settings.steward_fallback;
  }
  return facts;
}

}  // namespace corral
