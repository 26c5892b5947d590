// Dispatch with the submit: a new job goes straight to a runner parked in a long-poll claim
// on this server. The submit's own store call leases it (with the insert: one commit on
// SQLite) and hands the lease to the parked claim, which answers with it; no second store
// call stands between a submit and the runner's answer. Without a parked runner that may
// take it, the job is announced (ServerEvents::job_available) as before.
#pragma once

#include <string>
#include <vector>

#include "server/context.h"

namespace corral {

// The rule a claim of the runner takes jobs by now: the normal rule, or a steward's
// (server/steward.h). Reads the store: call it in a store thread.
Result<ClaimRule> claim_rule_for(Store& store, const ServerConfig& config, const Runner& runner,
                                 TimeMs now);

// Stores the job (create_job's checks and answer) and, when a claim parked here may take
// it, claims for that claim's runner in the same store call and hands it what was leased.
awaitable<Result<CreateJobResult>> create_and_dispatch(ServerContext& ctx, const Job& job);

// Claims leased to the runner that no answer will carry go back to the queue
// (Store::return_claims), and parked claims are told of them.
awaitable<void> return_claims(ServerContext& ctx, const std::string& runner_id,
                              std::vector<ClaimedJob> claims);

}  // namespace corral
