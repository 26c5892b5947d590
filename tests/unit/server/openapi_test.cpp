// The API document (web/openapi.json, embedded and served at GET /api/v1/openapi.json) against
// the routes a real Server's router serves: a route missing from the document fails here, and
// so does a documented route the server does not serve. Also: the document is OpenAPI 3.1,
// every $ref resolves inside it, every path parameter is declared, every error answer is the
// Error schema, and the server hands the document out without a token, with an ETag.
// (tests/e2e/openapi.test.mjs checks it against the official OpenAPI 3.1 schema.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/crypto.h"
#include "net/endpoint.h"
#include "net/http_client.h"
#include "server/server.h"
#include "server/web_asset_response.h"

namespace corral {
namespace {

using json = nlohmann::json;
// (method in lower case, path as OpenAPI writes it)
using OpenApiOperation = std::pair<std::string, std::string>;

constexpr const char* kOpenApiHttpMethods[] = {"get",     "put",  "post",  "delete",
                                               "options", "head", "patch", "trace"};

json embedded_openapi_document() {
  const WebAsset* asset = find_web_asset("openapi.json");
  if (!asset) return nullptr;
  return json::parse(asset->bytes, nullptr, /*allow_exceptions=*/false);
}

// The router's rest-of-path capture "{path...}" is "{path}" in OpenAPI, which has no such thing.
std::string openapi_path_of(std::string pattern) {
  return std::regex_replace(pattern, std::regex(R"(\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\})"), "{$1}");
}

std::string openapi_method_name(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::set<OpenApiOperation> documented_operations(const json& document) {
  std::set<OpenApiOperation> out;
  for (const auto& [path, item] : document["paths"].items()) {
    for (const char* method : kOpenApiHttpMethods) {
      if (item.contains(method)) out.insert({method, path});
    }
  }
  return out;
}

std::string describe_operations(const std::set<OpenApiOperation>& operations) {
  std::string out;
  for (const auto& [method, path] : operations) out += "\n  " + method + " " + path;
  return out;
}

// "#/components/schemas/Job" -> the value there, or null when it does not resolve.
const json* resolve_openapi_ref(const json& document, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;  // outside the document
  json::json_pointer pointer(ref.substr(1));
  return document.contains(pointer) ? &document.at(pointer) : nullptr;
}

// A parameter, response, ... or the value its $ref points at.
const json& dereference_openapi(const json& document, const json& value) {
  if (value.is_object() && value.contains("$ref")) {
    if (const json* target = resolve_openapi_ref(document, value["$ref"].get<std::string>()))
      return *target;
  }
  return value;
}

void collect_openapi_refs(const json& value, const std::string& where,
                          std::vector<std::pair<std::string, std::string>>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      if (key == "$ref" && child.is_string())
        out.emplace_back(child.get<std::string>(), where);
      else
        collect_openapi_refs(child, where + "/" + key, out);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      collect_openapi_refs(value[i], where + "/" + std::to_string(i), out);
  }
}

// A real server in a fresh data directory, running on its own thread, for the suite.
class OpenApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = std::filesystem::temp_directory_path() / ("corral-openapi-" + random_hex(6));
    ServerConfig config;
    config.data_dir = data_dir_.string();
    config.listen = "127.0.0.1:0";
    config.nightly_refresh = false;
    config.io_threads = 1;
    server_ = std::make_unique<Server>(config, clock_);
    auto started = server_->start();
    if (!started.ok()) {
      start_error_ = started.error().message;
      server_.reset();
      return;
    }
    thread_ = std::thread([] { server_->run(false); });
  }

  static void TearDownTestSuite() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not start: " << start_error_;
  }

  static std::set<OpenApiOperation> served_operations() {
    std::set<OpenApiOperation> out;
    for (const auto& [verb, pattern] : server_->routes()) {
      out.insert({openapi_method_name(http::to_string(verb)), openapi_path_of(pattern)});
    }
    return out;
  }

  static SystemClock clock_;
  static std::filesystem::path data_dir_;
  static std::unique_ptr<Server> server_;
  static std::string start_error_;
  static std::thread thread_;
};

SystemClock OpenApiServerTest::clock_;
std::filesystem::path OpenApiServerTest::data_dir_;
std::unique_ptr<Server> OpenApiServerTest::server_;
std::string OpenApiServerTest::start_error_;
std::thread OpenApiServerTest::thread_;

TEST(OpenApiTest, RestOfPathCapturesAreWrittenAsPlainParameters) {
  EXPECT_EQ(openapi_path_of("/assets/{path...}"), "/assets/{path}");
  EXPECT_EQ(openapi_path_of("/api/v1/jobs/{job_id}/attempts/{attempt}/logs"),
            "/api/v1/jobs/{job_id}/attempts/{attempt}/logs");
}

TEST(OpenApiTest, DocumentIsOpenApi31) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object()) << "web/openapi.json is missing from the build or is not JSON";
  ASSERT_TRUE(document.contains("openapi") && document["openapi"].is_string());
  EXPECT_EQ(document["openapi"].get<std::string>().rfind("3.1", 0), 0u) << document["openapi"];
  EXPECT_EQ(document["info"]["title"], "corral");
  EXPECT_EQ(document["info"]["version"], "v1");
  ASSERT_TRUE(document["paths"].is_object());
  EXPECT_TRUE(document["components"]["schemas"].contains("Error"));
}

TEST(OpenApiTest, EveryRefResolvesInsideTheDocument) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object());
  std::vector<std::pair<std::string, std::string>> refs;
  collect_openapi_refs(document, "", refs);
  EXPECT_GT(refs.size(), 100u);  // the walk found them
  for (const auto& [ref, where] : refs) {
    EXPECT_NE(resolve_openapi_ref(document, ref), nullptr)
        << "$ref " << ref << " at " << where << " does not resolve";
  }
}

TEST(OpenApiTest, EveryPathParameterIsDeclaredAndEveryDeclaredOneIsInThePath) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object());
  static const std::regex kTemplate(R"(\{([^}]+)\})");
  for (const auto& [path, item] : document["paths"].items()) {
    std::set<std::string> in_path;
    for (std::sregex_iterator it(path.begin(), path.end(), kTemplate), end; it != end; ++it)
      in_path.insert((*it)[1]);
    for (const char* method : kOpenApiHttpMethods) {
      if (!item.contains(method)) continue;
      // Path-level parameters apply to every operation; an operation's own add to them.
      std::set<std::string> declared;
      for (const json* list : {&item, &item[method]}) {
        if (!list->contains("parameters")) continue;
        for (const auto& parameter : (*list)["parameters"]) {
          const json& p = dereference_openapi(document, parameter);
          if (p.value("in", "") != "path") continue;
          declared.insert(p.value("name", ""));
          EXPECT_TRUE(p.value("required", false)) << method << " " << path << ": path parameter "
                                                  << p.value("name", "") << " must be required";
        }
      }
      EXPECT_EQ(declared, in_path)
          << method << " " << path << ": the path's parameters and the declared ones differ";
    }
  }
}

TEST(OpenApiTest, EveryOperationHasASuccessAnswerAndItsErrorsAreTheErrorSchema) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object());
  const std::string error_ref = "#/components/schemas/Error";
  for (const auto& [path, item] : document["paths"].items()) {
    for (const char* method : kOpenApiHttpMethods) {
      if (!item.contains(method)) continue;
      const json& responses = item[method]["responses"];
      bool has_success = false;
      for (const auto& [status, response] : responses.items()) {
        if (status.size() == 3 && (status[0] == '2' || status == "101")) has_success = true;
        bool is_error = status == "default" || status[0] == '4' || status[0] == '5';
        if (!is_error) continue;
        const json& answer = dereference_openapi(document, response);
        json::json_pointer json_schema("/content/application~1json/schema");
        ASSERT_TRUE(answer.contains(json_schema))
            << method << " " << path << " " << status << " has no JSON body";
        const json& schema = dereference_openapi(document, answer.at(json_schema));
        // The Error schema itself, or one that extends it (allOf [Error, {detail fields}]).
        bool is_error_schema = &schema == resolve_openapi_ref(document, error_ref);
        if (schema.contains("allOf")) {
          for (const auto& part : schema["allOf"])
            is_error_schema |= part.value("$ref", "") == error_ref;
        }
        EXPECT_TRUE(is_error_schema)
            << method << " " << path << " " << status << " is not the Error schema";
      }
      EXPECT_TRUE(has_success) << method << " " << path << " documents no success answer";
    }
  }
}

TEST_F(OpenApiServerTest, EveryRouteTheServerServesIsDocumented) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object());
  auto served = served_operations();
  auto documented = documented_operations(document);
  ASSERT_GT(served.size(), 40u);  // the server really added its routes
  std::set<OpenApiOperation> missing;
  std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                      std::inserter(missing, missing.end()));
  EXPECT_TRUE(missing.empty())
      << "routes the server serves that web/openapi.json does not document:"
      << describe_operations(missing);
}

TEST_F(OpenApiServerTest, EveryDocumentedRouteIsServed) {
  json document = embedded_openapi_document();
  ASSERT_TRUE(document.is_object());
  auto served = served_operations();
  auto documented = documented_operations(document);
  std::set<OpenApiOperation> stale;
  std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                      std::inserter(stale, stale.end()));
  EXPECT_TRUE(stale.empty()) << "routes web/openapi.json documents that the server does not serve:"
                             << describe_operations(stale);
}

TEST_F(OpenApiServerTest, ServesTheDocumentWithoutATokenAndAnswers304ForItsEtag) {
  auto endpoint = Endpoint::parse(server_->url());
  ASSERT_TRUE(endpoint.ok());
  SyncHttpClient client(*endpoint);  // no token
  auto first = client.get("/api/v1/openapi.json");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->header("content-type"), "application/json");
  EXPECT_EQ(json::parse(first->body, nullptr, false), embedded_openapi_document());
  std::string etag = first->header("etag");
  ASSERT_FALSE(etag.empty());

  HttpRequest again;
  again.target = "/api/v1/openapi.json";
  again.headers.emplace_back("If-None-Match", etag);
  auto revalidated = client.request(again);
  ASSERT_TRUE(revalidated.ok()) << revalidated.error().message;
  EXPECT_EQ(revalidated->status, 304);
  EXPECT_TRUE(revalidated->body.empty());

  again.headers.back().second = "\"stale\"";
  auto changed = client.request(again);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->status, 200);
}

}  // namespace
}  // namespace corral
