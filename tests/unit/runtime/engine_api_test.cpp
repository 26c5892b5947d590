// Engine API wire format: create bodies, pull-progress errors, typed engine errors, parsing.
#include "runtime/docker/engine_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace corral {
namespace {

using nlohmann::json;
namespace api = docker_api;

TEST(EngineApiTest, CreateBodyCarriesLimitsSecurityAndLabels) {
  ContainerSpec spec;
  spec.image = "localhost/corral-test:latest";
  spec.command = {"sh", "-c", "echo hi"};
  spec.env = {{"CI", "true"}, {"JOB", "job_1"}};
  spec.binds = {"/srv/ws/job_1:/workspace", "/srv/cache:/cache:ro"};
  spec.memory_bytes = 512ll * 1024 * 1024;
  spec.cpus = 1.5;
  spec.pids_limit = 256;
  spec.network_mode = "none";
  spec.labels = {
      {"corral.runner", "runner_ab12"}, {"corral.job", "job_1"}, {"corral.attempt", "2"}};
  spec.user = "1000:1000";

  json body = json::parse(api::create_container_body(spec));
  EXPECT_EQ(body["Image"], "localhost/corral-test:latest");
  EXPECT_EQ(body["Cmd"], json::array({"sh", "-c", "echo hi"}));
  EXPECT_FALSE(body.contains("Entrypoint"));
  EXPECT_EQ(body["Env"], json::array({"CI=true", "JOB=job_1"}));
  EXPECT_EQ(body["WorkingDir"], "/workspace");
  EXPECT_EQ(body["User"], "1000:1000");
  EXPECT_EQ(body["Labels"]["corral.runner"], "runner_ab12");
  EXPECT_EQ(body["Labels"]["corral.attempt"], "2");
  EXPECT_EQ(body["Tty"], false);
  EXPECT_EQ(body["AttachStdout"], true);
  EXPECT_EQ(body["AttachStderr"], true);
  EXPECT_EQ(body["AttachStdin"], false);

  const json& host = body["HostConfig"];
  EXPECT_EQ(host["Memory"], 512ll * 1024 * 1024);
  EXPECT_EQ(host["MemorySwap"], 512ll * 1024 * 1024);  // no swap beyond the limit
  EXPECT_EQ(host["NanoCpus"], 1'500'000'000ll);
  EXPECT_EQ(host["PidsLimit"], 256);
  EXPECT_EQ(host["NetworkMode"], "none");
  EXPECT_EQ(host["Binds"], json::array({"/srv/ws/job_1:/workspace", "/srv/cache:/cache:ro"}));
  EXPECT_EQ(host["CapDrop"], json::array({"ALL"}));
  EXPECT_EQ(host["SecurityOpt"], json::array({"no-new-privileges"}));
}

TEST(EngineApiTest, CreateBodyLeavesUnsetLimitsToTheEngine) {
  ContainerSpec spec;
  spec.image = "alpine";
  spec.pids_limit = 0;
  spec.cap_drop_all = false;
  spec.no_new_privileges = false;
  spec.entrypoint = {"/bin/sh", "-c"};
  json body = json::parse(api::create_container_body(spec));
  const json& host = body["HostConfig"];
  for (const char* key : {"Memory", "MemorySwap", "NanoCpus", "PidsLimit", "NetworkMode", "Binds",
                          "CapDrop", "SecurityOpt"}) {
    EXPECT_FALSE(host.contains(key)) << key;
  }
  EXPECT_FALSE(body.contains("Cmd"));
  EXPECT_EQ(body["Entrypoint"], json::array({"/bin/sh", "-c"}));
  EXPECT_TRUE(body["Labels"].is_object());
}

TEST(EngineApiTest, CreateBodyOpensStdinOnlyWhenAsked) {
  ContainerSpec spec;
  spec.image = "alpine";
  json closed = json::parse(api::create_container_body(spec));
  EXPECT_EQ(closed["OpenStdin"], false);
  EXPECT_EQ(closed["AttachStdin"], false);
  spec.open_stdin = true;
  json open = json::parse(api::create_container_body(spec));
  EXPECT_EQ(open["OpenStdin"], true);
  EXPECT_EQ(open["StdinOnce"], true);  // the runner closing stdin, or dropping, ends it
  EXPECT_EQ(open["AttachStdin"], true);
}

TEST(EngineApiTest, ExecBody) {
  ExecSpec spec;
  spec.command = {"cat", "/etc/hostname"};
  spec.env = {{"A", "1"}};
  spec.working_dir = "/tmp";
  json body = json::parse(api::create_exec_body(spec));
  EXPECT_EQ(body["Cmd"], json::array({"cat", "/etc/hostname"}));
  EXPECT_EQ(body["Env"], json::array({"A=1"}));
  EXPECT_EQ(body["WorkingDir"], "/tmp");
  EXPECT_EQ(body["AttachStdout"], true);
  EXPECT_EQ(body["Tty"], false);
}

TEST(EngineApiTest, PullProgressWithoutErrorIsSuccess) {
  std::string docker_style =
      "{\"status\":\"Pulling from library/alpine\",\"id\":\"3\"}\r\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"id\":\"a\"}\r\n"
      "{\"status\":\"Status: Downloaded newer image for alpine:3\"}\r\n";
  EXPECT_FALSE(api::pull_progress_error(docker_style).has_value());
  EXPECT_FALSE(api::pull_progress_error("").has_value());
}

TEST(EngineApiTest, PullProgressErrorIsFoundInsideA200Stream) {
  // What Podman 4.3 answers (with status 200) when the registry cannot be reached.
  std::string podman_style =
      "{\"progressDetail\":{},\"errorDetail\":{\"message\":\"initializing source "
      "docker://localhost/nope:latest: pinging container registry localhost: connection "
      "refused\"},\"error\":\"initializing source docker://localhost/nope:latest: ...\"}\n";
  auto error = api::pull_progress_error(podman_style);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error,
            "initializing source docker://localhost/nope:latest: pinging container registry "
            "localhost: connection refused");

  std::string docker_style =
      "{\"status\":\"Pulling from library/nope\"}\r\n"
      "{\"error\":\"pull access denied for nope, repository does not exist\"}\r\n";
  error = api::pull_progress_error(docker_style);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, "pull access denied for nope, repository does not exist");
}

TEST(EngineApiTest, UnreadablePullProgressIsAnError) {
  EXPECT_TRUE(api::pull_progress_error("{\"status\":\"ok\"}\nnot json at all\n").has_value());
}

TEST(EngineApiTest, EngineErrorsAreTypedByStatusAndKeepTheEnginesMessage) {
  std::string body =
      R"({"cause":"no such container","message":"no container with name or ID \"x\" found: no such container","response":404})";
  Error e = api::engine_error(404, body, "inspecting container x");
  EXPECT_EQ(e.code, ErrorCode::kNotFound);
  EXPECT_NE(e.message.find("inspecting container x"), std::string::npos);
  json detail = json::parse(e.detail_json);
  EXPECT_EQ(detail["engine_status"], 404);
  EXPECT_EQ(detail["engine_message"],
            "no container with name or ID \"x\" found: no such container");

  EXPECT_EQ(api::engine_error(409, "{\"message\":\"in use\"}", "x").code, ErrorCode::kConflict);
  EXPECT_EQ(api::engine_error(400, "{\"message\":\"bad\"}", "x").code, ErrorCode::kInvalidSpec);
  EXPECT_EQ(api::engine_error(500, "{\"message\":\"boom\"}", "x").code, ErrorCode::kEngine);
  EXPECT_EQ(api::engine_error(ErrorCode::kImagePull, 404, "{}", "x").code, ErrorCode::kImagePull);
  // A body that is not JSON is passed on as it is.
  EXPECT_EQ(api::engine_message("plain text failure\n"), "plain text failure");
}

TEST(EngineApiTest, ImageReferences) {
  auto ref = api::parse_image_ref("alpine");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "alpine");
  EXPECT_EQ(ref->tag, "latest");
  EXPECT_EQ(ref->full(), "alpine:latest");

  ref = api::parse_image_ref("localhost/corral-test:latest");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "localhost/corral-test");
  EXPECT_EQ(ref->tag, "latest");

  ref = api::parse_image_ref("registry:5000/team/app");  // a port is not a tag
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "registry:5000/team/app");
  EXPECT_EQ(ref->tag, "latest");

  ref = api::parse_image_ref("registry:5000/team/app@sha256:0123abcd");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "registry:5000/team/app");
  EXPECT_EQ(ref->tag, "sha256:0123abcd");
  EXPECT_EQ(ref->full(), "registry:5000/team/app@sha256:0123abcd");

  for (const char* bad :
       {"", "alpine?x=1", "a b", "../etc", "-flag", "alpine#frag", "app@nodigest"}) {
    auto r = api::parse_image_ref(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidSpec);
    }
  }
}

TEST(EngineApiTest, ObjectRefsAreSafeInPaths) {
  EXPECT_TRUE(
      api::valid_object_ref("e0c5ee049af5ba032c4ee5603885a69cbdd50f287ca519ffaca6190907801720"));
  EXPECT_TRUE(api::valid_object_ref("corral-job_1-2"));
  EXPECT_FALSE(api::valid_object_ref("../images"));
  EXPECT_FALSE(api::valid_object_ref("a/b"));
  EXPECT_FALSE(api::valid_object_ref("x?force=1"));
  EXPECT_FALSE(api::valid_object_ref(""));
}

TEST(EngineApiTest, ParsesAnImagesEntrypoint) {
  auto listed = api::parse_image_entrypoint(R"({"Config":{"Entrypoint":["/bin/sh","-c","x"]}})");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<std::string>{"/bin/sh", "-c", "x"}));
  auto none = api::parse_image_entrypoint(R"({"Config":{"Entrypoint":null,"Cmd":["sh"]}})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto absent = api::parse_image_entrypoint(R"({"Id":"sha256:1"})");
  ASSERT_TRUE(absent.ok());
  EXPECT_TRUE(absent->empty());
  auto one = api::parse_image_entrypoint(R"({"Config":{"Entrypoint":"/entry"}})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<std::string>{"/entry"});
  EXPECT_FALSE(api::parse_image_entrypoint(R"({"Config":{"Entrypoint":[1]}})").ok());
  EXPECT_FALSE(api::parse_image_entrypoint("garbage").ok());
}

TEST(EngineApiTest, ParsesInspectListVersionAndExec) {
  auto state = api::parse_container_state(
      R"({"Id":"abc","State":{"Status":"exited","Running":false,"OOMKilled":true,"ExitCode":137}})");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status, "exited");
  EXPECT_FALSE(state->running);
  EXPECT_TRUE(state->oom_killed);
  EXPECT_EQ(state->exit_code, 137);
  EXPECT_TRUE(state->has_exited());
  for (const char* status : {"exited", "stopped", "dead"}) {
    EXPECT_TRUE((api::ContainerState{status, false, 0, false}).has_exited()) << status;
  }
  for (const char* status : {"created", "running", "stopping", "paused", "removing"}) {
    EXPECT_FALSE((api::ContainerState{status, false, 0, false}).has_exited()) << status;
  }
  EXPECT_FALSE(api::parse_container_state("{}").ok());
  EXPECT_FALSE(api::parse_container_state("garbage").ok());

  auto list = api::parse_container_list(
      R"([{"Id":"a1","State":"running","Labels":{"corral.runner":"r1"}},{"Id":"b2","State":"exited","Labels":null}])");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a1");
  EXPECT_EQ((*list)[0].labels.at("corral.runner"), "r1");
  EXPECT_EQ((*list)[1].state, "exited");

  auto info = api::parse_version(
      R"({"Components":[{"Name":"Podman Engine","Version":"4.3.1"}],"Version":"4.3.1","ApiVersion":"1.41","Os":"linux","Arch":"amd64"})");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "Podman Engine");
  EXPECT_EQ(info->version, "4.3.1");
  EXPECT_EQ(info->api_version, "1.41");

  auto podman = api::parse_podman_ping("Libpod/4.3.1 (linux)", "1.41");
  ASSERT_TRUE(podman.has_value());
  EXPECT_EQ(podman->name, "Podman Engine");
  EXPECT_EQ(podman->version, "4.3.1");
  EXPECT_EQ(podman->api_version, "1.41");
  EXPECT_EQ(podman->os, "linux");
  EXPECT_EQ(podman->arch, "");
  EXPECT_EQ(api::parse_podman_ping("Libpod/5.0.2", "1.41")->version, "5.0.2");
  EXPECT_FALSE(api::parse_podman_ping("Docker/24.0.7 (linux)", "1.43").has_value());
  EXPECT_FALSE(api::parse_podman_ping("Libpod/ (linux)", "1.41").has_value());
  EXPECT_FALSE(api::parse_podman_ping("", "").has_value());

  auto exec = api::parse_exec_state(R"({"Running":true,"ExitCode":null})");
  ASSERT_TRUE(exec.ok());
  EXPECT_TRUE(exec->running);
  EXPECT_EQ(exec->exit_code, -1);

  EXPECT_EQ(*api::parse_created_id(R"({"Id":"abc123","Warnings":[]})"), "abc123");
  EXPECT_FALSE(api::parse_created_id(R"({"Warnings":[]})").ok());
}

TEST(EngineApiTest, LabelFilterIsUrlEncodedJson) {
  EXPECT_EQ(api::label_filter_param("corral.runner=r1"),
            "%7B%22label%22%3A%5B%22corral.runner%3Dr1%22%5D%7D");
}

TEST(ContainerRuntimeTest, PullPolicies) {
  EXPECT_EQ(*parse_pull_policy("if-not-present"), PullPolicy::kIfNotPresent);
  EXPECT_EQ(*parse_pull_policy("IfNotPresent"), PullPolicy::kIfNotPresent);
  EXPECT_EQ(*parse_pull_policy(""), PullPolicy::kIfNotPresent);
  EXPECT_EQ(*parse_pull_policy("always"), PullPolicy::kAlways);
  EXPECT_EQ(*parse_pull_policy("Never"), PullPolicy::kNever);
  auto bad = parse_pull_policy("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidSpec);
  EXPECT_EQ(pull_policy_name(PullPolicy::kNever), "never");
}

TEST(ContainerRuntimeTest, LabelFilters) {
  std::map<std::string, std::string> labels{{"corral.runner", "r1"}, {"corral.job", "j"}};
  EXPECT_TRUE(labels_match(labels, "corral.runner=r1"));
  EXPECT_TRUE(labels_match(labels, "corral.job"));
  EXPECT_FALSE(labels_match(labels, "corral.runner=r2"));
  EXPECT_FALSE(labels_match(labels, "corral.attempt"));
}

}  // namespace
}  // namespace corral
