// The tokenizer and recursive-descent parser of the expression language (expr.h's grammar),
// building the tree of expr_tree.h.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "workflow/expr_tree.h"

namespace corral::workflow::expr_detail {
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
        if (i == expr.size()) return expression_error(expr, tok.pos, "the string is not closed");
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
        return expression_error(expr, tok.pos, "'" + tok.text + "' is not a number");
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
          return expression_error(expr, i, std::string("unexpected character '") + c + "'");
      }
      ++i;
    }
    tokens.push_back(std::move(tok));
  }
}

// --- tree --------------------------------------------------------------------------------------

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

class WfExprParser {
 public:
  WfExprParser(std::string_view expr, std::vector<WfToken> tokens)
      : expr_(expr), tokens_(std::move(tokens)) {}

  Result<ExprNodePtr> parse() {
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
    return expression_error(expr_, pos, message);
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

  static ExprNodePtr make(ExprNode::Kind kind, size_t pos) {
    auto node = std::make_unique<ExprNode>();
    node->kind = kind;
    node->pos = pos;
    return node;
  }

  // One left-associative level: operand (op operand)*.
  template <typename Operand>
  Result<ExprNodePtr> binary_level(Operand operand, std::initializer_list<WfTok> ops) {
    auto left = (this->*operand)();
    if (!left.ok()) return left;
    ExprNodePtr node = std::move(*left);
    while (true) {
      WfTok kind = peek().kind;
      bool matches = false;
      for (WfTok op : ops) matches = matches || op == kind;
      if (!matches) return node;
      const WfToken& op = next();
      auto right = (this->*operand)();
      if (!right.ok()) return right;
      auto parent = make(kind == WfTok::kAnd  ? ExprNode::kAnd
                         : kind == WfTok::kOr ? ExprNode::kOr
                                              : ExprNode::kCompare,
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

  Result<ExprNodePtr> parse_or() { return binary_level(&WfExprParser::parse_and, {WfTok::kOr}); }
  Result<ExprNodePtr> parse_and() {
    return binary_level(&WfExprParser::parse_equal, {WfTok::kAnd});
  }
  Result<ExprNodePtr> parse_equal() {
    return binary_level(&WfExprParser::parse_compare, {WfTok::kEq, WfTok::kNe});
  }
  Result<ExprNodePtr> parse_compare() {
    return binary_level(&WfExprParser::parse_unary,
                        {WfTok::kLt, WfTok::kLe, WfTok::kGt, WfTok::kGe});
  }

  Result<ExprNodePtr> parse_unary() {
    if (peek().kind == WfTok::kNot) {
      size_t pos = next().pos;
      auto operand = parse_unary();
      if (!operand.ok()) return operand;
      auto node = make(ExprNode::kNot, pos);
      node->children.push_back(std::move(*operand));
      return node;
    }
    return parse_postfix();
  }

  Result<ExprNodePtr> parse_postfix() {
    auto primary = parse_primary();
    if (!primary.ok()) return primary;
    ExprNodePtr node = std::move(*primary);
    while (true) {
      if (peek().kind == WfTok::kDot) {
        size_t pos = next().pos;
        const WfToken& name = next();
        if (name.kind == WfTok::kStar) {
          return error(name.pos, "object filters (.*) are not supported");
        }
        if (name.kind != WfTok::kName) return error(name.pos, "expected a property name after '.'");
        auto member = make(ExprNode::kMember, pos);
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
        auto access = make(ExprNode::kIndex, pos);
        access->children.push_back(std::move(node));
        access->children.push_back(std::move(*index));
        node = std::move(access);
      } else {
        return node;
      }
    }
  }

  Result<ExprNodePtr> parse_primary() {
    const WfToken& tok = next();
    switch (tok.kind) {
      case WfTok::kString: {
        auto node = make(ExprNode::kLiteral, tok.pos);
        node->literal = tok.text;
        return node;
      }
      case WfTok::kNumber: {
        auto node = make(ExprNode::kLiteral, tok.pos);
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

  Result<ExprNodePtr> parse_name(const WfToken& tok) {
    std::string lower = lower_ascii(tok.text);
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
      auto call = make(ExprNode::kCall, tok.pos);
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
    auto node = make(ExprNode::kLiteral, tok.pos);
    if (lower == "true") {
      node->literal = true;
    } else if (lower == "false") {
      node->literal = false;
    } else if (lower == "null") {
      node->literal = nullptr;
    } else {
      node->kind = ExprNode::kContext;
      node->name = tok.text;
    }
    return node;
  }

  std::string_view expr_;
  std::vector<WfToken> tokens_;
  size_t at_ = 0;
};

}  // namespace

Error expression_error(std::string_view expr, size_t pos, const std::string& message) {
  return make_error(ErrorCode::kInvalidSpec, "expression '" + std::string(expr) + "': position " +
                                                 std::to_string(pos + 1) + ": " + message);
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<ExprNodePtr> parse_expression(std::string_view expr) {
  auto tokens = wf_tokenize(expr);
  if (!tokens.ok()) return tokens.error();
  if (tokens->size() == 1) return expression_error(expr, 0, "the expression is empty");
  return WfExprParser(expr, std::move(*tokens)).parse();
}

bool calls_status(const ExprNode& node) {
  if (node.kind == ExprNode::kCall && wf_is_status_function(node.name)) return true;
  for (const auto& child : node.children) {
    if (calls_status(*child)) return true;
  }
  return false;
}

}  // namespace corral::workflow::expr_detail
