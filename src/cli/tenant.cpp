// `corral tenant` (admin): show or change the tenant's settings (api/tenant.h), such as the
// time zone of the nightly refresh of stewarded repositories. See docs/api.md.
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

struct TenantOptions {
  ClientOptions client;
  std::string tenant;
  std::string refresh_timezone;
};

}  // namespace

void add_tenant_commands(CLI::App& app) {
  auto o = std::make_shared<TenantOptions>();
  auto* cmd = app.add_subcommand("tenant", "Show or change your tenant's settings (admin)");
  add_client_options(cmd, o->client);
  cmd->add_option("--tenant", o->tenant,
                  "Another tenant's settings (default: your token's tenant)");
  cmd->add_option("--refresh-timezone", o->refresh_timezone,
                  "Time zone of the nightly refresh's 02:00-02:59 window, e.g. Europe/Berlin; "
                  "'default' = the server's --refresh-timezone");
  cmd->callback([o] {
    Client client(o->client);
    std::string path = "/api/v1/tenant/settings";
    if (!o->tenant.empty()) path += "?tenant=" + url_encode(o->tenant);
    json settings;
    if (o->refresh_timezone.empty()) {
      settings = client.call_json(http::verb::get, path);
    } else {
      json zone = o->refresh_timezone == "default" ? json(nullptr) : json(o->refresh_timezone);
      settings = client.call_json(http::verb::put, path, {{"refresh_timezone", zone}});
    }
    if (o->client.json_output) {
      std::cout << settings.dump(2) << "\n";
      return;
    }
    std::cout << "tenant: " << str(settings["tenant"]) << "\n"
              << "refresh time zone: " << str(settings["effective_refresh_timezone"])
              << (settings["refresh_timezone"].is_null() ? " (the server's default)" : "") << "\n";
  });
}

}  // namespace corral::cli
