// The CUDA backend's host-only header compiles with the host compiler and translates CUDA runtime
// error codes into rlvr errors (no device and no CUDA headers needed).
#include <catch2/catch.hpp>

#include <rlvr/backends/cuda.hpp>

TEST_CASE("the CUDA backend type is usable from host code", "[backends][cuda]") {
  static_assert(rlvr::CudaBackend<rlvr::cuda_backend>);
  static_assert(!rlvr::HostBackend<rlvr::cuda_backend>);
  static_assert(rlvr::enable_device_backend<rlvr::cuda_backend>);
  rlvr::cuda_backend b;
  CHECK(b.stream == nullptr);
  CHECK(rlvr::cuda::policy_for(9, 0) == 900);
  CHECK(rlvr::cuda::policy_for(8, 6) == 800);
  CHECK(rlvr::cuda::policy_for(7, 5) == 700);
  CHECK(rlvr::cuda::policy_for(10, 0) == 900);
  static_assert(rlvr::cuda::policy900::fused_loss.block_threads % 32 == 0);
}

TEST_CASE("CUDA runtime errors become rlvr errors naming the call", "[backends][cuda]") {
  try {
    rlvr::cuda::raise_runtime_error(2, "cudaErrorMemoryAllocation", "out of memory", "cudaMalloc(&p, n)", "x.cu", 12);
    FAIL("no throw");
  } catch (const rlvr::device_error& e) {
    CHECK(std::string(e.what()) ==
          "[rlvr.device] cudaMalloc(&p, n) failed: cudaErrorMemoryAllocation (2): out of memory (x.cu:12)");
  }
  CHECK_THROWS_AS(rlvr::cuda::raise_runtime_error(100, "cudaErrorNoDevice", "no CUDA-capable device is detected",
                                                  "cudaSetDevice(0)", "y.cu", 1),
                  rlvr::unsupported_error);
  CHECK_THROWS_AS(rlvr::cuda::raise_runtime_error(35, "cudaErrorInsufficientDriver", "driver too old", "f()", "y.cu", 2),
                  rlvr::unsupported_error);
}
