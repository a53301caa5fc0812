#pragma once
//! \file rlvr/optim/state_dict.hpp
//! \brief `state_dict`: named tensors plus string metadata — what a checkpoint holds.
//!
//! Policies' weights (through their `parameters()`), optimizers' moments and step counters, and
//! whatever else a run needs to resume bit for bit are collected into one `state_dict`, which
//! `rlvr/io/safetensors.hpp` writes to and reads from disk. The container is deliberately
//! plain: an insertion-ordered list of `(name, stored_tensor)` with unique names, and an
//! insertion-ordered list of `(key, value)` string metadata (safetensors' `__metadata__`).
//! Lookups by name and the duplicate-name check take O(log n) (an ordered index beside the lists).
//!
//! Tensors are stored as raw **little-endian** bytes with a dtype and a shape, exactly as
//! safetensors lays them out, so a save/load round trip is bit-exact (NaN payloads included).
//! Typed access (`put`, `read`, `get`) copies, so stored bytes need no alignment.
//!
//! Numbers in metadata round-trip exactly: `set_meta_number` writes the shortest decimal that
//! parses back to the same double (`std::to_chars`), and integers are written in full.
//!
//! Errors: asking for a tensor or key that is not there raises `rlvr::io_error` (in practice the
//! dict came from a file, and the file lacks it); a dtype or element count that does not match
//! the destination raises `rlvr::shape_error`; a duplicate name raises `rlvr::config_error`.

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/optim/parameter.hpp"

namespace rlvr {

//! Element types a `state_dict` (and a safetensors file) may hold.
enum class dtype : int { f32, f64, i32, i64, u8 };

//! Bytes per element.
constexpr std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
  case dtype::f32: return 4;
  case dtype::f64: return 8;
  case dtype::i32: return 4;
  case dtype::i64: return 8;
  case dtype::u8: return 1;
  }
  return 0;
}

//! The safetensors spelling of a dtype (`"F32"`, `"F64"`, `"I32"`, `"I64"`, `"U8"`).
constexpr std::string_view dtype_name(dtype t) noexcept {
  switch (t) {
  case dtype::f32: return "F32";
  case dtype::f64: return "F64";
  case dtype::i32: return "I32";
  case dtype::i64: return "I64";
  case dtype::u8: return "U8";
  }
  return "?";
}

//! The dtype of a C++ element type (float, double, int32, int64, uint8).
template <class T> constexpr dtype dtype_of() noexcept {
  using U = std::remove_cv_t<T>;
  static_assert(std::is_same_v<U, float> || std::is_same_v<U, double> || std::is_same_v<U, std::int32_t> ||
                    std::is_same_v<U, std::int64_t> || std::is_same_v<U, std::uint8_t>,
                "rlvr::state_dict holds float, double, int32_t, int64_t or uint8_t elements");
  if constexpr (std::is_same_v<U, float>) return dtype::f32;
  else if constexpr (std::is_same_v<U, double>) return dtype::f64;
  else if constexpr (std::is_same_v<U, std::int32_t>) return dtype::i32;
  else if constexpr (std::is_same_v<U, std::int64_t>) return dtype::i64;
  else return dtype::u8;
}

//! One tensor as stored: dtype, extents (row-major) and little-endian bytes.
struct stored_tensor {
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> bytes;

  //! Number of elements (the product of `shape`; 1 for a scalar with empty shape).
  [[nodiscard]] std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (auto e : shape) n *= e;
    return n;
  }
};

namespace detail {
//! Copies `n` elements of size `w` from `src` to `dst`, converting native ⇄ little endian.
inline void copy_le(void* dst, const void* src, std::size_t n, std::size_t w) {
  if (n * w != 0) std::memcpy(dst, src, n * w);
  if constexpr (std::endian::native == std::endian::big) {
    auto* b = static_cast<std::byte*>(dst);
    for (std::size_t i = 0; i < n; ++i) std::reverse(b + i * w, b + (i + 1) * w);
  }
}
} // namespace detail

//! Named tensors and string metadata, insertion-ordered, names unique.
class state_dict {
public:
  using entry = std::pair<std::string, stored_tensor>;

  //! Adds tensor `name` with the given extents, copying `data` (whose length must be their
  //! product). Throws `config_error` if `name` exists, `shape_error` on a length mismatch.
  template <class T>
  void put(std::string name, std::span<const T> data, std::vector<std::int64_t> shape) {
    stored_tensor t;
    t.type = dtype_of<T>();
    t.shape = std::move(shape);
    for (auto e : t.shape)
      RLVR_EXPECTS(e >= 0, shape, "state_dict::put: tensor '", name, "' has negative extent ", e);
    RLVR_EXPECTS(t.numel() == static_cast<std::int64_t>(data.size()), shape, "state_dict::put: tensor '",
                 name, "' has ", data.size(), " elements but its shape holds ", t.numel());
    t.bytes.resize(data.size() * sizeof(T));
    detail::copy_le(t.bytes.data(), data.data(), data.size(), sizeof(T));
    insert(std::move(name), std::move(t));
  }
  //! A 1-D tensor.
  template <class T> void put(std::string name, std::span<const T> data) {
    put<T>(std::move(name), data, {static_cast<std::int64_t>(data.size())});
  }
  //! Adds an already-encoded tensor (used by the safetensors reader).
  void insert(std::string name, stored_tensor t) {
    const auto [it, fresh] = tensor_index_.try_emplace(name, entries_.size());
    RLVR_EXPECTS(fresh, config, "state_dict: duplicate tensor name '", name, "'");
    entries_.emplace_back(std::move(name), std::move(t));
  }

  [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
  //! The stored tensor `name`; throws `io_error` if absent.
  [[nodiscard]] const stored_tensor& at(std::string_view name) const {
    const stored_tensor* t = find(name);
    RLVR_EXPECTS(t != nullptr, io, "state_dict: no tensor named '", name, "'");
    return *t;
  }
  //! Copies tensor `name` into `out`: dtype must be `T`'s and the element count `out.size()`.
  template <class T> void read(std::string_view name, std::span<T> out) const {
    const stored_tensor& t = at(name);
    RLVR_EXPECTS(t.type == dtype_of<T>(), shape, "state_dict: tensor '", name, "' has dtype ",
                 dtype_name(t.type), ", expected ", dtype_name(dtype_of<T>()));
    RLVR_EXPECTS(t.numel() == static_cast<std::int64_t>(out.size()), shape, "state_dict: tensor '", name,
                 "' has ", t.numel(), " elements, expected ", out.size());
    detail::copy_le(out.data(), t.bytes.data(), out.size(), sizeof(T));
  }
  //! Tensor `name` as a vector of `T` (dtype must match).
  template <class T> [[nodiscard]] std::vector<T> get(std::string_view name) const {
    std::vector<T> v(static_cast<std::size_t>(at(name).numel()));
    read<T>(name, std::span<T>(v));
    return v;
  }
  [[nodiscard]] const std::vector<entry>& tensors() const noexcept { return entries_; }
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  // ---- metadata ----------------------------------------------------------------------------
  //! Sets (or replaces) metadata `key`.
  void set_meta(std::string key, std::string value) {
    const auto [it, fresh] = meta_index_.try_emplace(key, meta_.size());
    if (!fresh) {
      meta_[it->second].second = std::move(value);
      return;
    }
    meta_.emplace_back(std::move(key), std::move(value));
  }
  //! Stores a double exactly (shortest round-trip decimal).
  void set_meta_number(std::string key, double x) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    set_meta(std::move(key), std::string(buf, r.ptr));
  }
  //! Stores a 64-bit integer.
  void set_meta_int(std::string key, std::int64_t x) { set_meta(std::move(key), std::to_string(x)); }
  //! Metadata `key`, or nullptr.
  [[nodiscard]] const std::string* find_meta(std::string_view key) const noexcept {
    const auto it = meta_index_.find(key);
    return it == meta_index_.end() ? nullptr : &meta_[it->second].second;
  }
  //! Metadata `key`; throws `io_error` if absent.
  [[nodiscard]] const std::string& meta(std::string_view key) const {
    const std::string* v = find_meta(key);
    RLVR_EXPECTS(v != nullptr, io, "state_dict: no metadata key '", key, "'");
    return *v;
  }
  //! Metadata `key` parsed as a double; throws `parse_error` if it is not one.
  [[nodiscard]] double meta_number(std::string_view key) const {
    const std::string& s = meta(key);
    double x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    RLVR_EXPECTS(r.ec == std::errc() && r.ptr == s.data() + s.size(), parse, "state_dict: metadata '", key,
                 "' = '", s, "' is not a number");
    return x;
  }
  //! Metadata `key` parsed as an int64; throws `parse_error` if it is not one.
  [[nodiscard]] std::int64_t meta_int(std::string_view key) const {
    const std::string& s = meta(key);
    std::int64_t x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    RLVR_EXPECTS(r.ec == std::errc() && r.ptr == s.data() + s.size(), parse, "state_dict: metadata '", key,
                 "' = '", s, "' is not an integer");
    return x;
  }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return meta_; }

  // ---- composition -------------------------------------------------------------------------
  //! Copies every tensor and metadata entry of `other` in, with `prefix` prepended to names.
  void merge(const state_dict& other, std::string_view prefix = {}) {
    for (auto& [n, t] : other.entries_) insert(std::string(prefix) + n, t);
    for (auto& [k, v] : other.meta_) set_meta(std::string(prefix) + k, v);
  }
  //! The entries whose names start with `prefix`, with the prefix removed.
  [[nodiscard]] state_dict extract(std::string_view prefix) const {
    state_dict d;
    for (auto& [n, t] : entries_)
      if (n.starts_with(prefix)) d.insert(n.substr(prefix.size()), t);
    for (auto& [k, v] : meta_)
      if (k.starts_with(prefix)) d.set_meta(k.substr(prefix.size()), v);
    return d;
  }

  friend bool operator==(const state_dict& a, const state_dict& b) {
    if (a.entries_.size() != b.entries_.size() || a.meta_ != b.meta_) return false;
    for (std::size_t i = 0; i < a.entries_.size(); ++i) {
      const auto& [n, t] = a.entries_[i];
      const stored_tensor* u = b.find(n);
      if (u == nullptr || u->type != t.type || u->shape != t.shape || u->bytes != t.bytes) return false;
    }
    return true;
  }

private:
  [[nodiscard]] const stored_tensor* find(std::string_view name) const noexcept {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &entries_[it->second].second;
  }
  std::vector<entry> entries_;
  std::vector<std::pair<std::string, std::string>> meta_;
  // `std::less<>` without `<functional>`: the same order, lookups by std::string_view
  struct name_less {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a < b; }
  };
  // name → position in entries_ / meta_: lookups and the duplicate check in O(log n)
  std::map<std::string, std::size_t, name_less> tensor_index_;
  std::map<std::string, std::size_t, name_less> meta_index_;
};

//! Stores every parameter's value under `prefix + name` (float32, with its shape).
inline void store_parameters(state_dict& d, std::span<const parameter_ref> params, std::string_view prefix = {}) {
  for (const parameter_ref& p : params) {
    std::vector<std::int64_t> shape(p.shape.begin(), p.shape.end());
    d.put<float>(std::string(prefix) + std::string(p.name), std::span<const float>(p.value), std::move(shape));
  }
}

//! Loads every parameter's value from `prefix + name`. Throws `io_error` for a missing tensor
//! and `shape_error` when a stored shape differs from the parameter's.
inline void load_parameters(const state_dict& d, std::span<const parameter_ref> params, std::string_view prefix = {}) {
  for (const parameter_ref& p : params) {
    const std::string key = std::string(prefix) + std::string(p.name);
    const stored_tensor& t = d.at(key);
    const bool same = t.shape.size() == p.shape.size() &&
                      std::equal(t.shape.begin(), t.shape.end(), p.shape.begin(),
                                 [](std::int64_t a, index_t b) { return a == static_cast<std::int64_t>(b); });
    RLVR_EXPECTS(same, shape, "load_parameters: tensor '", key, "' has a different shape from the parameter (",
                 t.numel(), " stored elements, ", p.size(), " expected)");
    d.read<float>(key, p.value);
  }
}

} // namespace rlvr
