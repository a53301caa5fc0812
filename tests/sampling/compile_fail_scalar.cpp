// Compile-fail: integer logits are rejected by the SamplingScalar constraint.
#include <rlvr/sampling/sampler.hpp>
struct a_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
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
