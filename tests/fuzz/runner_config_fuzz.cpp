// Fuzz target: the runner's YAML config file (runner/config.h), then its validation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runner/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = corral::parse_runner_config(text, "fuzz.yaml");
  if (file.ok()) (void)corral::build_runner_config(*file, {}, {});
  return 0;
}
