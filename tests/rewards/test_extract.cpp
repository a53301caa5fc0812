// Extractors: last_boxed, count_box_commands, last_number, after_last_marker, is_valid_utf8,
// including multi-megabyte, deeply nested and adversarial inputs.
#include <rlvr/rewards/extract.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace {
constexpr std::optional<std::string_view> none = std::nullopt;
}

TEST_CASE("last_boxed: the argument of the last \\boxed / \\fbox", "[rewards][extract]") {
  const std::pair<std::string_view, std::optional<std::string_view>> cases[] = {
      {"so x = \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"},
      {"\\boxed{3} ... no, \\boxed{4}", "4"},
      {"\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"},
      {"\\fbox{7}", "7"},
      {"\\boxed{1} then \\fbox{2}", "2"},
      {"\\fbox{1} then \\boxed{2}", "2"},
      {"$\\boxed 5$", "5"},
      {"\\boxed 5", "5"},
      {"\\boxed   {  6 }", "  6 "},
      {"\\boxed{x + {y}", none},
      {"\\boxed{1} and \\boxed{2", none},          // last one broken: no answer (MATH's choice)
      {"\\boxedtext{1}", none},
      {"\\boxedtext{1} \\boxed{2} \\boxedx{3}", "2"},
      {"\\boxed{\\boxed{9}}", "9"},                // innermost is the last occurrence
      {"\\boxed{a\\}b}", "a\\}b"},                 // escaped brace is not structure
      {"\\boxed{a\\\\}b}", "a\\\\"},               // \\ is a line break, then } closes
      {"\\boxed{}", ""},
      {"\\boxed", none},
      {"\\boxed5", none},
      {"\\boxed{", none},
      {"", none},
      {"no box here", none},
      {"\\box{1}", none},
      {"\\fbox", none},
      {"x\\boxed{\xFF\xFE}", "\xFF\xFE"},        // bytes are bytes; UTF-8 is checked by verifiers
  };
  for (const auto& [text, want] : cases) {
    INFO("text: '" << text << "'");
    const auto got = rlvr::last_boxed(text);
    REQUIRE(got.has_value() == want.has_value());
    if (want) CHECK(*got == *want);
  }
  STATIC_REQUIRE(rlvr::last_boxed("\\boxed{42}").value() == "42"); // constexpr
}

TEST_CASE("count_box_commands counts every box command, nested and unclosed", "[rewards][extract]") {
  CHECK(rlvr::count_box_commands("") == 0);
  CHECK(rlvr::count_box_commands("\\boxed{1}") == 1);
  CHECK(rlvr::count_box_commands("\\boxed{1} \\fbox{2}") == 2);
  CHECK(rlvr::count_box_commands("\\boxed{\\boxed{1}}") == 2);
  CHECK(rlvr::count_box_commands("\\boxed{1") == 1);
  CHECK(rlvr::count_box_commands("\\boxedx{1} \\fboxy") == 0);
  CHECK(rlvr::count_box_commands("\\boxed\\boxed\\fbox") == 3);
}

TEST_CASE("last_number: GSM8K-style final numbers", "[rewards][extract]") {
  const std::pair<std::string_view, std::optional<std::string_view>> cases[] = {
      {"so she has 1,234 apples.", "1,234"},
      {"the answer is -3.5", "-3.5"},
      {"x-3", "3"},
      {"= -3", "-3"},
      {"1,2,3", "3"},
      {"(1,234)", "1,234"},
      {"1,2345", "2345"},
      {"ratio 3/4 now", "3/4"},
      {"about 1.5e-3 moles", "1.5e-3"},
      {"width 2em", "2"},
      {"5.", "5"},
      {"version 1.2.3", "3"},                  // tokens `1.2` and `3`
      {"no digits", none},
      {"", none},
      {"+7 and then 8", "8"},
  };
  for (const auto& [text, want] : cases) {
    INFO("text: '" << text << "'");
    const auto got = rlvr::last_number(text);
    REQUIRE(got.has_value() == want.has_value());
    if (want) CHECK(*got == *want);
  }
}

TEST_CASE("after_last_marker and trim", "[rewards][extract]") {
  CHECK(rlvr::after_last_marker("work\n#### 42\n", "####") == std::optional<std::string_view>("42"));
  CHECK(rlvr::after_last_marker("#### 1\n#### 2 \nrest", "####") == std::optional<std::string_view>("2"));
  CHECK(rlvr::after_last_marker("####   \n", "####") == none);
  CHECK(rlvr::after_last_marker("no marker", "####") == none);
  CHECK(rlvr::after_last_marker("anything", "") == none);
  CHECK(rlvr::trim(" \t a b \n") == "a b");
  CHECK(rlvr::trim("   ").empty());
}

TEST_CASE("is_valid_utf8 follows RFC 3629", "[rewards][extract]") {
  CHECK(rlvr::is_valid_utf8(""));
  CHECK(rlvr::is_valid_utf8("plain ascii"));
  CHECK(rlvr::is_valid_utf8("\xC2\xB0 \xE2\x88\x92 \xF0\x9F\x98\x80")); // ° − 😀
  CHECK_FALSE(rlvr::is_valid_utf8("\xFF"));
  CHECK_FALSE(rlvr::is_valid_utf8("\xC0\xAF"));         // overlong '/'
  CHECK_FALSE(rlvr::is_valid_utf8("\xE0\x80\xAF"));     // overlong
  CHECK_FALSE(rlvr::is_valid_utf8("\xED\xA0\x80"));     // surrogate U+D800
  CHECK_FALSE(rlvr::is_valid_utf8("\xF4\x90\x80\x80")); // > U+10FFFF
  CHECK_FALSE(rlvr::is_valid_utf8("\xE2\x88"));         // truncated
  CHECK_FALSE(rlvr::is_valid_utf8("\x80"));             // lone continuation
  CHECK_FALSE(rlvr::is_valid_utf8("a\xC2"));            // truncated at end
  CHECK(rlvr::is_valid_utf8(std::string_view("\0", 1))); // NUL is valid UTF-8
}

TEST_CASE("extractors: multi-megabyte and deeply nested inputs", "[rewards][extract][linear]") {
  // 8 MiB of reasoning with the answer at the very end.
  std::string big(8u << 20, 'a');
  big += "\\boxed{17}";
  CHECK(rlvr::last_boxed(big) == std::optional<std::string_view>("17"));
  CHECK(rlvr::count_box_commands(big) == 1);
  CHECK(rlvr::last_number(big) == std::optional<std::string_view>("17"));

  // A million nested braces, closed: the scan is a counter, not a recursion.
  const std::size_t depth = 1u << 20;
  std::string deep = "\\boxed" + std::string(depth, '{') + "1" + std::string(depth, '}');
  const auto inner = rlvr::last_boxed(deep);
  REQUIRE(inner.has_value());
  CHECK(inner->size() == 2 * (depth - 1) + 1);
  // …and unclosed.
  deep.pop_back();
  CHECK_FALSE(rlvr::last_boxed(deep).has_value());

  // Adversarial for a naive right-to-left search: a million `\boxedx` and no `\fbox`.
  std::string fake;
  for (int i = 0; i < (1 << 20); ++i) fake += "\\boxedx";
  CHECK_FALSE(rlvr::last_boxed(fake).has_value());
  CHECK(rlvr::count_box_commands(fake) == 0);

  // A million real boxes: counting is linear.
  std::string many;
  for (int i = 0; i < (1 << 20); ++i) many += "\\boxed{1}";
  CHECK(rlvr::count_box_commands(many) == (1u << 20));

  // A million unclosed boxes: the last one is unclosed → none, in one scan.
  std::string unclosed;
  for (int i = 0; i < (1 << 18); ++i) unclosed += "\\boxed{";
  CHECK_FALSE(rlvr::last_boxed(unclosed).has_value());

  // Digits everywhere.
  std::string digits(4u << 20, '9');
  CHECK(rlvr::last_number(digits)->size() == digits.size());
  std::string commas;
  for (int i = 0; i < (1 << 18); ++i) commas += "1,00";
  CHECK(rlvr::last_number(commas).has_value());
}
