// Replays the fuzz targets' seed corpora (tests/fuzz/corpus) through the targets, built by the
// normal compiler into the normal and sanitized trees: every input that once crashed a parser
// stays a regression test in each CI pass, without a clang build. Fuzzing itself (new inputs)
// is scripts/fuzz.sh's, with libFuzzer.
//
//   corral_fuzz_replay TARGET CORPUS_DIR      exit 0 when every input went through
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#define CORRAL_FUZZ_TARGETS(X) \
  X(cron_tz) X(job_spec) X(log_append) X(router) X(runner_config) X(stream_demux)
#define CORRAL_DECLARE(name) extern "C" int fuzz_##name(const uint8_t* data, size_t size);
CORRAL_FUZZ_TARGETS(CORRAL_DECLARE)

int main(int argc, char** argv) {
  using Target = int (*)(const uint8_t*, size_t);
  const std::map<std::string, Target> targets{
#define CORRAL_ENTRY(name) {#name, &fuzz_##name},
      CORRAL_FUZZ_TARGETS(CORRAL_ENTRY)};
  if (argc != 3 || !targets.count(argv[1])) {
    std::fprintf(stderr,
                 "usage: %s TARGET CORPUS_DIR (targets: cron_tz job_spec log_append router "
                 "runner_config stream_demux)\n",
                 argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(argv[2])) {
    if (entry.is_regular_file()) inputs.push_back(entry.path());
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs in %s\n", argv[2]);
    return 2;
  }
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    targets.at(argv[1])(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs went through\n", argv[1], inputs.size());
  return 0;
}
