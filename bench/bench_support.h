// What the server benchmarks share: the real `corral server` binary as a child process,
// a fresh PostgreSQL database per part, and percentiles.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/pg.h"

extern char** environ;

namespace corral::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kBenchAdminToken = "crl_server_bench_admin_token_000000000000";

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

inline double ms_between(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// A fresh database on the PostgreSQL server the URL names; dropped at the end.
struct PgDatabase {
  std::string admin_url, name, url;
  PgDatabase(const std::string& server_url, const std::string& db_name)
      : admin_url(server_url), name(db_name) {
    auto c = pg::Connection::open(admin_url);
    if (!c.ok()) throw std::runtime_error(c.error().message);
    (*c)->exec_script("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    (*c)->exec_script("CREATE DATABASE " + name);
    auto scheme = admin_url.find("://");
    auto slash = admin_url.find('/', scheme + 3);
    auto query = admin_url.find('?', scheme + 3);
    url = admin_url.substr(0, slash == std::string::npos ? query : slash) + "/" + name +
          (query == std::string::npos ? "" : admin_url.substr(query));
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  ~PgDatabase() {
    auto c = pg::Connection::open(admin_url);
    if (c.ok()) {
      try {
        (*c)->exec_script("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (...) {
      }
    }
  }
};

// `corral server` on 127.0.0.1:0 with its data in dir (removed at the end); its output goes
// to dir/server.log. store: "" = SQLite in the data dir; else the PostgreSQL URL.
struct Server {
  pid_t pid = -1;
  std::string url, token;
  fs::path dir;
  explicit Server(const fs::path& d, const std::string& store = "",
                  const std::vector<std::string>& extra_args = {})
      : dir(d) {
    fs::create_directories(dir);
    std::string data = dir.string();
    std::vector<const char*> argv = {CORRAL_BINARY, "server",     "--listen",
                                     "127.0.0.1:0", "--data-dir", data.c_str()};
    if (!store.empty()) {
      for (const char* a : {"--store", store.c_str(), "--admin-token", kBenchAdminToken})
        argv.push_back(a);
    }
    for (const auto& a : extra_args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir / "server.log").c_str(), O_WRONLY | O_CREAT,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char**>(argv.data()), environ);
    posix_spawn_file_actions_destroy(&fa);
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      std::ifstream in(dir / "server.url");
      if (in >> url && !url.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (store.empty())
      std::ifstream(dir / "admin.token") >> token;
    else
      token = kBenchAdminToken;
    if (url.empty()) throw std::runtime_error("server did not start; see " + data + "/server.log");
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
  }
};

// "--name value" pairs into the ints and strings named; false (after a message) on a name
// neither knows.
inline bool parse_flags(int argc, char** argv, const std::map<std::string, int*>& ints,
                        const std::map<std::string, std::string*>& strings = {}) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (auto it = ints.find(name); it != ints.end()) {
      *it->second = std::atoi(argv[i + 1]);
    } else if (auto st = strings.find(name); st != strings.end()) {
      *st->second = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown option %s\n", name.c_str());
      return false;
    }
  }
  return true;
}

// A field of /proc/<pid>/status in kB (VmRSS, VmHWM); -1 when unreadable.
inline long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// The CPU time (user + system) process pid has used so far, in seconds; -1 when unreadable.
inline double proc_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t after_name = stat.rfind(')');  // the command name may hold spaces
  if (after_name == std::string::npos) return -1;
  std::istringstream fields(stat.substr(after_name + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After the name: state is field 3 of stat(5); utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace corral::bench
