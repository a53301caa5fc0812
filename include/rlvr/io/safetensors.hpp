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
//! ## Compatibility
//! A file holding any other dtype (F16, BF16, I8, BOOL, …, as PyTorch may write) is rejected
//! as a whole, with an `io_error` naming the tensor and its dtype, rather than loaded in part.
//! Fields of a tensor entry other than dtype, shape and data_offsets are accepted and ignored.
//! The header length is read as an unsigned 64-bit little-endian number, as the format says.
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
//!
//! ## Entry points
//!
//! | function                     | does                                                     | raises                  |
//! |------------------------------|----------------------------------------------------------|-------------------------|
//! | `save_safetensors(path, d)`  | `to_safetensors(d)`, written atomically to `path`        | `config_error`, `io_error` |
//! | `load_safetensors(path)`     | reads the regular file `path`, `from_safetensors`        | `io_error`              |
//! | `to_safetensors(d)`          | the file's bytes in memory                               | `config_error`          |
//! | `from_safetensors(bytes, w)` | decodes bytes already in memory (`w` names them)          | `io_error`              |
//!
//!     rlvr::state_dict ckpt;
//!     rlvr::store_parameters(ckpt, policy.parameters(), "policy.");
//!     ckpt.set_meta_int("trainer.step", step);
//!     rlvr::io::save_safetensors("ckpt.safetensors", ckpt);       // old file or new, never torn
//!     const rlvr::state_dict back = rlvr::io::load_safetensors("ckpt.safetensors");
//!     rlvr::load_parameters(back, policy.parameters(), "policy.");
//!
//! Round trips: `from_safetensors(to_safetensors(d)) == d` for every dict the writer accepts,
//! bit for bit (NaN payloads included), with the tensors in the same order. The encoding is
//! deterministic: equal dicts with the same insertion order give byte-identical files, so a
//! file can be hashed (rlvr/io/sha256.hpp) to identify its contents.
//!
//! Functions here hold no state: any number of threads may encode, decode, save or load at
//! once (distinct `path`s for saves, or the last rename wins).

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
//! Checked against the 8-byte length before the header is looked at, so a corrupt length
//! cannot make the reader scan or allocate gigabytes. Real headers are a few hundred bytes per
//! tensor: rlvr's checkpoints stay far below it.
inline constexpr std::uint64_t max_header_bytes = 100'000'000;
//! Most extents a tensor's shape may have. Enforced while the shape array is parsed, so a
//! header listing millions of extents fails at the 17th instead of allocating for all of
//! them. Rank 16 is far beyond any model's tensors (rlvr's are 1-D or 2-D).
inline constexpr std::size_t max_rank = 16;
//! Most elements a tensor may have, counting only its non-zero extents (2^53).
//! With the element size ≤ 8 bytes, every byte count stays below 2^56, so the products the
//! reader forms can never overflow 64 bits; 2^53 elements is also more than any file holds.
//! A zero extent makes the tensor empty whatever the other extents are; the cap still bounds
//! those others, so a shape like [0, 2^62] is rejected.
inline constexpr std::uint64_t max_tensor_elements = std::uint64_t{1} << 53;

//! The dtype spelled `name` in a safetensors header; false if rlvr does not support it.
//!
//! The inverse of `dtype_name`: exact, case-sensitive match on "F32", "F64", "I32", "I64",
//! "U8". Other safetensors dtypes (F16, BF16, I8, BOOL, …) return false and `out` is left
//! unchanged; the reader turns that into an `io_error` naming the dtype.
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
//!
//! Layout written: the 8-byte header length N, then the header — `__metadata__` first (only
//! if `d` has metadata, keys in insertion order), then one entry per tensor in insertion
//! order with consecutive `data_offsets` starting at 0 — padded with spaces so that N is a
//! multiple of 8 (the data then starts 8-byte aligned in the file), then every tensor's bytes
//! in the same order. Names and values are escaped as JSON requires.
//!
//! Tensors are written as stored: their `bytes` are not checked against dtype × shape here
//! (`state_dict::put` guarantees it, the reader re-checks it). Memory: one buffer of the file's
//! size plus the header text; time linear in the total size.
//!
//!     const std::vector<std::byte> bytes = rlvr::io::to_safetensors(d);
//!     // bytes.size() == 8 + N + Σ tensor bytes, with N a multiple of 8
inline std::vector<std::byte> to_safetensors(const state_dict& d) {
  // The message gives the entry's index and a printable excerpt (bytes outside printable
  // ASCII shown as \xNN, at most 64 bytes), so the offending name can be found even in a
  // large dict.
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
  // Every string is validated before anything is built, so an invalid dict fails before any
  // work, and `json_write_string` may assume UTF-8.
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
  // Offsets are assigned in insertion order with no gaps, which is exactly the tiling the
  // reader requires, so every file this writes passes the reader's layout checks.
  std::uint64_t offset = 0;
  for (const auto& [name, t] : d.tensors()) {
    // A tensor of that name would be read back as the metadata block: refuse to write it.
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
  // Pad with spaces (JSON whitespace) until 8 + N is a multiple of 8, as the reference
  // implementation does, so readers that map the file can read aligned data in place.
  while ((h.size() + 8) % 8 != 0) h += ' ';
  std::vector<std::byte> out(8 + h.size() + offset);
  const std::uint64_t n = h.size();
  // N as unsigned little-endian, byte by byte: independent of the host's byte order.
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, h.data(), h.size());
  std::size_t pos = 8 + h.size();
  for (const auto& [name, t] : d.tensors()) {
    // The stored bytes are already little-endian (state_dict's convention): a plain copy. The
    // test skips memcpy for empty tensors, whose data pointer may be null.
    if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
    pos += t.bytes.size();
  }
  return out;
}

namespace detail {
// One tensor entry of a header, before its bytes are copied. The whole header is parsed and
// the layout checked before any tensor data is copied, so a file rejected late costs no copy.
struct pending_tensor {
  std::string name;
  // dtype and shape filled in; `bytes` stays empty until the layout has been validated
  stored_tensor t;
  // data_offsets, relative to the start of the data buffer, with begin ≤ end
  std::uint64_t begin = 0, end = 0;
};

// Reads `"__metadata__": {...}` (the cursor is at its value) into `meta`. safetensors allows
// only string values here; anything else (a number, a nested object) is an io_error rather
// than being skipped, because a writer that put it there does not produce safetensors.
// Duplicate keys are collected as they come and rejected later, in one sort. Keys and values
// are unescaped by `c.string`, which also rejects strings that are not valid UTF-8.
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

// Reads one tensor entry's object (the cursor is at its value). Fields may come in any order;
// each of dtype, shape and data_offsets must appear exactly once, other fields are skipped.
// On return the entry is self-consistent (its byte count is dtype × elements); where it lies
// in the data buffer is checked by the caller, which knows the buffer's size.
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
      // A repeated field is rejected rather than letting the last one win: two readers of the
      // same file could otherwise disagree about which value counts.
      auto once = [&](bool& seen) {
        RLVR_EXPECTS(!seen, io, what, ": corrupt header: tensor '", shown(), "' has a duplicate field '", field, "'");
        seen = true;
      };
      if (field == "dtype") {
        once(have_dtype);
        // A dtype that is not a string is still read (as its raw JSON text), so that the error
        // below names what the file holds.
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
            // uint_value: −1 for anything but a non-negative integer ≤ 2^63 − 1 (a negative
            // number, a fraction, an exponent, a string), which the check turns into an error.
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
        // Exactly two non-negative integers with begin ≤ end; any other count or kind fails.
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
  // numel ≤ 2^53 (0 if an extent is 0) and dtype_size ≤ 8: the product cannot overflow.
  const std::uint64_t need = numel * dtype_size(p.t.type);
  RLVR_EXPECTS(p.end - p.begin == need, io, what, ": tensor '", shown(), "' holds ", p.end - p.begin, " bytes, but ",
               dtype_name(p.t.type), " × ", numel, " elements need ", need);
  return p;
}

// Fails if two of `names` are equal: O(n log n) (sort a permutation, compare neighbours).
// `name(i)` returns a view of the i-th name; sorting indices rather than the names themselves
// copies no strings. Sorting keeps the bound whatever the names are (a hash set is faster on
// average, but its worst case depends on the keys, which come from an untrusted file).
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
//! `what` is used only in messages: a path, or any label for bytes that never were a file.
//!
//! Time is O(h log h + b) and extra memory O(h + b) for a header of h bytes and a data buffer
//! of b bytes, whatever the header holds: the parser walks the header's schema without building
//! a document tree, a shape longer than `max_rank` stops the parse where it is, and duplicate
//! names are found by sorting.
//!
//! Raises `io_error` ("<what>: …", naming the tensor or key where there is one) for every
//! defect listed in the file comment. Nothing is returned on error; on success every tensor's
//! bytes have been copied out of `file`, which may be freed. The result lists the metadata in
//! header order and the tensors in data-offset order (for files rlvr wrote, insertion order).
//! The tensors' bytes are taken as they are: NaN payloads, signed zeros and any integer values
//! survive unchanged.
//!
//!     const std::vector<std::byte> image = rlvr::io::to_safetensors(d);   // e.g. sent over a socket
//!     const rlvr::state_dict same = rlvr::io::from_safetensors(image, "peer checkpoint");
inline state_dict from_safetensors(std::span<const std::byte> file, std::string_view what = "safetensors buffer") {
  const std::uint64_t size = file.size();
  RLVR_EXPECTS(size >= 8, io, what, ": truncated: ", size, " bytes, but a safetensors file starts with an 8-byte header length");
  // The header length, unsigned little-endian. Compared with the cap and the bytes that follow
  // before any use, both in unsigned 64-bit arithmetic that cannot wrap (size ≥ 8 here).
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  RLVR_EXPECTS(n <= max_header_bytes, io, what, ": header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
  RLVR_EXPECTS(n <= size - 8, io, what, ": truncated: the header length is ", n, " bytes but only ", size - 8,
               " follow");
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));
  const std::uint64_t data_size = size - 8 - n;
  // n ≤ size − 8 was checked above, so the header and the data buffer both lie within `file`.
  const std::byte* data = file.data() + 8 + n;

  // Walk the top-level object: each member is either the one `__metadata__` block or a tensor
  // entry. A tensor whose end lies beyond the data buffer is rejected at once (as truncation).
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
      // `name` was moved from; give it a defined empty state before the next key is read.
      name = std::string();
    } while (c.next('}'));
  }
  // Only whitespace may follow the closing brace (the writer's padding is spaces).
  c.finish();

  detail::reject_duplicates(items.size(), [&](std::size_t i) -> std::string_view { return items[i].name; }, what,
                            "tensor");
  detail::reject_duplicates(meta.size(), [&](std::size_t i) -> std::string_view { return meta[i].first; }, what,
                            "metadata key");
  // The tensors tile the data buffer: in offset order, each starts where the previous ended.
  // Ordering by (begin, end) puts an empty tensor before a non-empty one at the same offset,
  // so empty tensors are accepted anywhere; the sort is stable, so ties keep header order.
  std::stable_sort(items.begin(), items.end(), [](const detail::pending_tensor& a, const detail::pending_tensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  for (const detail::pending_tensor& p : items) {
    RLVR_EXPECTS(p.begin == cursor, io, what, ": corrupt: tensor '", detail::printable(p.name), "' starts at byte ",
                 p.begin, ", expected ", cursor, " (tensors overlap or leave a gap)");
    cursor = p.end;
  }
  // The last tensor must end where the buffer ends: bytes that belong to no tensor are a
  // corruption (or a file that was appended to), not padding.
  RLVR_EXPECTS(cursor == data_size, io, what, ": corrupt: ", data_size - cursor,
               " trailing bytes after the last tensor");
  // Everything has been validated: only now are the tensor bytes copied, so the output is
  // complete or nothing is built at all. Duplicates were rejected above, so `insert` and
  // `set_meta` cannot fail here.
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
//!
//! The whole file is encoded in memory first (`to_safetensors`, so a `config_error` for a
//! non-UTF-8 name or a tensor named `__metadata__` comes before anything touches the disk),
//! then written: peak memory is about the dict's size once more. The directory must exist;
//! an existing file at `path` is replaced only once the new one is complete and synced.
inline void save_safetensors(const std::filesystem::path& path, const state_dict& d) {
  write_file_atomic(path, to_safetensors(d));
}

//! Reads a safetensors file; every failure is an `rlvr::io_error` naming `path`. The file type
//! and size are checked before anything is allocated: a directory, a device or a FIFO is
//! rejected, and the buffer is the size the file system reports (re-checked after reading).
//!
//! A symbolic link is followed (its target must be a regular file). The file is read whole
//! into memory and then decoded, so peak memory is about twice the file size (the raw buffer
//! and the decoded tensors) for the length of the call. A file that changes size while it is
//! read is rejected rather than half-loaded; one rewritten in place with the same size cannot
//! be detected, which is why rlvr's own writer replaces files by rename instead.
//!
//! Checked in this order: the path exists and can be examined, it is a regular file (a
//! directory is named as such), its size can be read and is at least 8 bytes, it opens and
//! reads in full without growing; then everything `from_safetensors` checks.
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
  // Sized from the file system's report rather than by reading until EOF, so the memory a load
  // takes is known before the read starts.
  std::vector<std::byte> bytes(static_cast<std::size_t>(len));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(len));
  RLVR_EXPECTS(static_cast<std::uintmax_t>(in.gcount()) == len, io, "load_safetensors: short read of ",
               path.string(), " (", in.gcount(), " of ", len, " bytes)");
  RLVR_EXPECTS(in.peek() == std::char_traits<char>::eof(), io, "load_safetensors: ", path.string(),
               " grew while it was read");
  return from_safetensors(bytes, path.string());
}

} // namespace rlvr::io
