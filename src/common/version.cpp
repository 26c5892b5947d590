#include "common/version.h"

namespace corral {

namespace {
std::string& version_storage() {
  static std::string version = CORRAL_VERSION;
  return version;
}
}  // namespace

const std::string& build_version() {
  return version_storage();
}
void set_build_version(std::string version) {
  version_storage() = std::move(version);
}

}  // namespace corral
