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
//!
//! A `state_dict` is a value type: copying it copies every tensor's bytes, so a checkpoint costs
//! its size in memory once more while it is being assembled. It is not synchronised; const
//! member functions may be called from several threads at once, but any mutation needs
//! exclusive access. Iteration (`tensors()`, `metadata()`) is in insertion order, which is the
//! order `save_safetensors` writes.
//!
//! Names are free-form UTF-8 strings; the library's own writers use dotted prefixes to keep
//! several owners apart in one dict (`policy.`, `optim.`, `rng.`): `merge(d, prefix)` adds one
//! dict under a prefix, `extract(prefix)` takes it back out.
//!
//!     rlvr::state_dict d;
//!     d.put<float>("w", std::span<const float>(w), {rows, cols});   // copies, little-endian
//!     d.set_meta_number("lr", 1e-4);
//!     std::vector<float> back = d.get<float>("w");                  // rows·cols floats
//!     double lr = d.meta_number("lr");                              // exactly 1e-4
//!
//! The trainer's checkpoint (docs/trainer.md, "Determinism and resumption") is one such dict:
//! the policy's weights under `policy.`, the reference's under `reference.`, the optimizer's
//! state (see `sgd::save_state`, `adam::save_state`) under `optim.`, and `trainer.step` /
//! `trainer.seed` metadata. docs/optim.md shows the same assembly by hand.

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
//!
//! Floating point tensors hold weights and optimizer moments (F32), integer ones counters or
//! token ids. Files spell a dtype by `dtype_name`, never by its enumerator value.
enum class dtype : int { f32, f64, i32, i64, u8 };

//! Bytes per element (0 for a value outside the enumeration).
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
//! Written into file headers and error messages; `"?"` for a value outside the enumeration.
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
//!
//! Any other type (cv-qualifiers aside) is a compile error, so `put<int>` on a platform where
//! `int` is not `int32_t` fails to build rather than writing a surprising dtype.
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
//!
//! `put` and the safetensors reader keep the invariant `bytes.size() == numel() ·
//! dtype_size(type)`; code that builds a `stored_tensor` by hand for `insert` must keep it too.
struct stored_tensor {
  //! The element type of `bytes`.
  dtype type = dtype::f32;
  //! Extents, outermost first; empty for a scalar (one element).
  std::vector<std::int64_t> shape;
  //! The elements, row-major, each in little-endian byte order whatever the host's.
  std::vector<std::byte> bytes;

  //! Number of elements (the product of `shape`; 1 for a scalar with empty shape).
  //! Not overflow-checked: `put` computes it for data already in memory, and the safetensors
  //! reader caps a file's element counts at 2^53 before a `stored_tensor` is built.
  [[nodiscard]] std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (auto e : shape) n *= e;
    return n;
  }
};

namespace detail {
//! Copies `n` elements of size `w` from `src` to `dst`, converting native ⇄ little endian.
//! The conversion is its own inverse, so the one function serves both encoding and decoding.
inline void copy_le(void* dst, const void* src, std::size_t n, std::size_t w) {
  // memcpy, not a typed load: `src` may be an unaligned byte buffer. The size test skips the
  // call for empty tensors, whose pointers may be null (memcpy with null is undefined).
  if (n * w != 0) std::memcpy(dst, src, n * w);
  // On little-endian hosts (all supported ones in practice) the copy is all there is; a
  // big-endian host swaps each element's bytes in place in `dst`.
  if constexpr (std::endian::native == std::endian::big) {
    auto* b = static_cast<std::byte*>(dst);
    for (std::size_t i = 0; i < n; ++i) std::reverse(b + i * w, b + (i + 1) * w);
  }
}
} // namespace detail

//! Named tensors and string metadata, insertion-ordered, names unique.
//!
//! Tensor names and metadata keys live in separate namespaces (a tensor and a key may share a
//! name). Tensors cannot be replaced or removed once added; metadata can be replaced.
class state_dict {
public:
  //! A tensor with its name, as `tensors()` lists them.
  using entry = std::pair<std::string, stored_tensor>;

  //! Adds tensor `name` with the given extents, copying `data` (whose length must be their
  //! product). Throws `config_error` if `name` exists, `shape_error` on a length mismatch.
  //! A negative extent is a `shape_error` too. `T` is not deduced from a `std::vector`
  //! argument: spell it (`d.put<float>(…)`); it fixes the stored dtype.
  //!
  //! Cost: one copy of the data plus an O(log n) index insertion. The data is encoded before
  //! the name is checked, so a duplicate is detected only after that copy.
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
  //! A 1-D tensor of `data.size()` elements (same errors as above).
  template <class T> void put(std::string name, std::span<const T> data) {
    put<T>(std::move(name), data, {static_cast<std::int64_t>(data.size())});
  }
  //! Adds an already-encoded tensor (used by the safetensors reader and by `merge`/`extract`).
  //! Throws `config_error` if `name` exists; `t` is taken as it is (see `stored_tensor`).
  void insert(std::string name, stored_tensor t) {
    const auto [it, fresh] = tensor_index_.try_emplace(name, entries_.size());
    RLVR_EXPECTS(fresh, config, "state_dict: duplicate tensor name '", name, "'");
    entries_.emplace_back(std::move(name), std::move(t));
  }

  //! Whether a tensor `name` exists (metadata keys are not searched).
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
  //! The stored tensor `name`; throws `io_error` if absent. The reference is invalidated by
  //! the next tensor insertion (the list may reallocate).
  [[nodiscard]] const stored_tensor& at(std::string_view name) const {
    const stored_tensor* t = find(name);
    RLVR_EXPECTS(t != nullptr, io, "state_dict: no tensor named '", name, "'");
    return *t;
  }
  //! Copies tensor `name` into `out`: dtype must be `T`'s and the element count `out.size()`.
  //! Throws `io_error` if absent, `shape_error` on a dtype or count mismatch (no conversion:
  //! an F64 tensor does not read into floats). The shape itself is not compared, only the count.
  //! The copy is one memcpy (plus a byte swap per element on a big-endian host).
  template <class T> void read(std::string_view name, std::span<T> out) const {
    const stored_tensor& t = at(name);
    RLVR_EXPECTS(t.type == dtype_of<T>(), shape, "state_dict: tensor '", name, "' has dtype ",
                 dtype_name(t.type), ", expected ", dtype_name(dtype_of<T>()));
    RLVR_EXPECTS(t.numel() == static_cast<std::int64_t>(out.size()), shape, "state_dict: tensor '", name,
                 "' has ", t.numel(), " elements, expected ", out.size());
    detail::copy_le(out.data(), t.bytes.data(), out.size(), sizeof(T));
  }
  //! Tensor `name` as a vector of `T` (dtype must match), flattened row-major; errors as `read`.
  //! Allocates `numel()` elements; use `read` to fill a buffer that already exists (a
  //! parameter's `value`) without the extra copy.
  template <class T> [[nodiscard]] std::vector<T> get(std::string_view name) const {
    std::vector<T> v(static_cast<std::size_t>(at(name).numel()));
    read<T>(name, std::span<T>(v));
    return v;
  }
  //! All tensors, in insertion order.
  [[nodiscard]] const std::vector<entry>& tensors() const noexcept { return entries_; }
  //! Number of tensors (metadata entries not counted).
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  // ---- metadata ----------------------------------------------------------------------------
  //! Sets (or replaces) metadata `key`. A replaced key keeps its original position.
  //! Unlike tensors, replacing is allowed so that a writer can update a counter or a marker
  //! (`step`, `optimizer`) in a dict it is assembling.
  //! Values are arbitrary strings (safetensors stores them as JSON strings, escaped on write).
  void set_meta(std::string key, std::string value) {
    const auto [it, fresh] = meta_index_.try_emplace(key, meta_.size());
    if (!fresh) {
      meta_[it->second].second = std::move(value);
      return;
    }
    meta_.emplace_back(std::move(key), std::move(value));
  }
  //! Stores a double exactly (shortest round-trip decimal): `meta_number` gives back the same
  //! bits for every finite value; ±inf and NaN are written as `inf`, `-inf`, `nan`.
  void set_meta_number(std::string key, double x) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    set_meta(std::move(key), std::string(buf, r.ptr));
  }
  //! Stores a 64-bit integer in decimal (read it back with `meta_int`).
  void set_meta_int(std::string key, std::int64_t x) { set_meta(std::move(key), std::to_string(x)); }
  //! Metadata `key`, or nullptr. The pointer is invalidated by the next metadata insertion.
  [[nodiscard]] const std::string* find_meta(std::string_view key) const noexcept {
    const auto it = meta_index_.find(key);
    return it == meta_index_.end() ? nullptr : &meta_[it->second].second;
  }
  //! Metadata `key`; throws `io_error` if absent (the message names the key).
  [[nodiscard]] const std::string& meta(std::string_view key) const {
    const std::string* v = find_meta(key);
    RLVR_EXPECTS(v != nullptr, io, "state_dict: no metadata key '", key, "'");
    return *v;
  }
  //! Metadata `key` parsed as a double; throws `parse_error` if it is not one.
  //! The whole value must parse (`std::from_chars`, classic format: no leading spaces or `+`);
  //! `io_error` if the key is absent.
  [[nodiscard]] double meta_number(std::string_view key) const {
    const std::string& s = meta(key);
    double x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    RLVR_EXPECTS(r.ec == std::errc() && r.ptr == s.data() + s.size(), parse, "state_dict: metadata '", key,
                 "' = '", s, "' is not a number");
    return x;
  }
  //! Metadata `key` parsed as an int64; throws `parse_error` if it is not one (a decimal
  //! integer in range, nothing after it); `io_error` if the key is absent.
  [[nodiscard]] std::int64_t meta_int(std::string_view key) const {
    const std::string& s = meta(key);
    std::int64_t x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    RLVR_EXPECTS(r.ec == std::errc() && r.ptr == s.data() + s.size(), parse, "state_dict: metadata '", key,
                 "' = '", s, "' is not an integer");
    return x;
  }
  //! All metadata as (key, value) pairs, in insertion order.
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return meta_; }

  // ---- composition -------------------------------------------------------------------------
  //! Copies every tensor and metadata entry of `other` in, with `prefix` prepended to names.
  //!
  //! A tensor name that already exists throws `config_error`; a metadata key that exists is
  //! replaced. Not transactional: tensors copied before a duplicate stay. `other` may not be
  //! `*this`. Typical use, nesting an optimizer's state in a checkpoint:
  //!
  //!     rlvr::state_dict o;
  //!     opt.save_state(o);
  //!     ckpt.merge(o, "optim.");
  void merge(const state_dict& other, std::string_view prefix = {}) {
    for (auto& [n, t] : other.entries_) insert(std::string(prefix) + n, t);
    for (auto& [k, v] : other.meta_) set_meta(std::string(prefix) + k, v);
  }
  //! The entries whose names start with `prefix`, with the prefix removed.
  //!
  //! Tensors and metadata alike, copied, in their original order; `*this` is unchanged. The
  //! inverse of `merge(d, prefix)` as long as nothing else in `*this` starts with `prefix`.
  //! The empty prefix copies everything. Taking the optimizer's state back out:
  //!
  //!     opt.load_state(ckpt.extract("optim."));
  [[nodiscard]] state_dict extract(std::string_view prefix) const {
    state_dict d;
    for (auto& [n, t] : entries_)
      if (n.starts_with(prefix)) d.insert(n.substr(prefix.size()), t);
    for (auto& [k, v] : meta_)
      if (k.starts_with(prefix)) d.set_meta(k.substr(prefix.size()), v);
    return d;
  }

  //! Same tensors (name, dtype, shape, bytes, in any order) and same metadata (in the same
  //! order). Byte equality: tensors holding NaN compare equal to themselves, and +0.0 and
  //! −0.0 differ. The tests use it to check save/load round trips. O(total bytes + n log n).
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
  // The tensor `name` or nullptr: an O(log n) lookup by string_view (no temporary string).
  [[nodiscard]] const stored_tensor* find(std::string_view name) const noexcept {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &entries_[it->second].second;
  }
  // The lists own the data and fix the order; the maps below only point into them by position,
  // so appending never invalidates an index (nothing is ever erased).
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
//!
//! The inverse of `load_parameters` with the same prefix. The trainer, for example, stores the
//! policy under `policy.` and the reference under `reference.`, so names of the two never
//! collide in one checkpoint. Gradients are not stored. Throws `config_error` if a name is already in `d` and
//! `shape_error` if a parameter's value length is not the product of its shape.
inline void store_parameters(state_dict& d, std::span<const parameter_ref> params, std::string_view prefix = {}) {
  for (const parameter_ref& p : params) {
    std::vector<std::int64_t> shape(p.shape.begin(), p.shape.end());
    d.put<float>(std::string(prefix) + std::string(p.name), std::span<const float>(p.value), std::move(shape));
  }
}

//! Loads every parameter's value from `prefix + name`. Throws `io_error` for a missing tensor
//! and `shape_error` when a stored shape differs from the parameter's.
//!
//! Writes into the policy's memory through `parameter_ref::value`; gradients are untouched.
//! Tensors of `d` that match no parameter are ignored. Not transactional: parameters before a
//! failing one have already been overwritten. The parameter list is the policy's own, e.g.
//!
//!     rlvr::load_parameters(ckpt, policy.parameters(), "policy.");
inline void load_parameters(const state_dict& d, std::span<const parameter_ref> params, std::string_view prefix = {}) {
  for (const parameter_ref& p : params) {
    // Compare extents one by one, not only the element count `read` checks: a [3, 2] tensor
    // loaded into a [2, 3] parameter would otherwise be silently transposed in meaning.
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
