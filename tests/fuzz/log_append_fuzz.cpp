// Fuzz target: log-append planning (store/attempt_rules.h), which both stores follow for
// every POST .../logs?offset=N. Checks the invariants any sequence of appends must keep.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "store/attempt_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  int64_t cap = 1 + data[0] % 64;
  corral::AttemptFence fence{"runner", "running", 0, 1, false, "running", 0, false};
  std::string stored;
  size_t i = 1;
  while (i + 2 <= size) {
    // Each append: an offset near what was received, and a few bytes.
    int64_t offset = fence.log_received + static_cast<int8_t>(data[i]) % 8;
    size_t len = data[i + 1] % 16;
    i += 2;
    if (i + len > size) len = size - i;
    std::string_view bytes(reinterpret_cast<const char*>(data + i), len);
    i += len;
    if (offset < 0) offset = 0;
    auto plan = corral::plan_log_append(fence, "job", 1, offset, bytes, cap);
    if (!plan.ok()) {
      if (offset <= fence.log_received)
        __builtin_trap();  // only a gap or a dead attempt is refused
      continue;
    }
    if (!plan->change) continue;
    if (plan->result.stored_offset != static_cast<int64_t>(stored.size())) __builtin_trap();
    stored += plan->result.stored;
    if (plan->new_size != static_cast<int64_t>(stored.size())) __builtin_trap();
    if (plan->new_received < fence.log_received) __builtin_trap();
    fence.log_size = plan->new_size;
    fence.log_received = plan->new_received;
    fence.log_truncated = plan->truncated;
  }
  return 0;
}
