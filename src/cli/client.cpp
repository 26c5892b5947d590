#include "cli/client.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>

#include "common/json_limits.h"

namespace corral::cli {

void add_client_options(CLI::App* cmd, ClientOptions& options) {
  cmd->add_option("--server", options.server, "Server URL (default http://127.0.0.1:8080)")
      ->envname("CORRAL_SERVER");
  cmd->add_option("--token", options.token, "API token (default: ./corral-data/admin.token)")
      ->envname("CORRAL_TOKEN");
  cmd->add_flag("--json", options.json_output, "Print the server's JSON");
}

Client::Client(const ClientOptions& options) {
  server_ = options.server.empty() ? "http://127.0.0.1:8080" : options.server;
  auto endpoint = Endpoint::parse(server_);
  if (!endpoint.ok()) {
    std::cerr << "error: " << endpoint.error().message << "\n";
    throw CLI::RuntimeError(2);
  }
  std::string token = options.token;
  if (token.empty()) {
    // A local `corral server` / `corral dev` in this directory: use its admin token.
    std::ifstream file("corral-data/admin.token");
    std::getline(file, token);
  }
  endpoint_ = *endpoint;
  token_ = token;
  http_ = std::make_unique<SyncHttpClient>(*endpoint, token);
}

HttpResponse Client::call(http::verb method, const std::string& target, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.headers = std::move(headers);
  auto res = http_->request(std::move(req));
  if (!res.ok()) {
    std::cerr << "error: cannot reach the corral server at " << server_ << ": "
              << res.error().message << "\n       (is it running? set --server or CORRAL_SERVER)\n";
    throw CLI::RuntimeError(3);
  }
  if (res->status >= 400) {
    std::string message = res->body;
    std::string code;
    auto j = parse_json_limited(res->body, "the server's answer",
                                {kMaxJsonDepth, std::numeric_limits<size_t>::max()});
    if (j.ok() && j->contains("error")) {
      message = json_string_or((*j)["error"], "message", message);
      code = json_string_or((*j)["error"], "code");
    }
    std::cerr << "error: " << message << " (HTTP " << res->status
              << (code.empty() ? "" : " " + code) << ")\n";
    if (res->status == 401) std::cerr << "       pass a token with --token or CORRAL_TOKEN\n";
    throw CLI::RuntimeError(res->status == 404 ? 4 : 1);
  }
  return *res;
}

json Client::call_json(http::verb method, const std::string& target, const json& body) {
  auto res = call(method, target, body.is_null() ? std::string() : body.dump());
  if (res.body.empty()) return json::object();
  return parse_answer(res.body);
}

json parse_answer(const std::string& body) {
  // The size is bounded by the HTTP client's body limit.
  auto parsed = parse_json_limited(body, "the server's answer",
                                   {kMaxJsonDepth, std::numeric_limits<size_t>::max()});
  if (!parsed.ok()) {
    std::cerr << "error: " << parsed.error().message << "\n";
    throw CLI::RuntimeError(1);
  }
  return std::move(parsed.value());
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}

std::string ago(const json& t) {
  if (!t.is_string()) return "-";
  std::tm tm{};
  std::string s = t.get<std::string>();
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return s;
  time_t then = timegm(&tm);
  long secs = static_cast<long>(std::time(nullptr) - then);
  if (secs < 0) secs = 0;
  if (secs < 120) return std::to_string(secs) + "s ago";
  if (secs < 7200) return std::to_string(secs / 60) + "m ago";
  if (secs < 172800) return std::to_string(secs / 3600) + "h ago";
  return std::to_string(secs / 86400) + "d ago";
}

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  throw CLI::RuntimeError(2);
}

}  // namespace corral::cli
