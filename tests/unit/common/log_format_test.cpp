#include "common/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace corral {
namespace {

// Logs each message through json_lines_formatter and returns the lines written.
std::vector<std::string> json_log_lines(const std::vector<std::string>& messages) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(json_lines_formatter());
  spdlog::logger logger("json-lines-test", sink);
  logger.set_level(spdlog::level::trace);
  for (const auto& message : messages) logger.warn("{}", message);
  logger.flush();
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(LogFormatTest, EveryLineIsAJsonObjectHoldingTheMessage) {
  std::vector<std::string> messages = {"plain", R"(a "quoted" word and a \backslash\)",
                                       "two\nlines and a tab\t and a bell \x07",
                                       R"({"msg":"looks like JSON"})", ""};
  auto lines = json_log_lines(messages);
  ASSERT_EQ(lines.size(), messages.size());  // a newline in a message does not split its line
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json record;
    ASSERT_NO_THROW(record = nlohmann::json::parse(lines[i])) << lines[i];
    ASSERT_TRUE(record.is_object()) << lines[i];
    EXPECT_EQ(record.at("msg"), messages[i]) << lines[i];
    EXPECT_EQ(record.at("level"), "warning");
    EXPECT_TRUE(std::regex_match(record.at("time").get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << record.at("time");
    EXPECT_EQ(record.size(), 3u) << lines[i];
  }
}

TEST(LogFormatTest, BytesThatAreNotUtf8AreReplacedNotDropped) {
  auto lines = json_log_lines({"before \xff\xfe after"});
  ASSERT_EQ(lines.size(), 1u);
  auto record = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(record.at("msg"), "before \xEF\xBF\xBD\xEF\xBF\xBD after");  // two U+FFFD
}

}  // namespace
}  // namespace corral
