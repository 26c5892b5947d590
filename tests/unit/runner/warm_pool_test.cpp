// The warm pool's pure parts: which jobs a pool container serves, and the input its
// `sh -s` reads (run here through a real /bin/sh, so quoting is checked by a shell).
#include "runner/warm_pool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "runner/config.h"

namespace corral {
namespace {

RunnerConfig pool_config() {
  std::map<std::string, std::string> env{{"RUNNER_SERVER_URL", "http://127.0.0.1:1"},
                                         {"RUNNER_TOKEN", "crl_x"},
                                         {"RUNNER_NAME", "n"},
                                         {"DOCKER_EXECUTOR_IMAGE", "localhost/corral-test:latest"},
                                         {"DOCKER_MEMORY_LIMIT", "512m"},
                                         {"DOCKER_CPU_LIMIT", "1"},
                                         {"DOCKER_NETWORK_MODE", "none"},
                                         {"DOCKER_POOL_SIZE", "2"}};
  auto c = build_runner_config({}, env, {});
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : RunnerConfig{};
}

// A job's cold container as JobExecutor::container_spec() makes it with these defaults.
ContainerSpec cold_job(const RunnerConfig& config) {
  ContainerSpec job = pool_container_spec(config, "runner_1");
  job.entrypoint.clear();
  job.open_stdin = false;
  job.command = {"/bin/sh", "-c", "exec 2>&1\necho hi"};
  job.env = {{"CI", "true"}, {"CORRAL_JOB_ID", "job_1"}};
  job.binds = {"/ws/job_1/1:/workspace"};
  job.labels = {{"corral.runner", "runner_1"}, {"corral.job", "job_1"}};
  return job;
}

// What /bin/sh -s prints given input.
std::string run_shell(const std::string& input) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[1]);
    close(from_child[0]);
    execl("/bin/sh", "sh", "-s", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  if (write(to_child[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    return "short write";
  }
  close(to_child[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(from_child[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(from_child[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

TEST(WarmPoolTest, ThePoolContainerIsAColdJobsContainerWaitingOnStdin) {
  RunnerConfig config = pool_config();
  ContainerSpec pool = pool_container_spec(config, "runner_1");
  EXPECT_EQ(pool.image, "localhost/corral-test:latest");
  EXPECT_EQ(pool.entrypoint, std::vector<std::string>({"/bin/sh"}));
  EXPECT_EQ(pool.command, std::vector<std::string>({"-s"}));
  EXPECT_TRUE(pool.open_stdin);
  EXPECT_TRUE(pool.env.empty());
  EXPECT_EQ(pool.labels.at("corral.pool"), "true");
  EXPECT_EQ(pool.labels.at("corral.runner"), "runner_1");
  EXPECT_EQ(pool.memory_bytes, 512 * 1024 * 1024);
  EXPECT_EQ(pool.network_mode, "none");
  EXPECT_TRUE(pool.cap_drop_all);
  EXPECT_TRUE(pool.no_new_privileges);
}

TEST(WarmPoolTest, ServesOnlyJobsWhoseContainerWouldLookTheSame) {
  RunnerConfig config = pool_config();
  ContainerSpec pool = pool_container_spec(config, "runner_1");
  EXPECT_TRUE(pool_serves(pool, cold_job(config)));

  auto differs = [&](const std::function<void(ContainerSpec&)>& change) {
    ContainerSpec job = cold_job(config);
    change(job);
    return !pool_serves(pool, job);
  };
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.image = "alpine:3.19"; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.memory_bytes = 64 * 1024 * 1024; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.cpus = 0.5; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.pids_limit = 77; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.network_mode = "bridge"; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.user = "1000:1000"; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.read_only_rootfs = true; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.tmpfs = {"/tmp"}; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.cap_drop_all = false; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.no_new_privileges = false; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.working_dir = "/src"; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.entrypoint = {"/entry"}; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.command.clear(); }));
  // A name a shell cannot export (an engine takes any).
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.env["my.var"] = "1"; }));
  EXPECT_TRUE(differs([](ContainerSpec& j) { j.env["1X"] = "1"; }));
  // What the pool does not fix: command, environment, labels, binds.
  EXPECT_FALSE(differs([](ContainerSpec& j) {
    j.command = {"/usr/bin/env"};
    j.env["SECRET"] = "x";
    j.labels["corral.attempt"] = "3";
    j.binds.clear();
  }));
}

TEST(WarmPoolTest, InputExportsTheEnvironmentAndExecsTheCommandWithNothingInterpreted) {
  ContainerSpec job;
  job.env = {{"QUOTE", "it's \"here\" $HOME `id` \\n"}, {"LINES", "one\ntwo\n"}, {"EMPTY", ""}};
  job.command = {"/bin/sh", "-c",
                 "printf '[%s]' \"$QUOTE\" \"$LINES\" \"$EMPTY\" \"$0\" \"$1\"; "
                 "read x && echo stdin-has-data || echo stdin-empty",
                 "arg 'zero'", "$HOME"};
  std::string input = pool_input(job);
  EXPECT_EQ(input.find("it's"), std::string::npos) << "a quote left unescaped: " << input;
  // More input after the exec is never read by the job: its stdin is /dev/null.
  std::string out = run_shell(input + "this line is not the job's\n");
  EXPECT_EQ(out, "[it's \"here\" $HOME `id` \\n][one\ntwo\n][][arg 'zero'][$HOME]stdin-empty\n");
}

TEST(WarmPoolTest, InputRunsTheImagesEntrypointWithTheCommandAsItsArguments) {
  ContainerSpec job;
  job.command = {"echo", "from the command"};
  // As a cold container from an image with ENTRYPOINT ["/bin/sh", "-c", "...", "entry"].
  std::string input =
      pool_input(job, {"/bin/sh", "-c", "echo \"entrypoint, then: $*\"; exec \"$@\"", "entry"});
  EXPECT_EQ(run_shell(input), "entrypoint, then: echo from the command\nfrom the command\n");
}

}  // namespace
}  // namespace corral
