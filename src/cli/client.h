// Shared plumbing of the client verbs: where the server is, the token, JSON or table output,
// and turning a server error into a message and an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "net/http_client.h"

namespace corral::cli {

using json = nlohmann::json;

struct ClientOptions {
  std::string server;  // --server / CORRAL_SERVER
  std::string token;   // --token / CORRAL_TOKEN
  bool json_output = false;
};

// Adds --server, --token and --json to a verb.
void add_client_options(CLI::App* cmd, ClientOptions& options);

class Client {
 public:
  explicit Client(const ClientOptions& options);
  // Sends the request; on an HTTP error prints the server's message and throws
  // CLI::RuntimeError(exit code).
  HttpResponse call(http::verb method, const std::string& target, const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {});
  json call_json(http::verb method, const std::string& target, const json& body = nullptr);

  const Endpoint& endpoint() const { return endpoint_; }
  const std::string& token() const { return token_; }
  const std::string& server() const { return server_; }

 private:
  std::unique_ptr<SyncHttpClient> http_;
  std::string server_;
  Endpoint endpoint_;
  std::string token_;
};

// Follows a job's log live over its WebSocket stream (follow.cpp), printing the bytes to
// stdout and a "queued for Ns" status to stderr while it waits for a runner. Returns the
// exit code for the job: 0 succeeded, its exit code when it failed with one, 1 otherwise.
// known_job: the job as just submitted, so its first status line needs no request.
int follow_job(const Client& client, const std::string& job_id, int attempt = 0,
               const json& known_job = nullptr);

// The server's answer as JSON, nesting-limited (common/json_limits.h); prints what is wrong
// and ends the verb with exit code 1 when it is not JSON.
json parse_answer(const std::string& body);

// Prints "error: MESSAGE" and ends the verb with exit code 2 (a usage error).
[[noreturn]] void usage_error(const std::string& message);

// Prints rows as aligned columns (first row is the header).
void print_table(const std::vector<std::vector<std::string>>& rows);
// "12s ago", "3m ago", "-" for null.
std::string ago(const json& rfc3339_time);
std::string str(const json& v);  // strings unquoted, null as "-"

}  // namespace corral::cli
