// libFuzzer target: the safetensors reader (header length, the streaming JSON header parser, the
// schema and layout checks). The input is a whole file image. Invariants:
//  - decoding finishes for any bytes with a state_dict or an rlvr::io_error (ASan/UBSan,
//    -timeout and -rss_limit_mb catch crashes, hangs and unbounded memory);
//  - an accepted file holds only valid UTF-8 names, so it re-encodes, and the re-encoding decodes
//    to an equal state_dict and re-encodes to the same bytes (canonical form).
#include <rlvr/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  rlvr::state_dict d;
  try {
    d = rlvr::io::from_safetensors(file, "fuzz");
  } catch (const rlvr::io_error&) {
    return 0;
  }
  for (const auto& [name, t] : d.tensors()) {
    require(rlvr::io::detail::valid_utf8(name));
    require(t.shape.size() <= rlvr::io::max_rank);
    require(static_cast<std::int64_t>(t.bytes.size()) == t.numel() * static_cast<std::int64_t>(rlvr::dtype_size(t.type)));
  }
  const std::vector<std::byte> again = rlvr::io::to_safetensors(d);
  const rlvr::state_dict e = rlvr::io::from_safetensors(again, "re-encoded");
  require(e == d);
  require(rlvr::io::to_safetensors(e) == again);
  return 0;
}
