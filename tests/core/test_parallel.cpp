#include <catch2/catch.hpp>
#include <rlvr/error.hpp>
#include <rlvr/parallel.hpp>

#include <atomic>
#include <vector>

// test_core runs these on the default pool (<pthread.h> on POSIX); test_parallel_std on the
// portable fallback, selected by RLVR_THREAD_POOL_STD.
#ifdef RLVR_THREAD_POOL_STD
static_assert(RLVR_DETAIL_POOL_PTHREAD == 0, "RLVR_THREAD_POOL_STD must select the std::thread pool");
#elif defined(__unix__)
static_assert(RLVR_DETAIL_POOL_PTHREAD == 1, "POSIX builds use the <pthread.h> pool by default");
#endif

TEST_CASE("parallel_for covers the range exactly once", "[core][parallel]") {
  for (int threads : {1, 2, 3, 8}) {
    for (rlvr::index_t n : {0, 1, 2, 7, 1000}) {
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      rlvr::parallel_for(n, threads, [&](rlvr::index_t b, rlvr::index_t e) {
        for (auto i = b; i < e; ++i) hits[static_cast<std::size_t>(i)] += 1;
      });
      for (int h : hits) REQUIRE(h == 1);
    }
  }
}

TEST_CASE("parallel_for chunks are static and respect min_chunk", "[core][parallel]") {
  std::atomic<int> chunks{0};
  rlvr::parallel_for(10, 4, [&](rlvr::index_t b, rlvr::index_t e) {
    CHECK(e - b >= 5);
    ++chunks;
  }, 5);
  CHECK(chunks.load() == 2);
}

TEST_CASE("parallel_for rethrows the body's exception after all chunks finish", "[core][parallel]") {
  std::atomic<int> done{0};
  CHECK_THROWS_AS(rlvr::parallel_for(100, 4, [&](rlvr::index_t b, rlvr::index_t) {
    ++done;
    if (b == 0) rlvr::fail<rlvr::range_error>("boom");
  }), rlvr::range_error);
  CHECK(done.load() == 4);
  // the pool is still usable afterwards
  std::atomic<long> sum{0};
  rlvr::parallel_for(100, 4, [&](rlvr::index_t b, rlvr::index_t e) {
    for (auto i = b; i < e; ++i) sum += i;
  });
  CHECK(sum.load() == 4950);
}

TEST_CASE("nested parallel_for runs inline", "[core][parallel]") {
  std::atomic<int> total{0};
  rlvr::parallel_for(4, 4, [&](rlvr::index_t b, rlvr::index_t e) {
    for (auto i = b; i < e; ++i)
      rlvr::parallel_for(10, 4, [&](rlvr::index_t b2, rlvr::index_t e2) { total += static_cast<int>(e2 - b2); });
  });
  CHECK(total.load() == 40);
}
