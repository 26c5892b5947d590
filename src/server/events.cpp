#include "server/events.h"

#include <spdlog/spdlog.h>

namespace corral {

ServerEvents::ServerEvents(ClaimWaiters& waiters, LogHub& logs, Store& store,
                           asio::thread_pool& store_pool, Clock& clock,
                           std::unique_ptr<Peers> peers)
    : waiters_(waiters),
      logs_(logs),
      store_(store),
      store_pool_(store_pool),
      clock_(clock),
      peers_(std::move(peers)) {
  if (peers_) {
    peers_->start([this](std::string_view message) { on_peer_message(message); },
                  [this] {
                    // Messages may have been missed while the link was down.
                    logs_.publish_changed_all();
                    if (waiters_.parked() > 0) wake_for_runnable_jobs();
                  });
  }
}

ServerEvents::~ServerEvents() {
  stop();
}

void ServerEvents::stop() {
  if (peers_) peers_->stop();
}

void ServerEvents::job_available(const Job& job) {
  waiters_.job_available(job);
  if (peers_) peers_->send("j " + job.tenant + " " + job.id);
}

void ServerEvents::log_appended(const std::string& job_id, int attempt, int64_t offset,
                                std::string_view data) {
  logs_.publish_bytes(job_id, attempt, offset, data);
  if (peers_) peers_->send("c " + job_id);
}

void ServerEvents::job_changed(const std::string& job_id) {
  logs_.publish_changed(job_id);
  if (peers_) peers_->send("c " + job_id);
}

void ServerEvents::all_jobs_changed() {
  logs_.publish_changed_all();
  if (peers_) peers_->send("a");
}

void ServerEvents::jobs_requeued() {
  if (peers_) peers_->send("r");
}

void ServerEvents::wake_for_runnable_jobs() {
  asio::post(store_pool_, [this] {
    auto runnable = store_.runnable_jobs(clock_.now_ms(), 256);
    if (!runnable.ok()) return;
    ClaimWaiters::WakePass pass(waiters_);
    for (const auto& job : *runnable) pass.job_available(job);
  });
}

void ServerEvents::on_peer_message(std::string_view message) {
  if (message.size() >= 2 && message.substr(0, 2) == "c ") {
    logs_.publish_changed(std::string(message.substr(2)));
  } else if (message == "a") {
    logs_.publish_changed_all();
  } else if (message == "r") {
    if (waiters_.parked() > 0) wake_for_runnable_jobs();
  } else if (message.size() >= 2 && message.substr(0, 2) == "j ") {
    if (waiters_.parked() == 0) return;  // nobody here to wake; a later claim finds the job itself
    auto rest = message.substr(2);
    auto space = rest.find(' ');
    if (space == std::string_view::npos) return;
    std::string tenant(rest.substr(0, space));
    std::string id(rest.substr(space + 1));
    // The job is in the database already; load it off the peers' thread.
    asio::post(store_pool_, [this, tenant = std::move(tenant), id = std::move(id)] {
      auto job = store_.get_job(tenant, id);
      if (job.ok() && job->state == JobState::kQueued) waiters_.job_available(*job);
    });
  } else {
    spdlog::warn("ignoring an unknown message from another server: {}", message.substr(0, 80));
  }
}

}  // namespace corral
