// The parsed form of an expression (internal to src/workflow/): expr_parse.cpp builds it,
// expr.cpp evaluates it. A tree rather than evaluating while parsing, so that && and || can
// skip their right side.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corral::workflow::expr_detail {

struct ExprNode {
  // kLiteral: `literal`; kContext: `name`; kMember: children[0].`name`; kIndex:
  // children[0][children[1]]; kNot, kAnd, kOr: children; kCompare: children and `name` the
  // operator; kCall: `name` (lower case) and the arguments in children.
  enum Kind { kLiteral, kContext, kMember, kIndex, kNot, kAnd, kOr, kCompare, kCall } kind;
  size_t pos = 0;
  nlohmann::json literal;
  std::string name;  // context, member, function (lower case) or compare operator
  std::vector<std::unique_ptr<ExprNode>> children;
};
using ExprNodePtr = std::unique_ptr<ExprNode>;

// "expression '<expr>': position N: <message>" (kInvalidSpec), N counted from 1.
Error expression_error(std::string_view expr, size_t pos, const std::string& message);

// The tree of one expression (without ${{ }}), or an error naming the position.
Result<ExprNodePtr> parse_expression(std::string_view expr);

// Whether the tree calls success(), failure(), always() or cancelled().
bool calls_status(const ExprNode& node);

std::string lower_ascii(std::string_view s);

}  // namespace corral::workflow::expr_detail
