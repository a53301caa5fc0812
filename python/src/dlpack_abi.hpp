#pragma once
//! \file python/src/dlpack_abi.hpp
//! \brief The DLPack ABI (v1.0 and the legacy unversioned form), written from the public
//! specification (https://dmlc.github.io/dlpack/latest/): the C structs a producer hands over in
//! a PyCapsule, and the capsule names of the Python exchange protocol.
//!
//! Protocol (Python array API): the consumer calls `x.__dlpack_device__()` → (device type,
//! device id), then `x.__dlpack__(max_version=(1, 0))` (producers that predate DLPack 1.0 reject
//! the keyword: call `x.__dlpack__()`). The capsule is named
//!   "dltensor_versioned" → a `DLManagedTensorVersioned*` (DLPack ≥ 1.0), or
//!   "dltensor"           → a `DLManagedTensor*` (legacy).
//! A consumer that takes the tensor renames the capsule to "used_dltensor_versioned" /
//! "used_dltensor" (so the capsule's destructor no longer frees it) and calls the tensor's
//! `deleter` when it is done with the memory.

#include <cstdint>

namespace rlvr::python::dl {

//! `DLDeviceType`: where the memory lives.
enum device_type : std::int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3, //!< pinned host memory: readable from the CPU
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
};

//! `DLDataTypeCode`.
enum type_code : std::uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};

struct DLDevice {
  std::int32_t device_type; //!< a `device_type`
  std::int32_t device_id;
};

struct DLDataType {
  std::uint8_t code;   //!< a `type_code`
  std::uint8_t bits;   //!< bits per lane (32 for float32)
  std::uint16_t lanes; //!< 1 for scalars
};

//! A strided tensor: element i lives at `(char*)data + byte_offset + Σ_d i_d·strides[d]·(bits/8)`.
//! `strides` are in elements and may be null (compact row-major).
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;
  std::uint64_t byte_offset;
};

//! The legacy (pre-1.0) managed tensor, in a capsule named "dltensor".
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

struct DLPackVersion {
  std::uint32_t major;
  std::uint32_t minor;
};

inline constexpr std::uint64_t flag_read_only = 1ull << 0; //!< DLPACK_FLAG_BITMASK_READ_ONLY
inline constexpr std::uint64_t flag_is_copied = 1ull << 1; //!< DLPACK_FLAG_BITMASK_IS_COPIED

//! The DLPack ≥ 1.0 managed tensor, in a capsule named "dltensor_versioned".
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  std::uint64_t flags;
  DLTensor dl_tensor;
};

inline constexpr std::uint32_t max_major_version = 1; //!< the newest major version understood here
inline constexpr std::uint32_t max_minor_version = 0;

} // namespace rlvr::python::dl
