// `corral submit`: a job from flags, from a JSON file, or both (flags override the file).
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/job_flags.h"

namespace corral::cli {

namespace {

struct SubmitOptions {
  ClientOptions client;
  JobFlags job;
  std::string idempotency_key;
  bool follow = false;
};

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
  cmd->callback([o, cmd] {
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
