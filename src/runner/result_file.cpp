#include "runner/result_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corral {

namespace {

// Closes a descriptor when it goes out of scope.
struct ResultFd {
  int fd = -1;
  ~ResultFd() {
    if (fd >= 0) ::close(fd);
  }
};

Error result_refused(const std::string& why) {
  return make_error(ErrorCode::kInvalidSpec, why);
}

}  // namespace

Result<std::optional<std::string>> read_result_file(const std::filesystem::path& workspace,
                                                    size_t max_bytes) {
  ResultFd base{::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (base.fd < 0) return std::optional<std::string>{};  // no workspace, no result
  ResultFd dir{::openat(base.fd, ".corral", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (dir.fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    if (errno == ELOOP || errno == ENOTDIR)
      return result_refused(".corral is a symbolic link or not a directory");
    return result_refused(std::string(".corral cannot be opened: ") + std::strerror(errno));
  }
  ResultFd file{
      ::openat(dir.fd, "result.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    if (errno == ELOOP) return result_refused("it is a symbolic link (links are not followed)");
    return result_refused(std::string("it cannot be opened: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    return result_refused(std::string("fstat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return result_refused("it is not a regular file");
  std::string text;
  text.resize(max_bytes + 1);
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(file.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return result_refused(std::string("read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes)
    return result_refused("it is larger than " + std::to_string(max_bytes / 1024) + " KiB");
  text.resize(got);
  return std::optional<std::string>{std::move(text)};
}

}  // namespace corral
