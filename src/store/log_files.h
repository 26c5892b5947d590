// Attempt logs as plain files, one per attempt, beside the database:
//
//   <dir>/
//     <job_id>/
//       1.log      bytes of attempt 1, readable up to the size the store committed
//       2.log      ...
//
// The store decides what the readable size is (a column committed with the rest of the
// attempt); a file may hold a few bytes past it after a failed transaction or a crash,
// and those are simply overwritten by the next append. Writes come from the store's one
// writer thread; sync_pending() makes them durable before that thread commits the sizes,
// so a committed size never points past what is on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corral {

class LogFiles {
 public:
  explicit LogFiles(std::filesystem::path dir);
  ~LogFiles();
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;

  Result<void> create_root();
  // Writer thread only. The bytes are durable after the next sync_pending().
  Result<void> write_at(const std::string& job_id, int attempt, int64_t offset,
                        std::string_view data);
  Result<void> sync_pending();
  // Any thread. Reads up to length bytes; fewer when the file is shorter.
  Result<std::string> read(const std::string& job_id, int attempt, int64_t offset,
                           int64_t length) const;

  std::filesystem::path path_of(const std::string& job_id, int attempt) const;

 private:
  std::filesystem::path dir_;
  std::map<std::string, int> pending_files_;  // path -> open fd, written since the last sync
  std::map<std::string, bool> pending_dirs_;  // directories that gained an entry
};

}  // namespace corral
