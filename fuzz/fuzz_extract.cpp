// libFuzzer target: the answer extractors of rlvr/rewards/extract.hpp and verifiers.hpp.
// Invariants checked on every input (a violation aborts, which libFuzzer reports as a crash):
//  - every extracted answer is a sub-view of the input (no copies, no out-of-range views);
//  - no box command ⇒ no boxed answer; a boxed answer ⇒ at least one box command;
//  - the boxed-only format reward agrees with count_box_commands / last_boxed;
//  - the verifiers return one of their two configured values and never throw for any response.
#include <rlvr/rewards/extract.hpp>
#include <rlvr/rewards/verifiers.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
void require_inside(std::string_view whole, std::string_view part) {
  require(part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto boxed = rlvr::last_boxed(text);
  const std::size_t boxes = rlvr::count_box_commands(text);
  if (boxed) {
    require_inside(text, *boxed);
    require(boxes >= 1);
  }
  if (boxes == 0) require(!boxed);

  if (const auto num = rlvr::last_number(text)) {
    require_inside(text, *num);
    require(!num->empty());
    (void)rlvr::parse_number(*num);
  }
  // Use the first line of the input as a marker, the rest as the text.
  const std::size_t nl = text.find('\n');
  const std::string_view marker = nl == std::string_view::npos ? std::string_view{} : text.substr(0, nl);
  if (const auto after = rlvr::after_last_marker(text, marker)) require_inside(text, *after);
  for (auto src : {rlvr::answer_source::whole, rlvr::answer_source::last_boxed, rlvr::answer_source::boxed_or_whole,
                   rlvr::answer_source::last_number, rlvr::answer_source::boxed_or_last_number,
                   rlvr::answer_source::after_marker}) {
    if (const auto a = rlvr::extract_answer(text, src, marker)) {
      require_inside(text, *a);
      require(!a->empty());
    }
  }
  (void)rlvr::is_valid_utf8(text);

  const double f = rlvr::boxed_format{}("", text, "");
  require(f == (boxes == 1 && boxed && !rlvr::trim(*boxed).empty() && rlvr::is_valid_utf8(*boxed) ? 1.0 : 0.0));
  const double m = rlvr::math_verifier{}("", text, "\\frac{1}{2}");
  require(m == 0.0 || m == 1.0);
  const double n = rlvr::numeric_match{}("", text, "0.5");
  require(n == 0.0 || n == 1.0);
  const double e = rlvr::exact_match{.ignore_case = true, .ignore_whitespace = true}("", text, "x");
  require(e == 0.0 || e == 1.0);
  return 0;
}
