#include "server/runner_snapshots.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

RunnerSnapshots::Snapshot list_of(const std::string& name) {
  Runner r;
  r.reg.name = name;
  return std::make_shared<const RunnerList>(std::vector<Runner>{r});
}

std::string name_in(const RunnerSnapshots::Lookup& found) {
  return found.runners ? found.runners->runners().front().reg.name : "(none)";
}

TEST(RunnerSnapshots, AListIsFreshForASecondThenServedWhileOneCallerRefreshesIt) {
  RunnerSnapshots snapshots;
  auto first = snapshots.lookup("t1", 1000);
  EXPECT_EQ(first.runners, nullptr);
  snapshots.put("t1", list_of("a"), 1000, first.generation);
  auto fresh = snapshots.lookup("t1", 1999);
  EXPECT_EQ(name_in(fresh), "a");
  EXPECT_FALSE(fresh.refresh);
  EXPECT_EQ(snapshots.lookup("t2", 1500).runners, nullptr);  // another tenant's
  // Old: still served; the first caller refreshes, the next ones do not.
  auto old = snapshots.lookup("t1", 2000);
  EXPECT_EQ(name_in(old), "a");
  EXPECT_TRUE(old.refresh);
  EXPECT_FALSE(snapshots.lookup("t1", 2100).refresh);
  // That refresh never came back: a second later someone else is asked.
  EXPECT_TRUE(snapshots.lookup("t1", 3000).refresh);
  snapshots.put("t1", list_of("b"), 3050, old.generation);
  auto renewed = snapshots.lookup("t1", 3100);
  EXPECT_EQ(name_in(renewed), "b");
  EXPECT_FALSE(renewed.refresh);
  // Too old to serve at all.
  EXPECT_EQ(snapshots.lookup("t1", 3050 + RunnerSnapshots::kServeStaleFor).runners, nullptr);
}

TEST(RunnerSnapshots, AListSlowToReadStaysFreshLonger) {
  RunnerSnapshots snapshots;
  auto first = snapshots.lookup("t1", 0);
  snapshots.put("t1", list_of("a"), 0, first.generation, 200);  // 200 ms to read
  EXPECT_FALSE(snapshots.lookup("t1", 200 * RunnerSnapshots::kSlowReadFactor - 1).refresh);
  EXPECT_TRUE(snapshots.lookup("t1", 200 * RunnerSnapshots::kSlowReadFactor).refresh);
}

TEST(RunnerSnapshots, WithoutAListOneCallerReadsAndTheOthersWait) {
  RunnerSnapshots snapshots;
  auto reader = snapshots.lookup("t1", 0);
  EXPECT_EQ(reader.runners, nullptr);
  EXPECT_FALSE(reader.wait);
  auto other = snapshots.lookup("t1", 5);
  EXPECT_TRUE(other.wait);
  EXPECT_FALSE(snapshots.lookup("t2", 5).wait);  // another tenant's: no one reads it yet
  snapshots.put("t1", list_of("a"), 0, reader.generation);
  other = snapshots.lookup("t1", 10);
  EXPECT_FALSE(other.wait);
  EXPECT_EQ(name_in(other), "a");
  // A read that never comes back: after kWaitForRead the next caller reads its own.
  snapshots.changed("t1");
  EXPECT_FALSE(snapshots.lookup("t1", 20).wait);
  EXPECT_TRUE(snapshots.lookup("t1", 30).wait);
  EXPECT_FALSE(snapshots.lookup("t1", 20 + RunnerSnapshots::kWaitForRead).wait);
}

TEST(RunnerSnapshots, AChangeDropsTheListAndAListReadDuringItIsNotKept) {
  RunnerSnapshots snapshots;
  auto found = snapshots.lookup("t1", 0);
  snapshots.put("t1", list_of("a"), 0, found.generation);
  snapshots.changed("t1");
  found = snapshots.lookup("t1", 10);
  EXPECT_EQ(found.runners, nullptr);
  // A read that began before a change is not kept.
  snapshots.changed("t1");
  snapshots.put("t1", list_of("stale"), 20, found.generation);
  found = snapshots.lookup("t1", 30);
  EXPECT_EQ(found.runners, nullptr);
  snapshots.put("t1", list_of("new"), 30, found.generation);
  EXPECT_EQ(name_in(snapshots.lookup("t1", 40)), "new");
  // A change to every tenant's runners (a revocation, runners gone offline).
  auto t2 = snapshots.lookup("t2", 40);
  snapshots.changed_all();
  EXPECT_EQ(snapshots.lookup("t1", 50).runners, nullptr);
  snapshots.put("t2", list_of("stale"), 50, t2.generation);
  EXPECT_EQ(snapshots.lookup("t2", 60).runners, nullptr);
}

TEST(RunnerSnapshots, AListSlowToReadIsServedUntilItsReplacementIsRead) {
  RunnerSnapshots snapshots;
  auto found = snapshots.lookup("t1", 0);
  snapshots.put("t1", list_of("a"), 0, found.generation, RunnerSnapshots::kSlowRead);
  // A change: still served, and the first caller after it is asked to read a new one at once.
  snapshots.changed("t1");
  auto after = snapshots.lookup("t1", 10);
  EXPECT_EQ(name_in(after), "a");
  EXPECT_TRUE(after.refresh);
  EXPECT_FALSE(after.wait);
  EXPECT_FALSE(snapshots.lookup("t1", 20).refresh);  // one read at a time
  // A change while that read runs: its list is still newer than the kept one, so it is kept,
  // as outdated: the next caller is asked for another read at once.
  snapshots.changed_all();
  snapshots.put("t1", list_of("read before the change"), 30, after.generation, 60);
  auto again = snapshots.lookup("t1", 40);
  EXPECT_EQ(name_in(again), "read before the change");
  EXPECT_TRUE(again.refresh);
  snapshots.put("t1", list_of("b"), 40, again.generation, 60);
  EXPECT_EQ(name_in(snapshots.lookup("t1", 50)), "b");
  EXPECT_FALSE(snapshots.lookup("t1", 50).refresh);
  // Older than kServeStaleFor: served, with a refresh, where a quick list would be dropped.
  auto old = snapshots.lookup("t1", 40 + RunnerSnapshots::kServeStaleFor);
  EXPECT_EQ(name_in(old), "b");
  EXPECT_TRUE(old.refresh);
  // A list quick to read is dropped by a change, as before.
  snapshots.put("t1", list_of("quick"), 100'000, old.generation, RunnerSnapshots::kSlowRead - 1);
  snapshots.changed("t1");
  EXPECT_EQ(snapshots.lookup("t1", 100'010).runners, nullptr);
}

TEST(RunnerSnapshots, AChangeIsReadAgainInTheBackgroundBeforeAnyPageAsks) {
  RunnerSnapshots snapshots;
  EXPECT_TRUE(snapshots.due_warmups(0).empty());  // nothing changed yet
  // A runner registers: its tenant's list is due, once; a page view meanwhile waits for it.
  snapshots.changed("t1");
  auto due = snapshots.due_warmups(100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, "t1");
  EXPECT_TRUE(snapshots.due_warmups(150).empty());
  EXPECT_TRUE(snapshots.lookup("t1", 160).wait);
  snapshots.put("t1", list_of("a"), 100, due[0].second, 5);
  auto found = snapshots.lookup("t1", 170);
  EXPECT_EQ(name_in(found), "a");
  EXPECT_FALSE(found.wait);
  EXPECT_TRUE(snapshots.due_warmups(2000).empty());  // read, and unchanged since

  // Registrations go on while it is read: the quick list read is not kept, and the next
  // warm-up comes no sooner than kMaxAge after the last.
  snapshots.changed("t1");
  due = snapshots.due_warmups(3000);
  ASSERT_EQ(due.size(), 1u);
  snapshots.changed("t1");
  snapshots.put("t1", list_of("stale"), 3000, due[0].second, 5);
  EXPECT_EQ(snapshots.lookup("t1", 3010).runners, nullptr);
  EXPECT_TRUE(snapshots.due_warmups(3000 + RunnerSnapshots::kMaxAge - 1).empty());
  due = snapshots.due_warmups(3000 + RunnerSnapshots::kMaxAge);
  ASSERT_EQ(due.size(), 1u);
  snapshots.put("t1", list_of("b"), 4000, due[0].second, 200);  // a fleet of thousands

  // A slow list: kept and served through changes, and read again no sooner than
  // kSlowReadFactor times its read time after the last warm-up began.
  const TimeMs spacing = 200 * RunnerSnapshots::kSlowReadFactor;
  snapshots.changed("t1");
  EXPECT_EQ(name_in(snapshots.lookup("t1", 5000)), "b");
  EXPECT_TRUE(snapshots.due_warmups(4000 + spacing - 1).empty());
  due = snapshots.due_warmups(4000 + spacing);
  ASSERT_EQ(due.size(), 1u);
  snapshots.changed("t1");
  // Changed while it was read: newer than "b" all the same, so kept, as outdated.
  snapshots.put("t1", list_of("c"), 4000 + spacing, due[0].second, 200);
  EXPECT_EQ(name_in(snapshots.lookup("t1", 4100 + spacing)), "c");
  EXPECT_TRUE(snapshots.due_warmups(4000 + 2 * spacing - 1).empty());
  EXPECT_EQ(snapshots.due_warmups(4000 + 2 * spacing).size(), 1u);

  // Every tenant's runners changed (runners gone offline): each known tenant is due.
  snapshots.lookup("t2", 20'000);
  snapshots.changed_all();
  EXPECT_EQ(snapshots.due_warmups(30'000).size(), 2u);
}

// A list works out how each kind of job fits its runners once; a job that differs in what
// matching reads (labels, submitter, ...) is another kind.
TEST(RunnerSnapshots, AListWorksOutEachKindOfJobsFitOnce) {
  Runner gpu;
  gpu.id = "r1";
  gpu.tenant = "t1";
  gpu.reg.name = "gpu-box";
  gpu.reg.labels = {"gpu"};
  gpu.reg.max_concurrent_jobs = 1;
  gpu.status = RunnerStatus::kIdle;
  Runner plain = gpu;
  plain.id = "r2";
  plain.reg.name = "plain-box";
  plain.reg.labels = {};
  RunnerList list({gpu, plain});
  Job a;
  a.tenant = "t1";
  a.owner_token_id = "alice";
  a.spec.labels = {"gpu"};
  Job b = a;
  b.id = "another job of the same kind";
  Job c = a;
  c.spec.labels = {};
  auto fit_a = list.fit(a);
  EXPECT_EQ(list.fit(b), fit_a);  // the same one, not worked out again
  ASSERT_EQ(fit_a->matching.size(), 1u);
  EXPECT_EQ(fit_a->matching.front()->reg.name, "gpu-box");
  auto fit_c = list.fit(c);
  EXPECT_NE(fit_c, fit_a);
  EXPECT_EQ(fit_c->matching.size(), 2u);
  Job d = a;
  d.owner_token_id = "bob";
  EXPECT_NE(list.fit(d), fit_a);
}

}  // namespace
}  // namespace corral
