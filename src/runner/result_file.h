// Reads the result a job leaves in /workspace/.corral/result.json without trusting the job.
//
// The workspace is the job's: whatever it left there may be a FIFO (an open() that never
// returns), a symbolic link to /dev/zero (a read that never ends) or to a file of the runner
// host (the host's secrets published as the job's result), and `.corral` itself may be a
// link. So: `.corral` is opened with O_NOFOLLOW|O_DIRECTORY, `result.json` with
// O_NOFOLLOW|O_NONBLOCK relative to it, only a regular file is read, and at most
// max_bytes + 1 bytes of it. Blocking file I/O: call it off the runner's I/O thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.h"

namespace corral {

// The file's text; nullopt when the job left none; an error (kInvalidSpec) saying why the
// file was not read (a link, not a regular file, larger than max_bytes, unreadable).
Result<std::optional<std::string>> read_result_file(const std::filesystem::path& workspace,
                                                    size_t max_bytes);

}  // namespace corral
