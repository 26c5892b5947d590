// `corral submit`: a job from flags, from a JSON file, or both (flags override the file); or
// many jobs from a file of specs (--batch), sent 500 at a time to POST /api/v1/jobs/batch.
#include <iostream>
#include <sstream>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/job_flags.h"
#include "common/json_limits.h"

namespace corral::cli {

namespace {

struct SubmitOptions {
  ClientOptions client;
  JobFlags job;
  std::string idempotency_key;
  std::string batch;  // a file of specs ('-': stdin)
  bool follow = false;
};

// The server takes at most this many jobs in one batch (routes_jobs.cpp).
constexpr size_t kBatchSize = 500;

// The specs of a --batch file: a JSON list of specs, {"jobs": [...]}, or one spec per line.
std::vector<json> read_batch_file(const std::string& path) {
  const std::string what = path == "-" ? "the specs on stdin" : path;
  std::string text = read_input_file(path);
  auto whole = parse_json_limited(text, what);
  json list;
  if (whole.ok() && whole->is_array()) {
    list = std::move(whole.value());
  } else if (whole.ok() && whole->is_object() && whole->contains("jobs")) {
    list = (*whole)["jobs"];
  } else if (whole.ok() && whole->is_object()) {
    list = json::array({std::move(whole.value())});
  } else {
    // JSON lines: one spec per line, blank lines skipped.
    list = json::array();
    std::istringstream lines(text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto spec = parse_json_limited(line, what + ", line " + std::to_string(n));
      if (!spec.ok()) {
        usage_error(spec.error().message +
                    " (a batch file is a JSON list of job specs, or one spec per line)");
      }
      list.push_back(std::move(spec.value()));
    }
  }
  if (!list.is_array() || list.empty()) {
    usage_error(what + " holds no job specs: give a JSON list of specs, or one spec per line");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) {
      usage_error(what + ": job " + std::to_string(i) + " is not a JSON object (a job spec)");
    }
  }
  return std::vector<json>(list.begin(), list.end());
}

// --batch: every spec (with the job flags set on each), in batches of kBatchSize; prints each
// stored job's id as its batch is answered.
void submit_batch(const SubmitOptions& o, const CLI::App* cmd) {
  auto specs = read_batch_file(o.batch);
  for (auto& spec : specs) apply_job_flags(spec, o.job, cmd);
  Client client(o.client);
  json all = json::array();
  bool any_existing = false;
  for (size_t from = 0, chunk = 0; from < specs.size(); from += kBatchSize, ++chunk) {
    size_t to = std::min(specs.size(), from + kBatchSize);
    json body = {{"jobs", json(std::vector<json>(specs.begin() + from, specs.begin() + to))}};
    std::vector<std::pair<std::string, std::string>> headers;
    // Without --json only the ids are printed: the server need not send the whole jobs back.
    if (!o.client.json_output) headers.emplace_back("Prefer", "return=minimal");
    // Each batch's own key, so the same file sent again finds every job it made.
    if (!o.idempotency_key.empty()) {
      headers.emplace_back(
          "Idempotency-Key",
          chunk == 0 ? o.idempotency_key : o.idempotency_key + "#" + std::to_string(chunk));
    }
    auto res = client.call(http::verb::post, "/api/v1/jobs/batch", body.dump(), headers);
    auto answer = parse_answer(res.body);
    any_existing = any_existing || res.status == 200;
    for (auto& job : answer["jobs"]) {
      if (!o.client.json_output) std::cout << job["id"].get<std::string>() << "\n" << std::flush;
      all.push_back(std::move(job));
    }
  }
  if (o.client.json_output) std::cout << json{{"jobs", all}}.dump(2) << "\n";
  if (any_existing && !o.client.json_output) {
    std::cerr << "(jobs made before with this idempotency key)\n";
  }
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto o = std::make_shared<SubmitOptions>();
  auto* cmd =
      app.add_subcommand("submit", "Submit a job: corral submit [flags] -- COMMAND [ARGS...]");
  add_client_options(cmd, o->client);
  add_job_flags(cmd, o->job);
  cmd->add_option("--idempotency-key", o->idempotency_key,
                  "Submitting the same key again returns the same job");
  cmd->add_flag("--follow", o->follow, "Print the live log and exit with the job's exit code");
  cmd->add_option("--batch", o->batch,
                  "Submit every job spec in FILE ('-': stdin): a JSON list, or one spec per line; "
                  "the job flags apply to each. Prints one id per line")
      ->excludes("--file")
      ->excludes("--follow");
  cmd->callback([o, cmd] {
    if (!o->batch.empty()) {
      submit_batch(*o, cmd);
      return;
    }
    json spec = job_spec_from_flags(o->job, cmd);
    Client client(o->client);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!o->idempotency_key.empty()) headers.emplace_back("Idempotency-Key", o->idempotency_key);
    auto res = client.call(http::verb::post, "/api/v1/jobs", spec.dump(), headers);
    auto job = parse_answer(res.body);
    if (o->client.json_output) {
      std::cout << job.dump(2) << "\n";
    } else if (o->follow) {
      std::cerr << "submitted " << job["id"].get<std::string>() << "\n";  // stdout is the job's log
    } else {
      std::cout << job["id"].get<std::string>() << "\n";
      if (res.status == 200) std::cerr << "(an existing job with this idempotency key)\n";
    }
    if (o->follow) {
      int code = follow_job(client, job["id"].get<std::string>(), 0, job);
      if (code != 0) throw CLI::RuntimeError(code);
    }
  });
}

}  // namespace corral::cli
