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
//! `rlvr.parse`, `rlvr.unsupported`, `rlvr.device`, `rlvr.comm`) never changes between releases, so log
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
//! | `comm`        | a collective of a communicator failed or timed out (`rlvr/dist`)        |
//!
//! Catching: `catch (const rlvr::range_error&)` handles one kind; `catch (const rlvr::error& e)`
//! handles all of them and `e.code()` says which; since `rlvr::error` is a `std::runtime_error`,
//! code that only knows the standard library still sees a `what()`. Errors of other origins pass
//! through untranslated (`std::bad_alloc` from an allocation, for example, is never wrapped).
//!
//!     try { train(…); }
//!     catch (const rlvr::numerical_error& e) { log(e.message()); skip_batch(); }
//!     catch (const rlvr::error& e) { if (e.code() == rlvr::errc::io) retry(); else throw; }
//!
//! Contracts are checked where data enters the library (the public entry points), never in
//! inner loops: once a call has been accepted, kernels run without further checks.
//!
//! Messages are the concatenation of the arguments given to `RLVR_EXPECTS` / `rlvr::fail`,
//! each formatted as `std::ostream <<` formats it at precision 17 in the classic locale:
//!
//! | argument                                         | printed as                               |
//! |--------------------------------------------------|------------------------------------------|
//! | `const char*`, `std::string`, `std::string_view` | the text (a null `const char*`: nothing) |
//! | `char`, `signed char`, `unsigned char`           | the character (so `std::uint8_t` too)    |
//! | other object pointers, `nullptr`                 | hex `0x7ffd5e8c` (null: `0`), `nullptr`  |
//! | `bool`                                           | `1` / `0`                                |
//! | integers, unscoped enums                         | decimal (an enum: its underlying type)   |
//! | `float`, `double`, `long double`                 | `%.17g`: `0.10000000000000001`, `inf`    |
//!
//! Any other argument type is a compile error (convert it first: `path.string()`, …). The
//! formatting uses `<charconv>`, not `<sstream>`: this header is included by nearly every other,
//! and `<sstream>` would add about 8 000 preprocessed lines to each translation unit.

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace rlvr {

//! The kind of an `rlvr::error`; the numeric values are stable (a kind is never renumbered or
//! reused, new kinds take the next value), so they may be stored or sent across a process
//! boundary (a binding's exception translation, a log record) and compared later. Each kind has
//! one exception class, `rlvr::<kind>_error`, defined below.
enum class errc : int {
  shape = 1,
  range = 2,
  numerical = 3,
  io = 4,
  config = 5,
  parse = 6,
  unsupported = 7,
  device = 8,
  comm = 9, //!< a collective of a communicator failed or timed out (rlvr/dist)
};

//! The stable id of an error kind, as printed in brackets at the start of `what()`:
//! "rlvr." followed by the enumerator's name. A value outside the enumeration (an `errc` cast
//! from an unknown integer) gives "rlvr.unknown" rather than undefined behaviour.
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
  case errc::comm: return "rlvr.comm";
  }
  return "rlvr.unknown";
}

//! Base of every exception rlvr throws. `code()` gives the kind; `what()` is
//! `"[<id>] <message>"`; `message()` is the text without the id.
//!
//! Both strings are built once, in the constructor (so `what()` is a plain `noexcept` read); the
//! object holds the message twice, which is irrelevant at the rate errors are thrown. Prefer the
//! per-kind classes below to constructing an `error` directly: `catch` clauses can then select
//! the kind by type. `id()` equals `errc_id(code())`.
class error : public std::runtime_error {
public:
  error(errc code, const std::string& message)
      : std::runtime_error(format(code, message)), code_(code), message_(message) {}
  [[nodiscard]] errc code() const noexcept { return code_; }
  [[nodiscard]] std::string_view id() const noexcept { return errc_id(code_); }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
  // "[" + id + "] " + message, built with one allocation (reserve) rather than operator+ chains.
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

//! One class per kind, so callers can catch exactly what they handle: `rlvr::shape_error`,
//! `range_error`, `numerical_error`, `io_error`, `config_error`, `parse_error`,
//! `unsupported_error`, `device_error` and `comm_error`, each deriving directly from
//! `rlvr::error`, with `static constexpr errc kind` (usable in generic code:
//! `E::kind == errc::io`) and an explicit constructor from the message text (the id is added).
//! The macro is `#undef`'d right after use, so it does not leak into user code.
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
RLVR_DEFINE_ERROR_KIND(comm);
#undef RLVR_DEFINE_ERROR_KIND

namespace detail {
//! False for every T: the `static_assert` of an unsupported argument fires only when instantiated.
template <class> inline constexpr bool unsupported_message_argument = false;
//! The character types `<<` prints as characters, and whose pointers it prints as C strings.
template <class C>
inline constexpr bool message_char = std::is_same_v<std::remove_cv_t<C>, char> ||
                                     std::is_same_v<std::remove_cv_t<C>, signed char> ||
                                     std::is_same_v<std::remove_cv_t<C>, unsigned char>;

//! Appends one message argument to `out` as the table at the top of this file says. The branches
//! follow the overloads `std::ostream::operator<<` would pick: arrays decay; `bool` and the
//! character types before the integers; character pointers before other pointers; an enum
//! through its underlying type (so an `unsigned char`-based enum prints a character).
template <class T> void append_message_arg(std::string& out, const T& v) {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_array_v<U>) { // decays, as for <<: a char array is a C string
    append_message_arg(out, static_cast<const std::remove_extent_t<T>*>(v));
  } else if constexpr (std::is_same_v<U, bool>) {
    out.push_back(v ? '1' : '0');
  } else if constexpr (message_char<U>) {
    out.push_back(static_cast<char>(v));
  } else if constexpr (std::is_pointer_v<U> && message_char<std::remove_pointer_t<U>>) {
    if (v != nullptr) out.append(reinterpret_cast<const char*>(v));
  } else if constexpr (std::is_pointer_v<U> && !std::is_function_v<std::remove_pointer_t<U>>) {
    if (v == nullptr) {
      out.push_back('0');
    } else { // as std::ostream prints a `const void*`: hexadecimal with 0x
      const auto bits = reinterpret_cast<std::uintptr_t>(static_cast<const volatile void*>(v));
      char buf[2 * sizeof bits];
      const auto r = std::to_chars(buf, buf + sizeof buf, bits, 16);
      out.append("0x").append(buf, r.ptr);
    }
  } else if constexpr (std::is_null_pointer_v<U>) {
    out.append("nullptr");
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(v));
  } else if constexpr (std::is_enum_v<U> && std::is_convertible_v<U, long long>) {
    append_message_arg(out, static_cast<std::underlying_type_t<U>>(v)); // as its underlying type
  } else if constexpr (std::is_integral_v<U>) {
    char buf[48];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  } else if constexpr (std::is_floating_point_v<U>) {
    char buf[64]; // %.17g of any double or long double fits ("-1.2345678901234567e-4951")
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
    out.append(buf, r.ptr);
  } else {
    static_assert(unsupported_message_argument<T>,
                  "rlvr error messages take strings, characters, bool, integers, enums, "
                  "floating-point values and pointers; convert anything else first (x.string())");
  }
}

//! The concatenation of `args` formatted by `append_message_arg` (also used by the CUDA
//! backend's runtime-error messages).
template <class... Args> std::string concat(const Args&... args) {
  std::string out;
  (append_message_arg(out, args), ...);
  return out;
}
} // namespace detail

//! Throws `E` (one of the kinds above) with the concatenation of `args` as message (formatted
//! like `std::ostream` at precision 17: `detail::append_message_arg`):
//! `rlvr::fail<rlvr::range_error>("pass_at_k: k = ", k, " exceeds n = ", n);`
//! Use it where a condition is not a single boolean test (a `switch` default, a parse failure
//! deep in a loop); `[[noreturn]]` lets the compiler know the code after it is unreachable.
template <class E, class... Args> [[noreturn]] void fail(Args&&... args) {
  throw E(detail::concat(std::forward<Args>(args)...));
}

} // namespace rlvr

//! Contract check at a public boundary: if `cond` is false, throws `rlvr::<kind>_error` whose
//! message is the concatenation of the remaining arguments (as for `rlvr::fail`). Always on
//! (not tied to NDEBUG): these checks guard user input, and they sit outside hot loops.
//! `kind` is the bare kind name (`shape`, `range`, …, not `shape_error`); the message arguments
//! are evaluated only when the check fails, so building them costs nothing on the success path.
//! The `do { … } while (false)` wrapper makes the macro a single statement (safe after an
//! unbraced `if`), and `[[unlikely]]` keeps the throw path out of the hot code layout.
//!
//!     RLVR_EXPECTS(k <= n, range, "pass_at_k: k = ", k, " exceeds n = ", n);
#define RLVR_EXPECTS(cond, kind, ...)                                                              \
  do {                                                                                             \
    if (!(cond)) [[unlikely]]                                                                      \
      ::rlvr::fail<::rlvr::kind##_error>(__VA_ARGS__);                                             \
  } while (false)
