// The expression language of expr.h: a tokenizer, a recursive-descent parser building a small
// tree, and an evaluator over that tree (a tree, so that && and || can skip their right side).
#include "workflow/expr.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

namespace corral::workflow {
namespace {

using nlohmann::json;

// --- tokens ------------------------------------------------------------------------------------

enum class WfTok {
  kString,
  kNumber,
  kName,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kDot,
  kComma,
  kStar,
  kNot,
  kAnd,
  kOr,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kEnd,
};

struct WfToken {
  WfTok kind = WfTok::kEnd;
  size_t pos = 0;    // 0-based offset in the expression
  std::string text;  // the string's value, the name, the number's text
  double number = 0;
};

Error wf_expr_error(std::string_view expr, size_t pos, const std::string& message) {
  return make_error(ErrorCode::kInvalidSpec, "expression '" + std::string(expr) + "': position " +
                                                 std::to_string(pos + 1) + ": " + message);
}

bool wf_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool wf_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

Result<std::vector<WfToken>> wf_tokenize(std::string_view expr) {
  std::vector<WfToken> tokens;
  size_t i = 0;
  while (true) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    WfToken tok;
    tok.pos = i;
    if (i == expr.size()) {
      tokens.push_back(tok);
      return tokens;
    }
    char c = expr[i];
    auto two = expr.substr(i, 2);
    if (c == '\'') {
      ++i;
      while (true) {
        if (i == expr.size()) return wf_expr_error(expr, tok.pos, "the string is not closed");
        if (expr[i] == '\'') {
          if (i + 1 < expr.size() && expr[i + 1] == '\'') {
            tok.text += '\'';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        tok.text += expr[i++];
      }
      tok.kind = WfTok::kString;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < expr.size() &&
                std::isdigit(static_cast<unsigned char>(expr[i + 1])))) {
      size_t start = i;
      if (c == '-') ++i;
      while (i < expr.size() &&
             (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.' ||
              ((expr[i] == '+' || expr[i] == '-') && (expr[i - 1] == 'e' || expr[i - 1] == 'E')))) {
        ++i;
      }
      tok.text = std::string(expr.substr(start, i - start));
      std::string_view digits = tok.text;
      bool negative = !digits.empty() && digits.front() == '-';
      if (negative) digits.remove_prefix(1);
      char* end = nullptr;
      std::string body(digits);
      if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
        tok.number = static_cast<double>(std::strtoull(body.c_str() + 2, &end, 16));
      } else {
        tok.number = std::strtod(body.c_str(), &end);
        if (body.find_first_of("xXpP") != std::string::npos) end = nullptr;
      }
      if (end == nullptr || *end != '\0' || body.empty() ||
          !std::isdigit(static_cast<unsigned char>(body[0]))) {
        return wf_expr_error(expr, tok.pos, "'" + tok.text + "' is not a number");
      }
      if (negative) tok.number = -tok.number;
      tok.kind = WfTok::kNumber;
    } else if (wf_name_start(c)) {
      size_t start = i;
      while (i < expr.size() && wf_name_char(expr[i])) ++i;
      tok.text = std::string(expr.substr(start, i - start));
      tok.kind = WfTok::kName;
    } else if (two == "&&" || two == "||" || two == "==" || two == "!=" || two == "<=" ||
               two == ">=") {
      tok.kind = two == "&&"   ? WfTok::kAnd
                 : two == "||" ? WfTok::kOr
                 : two == "==" ? WfTok::kEq
                 : two == "!=" ? WfTok::kNe
                 : two == "<=" ? WfTok::kLe
                               : WfTok::kGe;
      i += 2;
    } else {
      switch (c) {
        case '(':
          tok.kind = WfTok::kLParen;
          break;
        case ')':
          tok.kind = WfTok::kRParen;
          break;
        case '[':
          tok.kind = WfTok::kLBracket;
          break;
        case ']':
          tok.kind = WfTok::kRBracket;
          break;
        case '.':
          tok.kind = WfTok::kDot;
          break;
        case ',':
          tok.kind = WfTok::kComma;
          break;
        case '*':
          tok.kind = WfTok::kStar;
          break;
        case '!':
          tok.kind = WfTok::kNot;
          break;
        case '<':
          tok.kind = WfTok::kLt;
          break;
        case '>':
          tok.kind = WfTok::kGt;
          break;
        default:
          return wf_expr_error(expr, i, std::string("unexpected character '") + c + "'");
      }
      ++i;
    }
    tokens.push_back(std::move(tok));
  }
}

// --- tree --------------------------------------------------------------------------------------

struct WfNode {
  enum Kind { kLiteral, kContext, kMember, kIndex, kNot, kAnd, kOr, kCompare, kCall } kind;
  size_t pos = 0;
  json literal;
  std::string name;  // context, member, function (lower case) or compare operator
  std::vector<std::unique_ptr<WfNode>> children;
};
using WfNodePtr = std::unique_ptr<WfNode>;

std::string wf_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct WfFunction {
  const char* name;  // lower case
  size_t min_args;
  size_t max_args;
};
constexpr WfFunction kWfFunctions[] = {
    {"success", 0, 0},  {"failure", 0, 0},    {"always", 0, 0},   {"cancelled", 0, 0},
    {"contains", 2, 2}, {"startswith", 2, 2}, {"endswith", 2, 2}, {"format", 1, 64},
    {"join", 1, 2},     {"tojson", 1, 1},     {"fromjson", 1, 1},
};

bool wf_is_status_function(std::string_view lower_name) {
  return lower_name == "success" || lower_name == "failure" || lower_name == "always" ||
         lower_name == "cancelled";
}

constexpr const char* kWfKnownContexts[] = {"github",   "env",    "vars",   "job",
                                            "jobs",     "steps",  "runner", "secrets",
                                            "strategy", "matrix", "needs",  "inputs"};

class WfExprParser {
 public:
  WfExprParser(std::string_view expr, std::vector<WfToken> tokens)
      : expr_(expr), tokens_(std::move(tokens)) {}

  Result<WfNodePtr> parse() {
    auto node = parse_or();
    if (!node.ok()) return node;
    if (peek().kind != WfTok::kEnd)
      return error(peek().pos, "unexpected '" + token_text(peek()) + "'");
    return node;
  }

 private:
  const WfToken& peek() const { return tokens_[at_]; }
  const WfToken& next() { return tokens_[at_ < tokens_.size() - 1 ? at_++ : at_]; }
  Error error(size_t pos, const std::string& message) const {
    return wf_expr_error(expr_, pos, message);
  }
  std::string token_text(const WfToken& tok) const {
    if (tok.kind == WfTok::kEnd) return "end";
    size_t end = at_ + 1 < tokens_.size() ? tokens_[at_ + 1].pos : expr_.size();
    std::string_view text = expr_.substr(tok.pos, end > tok.pos ? end - tok.pos : 1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    return std::string(text);
  }

  static WfNodePtr make(WfNode::Kind kind, size_t pos) {
    auto node = std::make_unique<WfNode>();
    node->kind = kind;
    node->pos = pos;
    return node;
  }

  // One left-associative level: operand (op operand)*.
  template <typename Operand>
  Result<WfNodePtr> binary_level(Operand operand, std::initializer_list<WfTok> ops) {
    auto left = (this->*operand)();
    if (!left.ok()) return left;
    WfNodePtr node = std::move(*left);
    while (true) {
      WfTok kind = peek().kind;
      bool matches = false;
      for (WfTok op : ops) matches = matches || op == kind;
      if (!matches) return node;
      const WfToken& op = next();
      auto right = (this->*operand)();
      if (!right.ok()) return right;
      auto parent = make(kind == WfTok::kAnd  ? WfNode::kAnd
                         : kind == WfTok::kOr ? WfNode::kOr
                                              : WfNode::kCompare,
                         op.pos);
      parent->name = kind == WfTok::kEq   ? "=="
                     : kind == WfTok::kNe ? "!="
                     : kind == WfTok::kLt ? "<"
                     : kind == WfTok::kLe ? "<="
                     : kind == WfTok::kGt ? ">"
                     : kind == WfTok::kGe ? ">="
                                          : "";
      parent->children.push_back(std::move(node));
      parent->children.push_back(std::move(*right));
      node = std::move(parent);
    }
  }

  Result<WfNodePtr> parse_or() { return binary_level(&WfExprParser::parse_and, {WfTok::kOr}); }
  Result<WfNodePtr> parse_and() { return binary_level(&WfExprParser::parse_equal, {WfTok::kAnd}); }
  Result<WfNodePtr> parse_equal() {
    return binary_level(&WfExprParser::parse_compare, {WfTok::kEq, WfTok::kNe});
  }
  Result<WfNodePtr> parse_compare() {
    return binary_level(&WfExprParser::parse_unary,
                        {WfTok::kLt, WfTok::kLe, WfTok::kGt, WfTok::kGe});
  }

  Result<WfNodePtr> parse_unary() {
    if (peek().kind == WfTok::kNot) {
      size_t pos = next().pos;
      auto operand = parse_unary();
      if (!operand.ok()) return operand;
      auto node = make(WfNode::kNot, pos);
      node->children.push_back(std::move(*operand));
      return node;
    }
    return parse_postfix();
  }

  Result<WfNodePtr> parse_postfix() {
    auto primary = parse_primary();
    if (!primary.ok()) return primary;
    WfNodePtr node = std::move(*primary);
    while (true) {
      if (peek().kind == WfTok::kDot) {
        size_t pos = next().pos;
        const WfToken& name = next();
        if (name.kind == WfTok::kStar) {
          return error(name.pos, "object filters (.*) are not supported");
        }
        if (name.kind != WfTok::kName) return error(name.pos, "expected a property name after '.'");
        auto member = make(WfNode::kMember, pos);
        member->name = name.text;
        member->children.push_back(std::move(node));
        node = std::move(member);
      } else if (peek().kind == WfTok::kLBracket) {
        size_t pos = next().pos;
        if (peek().kind == WfTok::kStar) {
          return error(peek().pos, "object filters ([*]) are not supported");
        }
        auto index = parse_or();
        if (!index.ok()) return index;
        if (next().kind != WfTok::kRBracket) return error(pos, "'[' is not closed by ']'");
        auto access = make(WfNode::kIndex, pos);
        access->children.push_back(std::move(node));
        access->children.push_back(std::move(*index));
        node = std::move(access);
      } else {
        return node;
      }
    }
  }

  Result<WfNodePtr> parse_primary() {
    const WfToken& tok = next();
    switch (tok.kind) {
      case WfTok::kString: {
        auto node = make(WfNode::kLiteral, tok.pos);
        node->literal = tok.text;
        return node;
      }
      case WfTok::kNumber: {
        auto node = make(WfNode::kLiteral, tok.pos);
        double integral = 0;
        if (std::modf(tok.number, &integral) == 0.0 && std::fabs(tok.number) < 9e15) {
          node->literal = static_cast<long long>(tok.number);
        } else {
          node->literal = tok.number;
        }
        return node;
      }
      case WfTok::kLParen: {
        auto inner = parse_or();
        if (!inner.ok()) return inner;
        if (next().kind != WfTok::kRParen) return error(tok.pos, "'(' is not closed by ')'");
        return inner;
      }
      case WfTok::kName:
        return parse_name(tok);
      case WfTok::kEnd:
        return error(tok.pos, "expected a value");
      default:
        return error(tok.pos, "expected a value, not '" + std::string(1, expr_[tok.pos]) + "'");
    }
  }

  Result<WfNodePtr> parse_name(const WfToken& tok) {
    std::string lower = wf_lower(tok.text);
    if (peek().kind == WfTok::kLParen) {
      next();
      const WfFunction* function = nullptr;
      for (const auto& f : kWfFunctions) {
        if (lower == f.name) function = &f;
      }
      if (!function) {
        return error(tok.pos, "function '" + tok.text +
                                  "' is not supported; supported: success, failure, always, "
                                  "cancelled, contains, startsWith, endsWith, format, join, "
                                  "toJSON, fromJSON");
      }
      auto call = make(WfNode::kCall, tok.pos);
      call->name = lower;
      if (peek().kind != WfTok::kRParen) {
        while (true) {
          auto arg = parse_or();
          if (!arg.ok()) return arg;
          call->children.push_back(std::move(*arg));
          if (peek().kind == WfTok::kComma) {
            next();
            continue;
          }
          break;
        }
      }
      if (next().kind != WfTok::kRParen)
        return error(tok.pos, "'" + tok.text + "(' is not closed by ')'");
      size_t count = call->children.size();
      if (count < function->min_args || count > function->max_args) {
        return error(tok.pos, tok.text + "() takes " +
                                  (function->min_args == function->max_args
                                       ? std::to_string(function->min_args)
                                       : std::to_string(function->min_args) + " to " +
                                             std::to_string(function->max_args)) +
                                  " argument(s), not " + std::to_string(count));
      }
      return call;
    }
    auto node = make(WfNode::kLiteral, tok.pos);
    if (lower == "true") {
      node->literal = true;
    } else if (lower == "false") {
      node->literal = false;
    } else if (lower == "null") {
      node->literal = nullptr;
    } else {
      node->kind = WfNode::kContext;
      node->name = tok.text;
    }
    return node;
  }

  std::string_view expr_;
  std::vector<WfToken> tokens_;
  size_t at_ = 0;
};

Result<WfNodePtr> wf_parse_expression(std::string_view expr) {
  auto tokens = wf_tokenize(expr);
  if (!tokens.ok()) return tokens.error();
  if (tokens->size() == 1) return wf_expr_error(expr, 0, "the expression is empty");
  return WfExprParser(expr, std::move(*tokens)).parse();
}

bool wf_tree_calls_status(const WfNode& node) {
  if (node.kind == WfNode::kCall && wf_is_status_function(node.name)) return true;
  for (const auto& child : node.children) {
    if (wf_tree_calls_status(*child)) return true;
  }
  return false;
}

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
        error = wf_expr_error(expr, pos, "format(): '{' must start {N} or be written {{");
        return "";
      }
      size_t index = std::stoul(index_text);
      if (index + 1 >= args.size()) {
        error = wf_expr_error(expr, pos, "format(): {" + index_text + "} has no argument");
        return "";
      }
      out += expression_string(args[index + 1]);
      i = close;
    } else if (c == '}') {
      error = wf_expr_error(expr, pos, "format(): a lone '}' must be written }}");
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

  Result<json> eval(const WfNode& node) {
    switch (node.kind) {
      case WfNode::kLiteral:
        return node.literal;
      case WfNode::kContext: {
        if (const json* value = wf_member(contexts_, node.name)) return *value;
        std::string lower = wf_lower(node.name);
        for (const char* known : kWfKnownContexts) {
          if (lower == known) return json(nullptr);
        }
        return wf_expr_error(expr_, node.pos,
                             "unknown context '" + node.name +
                                 "'; contexts: github, env, secrets, inputs, matrix, strategy, "
                                 "needs, steps, job, runner (strings need quotes: 'text')");
      }
      case WfNode::kMember: {
        auto object = eval(*node.children[0]);
        if (!object.ok()) return object;
        const json* value = wf_member(*object, node.name);
        return value ? *value : json(nullptr);
      }
      case WfNode::kIndex: {
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
      case WfNode::kNot: {
        auto operand = eval(*node.children[0]);
        if (!operand.ok()) return operand;
        return json(!expression_truthy(*operand));
      }
      case WfNode::kAnd:
      case WfNode::kOr: {
        auto left = eval(*node.children[0]);
        if (!left.ok()) return left;
        bool truthy = expression_truthy(*left);
        if (node.kind == WfNode::kAnd ? !truthy : truthy) return left;
        return eval(*node.children[1]);
      }
      case WfNode::kCompare: {
        auto left = eval(*node.children[0]);
        if (!left.ok()) return left;
        auto right = eval(*node.children[1]);
        if (!right.ok()) return right;
        if (node.name == "==") return json(wf_loose_equal(*left, *right));
        if (node.name == "!=") return json(!wf_loose_equal(*left, *right));
        return json(wf_loose_order(*left, *right, node.name));
      }
      case WfNode::kCall:
        return call(node);
    }
    return wf_expr_error(expr_, node.pos, "internal: unknown node");
  }

 private:
  Result<json> call(const WfNode& node) {
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
      std::string haystack = wf_lower(expression_string(args[0]));
      return json(haystack.find(wf_lower(expression_string(args[1]))) != std::string::npos);
    }
    if (f == "startswith" || f == "endswith") {
      std::string text = wf_lower(expression_string(args[0]));
      std::string part = wf_lower(expression_string(args[1]));
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
      return wf_expr_error(expr_, node.pos, "fromJSON(): the argument is not valid JSON");
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
  auto tree = wf_parse_expression(expr);
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
  auto tree = wf_parse_expression(*expr);
  if (!tree.ok()) return tree.error();
  // GitHub's implicit `success() && (...)` when no status function is called.
  if (!wf_tree_calls_status(**tree) && !status.success) return false;
  auto value = WfEvaluator(*expr, contexts, status).eval(**tree);
  if (!value.ok()) return value.error();
  return expression_truthy(*value);
}

bool calls_status_function(std::string_view if_text) {
  auto expr = wf_condition_expression(if_text);
  if (!expr.ok() || expr->empty()) return false;
  auto tree = wf_parse_expression(*expr);
  return tree.ok() && wf_tree_calls_status(**tree);
}

}  // namespace corral::workflow
