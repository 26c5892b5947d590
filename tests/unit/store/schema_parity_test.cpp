// The two backends' schemas stay in step: a fresh SQLite database and a fresh PostgreSQL
// database, each migrated to the latest version, have the same tables, the same columns
// (names, types up to the dialects' spelling, nullability), the same keys and the same
// indexes (names, uniqueness and columns). A migration added to one backend only fails here.
//
// The differences that are meant are listed below (kIntendedDifferences and the PostgreSQL
// functions), each with its reason; everything else must match.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/pg_test_db.h"
#include "store/postgres/migrations.h"
#include "store/postgres/pg.h"
#include "store/sqlite/db.h"
#include "store/sqlite/migrations.h"

namespace corral {
namespace {

// One database's schema, with types normalized to what the column holds.
struct Schema {
  // "table.column" -> "type[ not null]"
  std::map<std::string, std::string> columns;
  // "table" -> its primary key's columns, and each UNIQUE constraint's, as "(a, b)"
  std::map<std::string, std::set<std::string>> keys;
  // index name -> "table (a, b)" with " unique" when it is
  std::map<std::string, std::string> indexes;
  std::set<std::string> triggers;
};

// Both dialects' spellings of one kind of value.
std::string normalized_type(std::string type) {
  for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (type == "integer" || type == "bigint") return "integer";
  if (type == "text") return "text";
  if (type == "blob" || type == "bytea") return "bytes";
  if (type == "real" || type == "double precision") return "real";
  if (type == "boolean") return "boolean";
  return "unknown type " + type;
}

std::string column_list(const std::vector<std::string>& names) {
  std::string out = "(";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + ")";
}

// Differences the backends mean to have: "table.column" -> what each side has instead.
struct IntendedDifference {
  const char* key;
  const char* sqlite;
  const char* postgres;
  const char* why;
};
const IntendedDifference kIntendedDifferences[] = {
    // SQLite keeps logs in files since its migration 2 (store/log_files.h) and never reads
    // this table again; PostgreSQL serves every log from every server, so its chunks live
    // in the table, under a name that is not a reserved word there.
    {"log_chunks.offset", "integer not null", "", "SQLite's log_chunks is unused"},
    {"log_chunks.byte_offset", "", "integer not null", "SQLite's log_chunks is unused"},
    {"log_chunks keys", "(job_id, attempt, offset)", "(job_id, attempt, byte_offset)",
     "SQLite's log_chunks is unused"},
    // Written by neither store (attempt_events rows are inserted without it); each kept the
    // type its migration gave it.
    {"attempt_events.truncated", "integer not null", "boolean not null",
     "an unused flag, typed in each dialect's own way"},
};

Schema sqlite_schema(sqlite::Db& db) {
  Schema s;
  std::vector<std::string> tables;
  {
    auto st = db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name");
    while (st.step()) tables.push_back(st.text(0));
  }
  for (const auto& table : tables) {
    std::map<int, std::string> primary_key;
    {
      auto st = db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)");
      st.bind_all(table);
      while (st.step()) {
        bool pk = st.integer(3) > 0;
        // A PRIMARY KEY column is NOT NULL in PostgreSQL by definition; SQLite's rowid key
        // is too.
        bool not_null = st.integer(2) != 0 || pk;
        s.columns[table + "." + st.text(0)] =
            normalized_type(st.text(1)) + (not_null ? " not null" : "");
        if (pk) primary_key[st.integer(3)] = st.text(0);
      }
    }
    std::vector<std::string> pk_columns;
    for (const auto& [position, name] : primary_key) pk_columns.push_back(name);
    if (!pk_columns.empty()) s.keys[table].insert(column_list(pk_columns));
    // name, unique, origin, partial (a WHERE clause)
    std::vector<std::tuple<std::string, bool, std::string, bool>> indexes;
    {
      auto st = db.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)");
      st.bind_all(table);
      while (st.step()) {
        indexes.emplace_back(st.text(0), st.integer(1) != 0, st.text(2), st.integer(3) != 0);
      }
    }
    for (const auto& [name, unique, origin, partial] : indexes) {
      std::vector<std::string> columns;
      auto st = db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno");
      st.bind_all(name);
      while (st.step()) columns.push_back(st.text(0));
      if (origin == "c") {
        s.indexes[name] = table + " " + column_list(columns) + (unique ? " unique" : "") +
                          (partial ? " partial" : "");
      } else if (origin == "u") {
        s.keys[table].insert(column_list(columns));
      }
      // origin "pk": the primary key, read from table_info above.
    }
  }
  auto st = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'");
  while (st.step()) s.triggers.insert(st.text(0));
  return s;
}

Schema postgres_schema(pg::Connection& c) {
  Schema s;
  auto columns = c.query(
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
      " WHERE table_schema = current_schema()");
  for (int i = 0; i < columns.size(); ++i) {
    s.columns[columns[i].text(0) + "." + columns[i].text(1)] =
        normalized_type(columns[i].text(2)) + (columns[i].text(3) == "NO" ? " not null" : "");
  }
  // Every index with its columns in order; those behind a PRIMARY KEY or UNIQUE constraint
  // are the table's keys, the others its indexes.
  auto indexes = c.query(
      "SELECT t.relname, i.relname, ix.indisunique,"
      " EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ix.indexrelid),"
      " (SELECT string_agg(a.attname, ', ' ORDER BY k.ord)"
      "    FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
      "    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),"
      " ix.indpred IS NOT NULL"
      " FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid"
      " JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
      " WHERE n.nspname = current_schema()");
  for (int i = 0; i < indexes.size(); ++i) {
    std::string table = indexes[i].text(0);
    std::string columns_text = "(" + indexes[i].text(4) + ")";
    if (indexes[i].boolean(3)) {
      s.keys[table].insert(columns_text);
    } else {
      s.indexes[indexes[i].text(1)] = table + " " + columns_text +
                                      (indexes[i].boolean(2) ? " unique" : "") +
                                      (indexes[i].boolean(5) ? " partial" : "");
    }
  }
  auto triggers = c.query(
      "SELECT DISTINCT trigger_name FROM information_schema.triggers"
      " WHERE trigger_schema = current_schema()");
  for (int i = 0; i < triggers.size(); ++i) s.triggers.insert(triggers[i].text(0));
  return s;
}

// "key: sqlite has A, postgres has B" for every difference of two maps.
template <typename Map>
std::vector<std::string> differences(const std::string& what, const Map& sqlite,
                                     const Map& postgres) {
  auto text = [](const auto& value) {
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>) {
      return value;
    } else {
      std::string out;
      for (const auto& v : value) out += (out.empty() ? "" : " ") + v;
      return out;
    }
  };
  std::set<std::string> keys;
  for (const auto& [k, v] : sqlite) keys.insert(k);
  for (const auto& [k, v] : postgres) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys) {
    auto a = sqlite.find(k);
    auto b = postgres.find(k);
    std::string in_sqlite = a == sqlite.end() ? "" : text(a->second);
    std::string in_postgres = b == postgres.end() ? "" : text(b->second);
    if (in_sqlite == in_postgres) continue;
    std::string key = what == "keys" ? k + " keys" : k;
    bool intended = false;
    for (const auto& d : kIntendedDifferences) {
      if (key == d.key && in_sqlite == d.sqlite && in_postgres == d.postgres) intended = true;
    }
    if (!intended) {
      out.push_back(what + " " + key + ": SQLite has '" + in_sqlite + "', PostgreSQL has '" +
                    in_postgres + "'");
    }
  }
  return out;
}

TEST(StoreSchemas, BothBackendsMigrateToTheSameTablesColumnsKeysAndIndexes) {
  testing::PgTestDatabase pg_db(testing::PgTestDatabase::Isolation::kSchema);
  if (!pg_db.configured()) GTEST_SKIP() << testing::kPgSkipMessage;
  ASSERT_FALSE(pg_db.url().empty()) << pg_db.error();
  auto conn = pg::Connection::open(pg_db.url());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  int pg_version = pg::migrate(**conn);

  auto dir = std::filesystem::temp_directory_path() / ("corral-schema-" + random_hex(6));
  std::filesystem::create_directories(dir);
  Schema in_sqlite;
  int sqlite_version = 0;
  {
    sqlite::Db db((dir / "corral.db").string());
    sqlite_version = sqlite::migrate(db);
    in_sqlite = sqlite_schema(db);
  }
  std::filesystem::remove_all(dir);
  Schema in_postgres = postgres_schema(**conn);

  // PostgreSQL's numbering runs one ahead from its migration 6 (corral_claim, below), which
  // SQLite has no counterpart of, two ahead from its 17 (corral_claim by shape), three from
  // its 18 (corral_claim counting only its candidates' submitters in flight) and four from its
  // 20 (corral_claim robust to the planner's estimates).
  EXPECT_EQ(pg_version, sqlite_version + 4);

  // Both sides were read: a query that found nothing must not make them agree.
  EXPECT_GT(in_sqlite.columns.size(), 100u);
  EXPECT_TRUE(in_sqlite.columns.count("jobs.seq"));
  EXPECT_TRUE(in_postgres.columns.count("jobs.seq"));
  EXPECT_TRUE(in_postgres.indexes.count("jobs_waiting"));
  EXPECT_EQ(in_postgres.indexes["jobs_waiting"], "jobs (tenant, priority, seq) partial");

  std::vector<std::string> found;
  for (auto& d : differences("column", in_sqlite.columns, in_postgres.columns)) found.push_back(d);
  for (auto& d : differences("keys", in_sqlite.keys, in_postgres.keys)) found.push_back(d);
  for (auto& d : differences("index", in_sqlite.indexes, in_postgres.indexes)) found.push_back(d);
  std::map<std::string, std::string> sqlite_triggers, postgres_triggers;
  for (const auto& t : in_sqlite.triggers) sqlite_triggers[t] = "trigger";
  for (const auto& t : in_postgres.triggers) postgres_triggers[t] = "trigger";
  for (auto& d : differences("trigger", sqlite_triggers, postgres_triggers)) found.push_back(d);
  std::ostringstream text;
  for (const auto& d : found) text << "\n  " << d;
  EXPECT_TRUE(found.empty()) << "the schemas differ (add the migration to both backends, or "
                                "list a meant difference in kIntendedDifferences):"
                             << text.str();

  // PostgreSQL's functions: the one-statement claim (PostgresStore::claim; SQLite's single
  // writer needs none) and the bodies of the triggers compared above (SQLite writes a
  // trigger's body inline; the job_counts triggers share one). A new function is a new
  // difference to explain here.
  auto functions = (*conn)->query(
      "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
      " WHERE n.nspname = current_schema() ORDER BY p.proname");
  std::vector<std::string> names;
  for (int i = 0; i < functions.size(); ++i) names.push_back(functions[i].text(0));
  EXPECT_EQ(names,
            (std::vector<std::string>{"corral_claim", "corral_job_counts", "corral_job_secrets_end",
                                      "corral_schedule_secrets_gone"}));
}

}  // namespace
}  // namespace corral
