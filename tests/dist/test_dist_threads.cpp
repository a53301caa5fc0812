// The communicator scenarios (every collective, the distributed statistics) on 1–4 thread ranks,
// and the single_process model; tests/dist/mpi_test.cpp runs the same scenarios over MPI.
#include <catch2/catch.hpp>

#include <mutex>

#include <rlvr/dist/threads.hpp>

namespace {
std::mutex catch_mutex; // Catch2 v2's assertion macros are not thread-safe
}
#define DIST_EXPECT(cond)                                                                                          \
  do {                                                                                                             \
    const bool ok_ = static_cast<bool>(cond);                                                                      \
    const std::lock_guard<std::mutex> l_(catch_mutex);                                                             \
    CHECK(ok_);                                                                                                    \
  } while (0)
#define DIST_EXPECT_THROWS(E, expr)                                                                                \
  do {                                                                                                             \
    bool threw_ = false;                                                                                           \
    try {                                                                                                          \
      expr;                                                                                                        \
    } catch (const E&) {                                                                                           \
      threw_ = true;                                                                                               \
    }                                                                                                              \
    DIST_EXPECT(threw_);                                                                                           \
  } while (0)
#include "dist/scenarios.hpp"

using namespace rlvr;

TEST_CASE("every collective on 1, 2, 3 and 4 thread ranks", "[dist][distributed]") {
  for (int ranks = 1; ranks <= 4; ++ranks) {
    INFO("ranks = " << ranks);
    dist::run_ranks(ranks, [](dist::thread_communicator c) { dist_scenarios::collectives(c); });
  }
  dist::single_process one;
  dist_scenarios::collectives(one);
}

TEST_CASE("distributed statistics equal the single-process ones, groups split across ranks", "[dist][distributed]") {
  for (int ranks = 1; ranks <= 4; ++ranks) {
    INFO("ranks = " << ranks);
    dist::run_ranks(ranks, [](dist::thread_communicator c) { dist_scenarios::stats(c); });
  }
}

TEST_CASE("thread ranks: a rank's exception fails the others' collectives instead of hanging", "[dist][distributed]") {
  CHECK_THROWS_WITH(dist::run_ranks(3,
                                    [](dist::thread_communicator c) {
                                      if (c.rank() == 2) throw std::runtime_error("boom");
                                      c.barrier();
                                    }),
                    "boom");
  CHECK_THROWS_AS(dist::thread_group(0), config_error);
  dist::thread_group g(2);
  CHECK_THROWS_AS(dist::thread_communicator(g, 2), range_error);
}
