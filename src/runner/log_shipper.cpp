#include "runner/log_shipper.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/json_limits.h"

namespace corral {

LogShipper::LogShipper(HttpClient& server, std::string job_id, int attempt,
                       std::filesystem::path spool_file, std::chrono::milliseconds request_timeout)
    : server_(server),
      job_id_(std::move(job_id)),
      attempt_(attempt),
      spool_file_(std::move(spool_file)),
      request_timeout_(request_timeout),
      chunk_limit_(kMaxLogChunkBytes) {}

LogShipper::~LogShipper() {
  if (fd_ >= 0) ::close(fd_);
  std::error_code ec;
  std::filesystem::remove(spool_file_, ec);
}

Result<void> LogShipper::open() {
  std::error_code ec;
  std::filesystem::create_directories(spool_file_.parent_path(), ec);
  fd_ = ::open(spool_file_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return make_error(ErrorCode::kIo, "cannot open log spool " + spool_file_.string());
  return {};
}

void LogShipper::append(std::string_view data) {
  if (data.empty() || closed_) return;
  if (!masker_.empty()) {
    write_spool(masker_.push(data));
  } else {
    write_spool(data);
  }
}

void LogShipper::write_spool(std::string_view data) {
  if (data.empty() || truncated_) return;
  if (max_bytes_ > 0 && written_ + static_cast<int64_t>(data.size()) > max_bytes_) {
    write_spool_bytes(
        data.substr(0, static_cast<size_t>(std::max<int64_t>(0, max_bytes_ - written_))));
    write_spool_bytes(
        "\n[corral] log truncated: the job wrote more than " + std::to_string(max_bytes_) +
        " bytes (RUNNER_LOG_MAX_BYTES); the job keeps running, its further output is not kept\n");
    truncated_ = true;
    return;
  }
  write_spool_bytes(data);
}

void LogShipper::write_spool_bytes(std::string_view data) {
  if (data.empty()) return;
  // A container's output comes in frames of a few KiB: they are gathered in memory and written
  // to the spool 64 KiB at a time, or before an upload reads it (one pwrite per frame was 46,000
  // system calls for 100 MB).
  unspooled_.append(data);
  written_ += static_cast<int64_t>(data.size());
  if (unspooled_.size() >= kChunkBytes) flush_spool();
  data_.set();
}

void LogShipper::flush_spool() {
  const char* p = unspooled_.data();
  size_t left = unspooled_.size();
  while (left > 0) {
    ssize_t n = ::pwrite(fd_, p, left, spooled_);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("log spool write failed for {}: {}; {} bytes of output lost", job_id_,
                    strerror(errno), left);
      written_ = spooled_;  // the offsets go on from what the spool holds
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
    spooled_ += n;
  }
  unspooled_.clear();
}

void LogShipper::close() {
  if (closed_) return;
  write_spool(masker_.finish());
  closed_ = true;
  data_.set();
}

awaitable<Result<int>> LogShipper::upload_once() {
  flush_spool();
  int64_t len = std::min<int64_t>(written_ - acked_, static_cast<int64_t>(chunk_limit_));
  std::string chunk(static_cast<size_t>(len), '\0');
  ssize_t got = ::pread(fd_, chunk.data(), chunk.size(), acked_);
  if (got < 0) co_return make_error(ErrorCode::kIo, "cannot read the log spool");
  chunk.resize(static_cast<size_t>(got));
  HttpRequest req;
  req.method = http::verb::post;
  req.target = "/api/v1/jobs/" + job_id_ + "/attempts/" + std::to_string(attempt_) +
               "/logs?offset=" + std::to_string(acked_);
  req.body = std::move(chunk);
  req.content_type = "application/octet-stream";
  req.timeout = request_timeout_;
  auto res = co_await server_.request(std::move(req));
  if (!res.ok()) co_return res.error();
  if (res->status == 200 || res->status == 416) {
    // 416: the server has a different length than we thought; continue from its offset.
    auto answer = parse_json_limited(res->body, "the server's answer to a log chunk");
    int64_t next = answer.ok() ? json_int_or(*answer, "next_offset", -1) : -1;
    if (next < 0 || next > written_)
      co_return make_error(ErrorCode::kInternal, "bad next_offset from server");
    acked_ = next;
  }
  co_return res->status;
}

awaitable<void> LogShipper::run() {
  auto backoff = std::chrono::milliseconds(100);
  auto give_up_at = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (stale_) co_return;
    if (acked_ == written_) {
      if (closed_) co_return;
      data_.reset();
      co_await data_.wait();
      continue;
    }
    // Linger briefly so a chatty job sends few, larger chunks.
    if (!closed_ && written_ - acked_ < static_cast<int64_t>(kChunkBytes)) {
      auto until = std::chrono::steady_clock::now() + kLinger;
      while (!closed_ && written_ - acked_ < static_cast<int64_t>(kChunkBytes) &&
             std::chrono::steady_clock::now() < until) {
        data_.reset();
        co_await data_.wait_until(until);
      }
    }
    auto status = co_await upload_once();
    if (status.ok() && *status == 409) {
      stale_ = true;
      spdlog::warn("job {} attempt {}: the server refused our log (409): attempt is stale", job_id_,
                   attempt_);
      if (on_stale) on_stale();
      co_return;
    }
    if (status.ok() && *status == 413 && chunk_limit_ > kChunkBytes) {
      // A server (or a proxy before it) with a lower body limit: send smaller chunks.
      chunk_limit_ = std::max(chunk_limit_ / 2, kChunkBytes);
      spdlog::info("job {} attempt {}: log chunk too large for the server (413); sending {} bytes",
                   job_id_, attempt_, chunk_limit_);
      continue;
    }
    if (status.ok() && (*status == 200 || *status == 416)) {
      backoff = std::chrono::milliseconds(100);
      give_up_at = std::chrono::steady_clock::time_point::max();
      continue;
    }
    // Server away or erroring: keep the spool and retry with backoff. After close(), give
    // up eventually so a runner never hangs on a dead server.
    spdlog::warn("job {} attempt {}: log upload failed ({}); retrying", job_id_, attempt_,
                 status.ok() ? "HTTP " + std::to_string(*status) : status.error().message);
    if (closed_ && give_up_at == std::chrono::steady_clock::time_point::max()) {
      give_up_at = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    }
    if (std::chrono::steady_clock::now() > give_up_at) {
      spdlog::error("job {} attempt {}: giving up on {} unsent log bytes", job_id_, attempt_,
                    written_ - acked_);
      co_return;
    }
    co_await async_sleep(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace corral
