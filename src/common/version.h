// The version this build reports (--version, a runner's registration, metrics).
#pragma once

#include <string>

namespace corral {

// CORRAL_VERSION, unless the executable's main() set another before anything else ran: the
// second build the update tests offer runners (CMakeLists.txt, corral_next) does.
const std::string& build_version();
void set_build_version(std::string version);

}  // namespace corral
