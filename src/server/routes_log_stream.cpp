// GET /api/v1/jobs/{id}/logs/stream: a job's log over a WebSocket. The stored log from
// ?offset= as binary messages, then every chunk as the runner sends it (pushed by the
// LogHub, not polled), then {"type":"end",...} and a close. Text messages:
//   {"type":"attempt","attempt":n}   the bytes that follow belong to attempt n, from the
//                                    requested offset for the first attempt, from 0 after
//   {"type":"lagged","offset":n}     the watcher fell behind; it resumes from the store at n
//   {"type":"end","state":..,"exit_code":..,"reason":..,"attempt":n}
//
// Subscribing comes before reading the store, and bytes are placed by offset, so a chunk
// that is both in the store and in the queue is sent once, and a gap is read from the store.
#include "net/event.h"
#include "server/context.h"
#include "server/json_body.h"

namespace corral {

namespace {

constexpr int64_t kStoreReadBytes = 1024 * 1024;
// A safety net against a state change nobody published (e.g. a runner's re-registration).
constexpr std::chrono::milliseconds kRecheck{10'000};
// How often an open stream checks that its token was not revoked (docs/security.md).
constexpr std::chrono::milliseconds kCredentialCheck{2'000};

struct WatcherConnection {
  bool closed = false;
  Event reader_done;
};

// Reads (and drops) what the watcher sends, so pings, pongs and its close are answered.
awaitable<void> read_until_closed(WebSocket& ws, std::shared_ptr<WatcherConnection> conn,
                                  LogHub::SubscriptionPtr sub) {
  beast::flat_buffer buffer;
  error_code ec;
  while (!ec) {
    co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
    buffer.consume(buffer.size());
  }
  conn->closed = true;
  sub->wake();
  conn->reader_done.set();
}

// Retry-After of a stream refused by a watcher limit: watchers come and go within minutes.
constexpr int kWatchLimitRetryAfterS = 10;

Error watch_refusal(const ServerContext& ctx, const LogHub::Limited& limited,
                    const std::string& job_id, const std::string& tenant) {
  std::string what =
      limited.refused_by == LogHub::WatchLimit::kPerJob
          ? "job " + job_id + " already has " + std::to_string(limited.watchers) +
                " live log watchers on this server, the limit (--max-watchers-per-job " +
                std::to_string(ctx.config.max_watchers_per_job) + ")"
          : "tenant '" + tenant + "' already has " + std::to_string(limited.watchers) +
                " live log watchers on this server, the limit (--max-watchers-per-tenant " +
                std::to_string(ctx.config.max_watchers_per_tenant) + ")";
  return too_many_requests(what + ": close a watcher, read the stored log with GET /api/v1/jobs/" +
                               job_id + "/logs?offset=N, or ask the operator to raise the limit",
                           kWatchLimitRetryAfterS);
}

class LogStreamer {
 public:
  LogStreamer(ServerContext& ctx, WebSocket& ws, WatcherConnection& conn, LogHub::Subscription& sub,
              Token token, std::string job_id, int attempt, int64_t offset)
      : ctx_(ctx),
        ws_(ws),
        conn_(conn),
        sub_(sub),
        token_(std::move(token)),
        tenant_(token_.tenant),
        job_id_(std::move(job_id)),
        requested_attempt_(attempt),
        offset_(offset) {}

  awaitable<void> run() {
    bool need_store = true;
    auto next_credential_check = std::chrono::steady_clock::now() + kCredentialCheck;
    auto next_store_recheck = std::chrono::steady_clock::now() + kRecheck;
    while (!conn_.closed) {
      if (std::chrono::steady_clock::now() >= next_credential_check) {
        next_credential_check = std::chrono::steady_clock::now() + kCredentialCheck;
        if (!co_await token_still_valid(ctx_, token_)) {
          error_code ec;
          co_await ws_.async_close(
              websocket::close_reason(websocket::close_code::policy_error, "token revoked"),
              asio::redirect_error(use_awaitable, ec));
          co_return;
        }
      }
      if (need_store) {
        need_store = false;
        auto step = co_await catch_up();
        if (step == Step::kStop) co_return;
        if (step == Step::kMore) {
          need_store = true;
          continue;
        }
      }
      auto batch = sub_.take();
      if (batch.lagged) {
        json lagged{{"type", "lagged"},
                    {"offset", offset_}};  // (gcc 12: no braced temporaries across co_await)
        if (!co_await send_text(lagged)) co_return;
        need_store = true;
      }
      if (batch.changed) need_store = true;
      for (const auto& piece : batch.pieces) {
        if (need_store) break;  // everything published is in the store already
        auto live = co_await send_piece(piece);
        if (!live) co_return;
        if (*live == false) need_store = true;
      }
      if (need_store || batch.lagged || batch.changed || !batch.pieces.empty()) continue;
      if (!co_await sub_.wait(kCredentialCheck) &&
          std::chrono::steady_clock::now() >= next_store_recheck) {
        next_store_recheck = std::chrono::steady_clock::now() + kRecheck;
        need_store = true;
      }
    }
  }

 private:
  enum class Step { kWait, kMore, kStop };

  // Sends what the store has from offset_ on; ends the stream once nothing more can come.
  awaitable<Step> catch_up() {
    int want = requested_attempt_ > 0 ? requested_attempt_ : 0;
    auto chunk = co_await ctx_.db(
        [&] { return ctx_.store.read_log(tenant_, job_id_, want, offset_, kStoreReadBytes); });
    if (!chunk.ok()) co_return Step::kStop;
    if (chunk->attempt != 0 && chunk->attempt != attempt_) {
      bool switching = attempt_ != 0;
      attempt_ = chunk->attempt;
      json announce{{"type", "attempt"}, {"attempt", attempt_}};
      if (!co_await send_text(announce)) co_return Step::kStop;
      if (switching) {
        offset_ = 0;  // a new attempt's log starts from its beginning
        co_return Step::kMore;
      }
    }
    if (!chunk->data.empty()) {
      if (!co_await send_binary(chunk->data)) co_return Step::kStop;
      offset_ += static_cast<int64_t>(chunk->data.size());
      if (static_cast<int64_t>(chunk->data.size()) >= kStoreReadBytes) co_return Step::kMore;
    }
    if (!chunk->complete || offset_ < chunk->size) co_return Step::kWait;
    auto job = co_await ctx_.db([&] { return ctx_.store.get_job(tenant_, job_id_); });
    if (!job.ok()) co_return Step::kStop;
    json end{{"type", "end"}, {"attempt", attempt_}};
    if (requested_attempt_ > 0) {
      const Attempt* a = nullptr;
      for (const auto& candidate : job->attempts) {
        if (candidate.number == requested_attempt_) a = &candidate;
      }
      if (!a) co_return Step::kStop;
      end["state"] = std::string(to_string(a->state));
      end["exit_code"] = a->exit_code ? json(*a->exit_code) : json(nullptr);
      end["reason"] = a->reason;
    } else {
      // The latest attempt ended but the job did not: it was requeued, another attempt follows.
      if (!is_terminal(job->state)) co_return Step::kWait;
      end["state"] = std::string(to_string(job->state));
      end["exit_code"] = job->exit_code ? json(*job->exit_code) : json(nullptr);
      end["reason"] = job->reason;
    }
    if (co_await send_text(end)) {
      error_code ec;
      co_await ws_.async_close(websocket::close_code::normal,
                               asio::redirect_error(use_awaitable, ec));
    }
    co_return Step::kStop;
  }

  // A live piece: sent (true), or not placeable here and the store must fill in (false);
  // nullopt when the connection failed.
  awaitable<std::optional<bool>> send_piece(const LogPiece& piece) {
    if (piece.attempt != attempt_) {
      // A newer attempt of a followed job: switch over through the store.
      co_return !(requested_attempt_ == 0 && piece.attempt > attempt_);
    }
    int64_t end = piece.offset + static_cast<int64_t>(piece.data->size());
    if (end <= offset_) co_return true;           // already sent (from the store)
    if (piece.offset > offset_) co_return false;  // a gap: read it from the store
    std::string_view fresh(*piece.data);
    fresh.remove_prefix(static_cast<size_t>(offset_ - piece.offset));
    if (!co_await send_binary(fresh)) co_return std::nullopt;
    offset_ = end;
    co_return true;
  }

  awaitable<bool> send_binary(std::string_view data) {
    ws_.binary(true);
    error_code ec;
    co_await ws_.async_write(asio::buffer(data.data(), data.size()),
                             asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  awaitable<bool> send_text(const json& message) {
    std::string text = message.dump();
    ws_.text(true);
    error_code ec;
    co_await ws_.async_write(asio::buffer(text), asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  ServerContext& ctx_;
  WebSocket& ws_;
  WatcherConnection& conn_;
  LogHub::Subscription& sub_;
  Token token_;  // the watcher's; the stream closes once it is revoked
  std::string tenant_;
  std::string job_id_;
  int requested_attempt_;  // 0: follow the latest attempt
  int attempt_ = 0;        // the attempt being sent, 0 before the first
  int64_t offset_;         // the next byte of attempt_ to send
};

awaitable<void> stream_logs(ServerContext& ctx, RequestContext& req, WebSocketUpgrade& upgrade) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return upgrade.reject(error_of(caller.error()));
  auto offset = query_int(req, "offset", 0, 0, INT64_MAX);
  if (!offset.ok()) co_return upgrade.reject(error_of(offset.error()));
  auto attempt = query_int(req, "attempt", 0, 0, 1'000'000);
  if (!attempt.ok()) co_return upgrade.reject(error_of(attempt.error()));
  std::string id = req.params["id"];
  auto job = co_await ctx.db([&] { return ctx.store.get_job(caller->tenant, id); });
  if (!job.ok()) co_return upgrade.reject(error_of(job.error()));
  if (*attempt > job->attempt) {
    co_return upgrade.reject(error_of(make_error(
        ErrorCode::kNotFound, "job " + id + " has no attempt " + std::to_string(*attempt))));
  }
  auto ex = co_await asio::this_coro::executor;
  // Before the first store read: nothing falls in between.
  auto limited = ctx.logs.subscribe_within(id, caller->tenant, ex,
                                           static_cast<size_t>(ctx.config.max_watchers_per_job),
                                           static_cast<size_t>(ctx.config.max_watchers_per_tenant));
  if (!limited.sub)
    co_return upgrade.reject(error_of(watch_refusal(ctx, limited, id, caller->tenant)));
  auto sub = std::move(limited.sub);
  WebSocket* ws = co_await upgrade.accept();
  if (ws) {
    ws->read_message_max(64 * 1024);
    auto conn = std::make_shared<WatcherConnection>();
    asio::co_spawn(ex, read_until_closed(*ws, conn, sub), asio::detached);
    LogStreamer streamer(ctx, *ws, *conn, *sub, *caller, id, static_cast<int>(*attempt), *offset);
    co_await streamer.run();
    // The reader owns a pending read on ws: end it before ws goes away.
    if (!conn->reader_done.is_set()) {
      error_code ec;
      beast::get_lowest_layer(*ws).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(*ws).cancel();
      co_await conn->reader_done.wait();
    }
  }
  ctx.logs.unsubscribe(id, sub);
}

}  // namespace

void add_log_stream_routes(Router& router, ServerContext& ctx) {
  router.add_websocket("/api/v1/jobs/{id}/logs/stream",
                       [&ctx](RequestContext& req, WebSocketUpgrade& upgrade) {
                         return stream_logs(ctx, req, upgrade);
                       });
}

}  // namespace corral
