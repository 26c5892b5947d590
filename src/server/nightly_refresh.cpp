#include "server/nightly_refresh.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>

#include "api/agent_tasks.h"
#include "common/crypto.h"
#include "store/store.h"

namespace corral {

bool nightly_refresh_due(const RepoMapping& repo, TimeMs now, const TimeZone& tz) {
  if (!repo.has_steward()) return false;
  if (tz.to_local(now).hour != 2) return false;
  return repo.last_auto_refresh_at == 0 || now - repo.last_auto_refresh_at >= kNightlyRefreshGapMs;
}

std::vector<Job> nightly_refresh_jobs(const RepoMapping& repo, TimeMs now, const TimeZone& tz) {
  CivilTime local = tz.to_local(now);
  char date[16];
  std::snprintf(date, sizeof date, "%04d-%02d-%02d", local.year, local.month, local.day);
  TaskTarget target;
  target.host = "github.com";
  target.full_name = repo.full_name;
  target.clone_url =
      !repo.clone_url.empty() ? repo.clone_url : "https://github.com/" + repo.full_name + ".git";
  std::vector<Job> jobs;
  for (const char* type : {"analysis-pr", "analysis-issue"}) {
    auto spec = parse_job_spec(agent_task_spec(type, target, default_task_prompt(type, target)));
    if (!spec.ok()) continue;  // the templates are ours: never
    Job job;
    job.id = new_id("job");
    job.tenant = repo.tenant;
    job.owner_token_id = repo.updated_by;  // the admin who named the steward
    job.spec = std::move(spec.value());
    job.spec.name = std::string("nightly ") + type + " " + repo.full_name;
    job.created_at = now;
    job.not_before = now;
    job.idempotency_key = "nightly-refresh:" + repo.full_name + ":" + date + ":" + type;
    apply_repo_mapping(job, &repo);
    job.repo_name = repo.full_name;  // also when clone_url is a mirror that names no repository
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<std::vector<Job>> run_nightly_refresh(Store& store, TimeMs now,
                                             const TimeZone& default_zone) {
  std::vector<Job> made;
  auto repos = store.stewarded_repos();
  if (!repos.ok()) return repos.error();
  if (repos->empty()) return made;
  auto zone_names = store.tenant_refresh_timezones();
  if (!zone_names.ok()) return zone_names.error();
  std::map<std::string, TimeZone> zones;  // tenant -> its zone, loaded once per run
  auto zone_of = [&](const std::string& tenant) -> const TimeZone& {
    auto it = zones.find(tenant);
    if (it != zones.end()) return it->second;
    TimeZone zone = default_zone;
    if (auto named = zone_names->find(tenant); named != zone_names->end()) {
      // Validated when it was set; a zone the system no longer knows falls back, loudly.
      auto loaded = TimeZone::load(named->second);
      if (loaded.ok()) {
        zone = *loaded;
      } else {
        spdlog::warn("nightly refresh: tenant {}: {}; using {}", tenant, loaded.error().message,
                     default_zone.name());
      }
    }
    return zones.emplace(tenant, zone).first->second;
  };
  for (const auto& repo : *repos) {
    const TimeZone& tz = zone_of(repo.tenant);
    if (!nightly_refresh_due(repo, now, tz)) continue;
    for (auto& job : nightly_refresh_jobs(repo, now, tz)) {
      auto created = store.create_job(job, kNoJobCap);
      if (!created.ok()) return created.error();
      if (created->created) made.push_back(created->job);
    }
    CORRAL_TRY(store.mark_auto_refresh(repo.tenant, repo.full_name, now));
  }
  return made;
}

}  // namespace corral
