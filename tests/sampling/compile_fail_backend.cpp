// Compile-fail: sampling on something that is not a host backend names the HostBackend concept.
#include <rlvr/sampling/sampler.hpp>
struct not_a_backend {
  int threads = 1;
};
struct a_backend {
  static constexpr bool host_backend = true;
  int threads = 1;
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
