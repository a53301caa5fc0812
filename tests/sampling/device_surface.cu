// Compile-only (target sampling_device_surface, part of rlvr_cuda_surface): Philox and the
// per-row sampling processors are usable in device code, as the CUDA sampler requires.
#include <rlvr/random/philox.hpp>
#include <rlvr/sampling/processors.hpp>

static_assert(rlvr::philox4x32_10(rlvr::u32x4{{0, 0, 0, 0}}, rlvr::u32x2{{0, 0}}) ==
              rlvr::u32x4{{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});

__global__ void rlvr_sampling_device_surface(const float* z, long n, long* token, float* u_out) {
  const rlvr::u32x4 b = rlvr::philox_block(7, threadIdx.x, 3);
  const double u = rlvr::u01_from_u64(b[0], b[1]);
  const rlvr::row_scan<float> sc = rlvr::scan_row(z, n);
  token[threadIdx.x] = sc.first_bad >= 0 ? -1 : rlvr::inverse_cdf_pick(z, n, 0.0f, u);
  u_out[threadIdx.x] = rlvr::u01_from_u32(b[2]) + static_cast<float>(rlvr::weight_bin(0.25f)) +
                       static_cast<float>(rlvr::first_argmax(z, n));
  rlvr::philox_engine eng(1, threadIdx.x);
  u_out[threadIdx.x] += static_cast<float>(eng.uniform());
}
