#include "api/tenant.h"

#include "common/timezone.h"

namespace corral {

json to_json(const TenantSettings& settings, const std::string& server_refresh_timezone) {
  return {{"tenant", settings.tenant},
          {"refresh_timezone",
           settings.refresh_timezone.empty() ? json(nullptr) : json(settings.refresh_timezone)},
          {"effective_refresh_timezone",
           settings.refresh_timezone.empty() ? server_refresh_timezone : settings.refresh_timezone},
          {"updated_at", time_or_null(settings.updated_at)},
          {"updated_by", settings.updated_by.empty() ? json(nullptr) : json(settings.updated_by)}};
}

Result<void> parse_tenant_settings_body(const json& body, TenantSettings& out) {
  if (!body.is_object()) {
    return invalid_field("(body)",
                         "must be a JSON object such as {\"refresh_timezone\": \"Europe/Berlin\"}");
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "refresh_timezone" && it.key() != "tenant") {
      return invalid_field(it.key(), "unknown setting; the tenant settings are: refresh_timezone");
    }
  }
  if (auto it = body.find("refresh_timezone"); it != body.end()) {
    if (it->is_null()) {
      out.refresh_timezone.clear();
    } else if (!it->is_string()) {
      return invalid_field("refresh_timezone",
                           "must be an IANA time zone name such as Europe/Berlin or UTC, or null "
                           "for the server's --refresh-timezone");
    } else {
      auto zone = TimeZone::load(it->get<std::string>());
      if (!zone.ok()) {
        return invalid_field("refresh_timezone", zone.error().message);
      }
      out.refresh_timezone = zone->name();
    }
  }
  return {};
}

}  // namespace corral
