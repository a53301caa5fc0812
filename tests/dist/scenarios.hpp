#pragma once
// Scenarios shared by the MPI test program (mpi_test.cpp) and the thread-rank test
// (test_dist_threads.cpp): every collective, and the distributed statistics, on any
// communicator. The includer defines DIST_EXPECT(cond) and DIST_EXPECT_THROWS(Exception, expr).
#include <cstdint>
#include <string>
#include <vector>

#include <rlvr/dist/communicator.hpp>
#include <rlvr/dist/statistics.hpp>
#include <rlvr/loss.hpp>
#include <rlvr/metrics/pass_at_k.hpp>

namespace dist_scenarios {
using namespace rlvr;

template <class C> void collectives(C& c) {
  const int r = c.rank(), n = c.size();
  std::vector<double> d{1.0 * r, -2.0 * r, 0.5};
  c.all_reduce(std::span<double>(d), dist::reduce_op::sum);
  DIST_EXPECT(d[0] == n * (n - 1) / 2.0 && d[1] == -1.0 * n * (n - 1) && d[2] == 0.5 * n);
  std::vector<float> f{static_cast<float>(r), static_cast<float>(-r)};
  c.all_reduce(std::span<float>(f), dist::reduce_op::max);
  DIST_EXPECT(f[0] == static_cast<float>(n - 1) && f[1] == 0.0f);
  std::int64_t big = (std::int64_t{1} << 40) + r;
  c.all_reduce(std::span<std::int64_t>(&big, 1), dist::reduce_op::sum);
  DIST_EXPECT(big == n * (std::int64_t{1} << 40) + n * (n - 1) / 2);
  const std::int64_t mine[2] = {r, 10 * r};
  std::vector<std::int64_t> all(static_cast<std::size_t>(2 * n));
  c.all_gather(std::span<const std::int64_t>(mine, 2), std::span<std::int64_t>(all));
  for (int q = 0; q < n; ++q) DIST_EXPECT(all[static_cast<std::size_t>(2 * q)] == q && all[static_cast<std::size_t>(2 * q + 1)] == 10 * q);
  // variable sizes: rank q sends q + 1 values q
  std::vector<float> part(static_cast<std::size_t>(r + 1), static_cast<float>(r));
  const std::vector<float> v = dist::all_gather_v<C, float>(c, std::span<const float>(part));
  DIST_EXPECT(v.size() == static_cast<std::size_t>(n * (n + 1) / 2));
  std::size_t at = 0;
  for (int q = 0; q < n; ++q)
    for (int k = 0; k <= q; ++k) DIST_EXPECT(v[at++] == static_cast<float>(q));
  const auto strs = dist::all_gather_strings(c, std::string(static_cast<std::size_t>(r), 'x') + "|" + std::to_string(r));
  for (int q = 0; q < n; ++q) DIST_EXPECT(strs[static_cast<std::size_t>(q)] == std::string(static_cast<std::size_t>(q), 'x') + "|" + std::to_string(q));
  std::vector<std::uint8_t> b(5, static_cast<std::uint8_t>(r == n - 1 ? 7 : 0));
  c.broadcast(std::span<std::uint8_t>(b), n - 1);
  for (auto x : b) DIST_EXPECT(x == 7);
  c.barrier();
  // errors found before any message is sent (every rank makes the same mistake)
  DIST_EXPECT_THROWS(shape_error, c.all_gather(std::span<const std::int64_t>(mine, 2), std::span<std::int64_t>(all.data(), 1)));
  DIST_EXPECT_THROWS(range_error, c.broadcast(std::span<std::uint8_t>(b), n));
  DIST_EXPECT(dist::sum(c, 1) == n);
  DIST_EXPECT(dist::max(c, r) == n - 1);
}

template <class C> void stats(C& c) {
  // 3 prompts x G = 4 responses = 12, cut into rank blocks that split groups across ranks
  const index_t nb = 12, g = 4;
  std::vector<float> rewards(static_cast<std::size_t>(nb));
  std::vector<std::int64_t> groups(static_cast<std::size_t>(nb));
  for (index_t i = 0; i < nb; ++i) {
    rewards[static_cast<std::size_t>(i)] = static_cast<float>((i * 7 + i / g) % 3 == 0);
    groups[static_cast<std::size_t>(i)] = i / g;
  }
  std::vector<std::int32_t> seq; // 2 tokens per response
  for (index_t i = 0; i < nb; ++i) seq.insert(seq.end(), {static_cast<std::int32_t>(i), static_cast<std::int32_t>(i)});
  advantage_input<float> whole{};
  whole.rewards = vector_view<const float>(rewards);
  whole.group_ids = vector_view<const std::int64_t>(groups);
  whole.seq = vector_view<const std::int32_t>(seq);
  const auto ref = estimate_advantages(grpo(), whole);
  const auto mine = dist::block_share(nb, c.size(), c.rank());
  advantage_input<float> part{};
  part.rewards = vector_view<const float>(rewards.data() + mine.first, mine.size());
  part.group_ids = vector_view<const std::int64_t>(groups.data() + mine.first, mine.size());
  std::vector<std::int32_t> local_seq;
  for (index_t i = 0; i < mine.size(); ++i) local_seq.insert(local_seq.end(), {static_cast<std::int32_t>(i), static_cast<std::int32_t>(i)});
  part.seq = vector_view<const std::int32_t>(local_seq);
  const auto got = dist::estimate_advantages(c, grpo(), part);
  DIST_EXPECT(got.tokens == 2 * mine.size());
  for (index_t t = 0; t < got.tokens; ++t) {
    DIST_EXPECT(got.adv[static_cast<std::size_t>(t)] == ref.adv[static_cast<std::size_t>(2 * mine.first + t)]);
    DIST_EXPECT(got.act[static_cast<std::size_t>(t)] == ref.act[static_cast<std::size_t>(2 * mine.first + t)]);
  }
  DIST_EXPECT(got.report.responses == ref.report.responses);
  // lopsided: the last rank holds every response, the others none (empty views agree with it)
  {
    const bool last = c.rank() == c.size() - 1;
    advantage_input<float> lop{};
    if (last) {
      lop.rewards = whole.rewards;
      lop.group_ids = whole.group_ids;
      lop.seq = whole.seq;
    }
    const auto l = dist::estimate_advantages(c, grpo(), lop);
    DIST_EXPECT(l.tokens == (last ? 2 * nb : 0));
    for (index_t t = 0; t < l.tokens; ++t) DIST_EXPECT(l.adv[static_cast<std::size_t>(t)] == ref.adv[static_cast<std::size_t>(t)]);
  }
  // global token counts (exact) for the shard losses
  const auto counts = dist::global_counts(c, got);
  DIST_EXPECT(counts == ref.global_counts());
  // Pass@k over problems held by different ranks
  std::vector<problem_counts> all_problems;
  for (index_t p = 0; p < 7; ++p) all_problems.push_back({16, (p * 5) % 17});
  const auto ps = dist::block_share(7, c.size(), c.rank());
  const std::vector<problem_counts> local(all_problems.begin() + ps.first, all_problems.begin() + ps.last);
  const auto gathered = dist::gather_counts(c, local);
  DIST_EXPECT(gathered.size() == all_problems.size());
  for (std::size_t i = 0; i < gathered.size(); ++i)
    DIST_EXPECT(gathered[i].n == all_problems[i].n && gathered[i].c == all_problems[i].c);
  DIST_EXPECT(mean_pass_at_k(gathered, 4) == mean_pass_at_k(all_problems, 4));
}

} // namespace dist_scenarios
