#include "runner/setup_wizard.h"

#include <termios.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>
#include <thread>

#include "common/json_limits.h"
#include "net/http_client.h"
#include "runner/env_file.h"

namespace corral {

namespace {

using json = nlohmann::json;

constexpr const char* kWizardDefaultImage = "alpine:3.20";
constexpr const char* kWizardTokenHint =
    "a runner token, made by an admin with `corral tokens create --kind runner` or on the "
    "dashboard's Add runner page";

std::string wizard_trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The terminal's settings while the echo is off, for a Ctrl-C to put back.
termios wizard_saved_terminal{};

void wizard_restore_terminal_and_die(int sig) {
  tcsetattr(STDIN_FILENO, TCSANOW, &wizard_saved_terminal);  // async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

// Turns the terminal's echo off while it lives, so the token is typed unseen. A Ctrl-C (or
// SIGTERM) meanwhile turns it back on before the process dies: the shell gets its echo back.
class WizardEchoOff {
 public:
  explicit WizardEchoOff(bool wanted) {
    if (!wanted || tcgetattr(STDIN_FILENO, &wizard_saved_terminal) != 0) return;
    installed_ = true;
    previous_int_ = signal(SIGINT, wizard_restore_terminal_and_die);
    previous_term_ = signal(SIGTERM, wizard_restore_terminal_and_die);
    termios quiet = wizard_saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
  }
  ~WizardEchoOff() {
    if (!installed_) return;
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &wizard_saved_terminal);
    signal(SIGINT, previous_int_);
    signal(SIGTERM, previous_term_);
  }
  WizardEchoOff(const WizardEchoOff&) = delete;
  WizardEchoOff& operator=(const WizardEchoOff&) = delete;
  bool active() const { return active_; }

 private:
  bool installed_ = false;
  sighandler_t previous_int_ = nullptr;
  sighandler_t previous_term_ = nullptr;
  bool active_ = false;
};

// The settings already in the target (or in the .env.example beside a .env that does not
// exist yet): the defaults of the answers, and what a .env keeps around them.
struct WizardStartingPoint {
  std::map<std::string, std::string> settings;  // setting name -> value
  std::string env_text;                         // a .env's text, to update in place
  std::string seeded_from;                      // ".env.example" when that was the start
};

bool wizard_is_setting(const std::string& name) {
  const auto& names = runner_setting_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Result<WizardStartingPoint> wizard_starting_point(const SetupTarget& target) {
  WizardStartingPoint start;
  std::error_code ec;
  if (target.format == SetupFileFormat::kYaml) {
    if (!std::filesystem::exists(target.path, ec)) return start;
    auto read = read_runner_config_file(target.path.string());
    if (!read.ok()) return read.error();
    start.settings = *read;
    return start;
  }
  std::filesystem::path source = target.path;
  if (!std::filesystem::exists(source, ec)) {
    source = target.path.parent_path() / ".env.example";
    if (!std::filesystem::exists(source, ec)) return start;
    start.seeded_from = source.string();
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kInvalidSpec,
                      "cannot read " + source.string() + ": " + std::strerror(errno));
  }
  start.env_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  // Through the runner's own reading, so oversight's and the seeds' names count too.
  for (const auto& [name, value] : runner_settings_from(parse_env_text(start.env_text))) {
    if (wizard_is_setting(name)) start.settings[name] = value;
  }
  return start;
}

// Writes the file whole or not at all, readable by its owner only.
Result<void> wizard_write_private(const std::filesystem::path& path, const std::string& text) {
  std::string temp = path.string() + ".XXXXXX";
  int fd = mkstemp(temp.data());  // mode 0600
  auto failed = [&](const std::string& what) -> Error {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    unlink(temp.c_str());
    return make_error(ErrorCode::kInvalidSpec,
                      "cannot " + what + " " + path.string() + ": " + why +
                          " (choose another file with --config or --env-file)");
  };
  if (fd < 0) return failed("create");
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return failed("write");
  if (close(fd) != 0) {
    fd = -1;
    return failed("write");
  }
  fd = -1;
  if (rename(temp.c_str(), path.c_str()) != 0) return failed("replace");
  return {};
}

std::string wizard_yaml_text(const std::map<std::string, std::string>& settings) {
  YAML::Emitter yaml;
  yaml << YAML::BeginMap;
  for (const auto& name : runner_setting_names()) {
    auto it = settings.find(name);
    if (it != settings.end())
      yaml << YAML::Key << setting_flag_name(name) << YAML::Value << it->second;
  }
  yaml << YAML::EndMap;
  return "# corral runner settings (docs/runner.md), written by `corral runner setup`.\n" +
         std::string(yaml.c_str()) + "\n";
}

class SetupSession {
 public:
  SetupSession(std::istream& in, std::ostream& out, const SetupOptions& options,
               std::map<std::string, std::string> defaults)
      : in_(in), out_(out), options_(options), defaults_(std::move(defaults)) {}

  // Asks until an answer passes validation; false when the input ended. An empty answer
  // takes `fallback` (shown in brackets when not empty).
  bool ask(const std::string& setting, const std::string& question, const std::string& fallback) {
    for (;;) {
      out_ << question << (fallback.empty() ? "" : " [" + fallback + "]") << ": " << std::flush;
      std::string line;
      if (!std::getline(in_, line)) return false;
      std::string answer = wizard_trim(line);
      if (answer.empty()) answer = fallback;
      if (answer == "-" && setting == "RUNNER_LABELS") answer.clear();
      if (auto checked = check(setting, answer); !checked.ok()) {
        out_ << "  " << checked.error().message << "\n";
        continue;
      }
      set(setting, answer);
      return true;
    }
  }

  // The token: typed unseen on a terminal, never written back; Enter keeps the current one.
  bool ask_token() {
    const std::string current = defaults_["RUNNER_TOKEN"];
    for (;;) {
      std::string line;
      {
        // Echo goes off before the prompt shows: whatever is typed after it is unseen.
        WizardEchoOff quiet(options_.hide_token_input);
        out_ << "Registration token" << (current.empty() ? "" : " [Enter keeps the current one]")
             << (quiet.active() ? " (typing is hidden)" : "") << ": " << std::flush;
        bool got = static_cast<bool>(std::getline(in_, line));
        if (quiet.active()) out_ << "\n";  // the Enter was not echoed either
        if (!got) return false;
      }
      std::string token = wizard_trim(line);
      if (token.empty()) token = current;
      if (token.empty()) {
        out_ << "  The token is required: " << kWizardTokenHint << ".\n";
        continue;
      }
      set("RUNNER_TOKEN", token);
      return true;
    }
  }

  std::string default_for(const std::string& setting, const std::string& otherwise = "") {
    auto it = defaults_.find(setting);
    return it == defaults_.end() || it->second.empty() ? otherwise : it->second;
  }
  const std::string& answer(const std::string& setting) { return answers_[setting]; }
  // The answers as the runner would read them, placeholders in the settings not yet asked.
  Result<RunnerConfig> config() const { return validate(answers_); }
  const std::vector<std::string>& order() const { return order_; }
  const std::map<std::string, std::string>& answers() const { return answers_; }

 private:
  Result<void> check(const std::string& setting, const std::string& value) const {
    bool required = setting == "RUNNER_SERVER_URL" || setting == "RUNNER_NAME" ||
                    setting == "DOCKER_EXECUTOR_IMAGE";
    if (required && value.empty()) {
      return make_error(ErrorCode::kInvalidSpec, "An answer is required.");
    }
    auto with = answers_;
    with[setting] = value;
    auto config = validate(with);
    if (!config.ok()) return config.error();
    return {};
  }

  // build_runner_config on the answers alone: the settings already in the file are not this
  // answer's fault. Earlier answers passed; the placeholders always do; so an error is
  // about the answer just given.
  static Result<RunnerConfig> validate(std::map<std::string, std::string> s) {
    s.emplace("RUNNER_SERVER_URL", "http://localhost:1");
    s.emplace("RUNNER_TOKEN", "unchecked");
    s.emplace("RUNNER_NAME", "unchecked");
    s.emplace("RUNNER_EXECUTOR", "shell");
    if (s["RUNNER_EXECUTOR"] == "docker") s.emplace("DOCKER_EXECUTOR_IMAGE", "unchecked");
    return build_runner_config({}, {}, s);
  }

  void set(const std::string& setting, const std::string& value) {
    if (!answers_.count(setting)) order_.push_back(setting);
    answers_[setting] = value;
  }

  std::istream& in_;
  std::ostream& out_;
  const SetupOptions& options_;
  std::map<std::string, std::string> defaults_;
  std::map<std::string, std::string> answers_;
  std::vector<std::string> order_;
};

// Asks for the server, token and name until registering with them works.
bool wizard_register(SetupSession& session, std::ostream& out, const SetupOptions& options) {
  if (!session.ask("RUNNER_SERVER_URL", "Server URL (e.g. http://corral.internal:8080)",
                   session.default_for("RUNNER_SERVER_URL")) ||
      !session.ask_token() ||
      !session.ask("RUNNER_NAME", "Runner name",
                   session.default_for("RUNNER_NAME", options.default_name))) {
    return false;
  }
  for (;;) {
    auto config = session.config();
    if (!config.ok()) {  // each answer passed on its own; this is not expected
      out << "  " << config.error().message << "\n";
      return false;
    }
    out << "Checking: registering with " << session.answer("RUNNER_SERVER_URL") << " ...\n"
        << std::flush;
    RegistrationCheck check = options.check_registration(*config);
    out << "  " << check.message << "\n";
    switch (check.outcome) {
      case RegistrationOutcome::kAccepted:
        return true;
      case RegistrationOutcome::kServerUnreachable:
        if (!session.ask("RUNNER_SERVER_URL", "Server URL", session.answer("RUNNER_SERVER_URL")))
          return false;
        break;
      case RegistrationOutcome::kTokenRefused:
        if (!session.ask_token()) return false;
        break;
      case RegistrationOutcome::kNameRefused:
        if (!session.ask("RUNNER_NAME", "Runner name", "")) return false;
        break;
    }
  }
}

std::string wizard_host_cpus() {
  return std::to_string(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

RegistrationCheck register_runner_once(const RunnerConfig& config) {
  auto endpoint = Endpoint::parse(config.server_url);
  if (!endpoint.ok()) return {RegistrationOutcome::kServerUnreachable, endpoint.error().message};
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  json body = {{"name", config.name},
               {"description", config.description},
               {"labels", config.labels},
               {"group", config.group},
               {"modes", config.modes},
               {"max_concurrent_jobs", config.max_concurrent_jobs},
               {"version", CORRAL_VERSION},
               {"system", {{"hostname", config.hostname.empty() ? host : config.hostname}}}};
  SyncHttpClient http(*endpoint, config.token);
  HttpRequest request{
      http::verb::post,        "/api/v1/runners/register", body.dump(), "application/json", {},
      std::chrono::seconds(10)};
  auto res = http.request(std::move(request));
  if (!res.ok()) {
    return {RegistrationOutcome::kServerUnreachable,
            "Cannot reach the server: " + res.error().message +
                ". Check the URL (scheme, host and port) and that the server is running."};
  }
  auto answer = parse_json_limited(res->body, "the server's answer");
  std::string said = answer.ok() && answer->is_object() && answer->contains("error")
                         ? json_string_or((*answer)["error"], "message")
                         : "";
  if (res->status == 200 && answer.ok() && answer->is_object() && answer->contains("runner_id")) {
    std::string tenant = json_string_or(*answer, "tenant");
    return {RegistrationOutcome::kAccepted, "Registered as " + config.name +
                                                (tenant.empty() ? "" : " in tenant " + tenant) +
                                                ": the server accepts the token."};
  }
  switch (res->status) {
    case 401:
    case 403:
      return {RegistrationOutcome::kTokenRefused,
              "The server refused the token (" + said + "). It must be " + kWizardTokenHint + "."};
    case 400:
    case 409:
      return {RegistrationOutcome::kNameRefused, "The server refused the name: " + said};
    default:
      return {RegistrationOutcome::kServerUnreachable,
              config.server_url + " answered HTTP " + std::to_string(res->status) +
                  (said.empty() ? "" : " (" + said + ")") +
                  ": is it a corral server? Check the URL."};
  }
}

Result<std::map<std::string, std::string>> run_setup(std::istream& in, std::ostream& out,
                                                     const SetupOptions& options) {
  auto start = wizard_starting_point(options.target);
  if (!start.ok()) return start.error();
  auto defaults = start->settings;
  for (const auto& [name, value] : options.known) {
    if (wizard_is_setting(name) && !value.empty()) defaults[name] = value;
  }
  const std::string file = options.target.path.string();
  out << "Setting up a corral runner: the answers go to " << file;
  if (!start->seeded_from.empty()) out << " (starting from " << start->seeded_from << ")";
  out << ".\nPress Enter to take the value in [brackets].\n\n";

  SetupSession session(in, out, options, defaults);
  auto ended = [&]() -> Error {
    out << "\n" << std::flush;  // the error is not printed after the open prompt
    return make_error(ErrorCode::kInvalidSpec,
                      "the input ended before the setup was done; " + file + " was not written");
  };
  if (!wizard_register(session, out, options)) return ended();
  out << "\n";
  bool asked = session.ask("RUNNER_LABELS", "Labels, a comma list (- for none)",
                           session.default_for("RUNNER_LABELS")) &&
               session.ask("RUNNER_MAX_CONCURRENT_JOBS", "Jobs at once",
                           session.default_for("RUNNER_MAX_CONCURRENT_JOBS", "1")) &&
               session.ask("RUNNER_EXECUTOR",
                           "Executor: docker (containers) or shell (on this host, no isolation)",
                           session.default_for("RUNNER_EXECUTOR", "docker"));
  if (asked && session.answer("RUNNER_EXECUTOR") == "docker") {
    // The limits are per job, and only containers enforce them.
    asked = session.ask("DOCKER_HOST", "Container engine socket",
                        session.default_for("DOCKER_HOST", "unix:///var/run/docker.sock")) &&
            session.ask("DOCKER_EXECUTOR_IMAGE", "Image for jobs that name none",
                        session.default_for("DOCKER_EXECUTOR_IMAGE", kWizardDefaultImage)) &&
            session.ask("DOCKER_MEMORY_LIMIT", "Memory per job (512m, 4g, ... or unlimited)",
                        session.default_for("DOCKER_MEMORY_LIMIT", "4g")) &&
            session.ask("DOCKER_CPU_LIMIT", "CPUs per job (1.5, ... or unlimited)",
                        session.default_for("DOCKER_CPU_LIMIT", wizard_host_cpus()));
  }
  asked = asked &&
          session.ask("DOCKER_WORKSPACE_BASE", "Workspace directory (absolute path)",
                      session.default_for("DOCKER_WORKSPACE_BASE", "/var/lib/corral/workspaces"));
  if (!asked) return ended();

  std::map<std::string, std::string> written = start->settings;
  std::vector<std::pair<std::string, std::string>> values;
  for (const auto& name : session.order()) {
    values.emplace_back(name, session.answers().at(name));
    written[name] = session.answers().at(name);
  }
  std::string text = options.target.format == SetupFileFormat::kYaml
                         ? wizard_yaml_text(written)
                         : update_env_text(start->env_text, values);
  CORRAL_TRY(wizard_write_private(options.target.path, text));
  out << "\nWrote " << file << " (readable only by you: it holds the token).\n";
  // A setting the answers did not touch may still stop the runner: say so now.
  if (auto all = build_runner_config(written, {}, {}); !all.ok()) {
    out << "Note: the runner will not start until this is fixed in " << file << ":\n  "
        << all.error().message << "\n";
  }
  out << "Start the runner with:\n  " << runner_start_command(options.target) << "\n" << std::flush;
  return written;
}

std::string runner_start_command(const SetupTarget& target) {
  std::string path = target.path.string();
  if (path.find_first_of(" \t'\"$\\`;&|<>()*?") != std::string::npos) {
    std::string quoted = "'";
    for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    path = quoted + "'";
  }
  return std::string("corral runner ") +
         (target.format == SetupFileFormat::kYaml ? "--config " : "--env-file ") + path;
}

}  // namespace corral
