#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "workflow/expr.h"

namespace corral::workflow {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const json& contexts() {
  static const json kContexts = json::parse(R"({
    "github": {"sha": "abc123", "ref": "refs/heads/main", "repository": "acme/app",
               "event_name": "push", "run_id": 42,
               "event": {"head_commit": {"message": "Fix the build"}}},
    "matrix": {"node": 18, "os": "ubuntu", "experimental": false, "ratio": 3.5,
               "include-me": "yes"},
    "env": {"GREETING": "hello", "EMPTY": ""},
    "secrets": {"TOKEN": "s3cret"},
    "inputs": {"dry-run": true},
    "needs": {"build": {"result": "success", "outputs": {"version": "1.2.3"}}},
    "steps": {"test": {"outcome": "failure", "conclusion": "success",
                       "outputs": {"report": "ok"}}},
    "job": {"status": "success"},
    "runner": {"os": "Linux", "temp": "/tmp/runner"},
    "list": ["a", "B", 3]
  })");
  return kContexts;
}

json eval(std::string_view expr, const StatusFunctions& status = {}) {
  auto value = evaluate(expr, contexts(), status);
  EXPECT_TRUE(value.ok()) << expr << ": " << (value.ok() ? "" : value.error().message);
  return value.ok() ? *value : json("<error>");
}

std::string eval_error(std::string_view expr) {
  auto value = evaluate(expr, contexts(), {});
  if (value.ok()) return "evaluated to " + value->dump();
  EXPECT_EQ(value.error().code, ErrorCode::kInvalidSpec);
  return value.error().message;
}

std::string text(std::string_view template_text) {
  auto out = interpolate(template_text, contexts(), {});
  EXPECT_TRUE(out.ok()) << template_text << ": " << (out.ok() ? "" : out.error().message);
  return out.ok() ? *out : "<error>";
}

bool condition(std::string_view if_text, const StatusFunctions& status = {}) {
  auto out = evaluate_condition(if_text, contexts(), status);
  EXPECT_TRUE(out.ok()) << if_text << ": " << (out.ok() ? "" : out.error().message);
  return out.ok() && *out;
}

TEST(WorkflowExprTest, Literals) {
  EXPECT_EQ(eval("'it''s'"), "it's");
  EXPECT_EQ(eval("''"), "");
  EXPECT_EQ(eval("12"), 12);
  EXPECT_EQ(eval("-2.5"), -2.5);
  EXPECT_EQ(eval("0xff"), 255);
  EXPECT_EQ(eval("1e3"), 1000);
  EXPECT_EQ(eval("true"), true);
  EXPECT_EQ(eval("FALSE"), false);
  EXPECT_EQ(eval("null"), nullptr);
}

TEST(WorkflowExprTest, PropertyAccess) {
  EXPECT_EQ(eval("github.sha"), "abc123");
  EXPECT_EQ(eval("github['ref']"), "refs/heads/main");
  EXPECT_EQ(eval("github.event.head_commit.message"), "Fix the build");
  EXPECT_EQ(eval("GITHUB.Event['HEAD_COMMIT'].message"), "Fix the build");  // any case
  EXPECT_EQ(eval("matrix.include-me"), "yes");                              // - in names
  EXPECT_EQ(eval("needs.build.outputs.version"), "1.2.3");
  EXPECT_EQ(eval("needs.build.result"), "success");
  EXPECT_EQ(eval("steps.test.outcome"), "failure");
  EXPECT_EQ(eval("steps.test.conclusion"), "success");
  EXPECT_EQ(eval("job.status"), "success");
  EXPECT_EQ(eval("runner.os"), "Linux");
  EXPECT_EQ(eval("list[1]"), "B");
  EXPECT_EQ(eval("list[7]"), nullptr);
  EXPECT_EQ(eval("github.nope.deeper"), nullptr);
  EXPECT_EQ(eval("github.sha.length"), nullptr);  // a property of a string
  EXPECT_EQ(eval("vars.ANYTHING"), nullptr);      // a GitHub context the caller left out
}

TEST(WorkflowExprTest, Precedence) {
  EXPECT_EQ(eval("true || false && false"), true);  // && binds tighter than ||
  EXPECT_EQ(eval("(true || false) && false"), false);
  EXPECT_EQ(eval("!false == true"), true);  // ! binds tighter than ==
  EXPECT_EQ(eval("!(false == true)"), true);
  EXPECT_EQ(eval("1 < 2 == true"), true);  // < binds tighter than ==
  EXPECT_EQ(eval("2 > 1 && 1 > 2 || 3 >= 3"), true);
  EXPECT_EQ(eval("!!'x'"), true);
  EXPECT_EQ(eval("matrix.node == 18 && matrix.os != 'windows'"), true);
}

TEST(WorkflowExprTest, AndOrReturnAnOperand) {
  EXPECT_EQ(eval("env.EMPTY || 'default'"), "default");
  EXPECT_EQ(eval("env.GREETING || 'default'"), "hello");
  EXPECT_EQ(eval("'a' && 'b'"), "b");
  EXPECT_EQ(eval("null && 'b'"), nullptr);
  EXPECT_EQ(eval("0 || null"), nullptr);
  // The right side is not evaluated once the left decides, not even a bad fromJSON.
  EXPECT_EQ(eval("false && fromJSON('not json')"), false);
  EXPECT_EQ(eval("true || fromJSON('not json')"), true);
}

TEST(WorkflowExprTest, LooseEqualityAndCoercions) {
  EXPECT_EQ(eval("1 == '1'"), true);
  EXPECT_EQ(eval("'' == 0"), true);
  EXPECT_EQ(eval("null == 0"), true);
  EXPECT_EQ(eval("null == ''"), true);  // both 0 as numbers
  EXPECT_EQ(eval("null == null"), true);
  EXPECT_EQ(eval("true == 1"), true);
  EXPECT_EQ(eval("false == '0'"), true);
  EXPECT_EQ(eval("true == 'true'"), false);  // 'true' is NaN as a number
  EXPECT_EQ(eval("'abc' == 'ABC'"), true);   // strings ignore case
  EXPECT_EQ(eval("'abc' == 0"), false);      // NaN equals nothing
  EXPECT_EQ(eval("'0x10' == 16"), true);
  EXPECT_EQ(eval("' 12 ' == 12"), true);
  EXPECT_EQ(eval("matrix.node == '18'"), true);
  EXPECT_EQ(eval("matrix.experimental == false"), true);
  EXPECT_EQ(eval("list == list"), true);
  EXPECT_EQ(eval("list == 'Array'"), false);
  EXPECT_EQ(eval("github != github.event"), true);
}

TEST(WorkflowExprTest, Ordering) {
  EXPECT_EQ(eval("'a' < 'B'"), true);    // ignoring case
  EXPECT_EQ(eval("'10' > '9'"), false);  // two strings compare as text
  EXPECT_EQ(eval("'10' > 9"), true);     // mixed compare as numbers
  EXPECT_EQ(eval("null < 1"), true);
  EXPECT_EQ(eval("'abc' < 1"), false);  // NaN is not ordered
  EXPECT_EQ(eval("'abc' >= 1"), false);
  EXPECT_EQ(eval("2 <= 2"), true);
  EXPECT_EQ(eval("matrix.ratio > 3"), true);
}

TEST(WorkflowExprTest, Functions) {
  EXPECT_EQ(eval("contains('Hello world', 'WORLD')"), true);
  EXPECT_EQ(eval("contains(github.event.head_commit.message, 'skip ci')"), false);
  EXPECT_EQ(eval("contains(list, 'b')"), true);
  EXPECT_EQ(eval("contains(list, '3')"), true);
  EXPECT_EQ(eval("contains(list, 'c')"), false);
  EXPECT_EQ(eval("contains(fromJSON('[\"push\", \"pull_request\"]'), github.event_name)"), true);
  EXPECT_EQ(eval("startsWith(github.ref, 'REFS/heads/')"), true);
  EXPECT_EQ(eval("startsWith('ab', 'abc')"), false);
  EXPECT_EQ(eval("endsWith(github.repository, '/app')"), true);
  EXPECT_EQ(eval("endsWith('app', 'x')"), false);
  EXPECT_EQ(eval("format('{0} and {{1}} {1}{0}', 'a', matrix.node)"), "a and {1} 18a");
  EXPECT_EQ(eval("join(list, ', ')"), "a, B, 3");
  EXPECT_EQ(eval("join(list)"), "a,B,3");
  EXPECT_EQ(eval("join('single')"), "single");
  EXPECT_EQ(eval("toJSON(needs.build.outputs)"), "{\n  \"version\": \"1.2.3\"\n}");
  EXPECT_EQ(eval("toJSON('x')"), "\"x\"");
  EXPECT_EQ(eval("fromJSON('{\"a\": [1, 2]}').a[1]"), 2);
  EXPECT_EQ(eval("fromJSON('true')"), true);
  EXPECT_EQ(eval("ToJson(fromjson('[]'))"), "[]");  // function names ignore case
}

TEST(WorkflowExprTest, StatusFunctions) {
  StatusFunctions failed{.success = false, .failure = true, .cancelled = false};
  EXPECT_EQ(eval("success()"), true);
  EXPECT_EQ(eval("failure()"), false);
  EXPECT_EQ(eval("always()"), true);
  EXPECT_EQ(eval("cancelled()"), false);
  EXPECT_EQ(eval("success()", failed), false);
  EXPECT_EQ(eval("failure()", failed), true);
  EXPECT_EQ(eval("cancelled()", {.success = false, .failure = false, .cancelled = true}), true);
}

TEST(WorkflowExprTest, ErrorsNameThePosition) {
  EXPECT_EQ(eval_error("github.sha =="),
            "expression 'github.sha ==': position 14: expected a value");
  EXPECT_EQ(eval_error("'open"), "expression ''open': position 1: the string is not closed");
  EXPECT_EQ(eval_error("a.b"),
            "expression 'a.b': position 1: unknown context 'a'; contexts: github, env, secrets, "
            "inputs, matrix, strategy, needs, steps, job, runner (strings need quotes: 'text')");
  EXPECT_EQ(eval_error("hashFiles('**/package-lock.json')"),
            "expression 'hashFiles('**/package-lock.json')': position 1: function 'hashFiles' is "
            "not supported; supported: success, failure, always, cancelled, contains, "
            "startsWith, endsWith, format, join, toJSON, fromJSON");
  EXPECT_EQ(eval_error("contains('a')"),
            "expression 'contains('a')': position 1: contains() takes 2 argument(s), not 1");
  EXPECT_EQ(eval_error("github.event.commits.*.message"),
            "expression 'github.event.commits.*.message': position 22: object filters (.*) are "
            "not supported");
  EXPECT_EQ(eval_error("(true"), "expression '(true': position 1: '(' is not closed by ')'");
  EXPECT_EQ(eval_error("true false"), "expression 'true false': position 6: unexpected 'false'");
  EXPECT_EQ(eval_error("1 = 1"), "expression '1 = 1': position 3: unexpected character '='");
  EXPECT_EQ(eval_error("12abc"), "expression '12abc': position 1: '12abc' is not a number");
  EXPECT_EQ(eval_error(""), "expression '': position 1: the expression is empty");
  EXPECT_EQ(eval_error("fromJSON('{')"),
            "expression 'fromJSON('{')': position 1: fromJSON(): the argument is not valid JSON");
  EXPECT_EQ(eval_error("format('{x}', 1)"),
            "expression 'format('{x}', 1)': position 1: format(): '{' must start {N} or be "
            "written {{");
  EXPECT_EQ(eval_error("format('{1}', 1)"),
            "expression 'format('{1}', 1)': position 1: format(): {1} has no argument");
  EXPECT_EQ(eval_error("list[0"), "expression 'list[0': position 5: '[' is not closed by ']'");
}

TEST(WorkflowExprTest, Interpolate) {
  EXPECT_EQ(text("plain text"), "plain text");
  EXPECT_EQ(text("node ${{ matrix.node }} on ${{matrix.os}}"), "node 18 on ubuntu");
  EXPECT_EQ(text("${{ matrix.ratio }}/${{ 2.0 }}/${{ true }}/${{ null }}"), "3.5/2/true/");
  EXPECT_EQ(text("[${{ steps.nope.outputs.x }}]"), "[]");  // missing is empty, as on GitHub
  EXPECT_EQ(text("[${{ secrets.MISSING }}]"), "[]");
  EXPECT_EQ(text("${{ format('{{0}}', 1) }}"), "{0}");  // }} inside a string is not the end
  EXPECT_EQ(text("${{ 'a }} b' }}!"), "a }} b!");
  EXPECT_EQ(text("${{ list }} ${{ github.event }}"), "Array Object");
  EXPECT_EQ(text("$GITHUB_SHA ${ not } {{ this }}"), "$GITHUB_SHA ${ not } {{ this }}");

  auto unclosed = interpolate("echo ${{ github.sha", contexts(), {});
  ASSERT_FALSE(unclosed.ok());
  EXPECT_EQ(unclosed.error().message,
            "'${{' at position 6 of 'echo ${{ github.sha' is not closed by '}}'");
  auto bad = interpolate("x ${{ nope }}", contexts(), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("unknown context 'nope'"));
}

TEST(WorkflowExprTest, ConditionsAddImplicitSuccess) {
  StatusFunctions failed{.success = false, .failure = true, .cancelled = false};
  EXPECT_TRUE(condition(""));
  EXPECT_FALSE(condition("", failed));
  EXPECT_TRUE(condition("github.ref == 'refs/heads/main'"));
  EXPECT_TRUE(condition("${{ github.ref == 'refs/heads/main' }}"));
  EXPECT_FALSE(condition("github.ref == 'refs/heads/dev'"));
  // No status function: success() && (...), so a failure before skips it.
  EXPECT_FALSE(condition("github.ref == 'refs/heads/main'", failed));
  EXPECT_TRUE(condition("failure()", failed));
  EXPECT_TRUE(condition("${{ failure() && steps.test.outcome == 'failure' }}", failed));
  EXPECT_TRUE(condition("always()", failed));
  EXPECT_FALSE(condition("success()", failed));
  EXPECT_TRUE(condition("cancelled()", {.success = false, .failure = false, .cancelled = true}));
  EXPECT_TRUE(condition("!cancelled()", failed));
  EXPECT_TRUE(condition("matrix.node"));  // truthy
  EXPECT_FALSE(condition("env.EMPTY"));   // '' is falsy
  EXPECT_FALSE(condition("matrix.experimental"));
  EXPECT_TRUE(condition("inputs.dry-run"));

  auto mixed = evaluate_condition("${{ github.sha }} == 'abc123'", contexts(), {});
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().message,
            "condition '${{ github.sha }} == 'abc123'': write the whole condition inside one ${{ "
            "}}, or without it");
  auto broken = evaluate_condition("success( &&", contexts(), {});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message, HasSubstr("position"));
}

TEST(WorkflowExprTest, CallsStatusFunction) {
  EXPECT_TRUE(calls_status_function("always()"));
  EXPECT_TRUE(calls_status_function("${{ github.ref == 'x' || Failure() }}"));
  EXPECT_TRUE(calls_status_function("!cancelled()"));
  EXPECT_FALSE(calls_status_function("github.event_name == 'push'"));
  EXPECT_FALSE(calls_status_function("'failure()' == 'x'"));  // only text
  EXPECT_FALSE(calls_status_function(""));
  EXPECT_FALSE(calls_status_function("always("));  // unreadable
}

TEST(WorkflowExprTest, ValuesAsTextAndTruth) {
  EXPECT_EQ(expression_string(json(18)), "18");
  EXPECT_EQ(expression_string(json(18.0)), "18");
  EXPECT_EQ(expression_string(json(0.5)), "0.5");
  EXPECT_EQ(expression_string(json(nullptr)), "");
  EXPECT_EQ(expression_string(json(false)), "false");
  EXPECT_FALSE(expression_truthy(json(0)));
  EXPECT_FALSE(expression_truthy(json(-0.0)));
  EXPECT_FALSE(expression_truthy(json(std::nan(""))));
  EXPECT_TRUE(expression_truthy(json::array()));
  EXPECT_TRUE(expression_truthy(json::object()));
  EXPECT_TRUE(expression_truthy(json("false")));  // a non-empty string
}

}  // namespace
}  // namespace corral::workflow
