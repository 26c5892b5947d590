// `corral logs -f ID` and `corral submit --follow`: the job's live log over the WebSocket
// stream (GET /api/v1/jobs/{id}/logs/stream), a "queued for Ns" status on stderr while no
// runner has it, and the job's exit code at the end.
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "cli/client.h"
#include "common/json_limits.h"
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

// "queued for 12s · position 3 · 1/2 matching runners online · all 1 matching runner(s) are busy"
std::string status_line(const json& why, const json& job) {
  std::string line =
      "queued for " +
      std::to_string(seconds_since(why.value("created_at", job.value("created_at", json()))));
  line += "s · position " + std::to_string(why.value("position", 0) + 1);
  const auto& m = why["matching_runners"];
  if (m.is_object()) {
    line += " · " + std::to_string(m.value("online", 0)) + "/" +
            std::to_string(m.value("total", 0)) + " matching runners online";
  }
  std::string summary = why.value("summary", "");
  if (!summary.empty() && why["reasons"].is_array() && !why["reasons"].empty() &&
      why["reasons"][0].value("code", "") != "ready") {
    line += " · " + summary;
  }
  return line;
}

// While the job is queued: one updating line on a TTY, a plain line every 5 s otherwise.
awaitable<void> show_queued_status(const Client& client, std::string job_id, json known_job,
                                   std::shared_ptr<FollowState> st) {
  HttpClient http(co_await asio::this_coro::executor, client.endpoint(), client.token());
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto last_line = std::chrono::steady_clock::time_point();
  while (!st->done && !st->output_started) {
    HttpRequest req;
    req.target = "/api/v1/jobs/" + url_encode(job_id) + "/why";
    req.timeout = std::chrono::seconds(5);
    auto res = co_await http.request(std::move(req));
    if (st->done || st->output_started) break;
    if (res.ok() && res->status == 200) {
      auto parsed = parse_json_limited(res->body, "the server's answer");
      json why = parsed.ok() ? std::move(parsed.value()) : json();
      if (!why.is_object() || !why.value("waiting", false)) {
        clear_status(*st);
        break;
      }
      std::string line = status_line(why, known_job);
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

// How far the watcher got, so a dropped stream resumes where it stopped.
struct Progress {
  int attempt = 0;     // attempt whose bytes we are printing
  int64_t offset = 0;  // bytes of that attempt printed
  int attempts_seen = 0;
  json end;              // the final message, once it came
  bool restart = false;  // open the stream again at once (a newer attempt began)
};

// One WebSocket session. Returns an exit code when the follow is over (the job ended, or the
// server refused us), nullopt when the connection dropped and is worth opening again.
awaitable<std::optional<int>> stream_once(const Client& client, const std::string& job_id,
                                          int pinned_attempt, Progress& progress,
                                          std::shared_ptr<FollowState> st, bool reconnecting) {
  const auto& ep = client.endpoint();
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  tcp::resolver resolver(ex);
  auto addresses = co_await resolver.async_resolve(ep.host, std::to_string(ep.port),
                                                   asio::redirect_error(use_awaitable, ec));
  WebSocket ws(ex);
  if (!ec) {
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(ws).async_connect(addresses,
                                                       asio::redirect_error(use_awaitable, ec));
  }
  if (ec) {
    if (reconnecting) co_return std::nullopt;
    std::cerr << "error: cannot reach the corral server at " << client.server() << ": "
              << ec.message() << "\n       (is it running? set --server or CORRAL_SERVER)\n";
    co_return 3;
  }
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  const std::string& token = client.token();
  ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
    req.set(http::field::user_agent, "corral/" CORRAL_VERSION);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  }));
  // Resume from the byte we stopped at. The offset counts in the latest attempt; if the job
  // moved on to a new attempt meanwhile, the first message says so and we start it from 0.
  int attempt = pinned_attempt;
  int64_t resume_offset = progress.offset;
  std::string target = "/api/v1/jobs/" + url_encode(job_id) + "/logs/stream";
  std::string query;
  if (attempt > 0) query += "attempt=" + std::to_string(attempt);
  if (resume_offset > 0)
    query += std::string(query.empty() ? "" : "&") + "offset=" + std::to_string(resume_offset);
  if (!query.empty()) target += "?" + query;
  websocket::response_type refused;
  co_await ws.async_handshake(refused, ep.host_header(), target,
                              asio::redirect_error(use_awaitable, ec));
  if (ec) {
    int status = static_cast<int>(refused.result_int());
    if (reconnecting && (status == 0 || status >= 500)) co_return std::nullopt;
    std::string message = refused.body().empty() ? ec.message() : refused.body();
    auto body = parse_json_limited(refused.body(), "the server's answer");
    if (body.ok() && body->contains("error"))
      message = json_string_or((*body)["error"], "message", message);
    std::cerr << "error: " << message << (status ? " (HTTP " + std::to_string(status) + ")" : "")
              << "\n";
    co_return status == 404 ? 4 : status == 0 ? 3 : 1;
  }
  if (reconnecting) std::cerr << "(reconnected)\n";
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
      progress.offset += static_cast<int64_t>(data.size());
      continue;
    }
    auto parsed = parse_json_limited(data, "a log stream message");
    if (!parsed.ok() || !parsed->is_object()) continue;
    const json& message = *parsed;
    std::string type = message.value("type", "");
    if (type == "attempt") {
      int n = message.value("attempt", 0);
      if (resume_offset > 0 && n != progress.attempt) {
        // We asked for bytes from resume_offset of a newer attempt: start that one over.
        std::cerr << "--- attempt " << n << " (the job was retried) ---\n";
        progress.attempt = n;
        progress.offset = 0;
        progress.attempts_seen++;
        progress.restart = true;
        co_return std::nullopt;
      }
      resume_offset = 0;
      if (n != progress.attempt) {
        if (++progress.attempts_seen > 1 || progress.attempt > 0) {
          std::cerr << "--- attempt " << n << " (the job was retried) ---\n";
        }
        progress.attempt = n;
        progress.offset = 0;
      }
    } else if (type == "end") {
      progress.end = message;
    }
  }
  if (progress.end.is_null()) co_return std::nullopt;
  co_return 0;
}

awaitable<int> follow(const Client& client, std::string job_id, int attempt,
                      std::shared_ptr<FollowState> st) {
  if (client.endpoint().kind != Endpoint::Kind::kTcp) {
    std::cerr << "error: following a log needs a tcp server address (http://host:port)\n";
    co_return 2;
  }
  Progress progress;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto backoff = std::chrono::milliseconds(250);
  auto gave_up_at = std::chrono::steady_clock::time_point::max();
  bool reconnecting = false;
  for (;;) {
    auto outcome = co_await stream_once(client, job_id, attempt, progress, st, reconnecting);
    if (outcome && progress.end.is_null()) {
      st->done = true;
      clear_status(*st);
      co_return *outcome;  // refused
    }
    if (!progress.end.is_null()) break;
    if (std::exchange(progress.restart, false)) continue;
    // The connection dropped mid-job (a server restart, a proxy): resume from where we were.
    auto now = std::chrono::steady_clock::now();
    if (!reconnecting) {
      clear_status(*st);
      std::cerr << "(connection to " << client.server() << " lost; reconnecting)\n";
      gave_up_at = now + std::chrono::minutes(5);
      reconnecting = true;
    } else if (now > gave_up_at) {
      std::cerr << "error: the log stream of " << job_id
                << " dropped and the server stayed unreachable for 5 minutes\n";
      co_return 3;
    }
    timer.expires_after(backoff);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  st->done = true;
  clear_status(*st);
  const json& end = progress.end;
  if (end.value("state", "") != "succeeded") {
    std::cerr << "job " << job_id << " " << end.value("state", "ended")
              << (end["exit_code"].is_null() ? "" : " with exit code " + end["exit_code"].dump())
              << (end.value("reason", "").empty() || end["reason"] == end["state"]
                      ? ""
                      : " (" + end.value("reason", "") + ")")
              << "\n";
  }
  co_return exit_code_of(end);
}

}  // namespace

int follow_job(const Client& client, const std::string& job_id, int attempt,
               const json& known_job) {
  asio::io_context io;
  auto st = std::make_shared<FollowState>();
  int code = 1;
  asio::co_spawn(io, follow(client, job_id, attempt, st),
                 [&](const std::exception_ptr& e, int result) {
                   code = e ? 1 : result;
                   io.stop();  // the status poller may still be waiting
                 });
  asio::co_spawn(io, show_queued_status(client, job_id, known_job, st), asio::detached);
  io.run();
  return code;
}

}  // namespace corral::cli
