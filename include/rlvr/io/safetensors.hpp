#pragma once
//! \file rlvr/io/safetensors.hpp
//! \brief Read and write `state_dict`s in the safetensors format, atomically and defensively.
//!
//! ## Format (huggingface/safetensors)
//!
//!     [8 bytes: N, unsigned little-endian] [N bytes: JSON header] [data buffer]
//!
//! The header is a JSON object: one entry per tensor,
//! `"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}` with offsets in
//! bytes relative to the start of the data buffer, plus an optional `"__metadata__"` object of
//! string → string. Tensors are raw little-endian, row-major. rlvr writes F32, F64, I32, I64 and
//! U8 (the dtypes of `rlvr::dtype`), tensors in insertion order, and pads the header with spaces
//! to a multiple of 8 bytes (as the reference implementation does), so files load in PyTorch
//! (`safetensors.torch.load_file`) and vice versa for those dtypes.
//!
//! ## Guarantees
//! - **Atomic writes**: `save_safetensors` writes `<path>.tmp-<random>` in the same directory,
//!   flushes it (and `fsync`s it on POSIX), then renames it over `path`. A crash leaves either the
//!   old file or the new one, never a torn file.
//! - **Defensive reads**: every length, offset and count is checked before use, in 64-bit
//!   arithmetic that cannot overflow. A truncated file, a header length beyond the file, malformed
//!   JSON (nesting is bounded), an unknown dtype, a negative or non-integer extent, offsets outside
//!   the buffer, a byte count that disagrees with dtype × shape, overlapping or gapped tensors,
//!   trailing bytes, duplicate names, or non-string metadata each raise `rlvr::io_error` naming
//!   the file and the problem — never a crash, never a silent partial load.
//!
//! The JSON header is read by rlvr's own small strict parser (rlvr/io/detail/json.hpp), so this
//! header adds no dependency.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define RLVR_IO_HAVE_FSYNC 1
#else
#define RLVR_IO_HAVE_FSYNC 0
#endif

#include "rlvr/error.hpp"
#include "rlvr/io/detail/json.hpp"
#include "rlvr/optim/state_dict.hpp"

namespace rlvr::io {

//! Largest header rlvr accepts (the reference implementation's limit is 100 MB).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

//! The dtype spelled `name` in a safetensors header; false if rlvr does not support it.
inline bool parse_dtype(std::string_view name, dtype& out) noexcept {
  for (dtype t : {dtype::f32, dtype::f64, dtype::i32, dtype::i64, dtype::u8})
    if (dtype_name(t) == name) {
      out = t;
      return true;
    }
  return false;
}

//! The complete safetensors encoding of `d`.
inline std::vector<std::byte> to_safetensors(const state_dict& d) {
  std::string h = "{";
  bool first = true;
  if (!d.metadata().empty()) {
    h += "\"__metadata__\":{";
    for (std::size_t i = 0; i < d.metadata().size(); ++i) {
      if (i) h += ',';
      detail::json_write_string(h, d.metadata()[i].first);
      h += ':';
      detail::json_write_string(h, d.metadata()[i].second);
    }
    h += '}';
    first = false;
  }
  std::uint64_t offset = 0;
  for (const auto& [name, t] : d.tensors()) {
    RLVR_EXPECTS(name != "__metadata__", config, "to_safetensors: '__metadata__' is reserved as a tensor name");
    if (!first) h += ',';
    first = false;
    detail::json_write_string(h, name);
    h += ":{\"dtype\":\"";
    h += dtype_name(t.type);
    h += "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) h += ',';
      h += std::to_string(t.shape[i]);
    }
    h += "],\"data_offsets\":[";
    h += std::to_string(offset);
    h += ',';
    offset += t.bytes.size();
    h += std::to_string(offset);
    h += "]}";
  }
  h += '}';
  while ((h.size() + 8) % 8 != 0) h += ' ';
  std::vector<std::byte> out(8 + h.size() + offset);
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, h.data(), h.size());
  std::size_t pos = 8 + h.size();
  for (const auto& [name, t] : d.tensors()) {
    if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
    pos += t.bytes.size();
  }
  return out;
}

//! Decodes a safetensors image; `what` names it in errors (usually the path).
inline state_dict from_safetensors(std::span<const std::byte> file, std::string_view what = "safetensors buffer") {
  const std::uint64_t size = file.size();
  RLVR_EXPECTS(size >= 8, io, what, ": truncated: ", size, " bytes, but a safetensors file starts with an 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  RLVR_EXPECTS(n <= max_header_bytes, io, what, ": header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
  RLVR_EXPECTS(n <= size - 8, io, what, ": truncated: the header length is ", n, " bytes but only ", size - 8,
               " follow");
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));
  const detail::json_value root = detail::json_reader(text, what).parse_document();
  RLVR_EXPECTS(root.k == detail::json_value::kind::object, io, what, ": corrupt header: not a JSON object");
  const std::uint64_t data_size = size - 8 - n;
  const std::byte* data = file.data() + 8 + n;

  struct pending {
    std::string name;
    stored_tensor t;
    std::uint64_t begin, end;
  };
  std::vector<pending> items;
  state_dict out;
  for (std::size_t entry = 0; entry < root.keys.size(); ++entry) {
    const std::string& name = root.keys[entry];
    const detail::json_value& v = root.array[entry];
    if (name == "__metadata__") {
      RLVR_EXPECTS(v.k == detail::json_value::kind::object, io, what, ": corrupt header: __metadata__ is not an object");
      for (std::size_t m = 0; m < v.keys.size(); ++m) {
        const std::string& k = v.keys[m];
        const detail::json_value& mv = v.array[m];
        RLVR_EXPECTS(mv.k == detail::json_value::kind::string, io, what, ": corrupt header: metadata '", k,
                     "' is not a string");
        RLVR_EXPECTS(out.find_meta(k) == nullptr, io, what, ": corrupt header: duplicate metadata key '", k, "'");
        out.set_meta(k, mv.text);
      }
      continue;
    }
    RLVR_EXPECTS(v.k == detail::json_value::kind::object, io, what, ": corrupt header: entry '", name,
                 "' is not an object");
    const detail::json_value* dt = v.find("dtype");
    const detail::json_value* sh = v.find("shape");
    const detail::json_value* of = v.find("data_offsets");
    RLVR_EXPECTS(dt && sh && of, io, what, ": corrupt header: tensor '", name,
                 "' lacks dtype, shape or data_offsets");
    pending p;
    p.name = name;
    RLVR_EXPECTS(dt->k == detail::json_value::kind::string && parse_dtype(dt->text, p.t.type), io, what,
                 ": tensor '", name, "' has unsupported dtype '", dt->text, "' (rlvr reads F32, F64, I32, I64, U8)");
    RLVR_EXPECTS(sh->k == detail::json_value::kind::array && sh->array.size() <= 16, io, what, ": tensor '", name,
                 "': shape is not an array of at most 16 extents");
    std::uint64_t numel = 1;
    for (const auto& e : sh->array) {
      const std::int64_t x = detail::json_uint(e);
      RLVR_EXPECTS(x >= 0, io, what, ": tensor '", name, "': extent '", e.text, "' is not a non-negative integer");
      p.t.shape.push_back(x);
      const auto ux = static_cast<std::uint64_t>(x);
      RLVR_EXPECTS(ux == 0 || numel <= std::numeric_limits<std::uint64_t>::max() / 8 / ux, io, what, ": tensor '",
                   name, "': shape overflows");
      numel *= ux;
    }
    RLVR_EXPECTS(of->k == detail::json_value::kind::array && of->array.size() == 2, io, what, ": tensor '", name,
                 "': data_offsets is not a pair");
    const std::int64_t b = detail::json_uint(of->array[0]), e = detail::json_uint(of->array[1]);
    RLVR_EXPECTS(b >= 0 && e >= b, io, what, ": tensor '", name, "': bad data_offsets [", of->array[0].text, ", ",
                 of->array[1].text, "]");
    p.begin = static_cast<std::uint64_t>(b);
    p.end = static_cast<std::uint64_t>(e);
    RLVR_EXPECTS(p.end <= data_size, io, what, ": truncated: tensor '", name, "' ends at byte ", p.end,
                 " of a data buffer of ", data_size, " bytes");
    RLVR_EXPECTS(p.end - p.begin == numel * dtype_size(p.t.type), io, what, ": tensor '", name, "' holds ",
                 p.end - p.begin, " bytes, but ", dtype_name(p.t.type), " × ", numel, " elements need ",
                 numel * dtype_size(p.t.type));
    items.push_back(std::move(p));
  }
  std::sort(items.begin(), items.end(), [](const pending& a, const pending& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  for (const pending& p : items) {
    RLVR_EXPECTS(p.begin == cursor, io, what, ": corrupt: tensor '", p.name, "' starts at byte ", p.begin,
                 ", expected ", cursor, " (tensors overlap or leave a gap)");
    cursor = p.end;
  }
  RLVR_EXPECTS(cursor == data_size, io, what, ": corrupt: ", data_size - cursor,
               " trailing bytes after the last tensor");
  for (pending& p : items) {
    p.t.bytes.assign(data + p.begin, data + p.end);
    RLVR_EXPECTS(!out.contains(p.name), io, what, ": corrupt header: duplicate tensor '", p.name, "'");
    out.insert(std::move(p.name), std::move(p.t));
  }
  return out;
}

//! Writes `d` to `path` atomically (temporary file in the same directory + rename).
inline void save_safetensors(const std::filesystem::path& path, const state_dict& d) {
  const std::vector<std::byte> bytes = to_safetensors(d);
  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(rd()) + std::to_string(rd());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  RLVR_EXPECTS(f != nullptr, io, "save_safetensors: cannot create ", tmp.string(), ": ", std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fflush(f) == 0 && ok;
#if RLVR_IO_HAVE_FSYNC
  ok = ::fsync(::fileno(f)) == 0 && ok;
#endif
  const int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    fail<io_error>("save_safetensors: writing ", tmp.string(), " failed: ", std::strerror(err));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ec2;
    std::filesystem::remove(tmp, ec2);
    fail<io_error>("save_safetensors: renaming ", tmp.string(), " to ", path.string(), " failed: ", ec.message());
  }
}

//! Reads a safetensors file; every failure is an `rlvr::io_error` naming `path`.
inline state_dict load_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  RLVR_EXPECTS(in.good(), io, "load_safetensors: cannot open ", path.string());
  in.seekg(0, std::ios::end);
  const std::streamoff len = in.tellg();
  RLVR_EXPECTS(len >= 0, io, "load_safetensors: cannot size ", path.string());
  in.seekg(0, std::ios::beg);
  std::vector<std::byte> bytes(static_cast<std::size_t>(len));
  in.read(reinterpret_cast<char*>(bytes.data()), len);
  RLVR_EXPECTS(in.gcount() == len, io, "load_safetensors: short read of ", path.string());
  return from_safetensors(bytes, path.string());
}

} // namespace rlvr::io
