// A tenant's settings (api/tenant.h) through the real server and the real `corral` CLI: the
// nightly refresh's time zone, set and read by the tenant's admin, kept across a restart,
// refused (422 naming the field) when it is no zone, and out of reach of users and other
// tenants' settings.
#include "harness.h"

namespace corral::testing {
namespace {

constexpr const char* kPath = "/api/v1/tenant/settings";

class TenantSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    // The server's default for tenants that set none.
    server_ = std::make_unique<ServerProcess>(
        std::map<std::string, std::string>{{"CORRAL_REFRESH_TIMEZONE", "America/New_York"}});
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  CommandResult cli(std::vector<std::string> args, const std::string& token = "") {
    args.insert(args.end(), {"--server", server_->url(), "--token",
                             token.empty() ? server_->admin_token() : token});
    return run_corral(args);
  }
  HttpResponse put(const json& body, const std::string& target = kPath) {
    return api_->request(http::verb::put, target, body.dump(),
                         {{"Content-Type", "application/json"}});
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
};

TEST_F(TenantSettings, AnAdminSetsTheRefreshTimeZoneThroughTheCliAndTheApi) {
  json unset = api_->get(kPath);
  EXPECT_EQ(unset["tenant"], "default");
  EXPECT_TRUE(unset["refresh_timezone"].is_null()) << unset;
  EXPECT_EQ(unset["effective_refresh_timezone"], "America/New_York") << unset;
  EXPECT_TRUE(unset["updated_at"].is_null()) << unset;

  auto shown = cli({"tenant"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("refresh time zone: America/New_York (the server's default)"),
            std::string::npos)
      << shown.out;

  auto set = cli({"tenant", "--refresh-timezone", "Europe/Berlin"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("refresh time zone: Europe/Berlin\n"), std::string::npos) << set.out;

  json kept = api_->get(kPath);
  EXPECT_EQ(kept["refresh_timezone"], "Europe/Berlin") << kept;
  EXPECT_EQ(kept["effective_refresh_timezone"], "Europe/Berlin") << kept;
  EXPECT_TRUE(kept["updated_at"].is_string()) << kept;
  EXPECT_TRUE(kept["updated_by"].is_string()) << kept;

  // Durable: a restarted server has it.
  ASSERT_EQ(server_->stop(), 0);
  server_->start();
  api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  auto json_out = cli({"tenant", "--json"});
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  EXPECT_EQ(json::parse(json_out.out)["refresh_timezone"], "Europe/Berlin") << json_out.out;

  // Through the API, and back to the server's default with null (the CLI's `default`).
  auto tokyo = put({{"refresh_timezone", "Asia/Tokyo"}});
  ASSERT_EQ(tokyo.status, 200) << tokyo.body;
  EXPECT_EQ(json::parse(tokyo.body)["refresh_timezone"], "Asia/Tokyo");
  auto cleared = cli({"tenant", "--refresh-timezone", "default", "--json"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_TRUE(json::parse(cleared.out)["refresh_timezone"].is_null()) << cleared.out;
  EXPECT_EQ(json::parse(cleared.out)["effective_refresh_timezone"], "America/New_York");
}

TEST_F(TenantSettings, AZoneThatIsNoneIsA422NamingTheFieldAndAnExample) {
  for (const json& bad : {json("Mars/Olympus_Mons"), json("../../etc/passwd"), json(42)}) {
    auto refused = put({{"refresh_timezone", bad}});
    ASSERT_EQ(refused.status, 422) << bad << " " << refused.body;
    std::string message = json::parse(refused.body)["error"]["message"];
    EXPECT_NE(message.find("field 'refresh_timezone'"), std::string::npos) << message;
    EXPECT_NE(message.find("Europe/Berlin"), std::string::npos) << message;
  }
  auto unknown = put({{"refresh_tz", "UTC"}});
  ASSERT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_NE(unknown.body.find("refresh_tz"), std::string::npos) << unknown.body;

  // The CLI says what the server said, and fails.
  auto cli_refused = cli({"tenant", "--refresh-timezone", "Mars/Olympus_Mons"});
  EXPECT_NE(cli_refused.exit_code, 0);
  EXPECT_NE(cli_refused.err.find("refresh_timezone"), std::string::npos) << cli_refused.err;
  // Nothing was changed by the refusals.
  EXPECT_TRUE(api_->get(kPath)["refresh_timezone"].is_null());
}

TEST_F(TenantSettings, OnlyAdminsSeeThemAndEachTenantHasItsOwn) {
  std::string user = create_token(*server_, "user", "default", "someone");
  Api as_user(server_->url(), user);
  EXPECT_EQ(as_user.request(http::verb::get, kPath).status, 403);
  auto user_put = as_user.request(http::verb::put, kPath, R"({"refresh_timezone":"UTC"})",
                                  {{"Content-Type", "application/json"}});
  EXPECT_EQ(user_put.status, 403) << user_put.body;
  EXPECT_NE(cli({"tenant", "--refresh-timezone", "UTC"}, user).exit_code, 0);
  Api anonymous(server_->url(), "");
  EXPECT_EQ(anonymous.request(http::verb::get, kPath).status, 401);

  // The admin of another tenant sets its own; this tenant's stays unset.
  std::string other_admin = create_token(*server_, "admin", "acme", "acme-admin");
  auto acme = cli({"tenant", "--refresh-timezone", "Asia/Kolkata", "--json"}, other_admin);
  ASSERT_EQ(acme.exit_code, 0) << acme.err;
  EXPECT_EQ(json::parse(acme.out)["tenant"], "acme");
  EXPECT_TRUE(api_->get(kPath)["refresh_timezone"].is_null());
  // An admin may name a tenant, as when it makes tokens.
  EXPECT_EQ(api_->get(std::string(kPath) + "?tenant=acme")["refresh_timezone"], "Asia/Kolkata");
  EXPECT_EQ(put({{"refresh_timezone", "UTC"}, {"tenant", "Not A Tenant"}}).status, 422);
}

}  // namespace
}  // namespace corral::testing
