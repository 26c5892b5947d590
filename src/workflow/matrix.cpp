#include "workflow/matrix.h"

#include <algorithm>

#include "workflow/expr.h"

namespace corral::workflow {
namespace {

using nlohmann::json;

const json* wf_entry_value(const MatrixEntry& entry, const std::string& key) {
  for (const auto& [k, v] : entry) {
    if (k == key) return &v;
  }
  return nullptr;
}

void wf_entry_set(MatrixEntry& entry, const std::string& key, const json& value) {
  for (auto& [k, v] : entry) {
    if (k == key) {
      v = value;
      return;
    }
  }
  entry.emplace_back(key, value);
}

// Every key of `pattern` is in `combination` with the same value.
bool wf_partial_match(const MatrixEntry& pattern, const MatrixEntry& combination) {
  return std::all_of(pattern.begin(), pattern.end(), [&](const auto& kv) {
    const json* value = wf_entry_value(combination, kv.first);
    return value && *value == kv.second;
  });
}

Error wf_too_many(size_t count) {
  return make_error(ErrorCode::kInvalidSpec,
                    "the matrix makes " + std::to_string(count) + " combinations; at most " +
                        std::to_string(kMaxMatrixCombinations) +
                        " are allowed: split the job or exclude combinations");
}

}  // namespace

Result<std::vector<MatrixEntry>> expand_matrix(const MatrixSpec& matrix) {
  // 1. The cartesian product (none at all when there are no axes: an include-only matrix).
  size_t product = matrix.axes.empty() ? 0 : 1;
  for (const auto& axis : matrix.axes) {
    product = std::min<size_t>(product * axis.second.size(), size_t{1} << 40);  // no overflow
  }
  // Excludes may bring a larger product back under the limit, but not without bound.
  if (product > kMaxMatrixCombinations * 64) return wf_too_many(product);
  std::vector<MatrixEntry> combinations;
  if (product > 0) combinations.emplace_back();
  for (const auto& [key, values] : matrix.axes) {
    std::vector<MatrixEntry> next;
    for (const auto& partial : combinations) {
      for (const auto& value : values) {
        MatrixEntry entry = partial;
        entry.emplace_back(key, value);
        next.push_back(std::move(entry));
      }
    }
    combinations = std::move(next);
  }

  // 2. exclude.
  std::erase_if(combinations, [&](const MatrixEntry& combination) {
    return std::any_of(
        matrix.exclude.begin(), matrix.exclude.end(),
        [&](const MatrixEntry& pattern) { return wf_partial_match(pattern, combination); });
  });

  // 3. include, against the combinations of step 2 only.
  const size_t original_count = combinations.size();
  for (const auto& include : matrix.include) {
    bool added = false;
    for (size_t i = 0; i < original_count; ++i) {
      MatrixEntry& combination = combinations[i];
      bool keeps_original = std::all_of(include.begin(), include.end(), [&](const auto& kv) {
        bool is_axis = std::any_of(matrix.axes.begin(), matrix.axes.end(),
                                   [&](const auto& axis) { return axis.first == kv.first; });
        return !is_axis || *wf_entry_value(combination, kv.first) == kv.second;
      });
      if (!keeps_original) continue;
      for (const auto& [key, value] : include) wf_entry_set(combination, key, value);
      added = true;
    }
    if (!added) combinations.push_back(include);
  }
  if (combinations.size() > kMaxMatrixCombinations) return wf_too_many(combinations.size());
  return combinations;
}

json matrix_context(const MatrixEntry& combination) {
  json out = json::object();
  for (const auto& [key, value] : combination) out[key] = value;
  return out;
}

std::string matrix_display_name(std::string_view job_name, const MatrixEntry& combination) {
  std::string out(job_name);
  if (combination.empty()) return out;
  out += " (";
  bool first = true;
  for (const auto& [key, value] : combination) {
    if (!first) out += ", ";
    out += value.is_structured() ? value.dump() : expression_string(value);
    first = false;
  }
  return out + ")";
}

Result<std::string> job_display_name(const Job& job, const MatrixEntry& combination,
                                     const json& contexts) {
  const std::string& name = job.name.empty() ? job.id : job.name;
  if (name.find("${{") != std::string::npos) return interpolate(name, contexts);
  return matrix_display_name(name, combination);
}

}  // namespace corral::workflow
