// Fuzz target: a job spec as POST /api/v1/jobs receives it (the limited JSON parse, then
// parse_job_spec), and the other bodies and answers read with the same types. None may crash,
// hang or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/types.h"
#include "common/json_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = corral::parse_json_limited(text, "fuzz input");
  if (!parsed.ok()) return 0;
  const corral::json& body = *parsed;
  auto spec = corral::parse_job_spec(body);
  if (spec.ok()) {
    // What is stored reads back as the same spec.
    auto again = corral::parse_job_spec(corral::to_json(*spec));
    if (!again.ok()) __builtin_trap();
    (void)corral::public_json(*spec).dump();
  }
  (void)corral::parse_claimed_job(body);
  (void)corral::parse_runner_registration(body);
  (void)corral::parse_finish_report(body);
  return 0;
}
