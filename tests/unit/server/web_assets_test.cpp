// The dashboard files embedded by cmake/embed_web.cmake (served by routes_dashboard.cpp).
#include "server/web_assets.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace corral {
namespace {

const WebAsset* find(std::string_view path) {
  for (const auto& asset : web_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

TEST(WebAssetsTest, EmbedsTheDashboardWithContentTypes) {
  const WebAsset* index = find("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->bytes.find("/assets/app.js"), std::string_view::npos);
  const WebAsset* app = find("assets/app.js");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find("assets/style.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(find("assets/favicon.svg")->content_type, "image/svg+xml");
}

TEST(WebAssetsTest, PathsAreSortedAndUniqueAndEveryFileHasAQuotedEtag) {
  std::string previous;
  std::set<std::string_view> etags;
  for (const auto& asset : web_assets()) {
    EXPECT_LT(previous, std::string(asset.path));
    previous = std::string(asset.path);
    EXPECT_FALSE(asset.bytes.empty()) << asset.path;
    ASSERT_EQ(asset.etag.size(), 22u) << asset.path;
    EXPECT_EQ(asset.etag.front(), '"');
    EXPECT_EQ(asset.etag.back(), '"');
    etags.insert(asset.etag);
  }
  EXPECT_EQ(etags.size(), web_assets().size());
}

}  // namespace
}  // namespace corral
