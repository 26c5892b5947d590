// A tenant's own settings, kept by the server and set by an admin
// (GET/PUT /api/v1/tenant/settings, `corral tenant`, docs/api.md "Tenant settings").
#pragma once

#include <string>

#include "api/types.h"

namespace corral {

struct TenantSettings {
  std::string tenant;
  // The IANA zone of the nightly refresh's 02:00-02:59 window (server/nightly_refresh.h);
  // "" = the server's --refresh-timezone.
  std::string refresh_timezone;
  TimeMs updated_at = 0;   // 0 = never set: every field has its default
  std::string updated_by;  // token id of the admin who set them
};

// {tenant, refresh_timezone (null when unset), effective_refresh_timezone, updated_at,
// updated_by}; `server_refresh_timezone` is what an unset refresh_timezone means.
json to_json(const TenantSettings& settings, const std::string& server_refresh_timezone);

// The body of PUT /api/v1/tenant/settings: {refresh_timezone?: "Europe/Berlin" | null,
// tenant?}. Changes only the fields it names (null clears one); "tenant" is read by the
// route, not here. Errors are 422 naming the field.
Result<void> parse_tenant_settings_body(const json& body, TenantSettings& out);

}  // namespace corral
