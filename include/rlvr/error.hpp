#pragma once
//! \file rlvr/error.hpp
//! \brief rlvr's one exception hierarchy and the contract macro used at public boundaries.
//!
//! Every error rlvr raises derives from `rlvr::error` (itself a `std::runtime_error`), carries an
//! `rlvr::errc` kind, and its `what()` starts with a stable id in brackets, for example
//!
//!     [rlvr.range] pass_at_k: k = 5 exceeds n = 4
//!
//! The id (`rlvr.shape`, `rlvr.range`, `rlvr.numerical`, `rlvr.io`, `rlvr.config`,
//! `rlvr.parse`, `rlvr.unsupported`, `rlvr.device`) never changes between releases, so log
//! scrapers and tests may match on it; the text after it names the offending value or index
//! and may be improved.
//!
//! | kind          | raised for                                                              |
//! |---------------|-------------------------------------------------------------------------|
//! | `shape`       | extents or lengths that disagree (N×V logits with N−1 targets, …)       |
//! | `range`       | a value outside its domain (token id ≥ V, k > n, top-p ∉ (0, 1], …)     |
//! | `numerical`   | NaN/Inf where a finite number is required, a row that is entirely −inf  |
//! | `io`          | files: missing, truncated, corrupt (a malformed header too), failed rename |
//! | `config`      | inconsistent runtime configuration (ε < 0, clip c ≤ 1, …)               |
//! | `parse`       | malformed text input given as a value (a reference answer, a flag)      |
//! | `unsupported` | a valid request this build cannot serve (no CUDA device, …)             |
//! | `device`      | an accelerator runtime error, with the runtime's own message            |
//!
//! Contracts are checked where data enters the library (the public entry points), never in
//! inner loops: once a call has been accepted, kernels run without further checks.

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace rlvr {

//! The kind of an `rlvr::error`; the numeric values are stable.
enum class errc : int {
  shape = 1,
  range = 2,
  numerical = 3,
  io = 4,
  config = 5,
  parse = 6,
  unsupported = 7,
  device = 8,
};

//! The stable id of an error kind, as printed in brackets at the start of `what()`.
constexpr std::string_view errc_id(errc e) noexcept {
  switch (e) {
  case errc::shape: return "rlvr.shape";
  case errc::range: return "rlvr.range";
  case errc::numerical: return "rlvr.numerical";
  case errc::io: return "rlvr.io";
  case errc::config: return "rlvr.config";
  case errc::parse: return "rlvr.parse";
  case errc::unsupported: return "rlvr.unsupported";
  case errc::device: return "rlvr.device";
  }
  return "rlvr.unknown";
}

//! Base of every exception rlvr throws. `code()` gives the kind; `what()` is
//! `"[<id>] <message>"`; `message()` is the text without the id.
class error : public std::runtime_error {
public:
  error(errc code, const std::string& message)
      : std::runtime_error(format(code, message)), code_(code), message_(message) {}
  [[nodiscard]] errc code() const noexcept { return code_; }
  [[nodiscard]] std::string_view id() const noexcept { return errc_id(code_); }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
  static std::string format(errc code, const std::string& message) {
    const std::string_view id = errc_id(code);
    std::string s;
    s.reserve(id.size() + message.size() + 3);
    s.append(1, '[').append(id).append("] ").append(message);
    return s;
  }
  errc code_;
  std::string message_;
};

//! One class per kind, so callers can catch exactly what they handle.
#define RLVR_DEFINE_ERROR_KIND(name)                                                               \
  class name##_error : public error {                                                              \
  public:                                                                                          \
    static constexpr errc kind = errc::name;                                                       \
    explicit name##_error(const std::string& message) : error(errc::name, message) {}              \
  }
RLVR_DEFINE_ERROR_KIND(shape);
RLVR_DEFINE_ERROR_KIND(range);
RLVR_DEFINE_ERROR_KIND(numerical);
RLVR_DEFINE_ERROR_KIND(io);
RLVR_DEFINE_ERROR_KIND(config);
RLVR_DEFINE_ERROR_KIND(parse);
RLVR_DEFINE_ERROR_KIND(unsupported);
RLVR_DEFINE_ERROR_KIND(device);
#undef RLVR_DEFINE_ERROR_KIND

namespace detail {
template <class... Args> std::string concat(Args&&... args) {
  std::ostringstream os;
  os.precision(17);
  (os << ... << std::forward<Args>(args));
  return os.str();
}
} // namespace detail

//! Throws `E` (one of the kinds above) with the streamed concatenation of `args` as message:
//! `rlvr::fail<rlvr::range_error>("pass_at_k: k = ", k, " exceeds n = ", n);`
template <class E, class... Args> [[noreturn]] void fail(Args&&... args) {
  throw E(detail::concat(std::forward<Args>(args)...));
}

} // namespace rlvr

//! Contract check at a public boundary: if `cond` is false, throws `rlvr::<kind>_error` whose
//! message is the streamed concatenation of the remaining arguments. Always on (not tied to
//! NDEBUG): these checks guard user input, and they sit outside hot loops.
//!
//!     RLVR_EXPECTS(k <= n, range, "pass_at_k: k = ", k, " exceeds n = ", n);
#define RLVR_EXPECTS(cond, kind, ...)                                                              \
  do {                                                                                             \
    if (!(cond)) [[unlikely]]                                                                      \
      ::rlvr::fail<::rlvr::kind##_error>(__VA_ARGS__);                                             \
  } while (false)
