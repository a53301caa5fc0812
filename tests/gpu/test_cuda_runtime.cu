// GPU: CUDA errors become rlvr errors; device buffers and streams round-trip data.
#include <algorithm>
#include <numeric>
#include <vector>

#include "gpu/gpu_test.cuh"
#include "rlvr/backends/cuda/memory.cuh"

RLVR_GPU_TEST(buffer_round_trip_on_a_stream) {
  rlvr::cuda::stream s;
  std::vector<float> host(1000);
  std::iota(host.begin(), host.end(), -3.5f);
  auto buf = rlvr::cuda::to_device(host, s.get());
  RLVR_GPU_CHECK(buf.size() == 1000);
  RLVR_GPU_CHECK(buf.download() == host);
  buf.zero();
  const auto z = buf.download();
  RLVR_GPU_CHECK(std::all_of(z.begin(), z.end(), [](float v) { return v == 0.0f; }));
  auto moved = std::move(buf);
  RLVR_GPU_CHECK(buf.data() == nullptr && moved.size() == 1000);
}

RLVR_GPU_TEST(matrix_view_extents_are_checked) {
  rlvr::cuda::device_buffer<float> buf(12);
  const auto m = buf.matrix(3, 3, 4);
  RLVR_GPU_CHECK(m.rows() == 3 && m.cols() == 3 && m.row_stride() == 4);
  RLVR_GPU_CHECK_THROWS_AS(buf.matrix(4, 4), rlvr::shape_error);
  RLVR_GPU_CHECK_THROWS_AS(buf.matrix(2, 5, 4), rlvr::shape_error);
}

RLVR_GPU_TEST(runtime_errors_become_device_errors) {
  // An allocation no GPU can serve (1 PiB).
  RLVR_GPU_CHECK_THROWS_AS(rlvr::cuda::device_buffer<char>(rlvr::index_t{1} << 50), rlvr::device_error);
  try {
    RLVR_CUDA_CHECK(cudaMemcpy(nullptr, reinterpret_cast<void*>(1), 16, static_cast<cudaMemcpyKind>(77)));
    RLVR_GPU_CHECK(false);
  } catch (const rlvr::device_error& e) {
    const std::string what = e.what();
    RLVR_GPU_CHECK_MSG(what.find("[rlvr.device] cudaMemcpy(") == 0, what);
    RLVR_GPU_CHECK_MSG(what.find("cudaErrorInvalid") != std::string::npos, what);
    RLVR_GPU_CHECK_MSG(what.find("test_cuda_runtime.cu") != std::string::npos, what);
  }
  // The error state is cleared: the next call succeeds.
  rlvr::cuda::device_buffer<float> ok(16);
  RLVR_GPU_CHECK(ok.data() != nullptr);
}

RLVR_GPU_TEST(negative_sizes_are_range_errors) {
  RLVR_GPU_CHECK_THROWS_AS(rlvr::cuda::device_buffer<float>(-1), rlvr::range_error);
}

RLVR_GPU_TEST_MAIN()
