// SHA-256 against the FIPS 180-4 example vectors (NIST "Examples with intermediate values" for
// SHA-256: one-block "abc", two-block 448-bit message, the 896-bit message, one million 'a', and
// the empty message), plus split-invariance of update() and padding at every length near a block.
#include <rlvr/io/sha256.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {
std::string hash_split(const std::string& s, std::size_t cut) {
  rlvr::io::sha256 h;
  h.update(std::string_view(s).substr(0, cut));
  h.update(std::string_view(s).substr(cut));
  return rlvr::io::to_hex(h.finish());
}
} // namespace

TEST_CASE("sha256 reproduces the FIPS 180-4 test vectors", "[io][sha256]") {
  using rlvr::io::sha256_hex;
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopq"
                   "rstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(sha256_hex(std::string(1'000'000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: any split into update calls gives the same digest", "[io][sha256]") {
  std::string s;
  for (int i = 0; i < 200; ++i) s += static_cast<char>((i * 37 + 11) & 0xFF);
  const std::string whole = rlvr::io::sha256_hex(s);
  for (std::size_t cut = 0; cut <= s.size(); ++cut) CHECK(hash_split(s, cut) == whole);
  // the padding boundary: messages of 55, 56, 63, 64 and 65 bytes each hash differently
  const std::string a55 = rlvr::io::sha256_hex(std::string(55, 'a')), a56 = rlvr::io::sha256_hex(std::string(56, 'a'));
  CHECK(a55 != a56);
  CHECK(a55 == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(a56 == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(rlvr::io::sha256_hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}
