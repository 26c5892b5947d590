// `strategy.matrix` expanded into the combinations that each become one corral job, as GitHub
// documents it (docs.github.com, "Running variations of jobs in a workflow"):
//
//   1. the cartesian product of the axes, the first axis varying slowest
//      (os: [a, b], node: [1, 2] -> (a,1) (a,2) (b,1) (b,2));
//   2. `exclude` removes every combination an entry matches, partially or fully
//      ({os: b} removes (b,1) and (b,2));
//   3. each `include` entry is added to every combination of step 2 whose original axis values
//      it does not change; its other keys are added, overwriting what an earlier include
//      added. When it fits no combination it becomes a combination of its own (so an include
//      can bring back an excluded combination, and a matrix may be include-only).
//
// Values compare as JSON (16 and '16' differ). More than 256 combinations are refused, as on
// GitHub.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "workflow/workflow.h"

namespace corral::workflow {

constexpr size_t kMaxMatrixCombinations = 256;

// The combinations, each with its keys in order: the axes first, then keys added by include.
Result<std::vector<MatrixEntry>> expand_matrix(const MatrixSpec& matrix);

// The `matrix` context of one combination: {"os": "linux", "node": 18}.
nlohmann::json matrix_context(const MatrixEntry& combination);

// "build (18, ubuntu)": the name and the combination's values in order, as GitHub names matrix
// jobs. Strings, numbers and booleans as text; arrays and objects as compact JSON.
std::string matrix_display_name(std::string_view job_name, const MatrixEntry& combination);

// The name a job (one combination of it, or the job itself when `combination` is empty) is
// shown with: its `name` (else its id); a name holding `${{ }}` is interpolated with
// `contexts` and gets no suffix, since it names the combination itself ("Test on ${{
// matrix.os }}"); any other name gets the combination's values as matrix_display_name does.
Result<std::string> job_display_name(const Job& job, const MatrixEntry& combination,
                                     const nlohmann::json& contexts);

}  // namespace corral::workflow
