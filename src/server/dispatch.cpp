#include "server/dispatch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "server/matching.h"
#include "server/steward.h"

namespace corral {

Result<ClaimRule> claim_rule_for(Store& store, const ServerConfig& config, const Runner& runner,
                                 TimeMs now) {
  // Steward fallback (steward.h) needs the tenant's runners and settings only when this
  // runner is some repository's steward; the facts are fresh for each claim.
  auto facts =
      load_steward_facts(store, runner.tenant, now, config.steward_stale_after_ms, &runner);
  if (!facts.ok()) return facts.error();
  bool steward = !facts->repos.empty();
  auto shared = std::make_shared<const StewardFacts>(std::move(*facts));
  JobMatcher matcher = [shared](const Runner& r, const Job& job) {
    return may_claim(r, job, *shared);
  };
  // A runner that is no repository's steward claims by the normal rule alone, which the
  // store may evaluate itself (PostgreSQL: one statement): may_claim is then exactly
  // "heartbeat within the stale threshold, and runner_can_take".
  ClaimRule rule = steward
                       ? ClaimRule(std::move(matcher))
                       : ClaimRule::normal(std::move(matcher), now - config.steward_stale_after_ms);
  // What the rule needs of a job's labels, group, type and submitter alone, so the store
  // skips jobs alike in those unread: the normal rule all of it; a steward may take
  // another group's jobs, never ones needing labels it lacks.
  rule.prefilter = steward ? JobMatcher(runner_has_labels_of) : JobMatcher(runner_can_take);
  return rule;
}

awaitable<Result<CreateJobResult>> create_and_dispatch(ServerContext& ctx, const Job& job) {
  int64_t cap = ctx.config.max_queued_per_tenant;
  TimeMs now = ctx.clock.now_ms();
  // A job for later (not_before) waits in the queue; so does every job when nobody here
  // may take it.
  ClaimWaiters::WaiterPtr parked = job.not_before <= now ? ctx.waiters.reserve(job) : nullptr;
  if (!parked) {
    auto created = co_await ctx.db([&] { return ctx.store.create_job(job, cap); });
    if (created.ok() && created->created) ctx.events.job_available(created->job);
    co_return created;
  }
  auto reserved_at = std::chrono::steady_clock::now();
  using Both = std::pair<CreateJobResult, std::vector<ClaimedJob>>;
  auto both = co_await ctx.db([&]() -> Result<Both> {
    TimeMs at = ctx.clock.now_ms();
    auto rule = claim_rule_for(ctx.store, ctx.config, parked->runner, at);
    if (!rule.ok()) {
      auto created = ctx.store.create_job(job, cap);
      if (!created.ok()) return created.error();
      return Both{std::move(*created), {}};
    }
    return ctx.store.create_job_and_claim(
        job, cap, at,
        Store::Dispatch{parked->runner.id, parked->slots, ctx.config.heartbeat_timeout_ms, *rule});
  });
  if (!both.ok()) {
    ctx.waiters.unreserve(parked);
    co_return both.error();
  }
  auto& [created, claimed] = *both;
  bool handed_new = std::any_of(claimed.begin(), claimed.end(),
                                [&](const ClaimedJob& c) { return c.job_id == created.job.id; });
  if (handed_new) ctx.metrics.leased_with_submit.add({});
  if (claimed.empty()) {
    ctx.waiters.unreserve(parked);
  } else if (!ctx.waiters.hand_over(parked, claimed, reserved_at)) {
    co_await return_claims(ctx, parked->runner.id, std::move(claimed));  // announces them
  }
  // Not leased with the submit (the runner took an older job, or none): announced as usual,
  // whatever became of the jobs that were leased.
  if (created.created && !handed_new) ctx.events.job_available(created.job);
  co_return std::move(created);
}

awaitable<void> return_claims(ServerContext& ctx, const std::string& runner_id,
                              std::vector<ClaimedJob> claims) {
  std::vector<AttemptRef> refs;
  for (const auto& c : claims) refs.push_back({c.job_id, c.attempt});
  auto queued =
      co_await ctx.db([&] { return ctx.store.return_claims(runner_id, refs, ctx.clock.now_ms()); });
  if (!queued.ok()) {
    // Their leases run out and the lease sweep queues them again.
    spdlog::warn("could not return {} unanswered claim(s) of runner {} to the queue: {}",
                 refs.size(), runner_id, queued.error().message);
    co_return;
  }
  ctx.metrics.claims_returned.add({}, static_cast<double>(queued->size()));
  for (const auto& job : *queued) ctx.events.job_available(job);
}

}  // namespace corral
