// The version this build reports (--version, a runner's registration, metrics).
#pragma once

#include <string>

namespace corral {

// CORRAL_VERSION, unless set to another before main() ran: the second build the update tests
// offer runners (corral_next, tests/support/next_version.cpp) does.
const std::string& build_version();
void set_build_version(std::string version);

}  // namespace corral
