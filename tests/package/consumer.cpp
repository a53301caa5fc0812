// A downstream program: includes rlvr as an installed (or vendored) package would be used.
#include <rlvr/rlvr.hpp>

#include <cstdio>
#include <vector>

int main() {
  std::vector<float> logits{2.0f, 1.0f, 0.0f, 0.5f, 0.5f, 0.5f};
  auto z = rlvr::make_matrix_view(logits.data(), 2, 3);
  try {
    (void)rlvr::make_matrix_view(logits.data(), 2, 4, 3);
    return 1; // must have thrown
  } catch (const rlvr::shape_error& e) {
    std::printf("consumer ok: %s (rows=%td, version=%d)\n", e.what(), z.rows(), rlvr::version);
  }
  return 0;
}
