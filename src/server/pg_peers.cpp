#include "server/pg_peers.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/crypto.h"
#include "store/postgres/pg.h"

namespace corral {

namespace {

// A PostgreSQL text[] literal: every element double-quoted, with " and \ escaped.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

PgPeers::PgPeers(std::string conninfo) : conninfo_(std::move(conninfo)), server_id_(random_hex(6)) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

PgPeers::~PgPeers() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void PgPeers::start(Handler on_message, std::function<void()> on_reconnect) {
  on_message_ = std::move(on_message);
  on_reconnect_ = std::move(on_reconnect);
  thread_ = std::thread([this] { run(); });
}

void PgPeers::send(std::string message) {
  {
    std::lock_guard lock(mu_);
    // A burst of log appends to one job says the same thing many times: say it once.
    if (!queue_.empty() && queue_.back() == message) return;
    if (queue_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(message));
  }
  poke();
}

void PgPeers::stop() {
  if (stopping_.exchange(true)) return;
  poke();
  if (thread_.joinable()) thread_.join();
}

void PgPeers::poke() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void PgPeers::run() {
  std::unique_ptr<pg::Connection> conn;
  bool ever_connected = false;
  bool outage_logged = false;
  int backoff_ms = 100;
  std::vector<std::string> batch;

  auto wait_for_poke = [this](int timeout_ms) {
    pollfd pfd{wake_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) > 0) {
      uint64_t v;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
  };
  auto deliver = [&] {
    while (auto n = conn->next_notification()) {
      std::string_view payload(n->payload);
      auto space = payload.find(' ');
      if (space != std::string_view::npos && payload.substr(0, space) != server_id_ &&
          on_message_) {
        on_message_(payload.substr(space + 1));
      }
    }
  };

  while (!stopping_) {
    try {
      if (!conn) {
        auto opened = pg::Connection::open(conninfo_);
        if (!opened.ok()) {
          if (!outage_logged) {
            spdlog::warn("peers: {}; other servers' events wait until it is back",
                         opened.error().message);
            outage_logged = true;
          }
          wait_for_poke(backoff_ms);
          backoff_ms = std::min(backoff_ms * 2, 2000);
          continue;
        }
        conn = std::move(opened.value());
        conn->exec_script("SET application_name = 'corral-peers'; LISTEN corral_events");
        backoff_ms = 100;
        outage_logged = false;
        connected_ = true;
        if (ever_connected) {
          spdlog::info("peers: the LISTEN connection is back");
          if (on_reconnect_) on_reconnect_();
        }
        ever_connected = true;
      }

      batch.clear();
      uint64_t dropped = 0;
      {
        std::lock_guard lock(mu_);
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.end()));
        queue_.clear();
        std::swap(dropped, dropped_);
      }
      if (dropped) spdlog::warn("peers: {} message(s) dropped (queue full)", dropped);
      if (!batch.empty()) {
        for (auto& m : batch) m = server_id_ + " " + m;
        conn->query("SELECT pg_notify('corral_events', m) FROM unnest($1::text[]) AS m",
                    text_array(batch));
        deliver();
      }

      pollfd fds[2] = {{conn->socket(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
      if (fds[1].revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
      }
      if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
        conn->consume_input();
        deliver();
      }
      if (!conn->healthy()) throw std::runtime_error("connection closed");
    } catch (const std::exception& e) {
      spdlog::warn("peers: lost the LISTEN connection: {}", e.what());
      conn.reset();
      connected_ = false;
    }
  }
  connected_ = false;
}

}  // namespace corral
