#include "server/matching.h"

#include <algorithm>

namespace corral {

MatchGaps match_gaps(const Runner& runner, const Job& job) {
  MatchGaps gaps;
  gaps.other_tenant = runner.tenant != job.tenant;
  // Both lists are sorted and unique (normalize_labels).
  std::set_difference(job.spec.labels.begin(), job.spec.labels.end(), runner.reg.labels.begin(),
                      runner.reg.labels.end(), std::back_inserter(gaps.missing_labels));
  gaps.wrong_group = !job.spec.group.empty() && job.spec.group != runner.reg.group;
  const auto& modes = runner.reg.modes;
  bool all = modes.empty() || std::find(modes.begin(), modes.end(), "all") != modes.end();
  gaps.wrong_mode = !all && !job.spec.type.empty() &&
                    std::find(modes.begin(), modes.end(), job.spec.type) == modes.end();
  gaps.not_owner = runner.reg.owner_only && job.owner_token_id != runner.owner_token_id;
  return gaps;
}

bool runner_has_labels_of(const Runner& runner, const Job& job) {
  return runner.tenant == job.tenant &&
         std::includes(runner.reg.labels.begin(), runner.reg.labels.end(), job.spec.labels.begin(),
                       job.spec.labels.end());
}

bool runner_can_take(const Runner& runner, const Job& job) {
  return runner_has_labels_of(runner, job) && match_gaps(runner, job).empty();
}

}  // namespace corral
