// Linked into corral_next only (CMakeLists.txt): the same program as corral, reporting another
// version, for the remote-update tests (tests/integration/remote_control_test.cpp). Set before
// main() runs, so main.cpp is compiled once for both executables.
#include "common/version.h"

namespace {
const bool kNextVersionSet = (corral::set_build_version(CORRAL_NEXT_VERSION), true);
}  // namespace
