// The evaluator of expr.h: GitHub's values, coercions and functions over the tree of
// expr_tree.h, and the ${{ }} handling of interpolate() and evaluate_condition().
#include "workflow/expr.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include "workflow/expr_tree.h"

namespace corral::workflow {
namespace {

using expr_detail::calls_status;
using expr_detail::expression_error;
using expr_detail::ExprNode;
using expr_detail::lower_ascii;
using expr_detail::parse_expression;
using nlohmann::json;

constexpr const char* kWfKnownContexts[] = {"github",   "env",    "vars",   "job",
                                            "jobs",     "steps",  "runner", "secrets",
                                            "strategy", "matrix", "needs",  "inputs"};

// --- values ------------------------------------------------------------------------------------

double wf_to_number(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return 0;
    case json::value_t::boolean:
      return v.get<bool>() ? 1 : 0;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return v.get<double>();
    case json::value_t::string: {
      std::string s = v.get<std::string>();
      size_t b = s.find_first_not_of(" \t\r\n");
      if (b == std::string::npos) return 0;
      s = s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
      if (s == "Infinity" || s == "+Infinity") return INFINITY;
      if (s == "-Infinity") return -INFINITY;
      char* end = nullptr;
      double out = 0;
      if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        out = static_cast<double>(std::strtoull(s.c_str() + 2, &end, 16));
      } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        out = static_cast<double>(std::strtoull(s.c_str() + 2, &end, 8));
      } else {
        if (s.find_first_of("xXpPnNiI") != std::string::npos)
          return NAN;  // no hex floats, nan, inf
        out = std::strtod(s.c_str(), &end);
      }
      return end && *end == '\0' ? out : NAN;
    }
    default:
      return NAN;  // arrays, objects
  }
}

// Same kind for comparison purposes (all numbers are one kind).
bool wf_same_kind(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return true;
  if ((a.is_array() || a.is_object()) && (b.is_array() || b.is_object()))
    return a.type() == b.type();
  return a.type() == b.type();
}

int wf_compare_ignore_case(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    int ca = std::toupper(static_cast<unsigned char>(a[i]));
    int cb = std::toupper(static_cast<unsigned char>(b[i]));
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool wf_loose_equal(const json& a, const json& b) {
  if (!wf_same_kind(a, b)) return wf_to_number(a) == wf_to_number(b);  // NaN: false
  if (a.is_string()) return wf_compare_ignore_case(a.get<std::string>(), b.get<std::string>()) == 0;
  if (a.is_number()) return a.get<double>() == b.get<double>();
  return a == b;  // null, booleans, arrays and objects by content
}

// < <= > >=: strings ignoring case, anything else as numbers; NaN is not ordered.
bool wf_loose_order(const json& a, const json& b, const std::string& op) {
  int cmp = 0;
  if (a.is_string() && b.is_string()) {
    cmp = wf_compare_ignore_case(a.get<std::string>(), b.get<std::string>());
  } else {
    double x = wf_to_number(a);
    double y = wf_to_number(b);
    if (std::isnan(x) || std::isnan(y)) return false;
    cmp = x < y ? -1 : (x > y ? 1 : 0);
  }
  if (op == "<") return cmp < 0;
  if (op == "<=") return cmp <= 0;
  if (op == ">") return cmp > 0;
  return cmp >= 0;
}

const json* wf_member(const json& object, const std::string& name) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(name); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (wf_compare_ignore_case(it.key(), name) == 0) return &*it;
  }
  return nullptr;
}

std::string wf_format(std::string_view expr, size_t pos, const std::string& format,
                      const std::vector<json>& args, std::optional<Error>& error) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '{' && i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < format.size() && format[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = format.find('}', i);
      std::string index_text =
          close == std::string::npos ? "" : format.substr(i + 1, close - i - 1);
      bool digits = !index_text.empty() && index_text.size() < 4 &&
                    index_text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits) {
        error = expression_error(expr, pos, "format(): '{' must start {N} or be written {{");
        return "";
      }
      size_t index = std::stoul(index_text);
      if (index + 1 >= args.size()) {
        error = expression_error(expr, pos, "format(): {" + index_text + "} has no argument");
        return "";
      }
      out += expression_string(args[index + 1]);
      i = close;
    } else if (c == '}') {
      error = expression_error(expr, pos, "format(): a lone '}' must be written }}");
      return "";
    } else {
      out += c;
    }
  }
  return out;
}

class WfEvaluator {
 public:
  WfEvaluator(std::string_view expr, const json& contexts, const StatusFunctions& status)
      : expr_(expr), contexts_(contexts), status_(status) {}

  Result<json> eval(const ExprNode& node) {
    switch (node.kind) {
      case ExprNode::kLiteral:
        return node.literal;
      case ExprNode::kContext: {
        if (const json* value = wf_member(contexts_, node.name)) return *value;
        std::string lower = lower_ascii(node.name);
        for (const char* known : kWfKnownContexts) {
          if (lower == known) return json(nullptr);
        }
        return expression_error(expr_, node.pos,
                                "unknown context '" + node.name +
                                    "'; contexts: github, env, secrets, inputs, matrix, strategy, "
                                    "needs, steps, job, runner (strings need quotes: 'text')");
      }
      case ExprNode::kMember: {
        auto object = eval(*node.children[0]);
        if (!object.ok()) return object;
        const json* value = wf_member(*object, node.name);
        return value ? *value : json(nullptr);
      }
      case ExprNode::kIndex: {
        auto container = eval(*node.children[0]);
        if (!container.ok()) return container;
        auto index = eval(*node.children[1]);
        if (!index.ok()) return index;
        if (container->is_array() && index->is_number()) {
          double i = index->get<double>();
          if (i >= 0 && i < static_cast<double>(container->size()) && i == std::floor(i)) {
            return (*container)[static_cast<size_t>(i)];
          }
          return json(nullptr);
        }
        if (container->is_object()) {
          const json* value = wf_member(*container, expression_string(*index));
          return value ? *value : json(nullptr);
        }
        return json(nullptr);
      }
      case ExprNode::kNot: {
        auto operand = eval(*node.children[0]);
        if (!operand.ok()) return operand;
        return json(!expression_truthy(*operand));
      }
      case ExprNode::kAnd:
      case ExprNode::kOr: {
        auto left = eval(*node.children[0]);
        if (!left.ok()) return left;
        bool truthy = expression_truthy(*left);
        if (node.kind == ExprNode::kAnd ? !truthy : truthy) return left;
        return eval(*node.children[1]);
      }
      case ExprNode::kCompare: {
        auto left = eval(*node.children[0]);
        if (!left.ok()) return left;
        auto right = eval(*node.children[1]);
        if (!right.ok()) return right;
        if (node.name == "==") return json(wf_loose_equal(*left, *right));
        if (node.name == "!=") return json(!wf_loose_equal(*left, *right));
        return json(wf_loose_order(*left, *right, node.name));
      }
      case ExprNode::kCall:
        return call(node);
    }
    return expression_error(expr_, node.pos, "internal: unknown node");
  }

 private:
  Result<json> call(const ExprNode& node) {
    const std::string& f = node.name;
    if (f == "success") return json(status_.success);
    if (f == "failure") return json(status_.failure);
    if (f == "cancelled") return json(status_.cancelled);
    if (f == "always") return json(true);
    std::vector<json> args;
    for (const auto& child : node.children) {
      auto arg = eval(*child);
      if (!arg.ok()) return arg;
      args.push_back(std::move(*arg));
    }
    if (f == "contains") {
      if (args[0].is_array()) {
        for (const auto& item : args[0]) {
          if (wf_loose_equal(item, args[1])) return json(true);
        }
        return json(false);
      }
      std::string haystack = lower_ascii(expression_string(args[0]));
      return json(haystack.find(lower_ascii(expression_string(args[1]))) != std::string::npos);
    }
    if (f == "startswith" || f == "endswith") {
      std::string text = lower_ascii(expression_string(args[0]));
      std::string part = lower_ascii(expression_string(args[1]));
      if (part.size() > text.size()) return json(false);
      size_t at = f == "startswith" ? 0 : text.size() - part.size();
      return json(text.compare(at, part.size(), part) == 0);
    }
    if (f == "format") {
      std::optional<Error> error;
      std::string out = wf_format(expr_, node.pos, expression_string(args[0]), args, error);
      if (error) return *error;
      return json(out);
    }
    if (f == "join") {
      std::string separator = args.size() > 1 ? expression_string(args[1]) : ",";
      if (!args[0].is_array()) return json(expression_string(args[0]));
      std::string out;
      bool first = true;
      for (const auto& item : args[0]) {
        if (!first) out += separator;
        out += expression_string(item);
        first = false;
      }
      return json(out);
    }
    if (f == "tojson") return json(args[0].dump(2));
    // fromjson
    json parsed = json::parse(expression_string(args[0]), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return expression_error(expr_, node.pos, "fromJSON(): the argument is not valid JSON");
    }
    return parsed;
  }

  std::string_view expr_;
  const json& contexts_;
  const StatusFunctions& status_;
};

// The text between `${{` at `open` and its `}}` (skipping '...' strings), or nullopt.
std::optional<size_t> wf_find_close(std::string_view text, size_t open) {
  size_t i = open + 3;
  while (i < text.size()) {
    if (text[i] == '\'') {
      ++i;
      while (i < text.size()) {
        if (text[i] == '\'' && (i + 1 >= text.size() || text[i + 1] != '\'')) break;
        i += text[i] == '\'' ? 2 : 1;
      }
      ++i;
      continue;
    }
    if (text.compare(i, 2, "}}") == 0) return i;
    ++i;
  }
  return std::nullopt;
}

std::string_view wf_trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// An `if:` without its optional `${{ }}` wrapper.
Result<std::string_view> wf_condition_expression(std::string_view if_text) {
  std::string_view text = wf_trim(if_text);
  size_t open = text.find("${{");
  if (open == std::string_view::npos) return text;
  auto close = open == 0 ? wf_find_close(text, 0) : std::nullopt;
  if (open != 0 || !close || *close + 2 != text.size()) {
    return make_error(ErrorCode::kInvalidSpec,
                      "condition '" + std::string(if_text) +
                          "': write the whole condition inside one ${{ }}, or without it");
  }
  return wf_trim(text.substr(3, *close - 3));
}

}  // namespace

std::string expression_string(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "";
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return value.dump();
    case json::value_t::number_float: {
      double d = value.get<double>();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      double integral = 0;
      if (std::modf(d, &integral) == 0.0 && std::fabs(d) < 1e15) {
        return std::to_string(static_cast<long long>(d));
      }
      return value.dump();
    }
    case json::value_t::array:
      return "Array";
    case json::value_t::object:
      return "Object";
    default:
      return "";
  }
}

bool expression_truthy(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return false;
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::string:
      return !value.get<std::string>().empty();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      double d = value.get<double>();
      return d != 0 && !std::isnan(d);
    }
    default:
      return true;  // arrays and objects
  }
}

Result<json> evaluate(std::string_view expr, const json& contexts, const StatusFunctions& status) {
  auto tree = parse_expression(expr);
  if (!tree.ok()) return tree.error();
  return WfEvaluator(expr, contexts, status).eval(**tree);
}

Result<std::string> interpolate(std::string_view text, const json& contexts,
                                const StatusFunctions& status) {
  std::string out;
  size_t at = 0;
  while (true) {
    size_t open = text.find("${{", at);
    if (open == std::string_view::npos) {
      out.append(text.substr(at));
      return out;
    }
    out.append(text.substr(at, open - at));
    auto close = wf_find_close(text, open);
    if (!close) {
      return make_error(ErrorCode::kInvalidSpec, "'${{' at position " + std::to_string(open + 1) +
                                                     " of '" + std::string(text) +
                                                     "' is not closed by '}}'");
    }
    auto value = evaluate(wf_trim(text.substr(open + 3, *close - open - 3)), contexts, status);
    if (!value.ok()) return value.error();
    out += expression_string(*value);
    at = *close + 2;
  }
}

Result<bool> evaluate_condition(std::string_view if_text, const json& contexts,
                                const StatusFunctions& status) {
  auto expr = wf_condition_expression(if_text);
  if (!expr.ok()) return expr.error();
  if (expr->empty()) return status.success;
  auto tree = parse_expression(*expr);
  if (!tree.ok()) return tree.error();
  // GitHub's implicit `success() && (...)` when no status function is called.
  if (!calls_status(**tree) && !status.success) return false;
  auto value = WfEvaluator(*expr, contexts, status).eval(**tree);
  if (!value.ok()) return value.error();
  return expression_truthy(*value);
}

bool calls_status_function(std::string_view if_text) {
  auto expr = wf_condition_expression(if_text);
  if (!expr.ok() || expr->empty()) return false;
  auto tree = parse_expression(*expr);
  return tree.ok() && calls_status(**tree);
}

}  // namespace corral::workflow
