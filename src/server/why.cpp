#include "server/why.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>

#include "server/matching.h"

namespace corral {

namespace {

std::string ago(TimeMs now, TimeMs then) {
  if (then <= 0) return "never";
  int64_t s = std::max<int64_t>(0, (now - then) / 1000);
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  return std::to_string(s / 3600) + " h ago";
}

std::string gaps_text(const MatchGaps& gaps, const Runner& runner, const Job& job) {
  std::vector<std::string> parts;
  if (!gaps.missing_labels.empty())
    parts.push_back(fmt::format("lacks labels [{}]", fmt::join(gaps.missing_labels, ", ")));
  if (gaps.wrong_group)
    parts.push_back(fmt::format("is in group '{}', not '{}'", runner.reg.group, job.spec.group));
  if (gaps.wrong_mode) {
    parts.push_back(fmt::format("takes only [{}] jobs, not '{}'", fmt::join(runner.reg.modes, ", "),
                                job.spec.type));
  }
  if (gaps.not_owner) parts.push_back("takes only its owner's jobs (--owner-only)");
  return fmt::format("{}", fmt::join(parts, "; "));
}

json runner_brief(const Runner& r, TimeMs now) {
  return {{"id", r.id},
          {"name", r.reg.name},
          {"status", to_string(r.status)},
          {"last_heartbeat_at", format_time(r.last_heartbeat_at)},
          {"last_seen", ago(now, r.last_heartbeat_at)},
          {"running_jobs", r.running.size()},
          {"max_concurrent_jobs", r.reg.max_concurrent_jobs}};
}

// What steward fallback means for a queued job, if anything (steward.h).
std::optional<std::pair<std::string, std::string>> steward_reason(
    const Job& job, const std::vector<Runner>& runners, const StewardFacts& facts, TimeMs now) {
  const RepoMapping* repo = facts.repo_of(job);
  if (!repo) return std::nullopt;
  auto normal = normal_runners(job, runners);
  std::vector<std::string> stewards;
  for (const auto& r : runners) {
    if (!is_steward_of(r, *repo)) continue;
    auto gaps = match_gaps(r, job);
    if (gaps.empty()) return std::nullopt;  // a steward that may take it anyway: nothing to explain
    if (!gaps.other_tenant && gaps.missing_labels.empty()) stewards.push_back(r.reg.name);
  }
  std::string who = !repo->steward_runner.empty() ? "steward runner " + repo->steward_runner
                                                  : "steward group '" + repo->steward_group + "'";
  if (repo->steward_runner.empty() && !stewards.empty())
    who += fmt::format(" ({})", fmt::join(stewards, ", "));
  auto stale_s = fmt::format("{:g} s", facts.stale_after_ms / 1000.0);
  bool all_stale = std::all_of(normal.runners.begin(), normal.runners.end(), [&](const Runner* r) {
    return heartbeat_stale(*r, now, facts.stale_after_ms);
  });
  bool all_offline =
      std::all_of(normal.runners.begin(), normal.runners.end(),
                  [&](const Runner* r) { return r->status == RunnerStatus::kOffline; });
  bool allowed = steward_fallback_allowed(job, facts.owner_setting(job.owner_token_id));
  std::string stale_text;
  if (normal.runners.empty()) {
    stale_text = "no runner could take it by the normal rules";
  } else {
    std::vector<std::string> names;
    for (const Runner* r : normal.runners)
      names.push_back(r->reg.name + " (last seen " + ago(now, r->last_heartbeat_at) + ")");
    stale_text = fmt::format("matching runners stale (no heartbeat for over {}): {}", stale_s,
                             fmt::join(names, ", "));
  }
  if (!all_stale && !all_offline)
    return std::nullopt;  // matching runners are alive: no fallback ahead
  if (!allowed) {
    return std::pair{
        std::string("steward_fallback_not_allowed"),
        fmt::format(
            "{}; {} could take it, but steward fallback is not allowed by the submitter "
            "(submit with steward_fallback: true, or `corral settings --steward-fallback on`)",
            all_stale ? stale_text : "every matching runner is offline", who)};
  }
  if (stewards.empty()) {
    return std::pair{
        std::string("steward_unavailable"),
        fmt::format("{}; {} may take it, but no such runner{} is registered",
                    all_stale ? stale_text : "every matching runner is offline", who,
                    job.spec.labels.empty()
                        ? std::string()
                        : fmt::format(" with labels [{}]", fmt::join(job.spec.labels, ", ")))};
  }
  if (all_stale) {
    return std::pair{std::string("steward_fallback"),
                     fmt::format("{}; {} may take it", stale_text, who)};
  }
  TimeMs at = normal.last_heartbeat_at + facts.stale_after_ms + 1;
  return std::pair{
      std::string("steward_fallback_pending"),
      fmt::format(
          "every matching runner is offline; unless one beats again, {} may take it from {} "
          "(in {} s, after {} without a heartbeat)",
          who, format_time(at), std::max<int64_t>(0, (at - now + 999) / 1000), stale_s)};
}

}  // namespace

std::string fit_kind(const Job& job) {
  return json{job.tenant, job.spec.labels, job.spec.group, job.spec.type, job.owner_token_id}
      .dump();
}

RunnerFit fit_runners(const Job& job, const std::vector<Runner>& runners) {
  RunnerFit fit;
  std::vector<std::pair<MatchGaps, const Runner*>> others;
  for (const auto& r : runners) {
    auto gaps = match_gaps(r, job);
    if (gaps.empty())
      fit.matching.push_back(&r);
    else if (!gaps.other_tenant)
      others.emplace_back(std::move(gaps), &r);
  }
  for (const Runner* r : fit.matching) {
    std::string error = runner_error(*r);
    if (!error.empty()) {
      fit.in_error.push_back(r->reg.name + " (" + error + ")");
      ++fit.error;
    } else {
      switch (r->status) {
        case RunnerStatus::kIdle:
          ++fit.idle;
          break;
        case RunnerStatus::kBusy:
          ++fit.busy;
          break;
        case RunnerStatus::kDraining:
          ++fit.draining;
          break;
        case RunnerStatus::kOffline:
          ++fit.offline;
          break;
      }
    }
    if (r->status != RunnerStatus::kOffline) {
      ++fit.online;
      fit.slots_used += static_cast<int>(r->running.size());
      fit.slots_total += r->reg.max_concurrent_jobs;
    }
  }
  // The closest three: fewest gaps, then name.
  auto closer = [](const auto& a, const auto& b) {
    return a.first.count() != b.first.count() ? a.first.count() < b.first.count()
                                              : a.second->reg.name < b.second->reg.name;
  };
  size_t keep = std::min<size_t>(3, others.size());
  std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(keep),
                    others.end(), closer);
  others.resize(keep);
  fit.closest = std::move(others);
  return fit;
}

json explain_wait(const WhyFacts& facts) {
  const Job& job = facts.job;
  json out{{"job_id", job.id},
           {"state", to_string(job.state)},
           {"waiting", job.state == JobState::kQueued},
           {"created_at", format_time(job.created_at)}};
  json reasons = json::array();
  auto reason = [&](const std::string& code, const std::string& message) -> json& {
    reasons.push_back({{"code", code}, {"message", message}});
    return reasons.back();
  };

  std::optional<RunnerFit> own_fit;
  if (!facts.fit) own_fit = fit_runners(job, facts.runners);
  const RunnerFit& fit = facts.fit ? *facts.fit : *own_fit;
  const auto& matching = fit.matching;
  json counts{
      {"total", matching.size()}, {"online", fit.online},         {"idle", fit.idle},
      {"busy", fit.busy},         {"draining", fit.draining},     {"error", fit.error},
      {"offline", fit.offline},   {"slots_used", fit.slots_used}, {"slots_total", fit.slots_total}};
  const auto& in_error = fit.in_error;
  out["matching_runners"] = counts;
  out["position"] = facts.position.higher_priority + facts.position.older;
  out["ahead"] = {{"higher_priority", facts.position.higher_priority},
                  {"older", facts.position.older}};
  out["not_before"] =
      job.not_before > facts.now ? json(format_time(job.not_before)) : json(nullptr);

  if (job.state != JobState::kQueued) {
    std::string where;
    if (!job.attempts.empty()) {
      const auto& a = job.attempts.back();
      where = " on " + (a.runner_name.empty() ? a.runner_id : a.runner_name) + " (attempt " +
              std::to_string(a.number) + ")";
    }
    std::string summary =
        is_terminal(job.state)           ? "the job ended " + std::string(to_string(job.state))
        : job.state == JobState::kLeased ? "the job was claimed" + where + " and is starting"
                                         : "the job is running" + where;
    out["summary"] = summary;
    out["reasons"] = reasons;
    return out;
  }

  if (job.not_before > facts.now) {
    reason("backoff",
           fmt::format("waiting out its retry backoff until {} ({} s from now){}",
                       format_time(job.not_before), (job.not_before - facts.now + 999) / 1000,
                       job.reason.empty() ? "" : "; the last attempt failed with " + job.reason));
  }
  if (facts.steward) {
    if (auto steward = steward_reason(job, facts.runners, *facts.steward, facts.now)) {
      reason(steward->first, steward->second);
    }
  }
  auto label_text = job.spec.labels.empty()
                        ? std::string("no labels")
                        : fmt::format("labels [{}]", fmt::join(job.spec.labels, ", "));
  int online = fit.online;
  if (facts.runners.empty()) {
    reason("no_runners", "no runner is registered in this tenant; start one with `corral runner`");
  } else if (matching.empty()) {
    const auto& others = fit.closest;
    std::string what = label_text;
    if (!job.spec.group.empty()) what += ", group '" + job.spec.group + "'";
    if (!job.spec.type.empty()) what += ", type '" + job.spec.type + "'";
    auto& r = reason("no_matching_runner", "no runner can take a job with " + what);
    json closest = json::array();
    for (size_t i = 0; i < others.size(); ++i) {
      auto brief = runner_brief(*others[i].second, facts.now);
      brief["lacks"] = gaps_text(others[i].first, *others[i].second, job);
      closest.push_back(brief);
      r["message"] = r["message"].get<std::string>() + (i == 0 ? "; closest: " : ", ") +
                     others[i].second->reg.name + " " + brief["lacks"].get<std::string>();
    }
    r["runners"] = closest;
  } else if (online == 0) {
    json list = json::array();
    std::vector<std::string> names;
    for (const Runner* m : matching) {
      list.push_back(runner_brief(*m, facts.now));
      names.push_back(m->reg.name + " (last seen " + ago(facts.now, m->last_heartbeat_at) + ")");
    }
    reason("runners_offline", fmt::format("every runner that could take it is offline: {}",
                                          fmt::join(names, ", ")))["runners"] = list;
  } else if (fit.idle == 0 && fit.busy == 0 && !in_error.empty()) {
    reason("runners_error", fmt::format("every online runner that could take it is draining or in "
                                        "state error, which takes no jobs: {}",
                                        fmt::join(in_error, ", ")));
  } else if (fit.idle == 0 && fit.busy == 0) {
    reason("runners_draining",
           fmt::format("every online runner that could take it is draining ({})", online));
  } else if (fit.slots_used >= fit.slots_total && fit.idle == 0) {
    reason("runners_busy", fmt::format("all {} matching runner(s) are busy ({}/{} slots used)",
                                       online, fit.slots_used, fit.slots_total));
  }
  if (facts.position.higher_priority > 0) {
    reason("behind_higher_priority", fmt::format("queued behind {} job(s) of higher priority",
                                                 facts.position.higher_priority));
  }
  if (facts.position.older > 0 && reasons.empty()) {
    reason("behind_older",
           fmt::format("{} older job(s) of the same priority go first", facts.position.older));
  }
  if (reasons.empty()) {
    reason(
        "ready",
        "a matching runner has a free slot; the job starts as soon as it claims (within moments)");
  }
  out["summary"] = reasons[0]["message"];
  out["reasons"] = reasons;
  return out;
}

}  // namespace corral
