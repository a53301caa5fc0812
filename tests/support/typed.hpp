#pragma once
// Helpers for typed tests over lists of backends × scalar types (Catch2 TEMPLATE_LIST_TEST_CASE).
//
//   using cases = rlvr::test::product_t<std::tuple<serial_backend, eigen_backend>,
//                                       std::tuple<float, double>>;
//   TEMPLATE_LIST_TEST_CASE("agrees with the oracle", "[objectives]", cases) {
//     using backend = typename TestType::backend;
//     using scalar  = typename TestType::scalar;
//   }
#include <cmath>
#include <limits>
#include <tuple>

namespace rlvr::test {

template <class Backend, class Scalar> struct case_of {
  using backend = Backend;
  using scalar = Scalar;
};

namespace detail {
template <class B, class Ss> struct row;
template <class B, class... S> struct row<B, std::tuple<S...>> {
  using type = std::tuple<case_of<B, S>...>;
};
template <class... Ts> struct cat;
template <> struct cat<> { using type = std::tuple<>; };
template <class... A> struct cat<std::tuple<A...>> { using type = std::tuple<A...>; };
template <class... A, class... B, class... R> struct cat<std::tuple<A...>, std::tuple<B...>, R...> {
  using type = typename cat<std::tuple<A..., B...>, R...>::type;
};
template <class Bs, class Ss> struct product;
template <class... B, class Ss> struct product<std::tuple<B...>, Ss> {
  using type = typename cat<typename row<B, Ss>::type...>::type;
};
} // namespace detail

//! All (backend, scalar) pairs of two std::tuple lists, as a std::tuple of `case_of`.
template <class Backends, class Scalars>
using product_t = typename detail::product<Backends, Scalars>::type;

//! Relative tolerance suited to a scalar type for results of O(V) reductions.
template <class T> constexpr T loose_tol() { return std::is_same_v<T, float> ? T(2e-5) : T(1e-12); }

//! |a − b| ≤ atol + rtol·|b|
template <class T> bool close(T a, T b, T rtol, T atol = T(0)) {
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

} // namespace rlvr::test
