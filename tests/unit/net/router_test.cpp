#include "net/router.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

Handler noop() {
  return [](RequestContext&) -> awaitable<Response> { co_return Response{}; };
}

TEST(RouterTest, CapturesNamedSegments) {
  Router router;
  router.add(http::verb::get, "/api/v1/jobs/{id}/logs", noop());
  auto match = router.match(http::verb::get, "/api/v1/jobs/job_1/logs");
  ASSERT_NE(match.handler, nullptr);
  EXPECT_EQ(match.params["id"], "job_1");
  EXPECT_EQ(router.match(http::verb::get, "/api/v1/jobs/job_1").handler, nullptr);
  EXPECT_EQ(router.match(http::verb::get, "/api/v1/jobs/job_1/logs/more").handler, nullptr);
}

TEST(RouterTest, RestCaptureTakesOneOrMoreTrailingSegments) {
  Router router;
  router.add(http::verb::get, "/assets/{path...}", noop());
  auto one = router.match(http::verb::get, "/assets/app.js");
  ASSERT_NE(one.handler, nullptr);
  EXPECT_EQ(one.params["path"], "app.js");
  auto nested = router.match(http::verb::get, "/assets/pages/jobs%20list.js");
  ASSERT_NE(nested.handler, nullptr);
  EXPECT_EQ(nested.params["path"], "pages/jobs list.js");
  EXPECT_EQ(router.match(http::verb::get, "/assets").handler, nullptr);
  EXPECT_EQ(router.match(http::verb::get, "/other/app.js").handler, nullptr);
}

TEST(RouterTest, RestCaptureDoesNotShadowEarlierRoutesAndKnowsOtherMethods) {
  Router router;
  router.add(http::verb::get, "/", noop());
  router.add(http::verb::get, "/assets/{path...}", noop());
  EXPECT_NE(router.match(http::verb::get, "/").handler, nullptr);
  auto post = router.match(http::verb::post, "/assets/app.js");
  EXPECT_EQ(post.handler, nullptr);
  EXPECT_TRUE(post.path_known);
}

}  // namespace
}  // namespace corral
