// GitHub Actions expressions (`${{ ... }}`), the subset corral's workflows use, evaluated over
// nlohmann::json values.
//
// Grammar, loosest binding first (GitHub's precedence):
//   or      := and ('||' and)*
//   and     := equal ('&&' equal)*
//   equal   := compare (('==' | '!=') compare)*
//   compare := unary (('<' | '<=' | '>' | '>=') unary)*
//   unary   := '!' unary | postfix
//   postfix := primary ('.' name | '[' or ']')*
//   primary := 'string' | number | true | false | null | name '(' args ')' | context | '(' or ')'
// Strings use single quotes, '' inside one is a quote. Numbers: 12, -3.5, 1e3, 0xff.
// Names (contexts, properties, functions) match case-insensitively, as on GitHub.
//
// Values and coercion, as GitHub documents them:
//   - truthy: everything but false, 0, -0, '', null and NaN (arrays and objects are truthy);
//   - `a && b`, `a || b` short-circuit and return an operand (`x || 'default'`); `!a` a boolean;
//   - `==`, `<` ... on values of different types compare them as numbers: null -> 0,
//     true -> 1, false -> 0, a string -> its number ('' -> 0, '0x10' -> 16, 'abc' -> NaN),
//     an array or object -> NaN; NaN equals nothing and is not ordered;
//   - two strings compare ignoring case ('ABC' == 'abc');
//   - two arrays or objects are equal when their contents are (GitHub compares the instance;
//     corral has no instances, and the same value read twice compares equal either way);
//   - as text (interpolation, format, join): null -> '', booleans 'true'/'false', whole
//     numbers without a fraction (18, not 18.0), arrays 'Array', objects 'Object'.
//   - a missing property or index is null, so `${{ steps.nope.outputs.x }}` is ''.
//
// Functions: success() failure() always() cancelled() (answers supplied by the caller),
// contains startsWith endsWith format join toJSON fromJSON. Object filters (`a.*.b`) and
// hashFiles are not supported and say so.
//
// Contexts come in one object, e.g. {"github": {...}, "matrix": {...}, "needs": {...}}: github
// (sha, ref, repository, event_name, run_id, ...), env, secrets, inputs, matrix, strategy,
// needs.<id>.outputs/result, steps.<id>.outputs/outcome/conclusion, job.status, runner.*.
// A context GitHub knows but the caller left out reads as null; any other name is an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corral::workflow {

// What the status functions answer where the expression is evaluated (a step: the earlier
// steps of its job; a job: the jobs it needs). always() is always true.
struct StatusFunctions {
  bool success = true;
  bool failure = false;
  bool cancelled = false;
};

// Evaluates one expression (without `${{ }}`). Errors (kInvalidSpec) name the position:
// "expression 'a ==': position 4: expected a value".
Result<nlohmann::json> evaluate(std::string_view expr, const nlohmann::json& contexts,
                                const StatusFunctions& status = {});

// Replaces every `${{ expr }}` in `text` by its value as text; text without any is returned
// unchanged.
Result<std::string> interpolate(std::string_view text, const nlohmann::json& contexts,
                                const StatusFunctions& status = {});

// An `if:` written with or without `${{ }}`. Empty means success(). When the expression calls
// none of success(), failure(), always(), cancelled(), it is evaluated as
// `success() && (expr)`, as GitHub does.
Result<bool> evaluate_condition(std::string_view if_text, const nlohmann::json& contexts,
                                const StatusFunctions& status);

// Whether an `if:` (with or without `${{ }}`) calls a status function; false when it cannot
// be read (evaluating it then reports the error).
bool calls_status_function(std::string_view if_text);

// GitHub's conversions, also used when an expression's value becomes text or a boolean.
std::string expression_string(const nlohmann::json& value);
bool expression_truthy(const nlohmann::json& value);

}  // namespace corral::workflow
