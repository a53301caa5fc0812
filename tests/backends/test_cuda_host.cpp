// The CUDA backend's host-only header compiles with the host compiler and translates CUDA runtime
// error codes into rlvr errors (no device and no CUDA headers needed).
#include <catch2/catch.hpp>

#include <rlvr/backends/cuda.hpp>

#include <string>
#include <type_traits>

TEST_CASE("the CUDA backend type is usable from host code", "[backends][cuda]") {
  static_assert(rlvr::CudaBackend<rlvr::cuda_backend>);
  static_assert(!rlvr::HostBackend<rlvr::cuda_backend>);
  static_assert(rlvr::enable_device_backend<rlvr::cuda_backend>);
  // it models the one Backend concept, in its own memory space (members defined for nvcc)
  static_assert(rlvr::Backend<rlvr::cuda_backend>);
  static_assert(rlvr::SpaceMemory<rlvr::cuda_backend>);
  static_assert(std::is_same_v<rlvr::memory_space_t<rlvr::cuda_backend>, rlvr::cuda_space>);
  static_assert(!rlvr::host_accessible_v<rlvr::memory_space_t<rlvr::cuda_backend>>);
  static_assert(rlvr::FusedLossBackend<rlvr::cuda_backend, float>);
  static_assert(!rlvr::FusedLossBackend<rlvr::cuda_backend, double>);
  rlvr::cuda_backend b;
  CHECK(b.stream == nullptr);
  CHECK(b.policy == 0); // chosen from the device at the first launch
  // the presets by compute capability: sm_80 (A100) … sm_89 (L4), sm_90 (H100/H200), sm_100+
  CHECK(rlvr::cuda::policy_for(9, 0) == 900);
  CHECK(rlvr::cuda::policy_for(8, 0) == 800);
  CHECK(rlvr::cuda::policy_for(8, 6) == 800);
  CHECK(rlvr::cuda::policy_for(8, 9) == 800);
  CHECK(rlvr::cuda::policy_for(7, 5) == 700);
  CHECK(rlvr::cuda::policy_for(10, 0) == 1000);
  CHECK(rlvr::cuda::policy_for(12, 0) == 1000);
  // sm_80 gets its own (smaller) blocks, not the sm_90 shapes
  CHECK(rlvr::cuda::policy800::fused_loss.block_threads == 256);
  CHECK(rlvr::cuda::policy900::fused_loss.block_threads == 512);
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
