// Ships one attempt's output to the server through the offset-based log API.
//
// append() writes to a spool file (so nothing is lost while the server is away; gathered in
// memory up to 64 KiB first, and always before an upload reads the spool) and
// the uploader sends what is not yet acknowledged: within 200 ms of new output, or at once
// when 64 KiB are waiting, one request at a time. A request carries everything waiting, up to
// 1 MiB (kMaxLogChunkBytes), so a job that writes faster than one request's round trip sends
// fewer, larger chunks rather than falling behind; a 413 halves that size. A 416 answer moves the
// upload to the server's offset; a 409 means the attempt is no longer ours (stale) and stops the
// shipper. close() asks for everything to be flushed; run() returns once it is (or the
// attempt is stale, or the server stayed unreachable past the give-up time).
//
// Secret values given to mask_secrets() never reach the spool: they are replaced with ***
// as the bytes come in (common/redact.h), also when one is split across two appends.
//
// Single-threaded: call append/close from the runner's I/O thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "api/types.h"
#include "common/redact.h"
#include "net/event.h"
#include "net/http_client.h"

namespace corral {

class LogShipper {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kLinger{200};
  // The largest chunk sent, halved on a 413 down to kChunkBytes.
  size_t chunk_limit() const { return chunk_limit_; }

  LogShipper(HttpClient& server, std::string job_id, int attempt, std::filesystem::path spool_file,
             std::chrono::milliseconds request_timeout);
  ~LogShipper();

  Result<void> open();
  // Before the first append: values to mask in everything appended.
  void mask_secrets(SecretMasker masker) { masker_ = std::move(masker); }
  // The most bytes spooled (RUNNER_LOG_MAX_BYTES); past it one line says the log was
  // truncated and later output is dropped (the job keeps running). 0 = no limit.
  void limit_bytes(int64_t max_bytes) { max_bytes_ = max_bytes; }
  bool truncated() const { return truncated_; }
  void append(std::string_view data);
  void close();
  awaitable<void> run();

  bool stale() const { return stale_; }
  int64_t written() const { return written_; }
  int64_t acknowledged() const { return acked_; }
  std::function<void()> on_stale;  // called once when the server answers 409

 private:
  awaitable<Result<int>> upload_once();
  void write_spool(std::string_view data);
  void write_spool_bytes(std::string_view data);
  void flush_spool();

  HttpClient& server_;
  std::string job_id_;
  int attempt_;
  std::filesystem::path spool_file_;
  std::chrono::milliseconds request_timeout_;
  int fd_ = -1;
  int64_t written_ = 0;    // bytes appended (spooled_ plus unspooled_)
  int64_t spooled_ = 0;    // bytes in the spool file
  std::string unspooled_;  // appended, not yet written to the spool file
  int64_t acked_ = 0;
  bool closed_ = false;
  bool stale_ = false;
  int64_t max_bytes_ = 0;
  bool truncated_ = false;
  size_t chunk_limit_;
  Event data_;  // set by append/close, reset by the uploader
  SecretMasker masker_;
};

}  // namespace corral
