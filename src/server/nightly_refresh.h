// The nightly refresh of stewarded repositories (oversight's behaviour): every night
// between 02:00 and 02:59 in the tenant's refresh time zone (its setting refresh_timezone,
// api/tenant.h; else the server's --refresh-timezone), each repository
// whose mapping names a steward gets one analysis-pr and one analysis-issue job
// (api/agent_tasks.h), unless it was refreshed in the last 20 hours. The mapping records
// last_auto_refresh_at.
//
// Exactly once across servers, without a lock: the jobs carry an idempotency key made of the
// repository, the tenant's local date and the task type, so two servers (or one retrying after a
// crash) make the same two jobs at most once; the mark is written after them.
#pragma once

#include <vector>

#include "api/repo.h"
#include "api/types.h"
#include "common/timezone.h"

namespace corral {

class Store;

inline constexpr TimeMs kNightlyRefreshGapMs = 20LL * 3600 * 1000;

// Whether `repo` is due at `now`: it has a steward, the local hour is 2, and its last refresh
// is older than 20 hours.
bool nightly_refresh_due(const RepoMapping& repo, TimeMs now, const TimeZone& tz);

// The two jobs of one repository's refresh at `now` (ids, keys and owner set; not stored).
std::vector<Job> nightly_refresh_jobs(const RepoMapping& repo, TimeMs now, const TimeZone& tz);

// Queues what is due in every tenant, each at 02:xx in its own zone (`default_zone` for a
// tenant that set none); returns the jobs it made (not those another server already had).
// Blocking: call it on the store's threads.
Result<std::vector<Job>> run_nightly_refresh(Store& store, TimeMs now,
                                             const TimeZone& default_zone);

}  // namespace corral
