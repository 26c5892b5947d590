#include "store/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "common/crypto.h"
#include "common/thread_name.h"
#include "store/sql_store_impl.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;

namespace {

void configure(Db& db, bool synchronous_full) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
  db.exec("PRAGMA foreign_keys=ON");
  db.exec("PRAGMA temp_store=MEMORY");
  // Deleted rows (a job's secret values when it ends) are overwritten with zeros, not left in
  // free pages. Old page images in the WAL go when a later checkpoint cycle overwrites them.
  db.exec("PRAGMA secure_delete=ON");
}

}  // namespace

SqliteStore::SqliteStore(SqliteStoreOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  CORRAL_TRY(store->start());
  return store;
}

Result<void> SqliteStore::start() {
  try {
    writer_db_ = std::make_unique<Db>(options_.path);
    if (options_.path != ":memory:") configure(*writer_db_, options_.synchronous_full);
    int version = sqlite::migrate(*writer_db_);
    spdlog::debug("sqlite store {} at schema version {}", options_.path, version);
    std::string log_dir = options_.log_dir;
    if (log_dir.empty()) {
      if (options_.path == ":memory:") {
        return make_error(ErrorCode::kBadRequest, "an in-memory store needs options.log_dir");
      }
      log_dir = (std::filesystem::path(options_.path).parent_path() / "logs").string();
    }
    log_files_ = std::make_unique<LogFiles>(log_dir);
    CORRAL_TRY(log_files_->create_root());
    move_log_chunks_to_files();
    if (options_.path != ":memory:") {
      for (int i = 0; i < options_.read_connections; ++i) {
        auto db = std::make_unique<Db>(options_.path);
        db->exec("PRAGMA query_only=ON");
        readers_.push_back(std::move(db));
      }
      read_connections_ = readers_.size();
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, e.what());
  }
  writer_ = std::thread([this] { writer_loop(); });
  return {};
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

uint64_t SqliteStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

size_t SqliteStore::queued_writes() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool SqliteStore::hand_to_writer(WriteOp* ops, size_t n, bool routine) {
  Handover handover;
  handover.left = n;
  std::unique_lock lock(mu_);
  if (stopping_) return false;
  auto now = std::chrono::steady_clock::now();
  // A routine op joining others already queued need not wake the writer: it is waiting for
  // the oldest one's delay, or busy.
  bool wake = !routine || queue_.empty();
  for (size_t i = 0; i < n; ++i) {
    ops[i].handover = &handover;
    queue_.push_back({&ops[i], now, routine});
  }
  if (!routine) urgent_queued_ += n;
  if (wake || queue_.size() >= options_.routine_write_company) work_cv_.notify_one();
  handover.done_cv.wait(lock, [&] { return handover.left == 0; });
  return true;
}

bool SqliteStore::take_batch(std::unique_lock<std::mutex>& lock, std::vector<WriteOp*>& batch) {
  auto ready = [&] {
    return stopping_ || urgent_queued_ > 0 ||
           queue_.size() >= std::min(options_.max_batch, options_.routine_write_company);
  };
  work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;  // stopping and drained
  if (!ready()) {
    // Routine writes only: the oldest waits out its delay unless other work comes first.
    work_cv_.wait_until(lock, queue_.front().at + options_.routine_write_delay, ready);
  }
  while (!queue_.empty() && batch.size() < options_.max_batch) {
    if (!queue_.front().routine) --urgent_queued_;
    batch.push_back(queue_.front().op);
    queue_.pop_front();
  }
  return true;
}

void SqliteStore::writer_loop() {
  name_this_thread("corral-writer");
  Db& db = *writer_db_;
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (!take_batch(lock, batch)) return;
    }
    std::optional<Error> commit_failure;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (WriteOp* op : batch) {
        db.exec("SAVEPOINT op");
        bool keep = false;
        try {
          keep = op->run(db);
        } catch (const std::exception& e) {
          op->failure = store_error(e);
        }
        if (!keep) db.exec("ROLLBACK TO op");
        db.exec("RELEASE op");
      }
      // Log bytes first: a committed log size must never point past what is on disk.
      if (auto synced = log_files_->sync_pending(); !synced.ok()) {
        throw std::runtime_error(synced.error().message);
      }
      db.exec("COMMIT");
    } catch (const std::exception& e) {
      commit_failure = store_error(e);
      spdlog::error("sqlite commit failed: {}", e.what());
      try {
        db.exec("ROLLBACK");
      } catch (...) {
      }
    }
    {
      std::lock_guard lock(mu_);
      if (!commit_failure) ++commits_;
      for (WriteOp* op : batch) {
        if (commit_failure && !op->failure) op->failure = commit_failure;
        if (--op->handover->left == 0) op->handover->done_cv.notify_one();
      }
    }
    batch.clear();
  }
}

// Databases from before log files kept logs as chunks in a table: write them out once.
void SqliteStore::move_log_chunks_to_files() {
  Db& db = *writer_db_;
  {
    auto st =
        db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_chunks'");
    if (!st.step()) return;
  }
  int64_t moved = 0;
  {
    auto st = db.prepare(
        "SELECT job_id, attempt, offset, data FROM log_chunks ORDER BY job_id, attempt, offset");
    while (st.step()) {
      auto written = log_files_->write_at(st.text(0), st.integer(1), st.int64(2), st.blob(3));
      if (!written.ok()) throw std::runtime_error(written.error().message);
      ++moved;
    }
  }
  if (auto synced = log_files_->sync_pending(); !synced.ok())
    throw std::runtime_error(synced.error().message);
  db.exec("DROP TABLE log_chunks");
  if (moved) spdlog::info("moved {} log chunks from the database to {}", moved, options_.log_dir);
}

// The methods both stores share (store/sql_store_impl.h), on SQLite's connections.
template class SqlStore<SqliteStore, sqlite::Db>;

}  // namespace corral
