#include "server/matching.h"

#include <algorithm>

namespace corral {

bool runner_can_take(const Runner& runner, const Job& job) {
  if (runner.tenant != job.tenant) return false;
  // Both lists are sorted and unique (normalize_labels).
  if (!std::includes(runner.reg.labels.begin(), runner.reg.labels.end(), job.spec.labels.begin(),
                     job.spec.labels.end())) {
    return false;
  }
  if (!job.spec.group.empty() && job.spec.group != runner.reg.group) return false;
  const auto& modes = runner.reg.modes;
  bool all = modes.empty() || std::find(modes.begin(), modes.end(), "all") != modes.end();
  if (!all && !job.spec.type.empty() &&
      std::find(modes.begin(), modes.end(), job.spec.type) == modes.end()) {
    return false;
  }
  return true;
}

}  // namespace corral
