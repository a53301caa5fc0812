// The transformer's decode step performs no heap allocation: every global operator new and every
// malloc (Eigen's packing buffers use malloc, via -Wl,--wrap=malloc) is counted while 30 decode
// steps run at the flagship study's sizes.
#include <rlvr/policy/transformer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

namespace {
std::atomic<long> g_allocs{0};
std::atomic<bool> g_counting{false};
} // namespace

extern "C" void* __real_malloc(std::size_t);
extern "C" void* __wrap_malloc(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_allocs;
  return __real_malloc(n);
}
// The replacements pair malloc with free on purpose; GCC cannot see that both sides are replaced.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("transformer: decode steps do not allocate", "[policies][transformer][decode]") {
  for (rlvr::index_t d : {64, 128}) {
    // threads = 1 only: rlvr::parallel_for's pool wraps each parallel region in a std::function
    // whose closure exceeds the small-buffer size, one heap allocation per region (parallel.hpp)
    for (int threads : {1}) {
      const rlvr::index_t B = 256, T = 32, V = 32;
      rlvr::transformer_policy m({.vocab_size = V, .context_length = T, .d_model = d, .n_layers = 2, .n_heads = 2,
                                  .value_head = true, .seed = 1, .threads = threads});
      auto cache = m.make_cache(B);
      std::vector<float> logits(static_cast<std::size_t>(B * V)), values(static_cast<std::size_t>(B));
      std::vector<rlvr::token_t> col(static_cast<std::size_t>(B), 3);
      m.decode(cache, {col.data(), B}, {logits.data(), B, V}); // warm-up (thread pool start-up)
      const std::vector<rlvr::index_t> keep{0, 5, 9};
      g_allocs = 0;
      g_counting = true;
      for (rlvr::index_t t = 1; t < T - 1; ++t) m.decode(cache, {col.data(), B}, {logits.data(), B, V}, {values.data(), B});
      cache.retain(keep);
      m.decode(cache, {col.data(), 3}, {logits.data(), 3, V});
      g_counting = false;
      INFO("d = " << d << ", threads = " << threads);
      CHECK(g_allocs.load() == 0);
    }
  }
}
