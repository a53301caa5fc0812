// Compile-fail: sampling on something that does not model rlvr::SamplingBackend names the concept
// (a host backend without a sample_rows member is not enough: sample() draws through the backend).
#include <rlvr/sampling/sampler.hpp>
struct not_a_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
};
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
  float z[2] = {0.f, 1.f};
  rlvr::matrix_view<const float> logits(z, 1, 2);
#ifdef RLVR_COMPILE_FAIL_CONTROL
  auto d = rlvr::sample(a_backend{}, logits, {}, {});
#else
  auto d = rlvr::sample(not_a_backend{}, logits, {}, {});
#endif
  return static_cast<int>(d.size());
}
