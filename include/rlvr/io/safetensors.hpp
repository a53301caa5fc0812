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
//! - **Atomic writes**: `save_safetensors` writes through `rlvr::io::write_file_atomic`
//!   (rlvr/io/atomic_file.hpp): `<path>.tmp-<random>` in the same directory, every write, the
//!   flush, the `fsync` (POSIX) and the close checked, then a rename over `path`. A crash leaves
//!   either the old file or the new one, never a torn file.
//! - **Defensive reads**: every length, offset and count is checked before use, in 64-bit
//!   arithmetic that cannot overflow. A truncated file, a header length beyond the file, malformed
//!   JSON (nesting is bounded), an unknown dtype, a negative or non-integer extent, offsets outside
//!   the buffer, a byte count that disagrees with dtype × shape, overlapping or gapped tensors,
//!   trailing bytes, duplicate names, or non-string metadata each raise `rlvr::io_error` naming
//!   the file and the problem — never a crash, never a silent partial load.
//! - **Bounded time and memory**: a path that is not a regular file is rejected before anything
//!   is read; parsing takes O(h log h) time and O(h) memory for an h-byte header (≤ 100 MB),
//!   whatever it holds (a shape is capped at `max_rank` = 16 extents while it is parsed, element
//!   counts at `max_tensor_elements` = 2^53, duplicate names are found by sorting).
//! - **UTF-8**: tensor names and metadata must be valid UTF-8 (the header is JSON, RFC 8259);
//!   the reader rejects other bytes with `io_error`, the writer with `config_error`.
//!
//! ## Why a hand-written JSON parser
//! The header is read by rlvr's own small strict parser (rlvr/io/detail/json.hpp), kept rather
//! than replaced by a JSON library because (1) the core library stays dependency-free; (2) it
//! walks the header's fixed schema instead of building a document tree, which is what bounds
//! memory by the header size (a document tree costs tens of bytes per JSON value, so a 10 MB
//! `shape` array would cost hundreds of MB) and lets the caps above stop a parse early; (3) it
//! is small enough to read in full. In exchange it is fuzzed: `fuzz/fuzz_safetensors.cpp` (libFuzzer,
//! ASan + UBSan, run by `bash fuzz/run.sh`) feeds it arbitrary files and checks that every
//! accepted file re-encodes to an equal `state_dict`.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/io/atomic_file.hpp"
#include "rlvr/io/detail/json.hpp"
#include "rlvr/optim/state_dict.hpp"

namespace rlvr::io {

//! Largest header rlvr accepts (the reference implementation's limit is 100 MB).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;
//! Most extents a tensor's shape may have.
inline constexpr std::size_t max_rank = 16;
//! Most elements a tensor may have, counting only its non-zero extents (2^53).
inline constexpr std::uint64_t max_tensor_elements = std::uint64_t{1} << 53;

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
//! Throws `config_error` if a tensor name or a metadata key or value is not valid UTF-8 (the
//! header is JSON, which is UTF-8), or if a tensor is named `__metadata__`.
inline std::vector<std::byte> to_safetensors(const state_dict& d) {
  auto check_utf8 = [](std::string_view s, std::string_view kind, std::size_t index) {
    const std::size_t at = detail::utf8_error_at(s);
    RLVR_EXPECTS(at == s.size(), config, "to_safetensors: ", kind, " #", index, " ('", detail::printable(s),
                 "') is not valid UTF-8 (byte ", at, ")");
  };
  for (std::size_t i = 0; i < d.metadata().size(); ++i) {
    check_utf8(d.metadata()[i].first, "metadata key", i);
    check_utf8(d.metadata()[i].second, "metadata value", i);
  }
  for (std::size_t i = 0; i < d.tensors().size(); ++i) check_utf8(d.tensors()[i].first, "tensor name", i);
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

namespace detail {
// One tensor entry of a header, before its bytes are copied.
struct pending_tensor {
  std::string name;
  stored_tensor t;
  std::uint64_t begin = 0, end = 0;
};

// Reads `"__metadata__": {...}` (the cursor is at its value) into `meta`.
inline void read_metadata(json_cursor& c, std::string_view what,
                          std::vector<std::pair<std::string, std::string>>& meta) {
  RLVR_EXPECTS(c.peek() == '{', io, what, ": corrupt header: __metadata__ is not an object");
  c.expect('{');
  if (c.accept('}')) return;
  do {
    std::pair<std::string, std::string> kv;
    c.string(kv.first);
    c.expect(':');
    RLVR_EXPECTS(c.peek() == '"', io, what, ": corrupt header: metadata '", printable(kv.first), "' is not a string");
    c.string(kv.second);
    meta.push_back(std::move(kv));
  } while (c.next('}'));
}

// Reads one tensor entry's object (the cursor is at its value).
inline pending_tensor read_tensor_entry(json_cursor& c, std::string_view what, std::string name) {
  pending_tensor p;
  p.name = std::move(name);
  // the name as shown in messages (computed only when one is raised)
  const auto shown = [&p] { return printable(p.name); };
  RLVR_EXPECTS(c.peek() == '{', io, what, ": corrupt header: entry '", shown(), "' is not an object");
  c.expect('{');
  bool have_dtype = false, have_shape = false, have_offsets = false;
  std::string field, dt;
  std::string_view raw;
  if (!c.accept('}')) {
    do {
      c.string(field);
      c.expect(':');
      auto once = [&](bool& seen) {
        RLVR_EXPECTS(!seen, io, what, ": corrupt header: tensor '", shown(), "' has a duplicate field '", field, "'");
        seen = true;
      };
      if (field == "dtype") {
        once(have_dtype);
        if (c.peek() == '"') c.string(dt);
        else dt = std::string(c.skip(1));
        RLVR_EXPECTS(parse_dtype(dt, p.t.type), io, what, ": tensor '", shown(), "' has unsupported dtype '",
                     printable(dt), "' (rlvr reads F32, F64, I32, I64, U8)");
      } else if (field == "shape") {
        once(have_shape);
        RLVR_EXPECTS(c.peek() == '[', io, what, ": tensor '", shown(), "': shape is not an array of at most ",
                     max_rank, " extents");
        c.expect('[');
        if (!c.accept(']')) {
          do {
            // the rank cap is enforced while parsing, so a huge shape array costs no memory
            RLVR_EXPECTS(p.t.shape.size() < max_rank, io, what, ": tensor '", shown(),
                         "': shape is not an array of at most ", max_rank, " extents");
            const std::int64_t x = c.uint_value(raw);
            RLVR_EXPECTS(x >= 0, io, what, ": tensor '", shown(), "': extent '", printable(raw),
                         "' is not a non-negative integer");
            p.t.shape.push_back(x);
          } while (c.next(']'));
        }
      } else if (field == "data_offsets") {
        once(have_offsets);
        RLVR_EXPECTS(c.peek() == '[', io, what, ": tensor '", shown(), "': data_offsets is not a pair");
        c.expect('[');
        std::int64_t off[2] = {-1, -1};
        std::string_view off_raw[2]; // views into the header, for messages
        int count = 0;
        if (!c.accept(']')) {
          do {
            RLVR_EXPECTS(count < 2, io, what, ": tensor '", shown(), "': data_offsets is not a pair");
            off[count] = c.uint_value(raw);
            off_raw[count] = raw;
            ++count;
          } while (c.next(']'));
        }
        RLVR_EXPECTS(count == 2, io, what, ": tensor '", shown(), "': data_offsets is not a pair");
        RLVR_EXPECTS(off[0] >= 0 && off[1] >= off[0], io, what, ": tensor '", shown(), "': bad data_offsets [",
                     printable(off_raw[0]), ", ", printable(off_raw[1]), "]");
        p.begin = static_cast<std::uint64_t>(off[0]);
        p.end = static_cast<std::uint64_t>(off[1]);
      } else {
        (void)c.skip(1); // fields rlvr does not use are checked for syntax and ignored
      }
    } while (c.next('}'));
  }
  RLVR_EXPECTS(have_dtype && have_shape && have_offsets, io, what, ": corrupt header: tensor '", shown(),
               "' lacks dtype, shape or data_offsets");
  // Element cap: the product of the non-zero extents stays ≤ 2^53, so no later product of
  // extents (or of extents and a dtype size ≤ 8) can overflow 64 bits.
  std::uint64_t numel = 1, nonzero = 1;
  for (std::int64_t x : p.t.shape) {
    const auto ux = static_cast<std::uint64_t>(x);
    RLVR_EXPECTS(ux == 0 || nonzero <= max_tensor_elements / ux, io, what, ": tensor '", shown(),
                 "': shape overflows the cap of 2^53 elements");
    if (ux != 0) nonzero *= ux;
    numel *= ux;
  }
  const std::uint64_t need = numel * dtype_size(p.t.type);
  RLVR_EXPECTS(p.end - p.begin == need, io, what, ": tensor '", shown(), "' holds ", p.end - p.begin, " bytes, but ",
               dtype_name(p.t.type), " × ", numel, " elements need ", need);
  return p;
}

// Fails if two of `names` are equal: O(n log n) (sort a permutation, compare neighbours).
template <class Name>
void reject_duplicates(std::size_t n, Name name, std::string_view what, std::string_view kind) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return name(a) < name(b); });
  for (std::size_t i = 1; i < n; ++i)
    RLVR_EXPECTS(name(order[i - 1]) != name(order[i]), io, what, ": corrupt header: duplicate ", kind, " '",
                 printable(name(order[i])), "'");
}
} // namespace detail

//! Decodes a safetensors image; `what` names it in errors (usually the path).
//!
//! Time is O(h log h + b) and extra memory O(h + b) for a header of h bytes and a data buffer
//! of b bytes, whatever the header holds: the parser walks the header's schema without building
//! a document tree, a shape longer than `max_rank` stops the parse where it is, and duplicate
//! names are found by sorting.
inline state_dict from_safetensors(std::span<const std::byte> file, std::string_view what = "safetensors buffer") {
  const std::uint64_t size = file.size();
  RLVR_EXPECTS(size >= 8, io, what, ": truncated: ", size, " bytes, but a safetensors file starts with an 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  RLVR_EXPECTS(n <= max_header_bytes, io, what, ": header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
  RLVR_EXPECTS(n <= size - 8, io, what, ": truncated: the header length is ", n, " bytes but only ", size - 8,
               " follow");
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));
  const std::uint64_t data_size = size - 8 - n;
  const std::byte* data = file.data() + 8 + n;

  detail::json_cursor c(text, what);
  RLVR_EXPECTS(c.peek() == '{', io, what, ": corrupt header: not a JSON object");
  c.expect('{');
  std::vector<detail::pending_tensor> items;
  std::vector<std::pair<std::string, std::string>> meta;
  int metadata_blocks = 0;
  if (!c.accept('}')) {
    std::string name;
    do {
      c.string(name);
      c.expect(':');
      if (name == "__metadata__") {
        RLVR_EXPECTS(++metadata_blocks == 1, io, what, ": corrupt header: duplicate __metadata__");
        detail::read_metadata(c, what, meta);
        continue;
      }
      detail::pending_tensor p = detail::read_tensor_entry(c, what, std::move(name));
      RLVR_EXPECTS(p.end <= data_size, io, what, ": truncated: tensor '", detail::printable(p.name),
                   "' ends at byte ", p.end, " of a data buffer of ", data_size, " bytes");
      items.push_back(std::move(p));
      name = std::string();
    } while (c.next('}'));
  }
  c.finish();

  detail::reject_duplicates(items.size(), [&](std::size_t i) -> std::string_view { return items[i].name; }, what,
                            "tensor");
  detail::reject_duplicates(meta.size(), [&](std::size_t i) -> std::string_view { return meta[i].first; }, what,
                            "metadata key");
  // The tensors tile the data buffer: in offset order, each starts where the previous ended.
  std::stable_sort(items.begin(), items.end(), [](const detail::pending_tensor& a, const detail::pending_tensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  for (const detail::pending_tensor& p : items) {
    RLVR_EXPECTS(p.begin == cursor, io, what, ": corrupt: tensor '", detail::printable(p.name), "' starts at byte ",
                 p.begin, ", expected ", cursor, " (tensors overlap or leave a gap)");
    cursor = p.end;
  }
  RLVR_EXPECTS(cursor == data_size, io, what, ": corrupt: ", data_size - cursor,
               " trailing bytes after the last tensor");
  state_dict out;
  for (auto& [k, v] : meta) out.set_meta(std::move(k), std::move(v));
  for (detail::pending_tensor& p : items) {
    p.t.bytes.assign(data + p.begin, data + p.end);
    out.insert(std::move(p.name), std::move(p.t));
  }
  return out;
}

//! Writes `d` to `path` atomically (`rlvr::io::write_file_atomic`: temporary file in the same
//! directory, every write and the close checked, rename); failures raise `io_error` naming `path`.
inline void save_safetensors(const std::filesystem::path& path, const state_dict& d) {
  write_file_atomic(path, to_safetensors(d));
}

//! Reads a safetensors file; every failure is an `rlvr::io_error` naming `path`. The file type
//! and size are checked before anything is allocated: a directory, a device or a FIFO is
//! rejected, and the buffer is the size the file system reports (re-checked after reading).
inline state_dict load_safetensors(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  RLVR_EXPECTS(!ec && std::filesystem::exists(st), io, "load_safetensors: cannot open ", path.string(), ": ",
               ec ? ec.message() : std::string("no such file"));
  RLVR_EXPECTS(std::filesystem::is_regular_file(st), io, "load_safetensors: ", path.string(),
               " is not a regular file", std::filesystem::is_directory(st) ? " (it is a directory)" : "");
  const std::uintmax_t len = std::filesystem::file_size(path, ec);
  RLVR_EXPECTS(!ec, io, "load_safetensors: cannot size ", path.string(), ": ", ec.message());
  RLVR_EXPECTS(len >= 8, io, path.string(), ": truncated: ", len,
               " bytes, but a safetensors file starts with an 8-byte header length");
  std::ifstream in(path, std::ios::binary);
  RLVR_EXPECTS(in.good(), io, "load_safetensors: cannot open ", path.string());
  std::vector<std::byte> bytes(static_cast<std::size_t>(len));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(len));
  RLVR_EXPECTS(static_cast<std::uintmax_t>(in.gcount()) == len, io, "load_safetensors: short read of ",
               path.string(), " (", in.gcount(), " of ", len, " bytes)");
  RLVR_EXPECTS(in.peek() == std::char_traits<char>::eof(), io, "load_safetensors: ", path.string(),
               " grew while it was read");
  return from_safetensors(bytes, path.string());
}

} // namespace rlvr::io
