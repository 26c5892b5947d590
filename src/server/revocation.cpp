// What follows an admin's removal of a credential: requeued jobs announced, and long-lived
// connections re-checking the token they were opened with.
#include "server/auth_cache.h"
#include "server/context.h"

namespace corral {

awaitable<void> announce_requeued(ServerContext& ctx, const std::string& tenant,
                                  const std::vector<std::string>& job_ids) {
  // A lost attempt may also have ended its job (no attempts left): watchers re-read all.
  ctx.events.all_jobs_changed();
  for (const auto& id : job_ids) {
    auto job = co_await ctx.db([&] { return ctx.store.get_job(tenant, id); });
    if (job.ok() && job->state == JobState::kQueued) ctx.events.job_available(*job);
  }
}

awaitable<bool> token_still_valid(ServerContext& ctx, const Token& token) {
  if (auto cached = AuthCache::instance().token(token.hash)) co_return cached->revoked_at == 0;
  auto found = co_await ctx.db([&] { return ctx.store.find_token_by_hash(token.hash); });
  // A store that cannot answer right now is not a revocation: look again next time.
  if (!found.ok()) co_return true;
  if (!found.value() || found.value()->revoked_at > 0) co_return false;
  AuthCache::instance().put_token(token.hash, *found.value());
  co_return true;
}

}  // namespace corral
