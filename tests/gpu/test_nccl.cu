// GPU: rlvr::dist::nccl_communicator (rlvr/dist/nccl.hpp) on device buffers. One rank on device
// 0 (ncclCommInitAll, wrapped, and the unique-id factory with size 1) for every collective, the
// contract checks, the error paths and the timeout; with two or more devices also a real
// multi-rank run (one thread per GPU).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nccl.h>

#include "gpu/gpu_test.cuh"
#include "rlvr/backends/cuda/memory.cuh"
#include "rlvr/dist/nccl.hpp"

namespace {

using rlvr::dist::nccl_communicator;
using rlvr::dist::reduce_op;
using rlvr::cuda::device_buffer;

// A single-rank NCCL communicator over device 0 made by ncclCommInitAll; destroyed at scope exit.
struct init_all_comm {
  ncclComm_t comm = nullptr;
  init_all_comm() {
    const int dev = 0;
    RLVR_CUDA_CHECK(cudaSetDevice(dev));
    if (ncclCommInitAll(&comm, 1, &dev) != ncclSuccess) throw rlvr::comm_error("ncclCommInitAll failed");
  }
  init_all_comm(const init_all_comm&) = delete;
  init_all_comm& operator=(const init_all_comm&) = delete;
  ~init_all_comm() {
    if (comm != nullptr) (void)ncclCommDestroy(comm);
  }
};

template <class T> device_buffer<T> dev(const std::vector<T>& v, cudaStream_t s) { return rlvr::cuda::to_device(v, s); }
template <class T> std::span<T> span_of(const device_buffer<T>& b) {
  return std::span<T>(b.data(), static_cast<std::size_t>(b.size()));
}
template <class T> std::span<const T> cspan_of(const device_buffer<T>& b) {
  return std::span<const T>(b.data(), static_cast<std::size_t>(b.size()));
}

// Every collective on a one-rank communicator: results equal the input (Σ and max over one
// rank), all_gather lays out [in], broadcast keeps x, barrier returns.
template <class T> void check_reduce(nccl_communicator& c, cudaStream_t s, const std::vector<T>& v) {
  auto b = dev(v, s);
  c.all_reduce(span_of(b), reduce_op::sum);
  RLVR_GPU_CHECK(b.download() == v);
  c.all_reduce(span_of(b), reduce_op::max);
  RLVR_GPU_CHECK(b.download() == v);
}

void check_all_collectives(nccl_communicator& c, cudaStream_t s) {
  RLVR_GPU_CHECK(c.rank() == 0 && c.size() == 1 && c.device() == 0 && !c.aborted());
  check_reduce<float>(c, s, {1.5f, -2.0f, 3.25f, 0.0f, 1e30f});
  check_reduce<double>(c, s, {1e-300, -7.0, 0.125});
  check_reduce<std::int64_t>(c, s, {std::int64_t{1} << 62, -3, 0, 42});

  // all_gather: out = [in] (size 1), for every type, bytes included; then in place.
  const std::vector<std::int64_t> gi{5, 6, 7};
  auto in = dev(gi, s);
  device_buffer<std::int64_t> out(3, s);
  out.zero();
  c.all_gather(cspan_of(in), span_of(out));
  RLVR_GPU_CHECK(out.download() == gi);
  const std::vector<std::uint8_t> gb{0, 1, 254, 255};
  auto bin = dev(gb, s);
  device_buffer<std::uint8_t> bout(4, s);
  bout.zero();
  c.all_gather(cspan_of(bin), span_of(bout));
  RLVR_GPU_CHECK(bout.download() == gb);
  auto fin = dev(std::vector<float>{0.5f, 0.25f}, s);
  device_buffer<float> fout(2, s);
  c.all_gather(cspan_of(fin), span_of(fout));
  RLVR_GPU_CHECK(fout.download() == (std::vector<float>{0.5f, 0.25f}));
  auto din = dev(std::vector<double>{3.0}, s);
  c.all_gather(cspan_of(din), span_of(din)); // in place: rank 0's slot is the input itself
  RLVR_GPU_CHECK(din.download() == std::vector<double>{3.0});

  // broadcast from root 0 keeps every element, for every type.
  auto bf = dev(std::vector<float>{9.0f, -1.0f}, s);
  c.broadcast(span_of(bf), 0);
  RLVR_GPU_CHECK(bf.download() == (std::vector<float>{9.0f, -1.0f}));
  auto bd = dev(std::vector<double>{2.5}, s);
  c.broadcast(span_of(bd), 0);
  RLVR_GPU_CHECK(bd.download() == std::vector<double>{2.5});
  c.broadcast(span_of(in), 0);
  RLVR_GPU_CHECK(in.download() == gi);
  c.broadcast(span_of(bin), 0);
  RLVR_GPU_CHECK(bin.download() == gb);

  // empty spans: no collective, no error
  c.all_reduce(std::span<float>(), reduce_op::sum);
  c.all_gather(std::span<const float>(), std::span<float>());
  c.broadcast(std::span<double>(), 0);

  for (int k = 0; k < 100; ++k) c.barrier();
}

} // namespace

RLVR_GPU_TEST(wrapped_init_all_communicator_runs_every_collective) {
  rlvr::cuda::stream s;
  init_all_comm raw;
  {
    nccl_communicator c(raw.comm, s.get());
    RLVR_GPU_CHECK(!c.owns() && c.native() == raw.comm && c.stream() == s.get());
    check_all_collectives(c, s.get());
    nccl_communicator copy = c; // a handle: shares the communicator
    copy.barrier();
    RLVR_GPU_CHECK(copy.native() == c.native());
  }
  // not owned: the communicator is still usable after the handles are gone
  nccl_communicator again(raw.comm, s.get());
  again.barrier();
}

RLVR_GPU_TEST(unique_id_factory_runs_every_collective) {
  rlvr::cuda::stream s;
  RLVR_CUDA_CHECK(cudaSetDevice(0));
  ncclUniqueId id = nccl_communicator::make_unique_id();
  RLVR_GPU_CHECK(rlvr::dist::unique_id_bytes(id).data() == reinterpret_cast<std::uint8_t*>(id.internal));
  auto c = nccl_communicator::create(id, 0, 1, s.get(), {.timeout_seconds = 60});
  RLVR_GPU_CHECK(c.owns() && c.native() != nullptr && c.options().timeout_seconds == 60);
  check_all_collectives(c, s.get());
  // the legacy default stream works too
  auto d = nccl_communicator::create(nccl_communicator::make_unique_id(), 0, 1);
  auto x = dev(std::vector<float>{1.0f, 2.0f}, nullptr);
  d.all_reduce(span_of(x), reduce_op::sum);
  RLVR_GPU_CHECK(x.download() == (std::vector<float>{1.0f, 2.0f}));
}

RLVR_GPU_TEST(contract_violations_are_shape_and_range_errors) {
  rlvr::cuda::stream s;
  init_all_comm raw;
  nccl_communicator c(raw.comm, s.get());
  device_buffer<float> in(3, s.get()), out(4, s.get());
  in.zero();
  RLVR_GPU_CHECK_THROWS_AS(c.all_gather(cspan_of(in), span_of(out)), rlvr::shape_error);
  device_buffer<std::uint8_t> bin(2, s.get()), bout(1, s.get());
  RLVR_GPU_CHECK_THROWS_AS(c.all_gather(cspan_of(bin), span_of(bout)), rlvr::shape_error);
  RLVR_GPU_CHECK_THROWS_AS(c.broadcast(span_of(in), 1), rlvr::range_error);
  RLVR_GPU_CHECK_THROWS_AS(c.broadcast(span_of(in), -1), rlvr::range_error);
  const ncclUniqueId id{};
  RLVR_GPU_CHECK_THROWS_AS(nccl_communicator::create(id, 1, 1), rlvr::range_error);
  RLVR_GPU_CHECK_THROWS_AS(nccl_communicator::create(id, 0, 0), rlvr::range_error);
  RLVR_GPU_CHECK_THROWS_AS(nccl_communicator::create(id, -1, 2), rlvr::range_error);
  try {
    c.broadcast(span_of(in), 3);
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::range_error& e) {
    const std::string what = e.what();
    RLVR_GPU_CHECK_MSG(what.find("[rlvr.range] dist::nccl_communicator::broadcast: root = 3") == 0, what);
  }
  // still usable afterwards: nothing reached NCCL
  c.all_gather(cspan_of(in), span_of(in));
  c.barrier();
}

RLVR_GPU_TEST(host_pointers_are_device_errors) {
  rlvr::cuda::stream s;
  init_all_comm raw;
  nccl_communicator c(raw.comm, s.get());
  std::vector<float> host{1.0f, 2.0f};
  RLVR_GPU_CHECK_THROWS_AS(c.all_reduce(std::span<float>(host), reduce_op::sum), rlvr::device_error);
  RLVR_GPU_CHECK_THROWS_AS(c.broadcast(std::span<float>(host), 0), rlvr::device_error);
  device_buffer<float> d(2, s.get());
  RLVR_GPU_CHECK_THROWS_AS(c.all_gather(std::span<const float>(host), span_of(d)), rlvr::device_error);
  float* pinned = nullptr;
  RLVR_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&pinned), 2 * sizeof(float)));
  RLVR_GPU_CHECK_THROWS_AS(c.all_gather(cspan_of(d), std::span<float>(pinned, 2)), rlvr::device_error);
  RLVR_CUDA_CHECK(cudaFreeHost(pinned));
  c.barrier(); // the communicator is untouched
}

RLVR_GPU_TEST(nccl_failures_are_comm_errors) {
  rlvr::cuda::stream s;
  try {
    (void)nccl_communicator(nullptr, s.get()); // NCCL: "comm argument is NULL"
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::comm_error& e) {
    const std::string what = e.what();
    RLVR_GPU_CHECK_MSG(what.find("[rlvr.comm] ncclCommGetAsyncError failed (rank not yet known): ") == 0, what);
    RLVR_GPU_CHECK_MSG(what.find("invalid argument") != std::string::npos, what);
    RLVR_GPU_REPORT("null communicator: ", what);
  }
}

namespace {
// A host function that holds the stream until `*flag` is set (stands in for a peer that never
// enters the collective: the collective's completion on the stream waits behind it).
void CUDART_CB hold_stream(void* flag) {
  auto* f = static_cast<std::atomic<bool>*>(flag);
  while (!f->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
} // namespace

RLVR_GPU_TEST(timeout_aborts_and_throws_comm_error) {
  rlvr::cuda::stream s;
  RLVR_CUDA_CHECK(cudaSetDevice(0));
  std::atomic<bool> release{false};
  // Releases the stream after 5 s whatever happens, so no path of this test can hang.
  std::thread releaser([&release] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    release.store(true);
  });
  {
    auto c = nccl_communicator::create(nccl_communicator::make_unique_id(), 0, 1, s.get(), {.timeout_seconds = 0.5});
    auto x = dev(std::vector<float>{1.0f}, s.get());
    RLVR_CUDA_CHECK(cudaLaunchHostFunc(s.get(), hold_stream, &release));
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.all_reduce(span_of(x), reduce_op::sum);
      RLVR_GPU_CHECK(false);
    } catch (const rlvr::comm_error& e) {
      const std::string what = e.what();
      RLVR_GPU_CHECK_MSG(what.find("[rlvr.comm] ncclAllReduce did not complete within 0.5 s on rank 0 of 1") == 0,
                         what);
      RLVR_GPU_CHECK_MSG(what.find("aborted") != std::string::npos, what);
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    RLVR_GPU_CHECK_MSG(waited >= 0.5, waited);
    RLVR_GPU_REPORT("timeout 0.5 s: comm_error after ", waited, " s");
    RLVR_GPU_CHECK(c.aborted() && c.native() == nullptr);
    nccl_communicator copy = c;
    RLVR_GPU_CHECK(copy.aborted());
    RLVR_GPU_CHECK_THROWS_AS(copy.barrier(), rlvr::comm_error);
    RLVR_GPU_CHECK_THROWS_AS(c.broadcast(span_of(x), 0), rlvr::comm_error);
    release.store(true);
    s.synchronize();
  }
  releaser.join();
}

RLVR_GPU_TEST(multi_rank_collectives_one_thread_per_gpu) {
  const int n = rlvr::cuda::device_count();
  if (n < 2) {
    RLVR_GPU_REPORT("multi-rank NCCL check skipped: ", n, " device(s)");
    return;
  }
  const ncclUniqueId id = nccl_communicator::make_unique_id();
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  std::vector<std::thread> ranks;
  for (int r = 0; r < n; ++r)
    ranks.emplace_back([&, r] {
      std::string& err = errors[static_cast<std::size_t>(r)];
      try {
        RLVR_CUDA_CHECK(cudaSetDevice(r));
        rlvr::cuda::stream s;
        auto c = nccl_communicator::create(id, r, n, s.get(), {.timeout_seconds = 60});
        if (c.rank() != r || c.size() != n || c.device() != r) err += "rank/size/device; ";
        // Σ_r (r + 1) · [1, 2] and max_r (r + 1) · [1, 2]
        auto f = dev(std::vector<float>{float(r + 1), float(2 * (r + 1))}, s.get());
        c.all_reduce(span_of(f), reduce_op::sum);
        const float tri = float(n * (n + 1) / 2);
        if (f.download() != std::vector<float>{tri, 2 * tri}) err += "float sum; ";
        auto i = dev(std::vector<std::int64_t>{r, -r}, s.get());
        c.all_reduce(span_of(i), reduce_op::max);
        if (i.download() != std::vector<std::int64_t>{n - 1, 0}) err += "int64 max; ";
        // all_gather: rank k's [10k, 10k + 1] at out[2k …]
        auto in = dev(std::vector<double>{10.0 * r, 10.0 * r + 1}, s.get());
        device_buffer<double> out(2 * n, s.get());
        c.all_gather(cspan_of(in), span_of(out));
        std::vector<double> want;
        for (int k = 0; k < n; ++k) want.insert(want.end(), {10.0 * k, 10.0 * k + 1});
        if (out.download() != want) err += "all_gather; ";
        // broadcast from the last rank
        auto b = dev(std::vector<std::uint8_t>{std::uint8_t(r), 7}, s.get());
        c.broadcast(span_of(b), n - 1);
        if (b.download() != std::vector<std::uint8_t>{std::uint8_t(n - 1), 7}) err += "broadcast; ";
        c.barrier();
      } catch (const std::exception& e) {
        err += e.what();
      }
    });
  for (auto& t : ranks) t.join();
  for (int r = 0; r < n; ++r) RLVR_GPU_CHECK_MSG(errors[static_cast<std::size_t>(r)].empty(), "rank ", r, ": ", errors[static_cast<std::size_t>(r)]);
  RLVR_GPU_REPORT("multi-rank NCCL collectives on ", n, " devices");
}

RLVR_GPU_TEST_MAIN()
