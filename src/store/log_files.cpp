#include "store/log_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corral {

namespace {

Error io_error(const std::string& what, const std::filesystem::path& path) {
  return make_error(ErrorCode::kUnavailable,
                    what + " " + path.string() + ": " + std::strerror(errno));
}

// Ids come from the store, but a path component must never climb out of the log dir.
bool safe_component(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

Result<void> sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync", path);
  return {};
}

}  // namespace

LogFiles::LogFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

LogFiles::~LogFiles() {
  for (auto& [path, fd] : pending_files_) ::close(fd);
}

Result<void> LogFiles::create_root() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return make_error(ErrorCode::kUnavailable,
                      "cannot create log dir " + dir_.string() + ": " + ec.message());
  return {};
}

std::filesystem::path LogFiles::path_of(const std::string& job_id, int attempt) const {
  return dir_ / job_id / (std::to_string(attempt) + ".log");
}

Result<void> LogFiles::write_at(const std::string& job_id, int attempt, int64_t offset,
                                std::string_view data) {
  if (!safe_component(job_id))
    return make_error(ErrorCode::kBadRequest, "bad job id for a log path");
  auto path = path_of(job_id, attempt);
  std::string key = path.string();
  int fd = -1;
  if (auto it = pending_files_.find(key); it != pending_files_.end()) {
    fd = it->second;
  } else {
    auto job_dir = path.parent_path();
    if (!std::filesystem::exists(job_dir)) {
      std::error_code ec;
      std::filesystem::create_directory(job_dir, ec);
      if (ec)
        return make_error(ErrorCode::kUnavailable,
                          "cannot create " + job_dir.string() + ": " + ec.message());
      pending_dirs_[dir_.string()] = true;
    }
    bool existed = std::filesystem::exists(path);
    fd = ::open(key.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return io_error("cannot open", path);
    if (!existed) pending_dirs_[job_dir.string()] = true;
    pending_files_[key] = fd;
  }
  const char* p = data.data();
  size_t left = data.size();
  off_t at = static_cast<off_t>(offset);
  while (left > 0) {
    ssize_t n = ::pwrite(fd, p, left, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
    at += n;
  }
  return {};
}

Result<void> LogFiles::sync_pending() {
  Result<void> result;
  for (auto& [path, fd] : pending_files_) {
    if (result.ok() && ::fdatasync(fd) != 0) result = io_error("cannot sync", path);
    ::close(fd);
  }
  pending_files_.clear();
  // New files and directories: their entries must be durable too, or a crash loses them.
  for (auto& [dir, unused] : pending_dirs_) {
    if (result.ok()) {
      auto synced = sync_path(dir, true);
      if (!synced.ok()) result = synced;
    }
  }
  pending_dirs_.clear();
  return result;
}

Result<std::string> LogFiles::read(const std::string& job_id, int attempt, int64_t offset,
                                   int64_t length) const {
  if (!safe_component(job_id))
    return make_error(ErrorCode::kBadRequest, "bad job id for a log path");
  std::string out;
  if (length <= 0) return out;
  auto path = path_of(job_id, attempt);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return out;
    return io_error("cannot open", path);
  }
  out.resize(static_cast<size_t>(length));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got,
                        static_cast<off_t>(offset) + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return io_error("cannot read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

}  // namespace corral
