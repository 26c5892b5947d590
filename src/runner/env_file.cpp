#include "runner/env_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

namespace corral {

namespace {

bool env_name_char(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (!first && c >= '0' && c <= '9');
}

std::string_view env_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The name a line sets, and the raw text after its '='; nullopt for comments and the like.
std::optional<std::pair<std::string, std::string_view>> env_assignment(std::string_view line) {
  line = env_trim(line);
  if (line.rfind("export ", 0) == 0) line = env_trim(line.substr(7));
  size_t eq = line.find('=');
  if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
  std::string_view name = env_trim(line.substr(0, eq));
  for (size_t i = 0; i < name.size(); ++i) {
    if (!env_name_char(name[i], i == 0)) return std::nullopt;
  }
  if (name.empty()) return std::nullopt;
  return std::make_pair(std::string(name), env_trim(line.substr(eq + 1)));
}

std::string env_unquote(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '\'' && raw.find('\'', 1) != std::string_view::npos) {
    return std::string(raw.substr(1, raw.find('\'', 1) - 1));
  }
  if (!raw.empty() && raw.front() == '"') {
    std::string value;
    for (size_t i = 1; i < raw.size() && raw[i] != '"'; ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        char next = raw[++i];
        value += next == 'n' ? '\n' : next;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  // Unquoted: an inline comment starts at " #".
  if (auto hash = raw.find(" #"); hash != std::string_view::npos)
    raw = env_trim(raw.substr(0, hash));
  return std::string(raw);
}

std::vector<std::string_view> env_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return lines;
}

}  // namespace

std::map<std::string, std::string> parse_env_text(std::string_view text) {
  std::map<std::string, std::string> out;
  for (auto line : env_lines(text)) {
    if (auto a = env_assignment(line)) out[a->first] = env_unquote(a->second);
  }
  return out;
}

Result<std::map<std::string, std::string>> read_env_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kInvalidSpec,
                      "cannot read env file " + path + ": " + std::strerror(errno));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_env_text(text);
}

std::string env_quote(std::string_view value) {
  bool bare = true;
  for (char c : value) {
    bool safe = env_name_char(c, false) || std::strchr("./:@,+=%-", c) != nullptr;
    if (!safe || c == '\0') bare = false;
  }
  if (bare) return std::string(value);
  // Single quotes are literal to every reader (no $ expansion in compose); else escape.
  if (value.find('\'') == std::string_view::npos && value.find('\n') == std::string_view::npos) {
    return "'" + std::string(value) + "'";
  }
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return quoted + "\"";
}

std::string update_env_text(std::string_view text,
                            const std::vector<std::pair<std::string, std::string>>& values) {
  std::map<std::string, std::string> wanted(values.begin(), values.end());
  std::set<std::string> written;
  std::string out;
  for (auto line : env_lines(text)) {
    auto a = env_assignment(line);
    if (a && wanted.count(a->first)) {
      // Every line of the name gets the new value: whichever a reader takes, it is this one.
      out += a->first + "=" + env_quote(wanted[a->first]) + "\n";
      written.insert(a->first);
    } else {
      out += std::string(line) + "\n";
    }
  }
  bool heading = false;
  for (const auto& [name, value] : values) {
    if (written.count(name)) continue;
    if (!heading && !out.empty()) out += "\n# corral runner setup\n";
    heading = true;
    out += name + "=" + env_quote(value) + "\n";
  }
  return out;
}

}  // namespace corral
