// The write/read transaction templates of SqliteStore, shared by its source files.
#pragma once

#include "store/sqlite/sqlite_store.h"

namespace corral {

inline Error store_error(const std::exception& e) {
  return make_error(ErrorCode::kUnavailable, std::string("store failure: ") + e.what());
}

inline Error shutting_down() {
  return make_error(ErrorCode::kUnavailable, "store is shutting down");
}

template <typename T>
Result<T> SqliteStore::write(const std::function<Result<T>(sqlite::Db&)>& fn, bool routine) {
  Result<T> out;
  WriteOp op;
  op.run = [&](sqlite::Db& db) {
    out = fn(db);
    return out.ok();
  };
  if (!hand_to_writer(&op, 1, routine)) return shutting_down();
  if (op.failure) return *op.failure;
  return out;
}

template <typename T>
std::vector<Result<T>> SqliteStore::write_each(
    const std::vector<std::function<Result<T>(sqlite::Db&)>>& fns) {
  std::vector<Result<T>> out(fns.size());
  std::vector<WriteOp> ops(fns.size());
  for (size_t i = 0; i < fns.size(); ++i) {
    ops[i].run = [&, i](sqlite::Db& db) {
      out[i] = fns[i](db);
      return out[i].ok();
    };
  }
  if (!hand_to_writer(ops.data(), ops.size())) {
    for (auto& r : out) r = shutting_down();
    return out;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].failure) out[i] = *ops[i].failure;
  }
  return out;
}

template <typename T>
Result<T> SqliteStore::read(const std::function<Result<T>(sqlite::Db&)>& fn) {
  // ":memory:" has no read connections: one connection for everything. Otherwise a read waits
  // for a read connection, never for the writer.
  if (read_connections_ == 0) return write<T>(fn);
  std::unique_ptr<sqlite::Db> db;
  {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !readers_.empty(); });
    db = std::move(readers_.back());
    readers_.pop_back();
  }
  Result<T> out;
  try {
    db->exec("BEGIN");
    out = fn(*db);
    db->exec("COMMIT");
  } catch (const std::exception& e) {
    try {
      db->exec("ROLLBACK");
    } catch (...) {
    }
    out = store_error(e);
  }
  {
    std::lock_guard lock(readers_mu_);
    readers_.push_back(std::move(db));
  }
  readers_cv_.notify_one();
  return out;
}

}  // namespace corral
