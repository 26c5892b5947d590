// Steward fallback: an admin names a steward for a repository (a runner, or a runner group,
// in its mapping, api/repo.h). The steward also takes that repository's jobs that it would
// otherwise be refused for group, mode or owner-only reasons, when
//   - every runner of the tenant that could take the job by the normal rules (matching.h)
//     has had no heartbeat for LONGER than the stale threshold (or there is none), and
//   - the submitter allowed it: the job's steward_fallback, or when the job leaves it unset
//     the submitting user's setting (UserSettings), read when the steward claims.
// Tenant and labels still hold: a steward without the job's labels cannot run it.
//
// Pure functions of the facts; the claim route, the safety sweep that wakes parked claims and
// `why` all decide with these.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/repo.h"
#include "api/types.h"

namespace corral {

class Store;

inline constexpr TimeMs kDefaultStewardStaleAfterMs = 90'000;

// Whether the runner is the mapping's steward (by name, or by group).
bool is_steward_of(const Runner& runner, const RepoMapping& repo);

// The job's own steward_fallback, else the submitter's setting.
bool steward_fallback_allowed(const Job& job, bool owner_setting);

// Whether the runner heard from within the threshold; at exactly the threshold it is still
// fresh, one millisecond past it is stale.
bool heartbeat_stale(const Runner& runner, TimeMs now, TimeMs stale_after_ms);

// The facts about one tenant that the policy needs.
struct StewardFacts {
  std::vector<RepoMapping> repos;            // the tenant's mappings that name a steward
  std::vector<Runner> runners;               // the tenant's runners
  std::map<std::string, bool> owner_allows;  // token id -> UserSettings::steward_fallback
  TimeMs now = 0;
  TimeMs stale_after_ms = kDefaultStewardStaleAfterMs;

  const RepoMapping* repo_of(const Job& job) const;
  bool owner_setting(const std::string& token_id) const;
};

//   kNoSteward       the job has no repository, or its repository no mapping with a steward
//   kNotSteward      the runner is not that repository's steward
//   kNotNeeded       the runner may take the job by the normal rules anyway
//   kCannot          other tenant, or the runner lacks some of the job's labels
//   kNotAllowed      the submitter did not allow steward fallback
//   kRunnersFresh    a runner that could take it normally beat within the threshold
//   kEligible        the steward may take it now
enum class StewardVerdict {
  kNoSteward,
  kNotSteward,
  kNotNeeded,
  kCannot,
  kNotAllowed,
  kRunnersFresh,
  kEligible
};
std::string_view to_string(StewardVerdict verdict);

StewardVerdict steward_verdict(const Runner& runner, const Job& job, const StewardFacts& facts);

// Shorthand: steward_verdict(...) == kEligible.
bool steward_may_take(const Runner& runner, const Job& job, const StewardFacts& facts);

// What a claim lets the runner take: nothing while the runner itself is stale (a parked
// claim of a runner that stopped beating must not race the steward for the job, nor strand
// it until a lease runs out); else the normal rules, or steward fallback.
bool may_claim(const Runner& runner, const Job& job, const StewardFacts& facts);

// The runners that could take the job by the normal rules and do not drain (a draining
// runner takes no new work), and the latest heartbeat among them (0 when none).
struct NormalRunners {
  std::vector<const Runner*> runners;
  TimeMs last_heartbeat_at = 0;
};
NormalRunners normal_runners(const Job& job, const std::vector<Runner>& runners);

// Gathers the facts for a tenant from the store: mappings with a steward, runners and the
// users' settings. Not pure: a helper for the callers of the pure functions above. When no
// mapping names a steward the runners and settings are not read (the common case is cheap).
// With `for_runner`, the runners and settings are read only when that runner is a steward.
Result<StewardFacts> load_steward_facts(Store& store, const std::string& tenant, TimeMs now,
                                        TimeMs stale_after_ms, const Runner* for_runner = nullptr);

}  // namespace corral
