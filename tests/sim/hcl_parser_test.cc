// Tests for controller/sim/hcl/parser.cc and eval.cc: every syntax element the simulator's HCL2
// parser accepts, the errors (with line and column, in hcl's "input.hcl:L,C-C" form) for what it
// refuses, and the size and nesting bounds.
#include <gtest/gtest.h>

#include <string>

#include "controller/sim/hcl/eval.h"
#include "controller/sim/hcl/syntax.h"

namespace nsg::sim::hcl {
namespace {

// The first diagnostic of parsing `src`, as Error() formats it ("" when it parses).
std::string ParseError(std::string_view src) {
  ParseResult r = Parse(src);
  return r.diags.empty() ? "" : r.diags[0].Error("input.hcl");
}

class EvalTest : public ::testing::Test {
 protected:
  // The value of attribute `v` in `src`; the error text instead when there is one.
  Value ValueOf(const std::string& src) {
    source_ = src;
    ParseResult r = Parse(source_);
    if (!r.diags.empty()) return Value("parse: " + r.diags[0].Error("input.hcl"));
    const Attribute* a = r.body->FindAttribute("v");
    if (a == nullptr) return Value("no attribute v");
    size_t budget = kMaxEvalBytes;
    EvalContext ctx{&vars_, &locals_, source_, &budget};
    Diagnostics d;
    std::optional<Value> v = Evaluate(*a->expr, ctx, d);
    if (!v) return Value("eval: " + d[0].Error("input.hcl"));
    return *v;
  }
  Value vars_ = Value{{"name", "web"}, {"n", 3}, {"list", {"a", "b"}}, {"obj", {{"k", "v"}}}};
  Value locals_ = Value{{"greeting", "hi"}};
  std::string source_;
};

TEST_F(EvalTest, Literals) {
  EXPECT_EQ(ValueOf("v = 42"), 42);
  EXPECT_EQ(ValueOf("v = -7"), -7);
  EXPECT_EQ(ValueOf("v = 1.5"), 1.5);
  EXPECT_EQ(ValueOf("v = 1e3"), 1000.0);
  EXPECT_EQ(ValueOf("v = true"), true);
  EXPECT_EQ(ValueOf("v = false"), false);
  EXPECT_TRUE(ValueOf("v = null").is_null());
}

TEST_F(EvalTest, QuotedStringsAndEscapes) {
  EXPECT_EQ(ValueOf(R"(v = "a\nb\t\"c\"\\")"), "a\nb\t\"c\"\\");
  EXPECT_EQ(ValueOf(R"(v = "\u00e9\U0001F600")"), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(ValueOf(R"(v = "$${literal} %%{x}")"), "${literal} %{x}");
}

TEST_F(EvalTest, TemplatesInterpolateVariablesAndLocals) {
  EXPECT_EQ(ValueOf(R"(v = "${var.name}-${var.n}")"), "web-3");
  EXPECT_EQ(ValueOf(R"(v = "${local.greeting}")"), "hi");
  // A lone interpolation keeps the value's type (TemplateWrapExpr).
  EXPECT_EQ(ValueOf(R"(v = "${var.n}")"), 3);
  EXPECT_EQ(ValueOf("v = var.list[1]"), "b");
  EXPECT_EQ(ValueOf("v = var.list.0"), "a");
  EXPECT_EQ(ValueOf(R"(v = var.obj["k"])"), "v");
}

TEST_F(EvalTest, ReferencesToNomadRuntimeValuesPassThrough) {
  // jobspec2's UndefinedVariable hook: the reference's own text, inside "${...}".
  EXPECT_EQ(ValueOf(R"(v = "${attr.kernel.name}")"), "${attr.kernel.name}");
  EXPECT_EQ(ValueOf(R"(v = "dir=${NOMAD_ALLOC_DIR}/x")"), "dir=${NOMAD_ALLOC_DIR}/x");
  EXPECT_EQ(ValueOf("v = node.unique.name"), "${node.unique.name}");
}

TEST_F(EvalTest, Heredocs) {
  EXPECT_EQ(ValueOf("v = <<EOF\nline ${var.name}\n  two\nEOF\n"), "line web\n  two\n");
  EXPECT_EQ(ValueOf("v = <<-EOT\n    a\n      b\n    EOT\n"), "a\n  b\n");
}

TEST_F(EvalTest, TuplesAndObjects) {
  EXPECT_EQ(ValueOf("v = [1, \"two\",\n  true,\n]"), Value({1, "two", true}));
  Value obj = ValueOf("v = {\n  b = 1\n  \"a\" : 2, c = [3]\n}");
  EXPECT_EQ(obj.dump(), R"({"a":2,"b":1,"c":[3]})");
  EXPECT_EQ(ValueOf("v = {}"), Value::object());
  EXPECT_EQ(ValueOf("v = []"), Value::array());
}

TEST_F(EvalTest, Comments) {
  EXPECT_EQ(ValueOf("# hash\n// slashes\n/* multi\nline */ v = 1 # trailing\n"), 1);
}

TEST_F(EvalTest, EvaluationErrorsNameTheirPosition) {
  EXPECT_EQ(ValueOf("v = var.nope"),
            "eval: input.hcl:1,8-13: Unsupported attribute; This object does not have an "
            "attribute named \"nope\".");
  EXPECT_EQ(ValueOf("v = file(\"/etc/passwd\")"),
            "eval: input.hcl:1,5-10: Error in function call; Call to function \"file\" failed: "
            "filesystem function disabled.");
  EXPECT_EQ(ValueOf("v = upper(\"x\")").get<std::string>().rfind("eval: input.hcl:1,5-11: "
                                                               "Unsupported function;", 0),
            0u);
  EXPECT_EQ(ValueOf("v = nosuch(1)"),
            "eval: input.hcl:1,5-11: Call to unknown function; There is no function named "
            "\"nosuch\".");
  EXPECT_EQ(ValueOf("v = \"a${null}\""),
            "eval: input.hcl:1,9-13: Invalid template interpolation value; The expression result "
            "is null. Cannot include a null value in a string template.");
}

TEST(HclParseTest, BlocksLabelsAndOneLineBlocks) {
  ParseResult r = Parse("job \"a\" {\n  group g {\n    x = 1\n  }\n  meta { k = \"v\" }\n  empty {}\n}\n");
  ASSERT_TRUE(r.diags.empty()) << r.diags[0].Error("input.hcl");
  ASSERT_EQ(r.body->blocks.size(), 1u);
  const Block& job = r.body->blocks[0];
  EXPECT_EQ(job.type, "job");
  EXPECT_EQ(job.labels, std::vector<std::string>{"a"});
  ASSERT_EQ(job.body->blocks.size(), 3u);
  EXPECT_EQ(job.body->blocks[0].labels, std::vector<std::string>{"g"});
  EXPECT_EQ(job.body->blocks[1].body->attributes.size(), 1u);
  EXPECT_TRUE(job.body->blocks[2].body->attributes.empty());
  EXPECT_EQ(FormatRange(job.body->blocks[0].type_range, "input.hcl"), "input.hcl:2,3-8");
}

TEST(HclParseTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(ParseError("a = 1\na = 2\n"),
            "input.hcl:2,1-2: Attribute redefined; The argument \"a\" was already set at "
            "input.hcl:1,1-2. Each argument may be set only once.");
  EXPECT_EQ(ParseError("x = \"open\n"),
            "input.hcl:1,5-10: Unterminated template string; No closing marker was found for "
            "the string.");
  EXPECT_EQ(ParseError("job \"x\" {\n"),
            "input.hcl:2,1-1: Unclosed configuration block; There is no closing brace for this "
            "block before the end of the file.");
  EXPECT_EQ(ParseError("x = 1 + 2\n").rfind("input.hcl:1,7-8: Unsupported expression;", 0), 0u);
  EXPECT_EQ(ParseError("x = \"%{ if true }a%{ endif }\"\n")
                .rfind("input.hcl:1,6-7: Unsupported template directive;", 0),
            0u);
  EXPECT_EQ(ParseError("x = \"\\q\"\n"),
            "input.hcl:1,6-8: Invalid escape sequence; The symbol \"q\" is not a valid escape "
            "sequence selector.");
  EXPECT_EQ(ParseError("x = 1 y = 2\n").rfind("input.hcl:1,7-8: Missing newline after argument",
                                              0),
            0u);
  EXPECT_EQ(ParseError("b { x = 1\n y = 2 }\n")
                .rfind("input.hcl:1,10-11: Invalid single-argument block definition;", 0),
            0u);
  EXPECT_EQ(ParseError("x = <<EOF\nno end\n")
                .rfind("input.hcl:1,5-10: Unterminated template string;", 0),
            0u);
  EXPECT_EQ(ParseError("/* open"),
            "input.hcl:1,1-3: Unterminated comment; There is no closing marker for this "
            "multi-line comment.");
}

TEST(HclParseTest, ColumnsCountCodePoints) {
  EXPECT_EQ(ParseError("x = \"é\" y\n").rfind("input.hcl:1,9-10:", 0), 0u);
}

TEST(HclParseTest, NestingIsBounded) {
  std::string deep = "x = ";
  for (int i = 0; i < 10000; ++i) deep += "[";
  EXPECT_NE(ParseError(deep).find("Nesting too deep"), std::string::npos) << ParseError(deep);
  std::string blocks;
  for (int i = 0; i < 200; ++i) blocks += "b {\n";
  EXPECT_NE(ParseError(blocks).find("Nesting too deep; Blocks, expressions and interpolations "
                                    "may nest at most 64 levels deep."),
            std::string::npos);
  std::string ok = "x = ";
  for (int i = 0; i < 30; ++i) ok += "[";
  for (int i = 0; i < 30; ++i) ok += "]";
  EXPECT_EQ(ParseError(ok + "\n"), "");
}

TEST(HclParseTest, SizeIsBounded) {
  std::string big = "x = \"" + std::string(kMaxSourceBytes, 'a') + "\"\n";
  EXPECT_EQ(ParseError(big),
            "<nil>: Configuration too large; The configuration is " +
                std::to_string(big.size()) + " bytes; at most 1048576 are accepted.");
}

TEST_F(EvalTest, EvaluationIsBounded) {
  // 1 MiB of value referenced a hundred times would be 100 MiB of output.
  vars_["big"] = std::string(1 << 20, 'x');
  std::string src = "v = [";
  for (int i = 0; i < 100; ++i) src += "var.big, ";
  src += "]";
  EXPECT_NE(ValueOf(src).get<std::string>().find("Configuration too large"), std::string::npos);
}

}  // namespace
}  // namespace nsg::sim::hcl
