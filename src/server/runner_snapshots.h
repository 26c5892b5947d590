// The tenant's runners as the pages that explain the queue read them (/queue, /why): one list
// shared by the requests of the same second. A fleet of ten thousand runners is then one
// store read a second, however many dashboards poll, instead of one per page view.
//
// A list is fresh for kMaxAge (longer when reading it is slow, see put). After that, the next
// request still gets it (for up to kServeStaleFor) and is told to read a new one in the background,
// so no page view waits for the read but the first; and when there is none, one caller reads it
// while the others wait for that read (a dashboard's burst of requests is one read, not one each).
// Changes this server makes to the tenant's runners (registration, removal, drain, resume, going
// offline or unwell) drop the list at once; heartbeats and claims do not, so a runner's busy or
// idle state on those pages may lag by about a second. A list read while a change was made is not
// kept (put's generation check).
//
// A list slow to read (kSlowRead or more: a fleet of thousands, 0.3 s at 10,000 runners) is never
// dropped while it is being replaced: a change, or an age past kServeStaleFor, asks for a new
// read at once while requests go on getting the old list. Such a fleet's pages may then show a
// change one read late.
//
// Warm-up: after a change to a tenant's runners, the server reads the tenant's list again in the
// background (due_warmups, from its sweep loop) without waiting for a page view, at most once per
// kMaxAge (or kSlowReadFactor times the last read, for a slow list). The first page view after
// a fleet registers, or after a restart's re-registrations, then finds a list: none waits for
// ten thousand runners to be read.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "server/why.h"

namespace corral {

// One read of a tenant's runners, and how jobs of each kind fit them (fit_runners), worked out
// once per list: a page view of a fleet of thousands then looks at the runners once a list,
// not once a request.
class RunnerList {
 public:
  explicit RunnerList(std::vector<Runner> runners) : runners_(std::move(runners)) {}
  const std::vector<Runner>& runners() const { return runners_; }
  // fit_runners(job, runners()), kept by fit_kind(job) (at most kMaxFits kinds are kept).
  std::shared_ptr<const RunnerFit> fit(const Job& job) const;
  static constexpr size_t kMaxFits = 256;

 private:
  std::vector<Runner> runners_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const RunnerFit>> fits_;
};

class RunnerSnapshots {
 public:
  static constexpr TimeMs kMaxAge = 1000;
  static constexpr TimeMs kServeStaleFor = 10'000;
  // How long callers wait for another's read of a missing list before reading their own.
  static constexpr TimeMs kWaitForRead = 2000;
  using Snapshot = std::shared_ptr<const RunnerList>;

  struct Lookup {
    Snapshot runners;         // the list to use now; nullptr: none, read one and put() it
    bool refresh = false;     // the list is old: read a new one (in the background) and put() it
    bool wait = false;        // none yet, and another caller is reading one: look again shortly
    uint64_t generation = 0;  // to pass to put()
  };
  Lookup lookup(const std::string& tenant, TimeMs now);
  // Keeps the list read at `at` (taking read_ms), unless the tenant's runners changed since
  // `generation`. A list that is slow to read (a fleet of thousands) is kept fresh longer:
  // kSlowReadFactor times its read time, so reading it costs at most a few percent of a core.
  void put(const std::string& tenant, Snapshot runners, TimeMs at, uint64_t generation,
           TimeMs read_ms = 0);
  static constexpr TimeMs kSlowReadFactor = 20;
  static constexpr TimeMs kSlowRead = 50;
  // This server changed the tenant's runners (or, without a tenant, some tenant's).
  void changed(const std::string& tenant);
  void changed_all();

  // The tenants whose lists to read now in the background, each with the generation to pass to
  // put(): changed since their list was read, and not read (or asked for) within the spacing
  // above. A tenant returned is counted as being read (lookups wait for that read).
  std::vector<std::pair<std::string, uint64_t>> due_warmups(TimeMs now);

 private:
  struct Entry {
    Snapshot runners;
    TimeMs at = 0;
    TimeMs fresh_for = kMaxAge;
    TimeMs read_ms = 0;                      // how long the kept list took to read
    bool outdated = false;                   // changed since it was read (a slow list is kept)
    std::optional<TimeMs> refresh_asked_at;  // when a caller was last told to refresh it
    std::optional<TimeMs> read_asked_at;     // when a caller was last told to read one (none kept)
    bool warm = false;                       // changed since read: due_warmups reads it again
    std::optional<TimeMs> warmed_at;         // when due_warmups last returned it
    uint64_t generation = 0;
  };
  // How long after the last warm-up of a tenant the next may start.
  static TimeMs warm_spacing(const Entry& e) {
    return std::max(kMaxAge, e.read_ms * kSlowReadFactor);
  }
  // A change: drops a list quick to read; marks a slow one for an immediate re-read.
  static void outdate(Entry& e);

  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t all_generation_ = 0;
};

}  // namespace corral
