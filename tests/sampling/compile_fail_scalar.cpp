// Compile-fail: integer logits are rejected by the SamplingScalar constraint.
#include <rlvr/sampling/sampler.hpp>
struct a_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
  template <class T>
  void sample_rows(rlvr::matrix_view<const T> z, const rlvr::sampling_params& p, const rlvr::stream_batch& s,
                   rlvr::vector_view<rlvr::token_draw<T>> out, rlvr::vector_view<std::uint8_t> status) const {
    rlvr::detail::sample_rows_host(z, p, s, out, status, threads);
  }
};
int main() {
#ifdef RLVR_COMPILE_FAIL_CONTROL
  double z[2] = {0, 1};
#else
  int z[2] = {0, 1};
#endif
  auto d = rlvr::sample(a_backend{}, rlvr::matrix_view<const decltype(+z[0])>(z, 1, 2), {}, {});
  return static_cast<int>(d.size());
}
