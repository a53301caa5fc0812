#pragma once
//! \file python/src/tensor.hpp
//! \brief Borrowing a `__dlpack__` tensor as an rlvr view, without a copy, with every check
//! (device, dtype, shape, strides, alignment, read-only) raised as an `rlvr::error` that names
//! the argument.
//!
//! Layout rules (in elements): the last dimension must be contiguous (stride 1, or extent ≤ 1);
//! leading dimensions must collapse into rows of one row stride (e.g. [B, T, V] logits whose
//! [B, T] part is a plain view), so a [N, V] block of a wider [N, V_pad] buffer is accepted
//! (row stride V_pad) and a transposed or column-sliced tensor is rejected. Vectors must be
//! contiguous.

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dlpack_abi.hpp"
#include "rlvr/error.hpp"
#include "rlvr/view.hpp"

namespace rlvr::python {

namespace py = pybind11;

//! A scalar type of a tensor crossing the boundary.
enum class scalar { f32, f64, bf16, f16, i32, i64, u8, other };

inline const char* scalar_name(scalar s) {
  switch (s) {
  case scalar::f32: return "float32";
  case scalar::f64: return "float64";
  case scalar::bf16: return "bfloat16";
  case scalar::f16: return "float16";
  case scalar::i32: return "int32";
  case scalar::i64: return "int64";
  case scalar::u8: return "uint8/bool";
  default: return "an unsupported dtype";
  }
}

inline scalar scalar_of(const dl::DLDataType& t) {
  if (t.lanes != 1) return scalar::other;
  if (t.code == dl::kDLFloat && t.bits == 32) return scalar::f32;
  if (t.code == dl::kDLFloat && t.bits == 64) return scalar::f64;
  if (t.code == dl::kDLFloat && t.bits == 16) return scalar::f16;
  if (t.code == dl::kDLBfloat && t.bits == 16) return scalar::bf16;
  if (t.code == dl::kDLInt && t.bits == 32) return scalar::i32;
  if (t.code == dl::kDLInt && t.bits == 64) return scalar::i64;
  if ((t.code == dl::kDLUInt || t.code == dl::kDLBool) && t.bits == 8) return scalar::u8;
  return scalar::other;
}

template <class T> constexpr scalar scalar_v = scalar::other;
template <> inline constexpr scalar scalar_v<float> = scalar::f32;
template <> inline constexpr scalar scalar_v<double> = scalar::f64;
template <> inline constexpr scalar scalar_v<std::int32_t> = scalar::i32;
template <> inline constexpr scalar scalar_v<std::int64_t> = scalar::i64;
template <> inline constexpr scalar scalar_v<std::uint8_t> = scalar::u8;

//! A tensor borrowed through DLPack. Move-only; the destructor hands the tensor back to its
//! producer (calls its deleter), so it must run with the GIL held (NumPy's deleter touches
//! Python objects).
class borrowed {
public:
  borrowed() = default;
  borrowed(const borrowed&) = delete;
  borrowed& operator=(const borrowed&) = delete;
  borrowed(borrowed&& o) noexcept { *this = std::move(o); }
  borrowed& operator=(borrowed&& o) noexcept {
    if (this != &o) {
      release();
      legacy_ = std::exchange(o.legacy_, nullptr);
      versioned_ = std::exchange(o.versioned_, nullptr);
      t_ = std::exchange(o.t_, nullptr);
      read_only_ = o.read_only_;
      name_ = std::move(o.name_);
    }
    return *this;
  }
  ~borrowed() { release(); }

  //! Takes `obj` through `__dlpack_device__` / `__dlpack__`. `name` is the argument's name in
  //! error messages. Only host memory is accepted by this build.
  static borrowed take(py::handle obj, std::string name) {
    borrowed b;
    b.name_ = std::move(name);
    const std::string& nm = b.name_;
    RLVR_EXPECTS(py::hasattr(obj, "__dlpack__"), shape, nm, ": an object of type ",
                 std::string(py::str(py::type::of(obj).attr("__name__"))),
                 " does not implement __dlpack__ (pass a torch tensor, a NumPy array or another DLPack producer)");
    if (py::hasattr(obj, "__dlpack_device__")) {
      const py::tuple dev = obj.attr("__dlpack_device__")();
      const int type = dev[0].cast<int>();
      RLVR_EXPECTS(type == dl::kDLCPU || type == dl::kDLCUDAHost, unsupported, nm, ": the tensor is on device type ",
                   type, " (", type == dl::kDLCUDA ? "CUDA" : "not the CPU",
                   "); this build of the rlvr extension runs on host (CPU) tensors only");
    }
    py::object cap;
    try {
      cap = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(dl::max_major_version, dl::max_minor_version));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw; // a producer older than DLPack 1.0 has no max_version
      cap = obj.attr("__dlpack__")();
    }
    PyObject* c = cap.ptr();
    if (PyCapsule_IsValid(c, "dltensor_versioned")) {
      auto* m = static_cast<dl::DLManagedTensorVersioned*>(PyCapsule_GetPointer(c, "dltensor_versioned"));
      RLVR_EXPECTS(m != nullptr, shape, nm, ": empty DLPack capsule");
      // an unknown major version: leave the capsule unconsumed (its destructor frees the tensor)
      RLVR_EXPECTS(m->version.major <= dl::max_major_version, unsupported, nm, ": DLPack version ", m->version.major,
                   ".", m->version.minor, " is newer than the ", dl::max_major_version, ".x this build understands");
      PyCapsule_SetName(c, "used_dltensor_versioned");
      b.versioned_ = m;
      b.t_ = &m->dl_tensor;
      b.read_only_ = (m->flags & dl::flag_read_only) != 0;
    } else if (PyCapsule_IsValid(c, "dltensor")) {
      auto* m = static_cast<dl::DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
      RLVR_EXPECTS(m != nullptr, shape, nm, ": empty DLPack capsule");
      PyCapsule_SetName(c, "used_dltensor");
      b.legacy_ = m;
      b.t_ = &m->dl_tensor;
    } else {
      const char* cname = PyCapsule_CheckExact(c) ? PyCapsule_GetName(c) : nullptr;
      PyErr_Clear();
      fail<shape_error>(nm, ": __dlpack__ returned ", cname ? (std::string("a capsule named '") + cname + "'") : "no capsule",
                        " (expected 'dltensor_versioned' or 'dltensor'; 'used_...' means it was already consumed)");
    }
    const auto dev = b.t_->device.device_type;
    RLVR_EXPECTS(dev == dl::kDLCPU || dev == dl::kDLCUDAHost, unsupported, nm, ": the tensor is on device type ", dev,
                 "; this build of the rlvr extension runs on host (CPU) tensors only");
    RLVR_EXPECTS(b.t_->ndim >= 0, shape, nm, ": ndim = ", b.t_->ndim);
    return b;
  }

  [[nodiscard]] const dl::DLTensor& t() const { return *t_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] scalar dtype() const { return scalar_of(t_->dtype); }
  [[nodiscard]] int ndim() const { return t_->ndim; }
  [[nodiscard]] std::int64_t extent(int d) const { return t_->shape[d]; }
  //! Stride of dimension d in elements (compact row-major when the producer gave none).
  [[nodiscard]] std::int64_t stride(int d) const {
    if (t_->strides) return t_->strides[d];
    std::int64_t s = 1;
    for (int e = t_->ndim - 1; e > d; --e) s *= t_->shape[e];
    return s;
  }
  [[nodiscard]] std::int64_t numel() const {
    std::int64_t n = 1;
    for (int d = 0; d < t_->ndim; ++d) n *= t_->shape[d];
    return n;
  }
  [[nodiscard]] std::string shape_str() const {
    std::string s = "[";
    for (int d = 0; d < t_->ndim; ++d) s += (d ? ", " : "") + std::to_string(t_->shape[d]);
    return s + "]";
  }
  [[nodiscard]] void* data() const { return static_cast<char*>(t_->data) + t_->byte_offset; }
  //! Bytes spanned when the tensor is compact row-major (every stride as `stride(d)` computes for
  //! a compact tensor); 0 otherwise.
  [[nodiscard]] std::int64_t compact_bytes() const {
    std::int64_t s = 1;
    for (int d = t_->ndim - 1; d >= 0; --d) {
      if (t_->shape[d] != 1 && stride(d) != s) return 0;
      s *= t_->shape[d];
    }
    return s * ((t_->dtype.bits * t_->dtype.lanes + 7) / 8);
  }

  //! Throws unless the dtype is `s` (`what` lists the accepted dtypes for the message).
  void expect_dtype(scalar s, const char* what) const {
    if (dtype() == s) return;
    if (dtype() == scalar::bf16 || dtype() == scalar::f16)
      fail<unsupported_error>(name_, ": dtype ", scalar_name(dtype()),
                              " is not supported by the host backends (float32 or float64; convert with .float())");
    fail<range_error>(name_, ": dtype ", scalar_name(dtype()), " (expected ", what, ")");
  }
  void expect_writable() const {
    RLVR_EXPECTS(!read_only_, shape, name_, ": the tensor is read-only (DLPack READ_ONLY flag) but is an output");
  }

  //! A row-major matrix view: the last dimension is the columns, the leading ones collapse into
  //! rows of one stride (1-D: one row). Checks dtype T, strides and alignment.
  template <class T> [[nodiscard]] matrix_view<T> matrix() const {
    expect_dtype(scalar_v<std::remove_const_t<T>>, scalar_name(scalar_v<std::remove_const_t<T>>));
    const int nd = ndim();
    RLVR_EXPECTS(nd >= 1, shape, name_, ": a scalar (0-d) was given, a matrix is needed");
    const std::int64_t cols = extent(nd - 1);
    RLVR_EXPECTS(cols <= 1 || stride(nd - 1) == 1, shape, name_, ": shape ", shape_str(), " has stride ",
                 stride(nd - 1), " in its last dimension; it must be 1 (pass a contiguous tensor: .contiguous())");
    std::int64_t rows = 1, row_stride = cols;
    bool first = true;
    // collapse the leading dimensions, innermost first: each must step by (inner extent × inner stride)
    for (int d = nd - 2; d >= 0; --d) {
      const std::int64_t e = extent(d);
      if (e == 1) continue;
      if (first) {
        row_stride = stride(d);
        first = false;
      } else {
        RLVR_EXPECTS(stride(d) == rows * row_stride || e == 0, shape, name_, ": shape ", shape_str(),
                     " has strides that do not collapse into rows of one stride (dimension ", d, " has stride ",
                     stride(d), ", expected ", rows * row_stride, "); pass a contiguous tensor (.contiguous())");
      }
      rows *= e;
    }
    RLVR_EXPECTS(rows <= 1 || row_stride >= cols, shape, name_, ": shape ", shape_str(), " has row stride ", row_stride,
                 " < ", cols, " columns (overlapping or transposed rows); pass a contiguous tensor (.contiguous())");
    check_alignment(sizeof(T));
    return {static_cast<T*>(data()), static_cast<index_t>(rows), static_cast<index_t>(cols),
            static_cast<index_t>(rows <= 1 ? cols : row_stride)};
  }

  //! A contiguous vector view of all elements (any shape whose elements are contiguous).
  template <class T> [[nodiscard]] vector_view<T> vector() const {
    expect_dtype(scalar_v<std::remove_const_t<T>>, scalar_name(scalar_v<std::remove_const_t<T>>));
    std::int64_t expect = 1;
    for (int d = ndim() - 1; d >= 0; --d) {
      RLVR_EXPECTS(extent(d) <= 1 || stride(d) == expect, shape, name_, ": shape ", shape_str(),
                   " is not contiguous (dimension ", d, " has stride ", stride(d), ", expected ", expect,
                   "); pass a contiguous tensor (.contiguous())");
      expect *= extent(d);
    }
    check_alignment(sizeof(T));
    return {static_cast<T*>(data()), static_cast<index_t>(numel())};
  }

private:
  void check_alignment(std::size_t bytes) const {
    RLVR_EXPECTS(reinterpret_cast<std::uintptr_t>(data()) % bytes == 0 || numel() == 0, shape, name_,
                 ": data pointer is not aligned to its ", bytes, "-byte elements");
  }
  void release() noexcept {
    if (versioned_ && versioned_->deleter) versioned_->deleter(versioned_);
    if (legacy_ && legacy_->deleter) legacy_->deleter(legacy_);
    versioned_ = nullptr;
    legacy_ = nullptr;
    t_ = nullptr;
  }
  dl::DLManagedTensor* legacy_ = nullptr;
  dl::DLManagedTensorVersioned* versioned_ = nullptr;
  dl::DLTensor* t_ = nullptr;
  bool read_only_ = false;
  std::string name_;
};

//! An optional argument: empty when `obj` is None.
inline borrowed take_opt(py::handle obj, const char* name) {
  if (obj.is_none()) return {};
  return borrowed::take(obj, name);
}

//! Integer ids of any shape (contiguous) as int32 without a copy, or converted from int64
//! (a copy of N ids, range-checked) into `own`.
inline vector_view<const std::int32_t> ids32(const borrowed& b, std::vector<std::int32_t>& own) {
  if (b.dtype() == scalar::i32) return b.vector<const std::int32_t>();
  b.expect_dtype(scalar::i64, "int32 or int64");
  const auto v = b.vector<const std::int64_t>();
  own.resize(static_cast<std::size_t>(v.size()));
  for (index_t i = 0; i < v.size(); ++i) {
    RLVR_EXPECTS(v[i] >= INT32_MIN && v[i] <= INT32_MAX, range, b.name(), "[", i, "] = ", v[i],
                 " does not fit in 32 bits");
    own[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(v[i]);
  }
  return vector_view<const std::int32_t>(own);
}

//! Integer ids as int64 (zero-copy for int64, converted from int32).
inline vector_view<const std::int64_t> ids64(const borrowed& b, std::vector<std::int64_t>& own) {
  if (b.dtype() == scalar::i64) return b.vector<const std::int64_t>();
  b.expect_dtype(scalar::i32, "int32 or int64");
  const auto v = b.vector<const std::int32_t>();
  own.assign(v.begin(), v.end());
  return vector_view<const std::int64_t>(own);
}

} // namespace rlvr::python
