#include "common/log_format.h"

#include <spdlog/pattern_formatter.h>

#include <nlohmann/json.hpp>
#include <string_view>

namespace corral {

namespace {

// %* in a pattern: the message as a JSON string, quotes included.
class JsonStringMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text(msg.payload.data(), msg.payload.size());
    std::string quoted = nlohmann::json(std::move(text))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonStringMessage>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> json_lines_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonStringMessage>('*').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%*})");
  return formatter;
}

}  // namespace corral
