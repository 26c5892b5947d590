// `corral logs -f ID` and `corral submit --follow`: the job's live log over the WebSocket
// stream (GET /api/v1/jobs/{id}/logs/stream), a "queued for Ns" status on stderr while no
// runner has it, and the job's exit code at the end.
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "cli/client.h"
#include "net/websocket.h"

namespace corral::cli {

namespace {

struct FollowState {
  bool done = false;
  bool output_started = false;  // the stream has sent an attempt or bytes: not queued any more
  bool status_shown = false;
  bool tty = ::isatty(2) == 1;
};

long seconds_since(const json& rfc3339_time) {
  if (!rfc3339_time.is_string()) return 0;
  std::tm tm{};
  if (!strptime(rfc3339_time.get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return std::max<long>(0, static_cast<long>(std::time(nullptr) - timegm(&tm)));
}

void clear_status(FollowState& st) {
  if (st.tty && st.status_shown) std::cerr << "\r\033[K" << std::flush;
  st.status_shown = false;
}

// While the job is queued: one updating line on a TTY, a plain line every 5 s otherwise.
awaitable<void> show_queued_status(const Client& client, std::string job_id, json known_job,
                                   std::shared_ptr<FollowState> st) {
  HttpClient http(co_await asio::this_coro::executor, client.endpoint(), client.token());
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto last_line = std::chrono::steady_clock::time_point();
  while (!st->done && !st->output_started) {
    Result<HttpResponse> res = make_error(ErrorCode::kUnavailable, "");
    if (known_job.is_object()) {
      res = HttpResponse{200, std::exchange(known_job, nullptr).dump(), {}};
    } else {
      HttpRequest req;
      req.target = "/api/v1/jobs/" + url_encode(job_id);
      req.timeout = std::chrono::seconds(5);
      res = co_await http.request(std::move(req));
    }
    if (st->done || st->output_started) break;
    if (res.ok() && res->status == 200) {
      auto job = json::parse(res->body, nullptr, false);
      if (!job.is_object() || job["state"] != "queued") {
        clear_status(*st);
        break;
      }
      std::string line = "queued for " + std::to_string(seconds_since(job["created_at"])) + "s";
      auto now = std::chrono::steady_clock::now();
      if (st->tty) {
        std::cerr << "\r\033[K" << line << std::flush;
        st->status_shown = true;
      } else if (now - last_line >= std::chrono::seconds(5)) {
        std::cerr << line << std::endl;
        last_line = now;
      }
    }
    timer.expires_after(std::chrono::seconds(1));
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

int exit_code_of(const json& end) {
  if (end.value("state", "") == "succeeded") return 0;
  if (end.value("state", "") == "failed" && end["exit_code"].is_number_integer()) {
    int code = end["exit_code"].get<int>();
    if (code > 0 && code < 256) return code;
  }
  return 1;
}

awaitable<int> follow(const Client& client, std::string job_id, int attempt, std::shared_ptr<FollowState> st) {
  const auto& ep = client.endpoint();
  if (ep.kind != Endpoint::Kind::kTcp) {
    std::cerr << "error: following a log needs a tcp server address (http://host:port)\n";
    co_return 2;
  }
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  tcp::resolver resolver(ex);
  auto addresses = co_await resolver.async_resolve(ep.host, std::to_string(ep.port), asio::redirect_error(use_awaitable, ec));
  WebSocket ws(ex);
  if (!ec) {
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(ws).async_connect(addresses, asio::redirect_error(use_awaitable, ec));
  }
  if (ec) {
    std::cerr << "error: cannot reach the corral server at " << client.server() << ": " << ec.message()
              << "\n       (is it running? set --server or CORRAL_SERVER)\n";
    co_return 3;
  }
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  std::string token = client.token();
  ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
    req.set(http::field::user_agent, "corral/" CORRAL_VERSION);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  }));
  std::string target = "/api/v1/jobs/" + url_encode(job_id) + "/logs/stream";
  if (attempt > 0) target += "?attempt=" + std::to_string(attempt);
  websocket::response_type refused;
  co_await ws.async_handshake(refused, ep.host_header(), target, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    int status = static_cast<int>(refused.result_int());
    std::string message = refused.body().empty() ? ec.message() : refused.body();
    auto body = json::parse(refused.body(), nullptr, false);
    if (body.is_object() && body.contains("error")) message = body["error"].value("message", message);
    std::cerr << "error: " << message << (status ? " (HTTP " + std::to_string(status) + ")" : "") << "\n";
    co_return status == 404 ? 4 : status == 0 ? 3 : 1;
  }
  json end;
  int attempts_seen = 0;
  beast::flat_buffer buffer;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    std::string data = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (!st->output_started) {
      st->output_started = true;
      clear_status(*st);
    }
    if (ws.got_binary()) {
      std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
      std::cout.flush();
      continue;
    }
    auto message = json::parse(data, nullptr, false);
    if (!message.is_object()) continue;
    std::string type = message.value("type", "");
    if (type == "attempt" && ++attempts_seen > 1) {
      std::cerr << "--- attempt " << message["attempt"].dump() << " (the job was retried) ---\n";
    } else if (type == "end") {
      end = message;
    }
  }
  st->done = true;
  clear_status(*st);
  if (end.is_null()) {
    std::cerr << "error: the log stream of " << job_id << " ended before the job did: " << ec.message() << "\n";
    co_return 3;
  }
  if (end.value("state", "") != "succeeded") {
    std::cerr << "job " << job_id << " " << end.value("state", "ended")
              << (end["exit_code"].is_null() ? "" : " with exit code " + end["exit_code"].dump())
              << (end.value("reason", "").empty() || end["reason"] == end["state"] ? "" : " (" + end.value("reason", "") + ")")
              << "\n";
  }
  co_return exit_code_of(end);
}

}  // namespace

int follow_job(const Client& client, const std::string& job_id, int attempt, const json& known_job) {
  asio::io_context io;
  auto st = std::make_shared<FollowState>();
  int code = 1;
  asio::co_spawn(io, follow(client, job_id, attempt, st), [&](std::exception_ptr e, int result) {
    code = e ? 1 : result;
    io.stop();  // the status poller may still be waiting
  });
  asio::co_spawn(io, show_queued_status(client, job_id, known_job, st), asio::detached);
  io.run();
  return code;
}

}  // namespace corral::cli
