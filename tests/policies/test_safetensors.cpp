// safetensors: round trips, a hand-written foreign file, atomic replacement, and a catalogue of
// corruptions (plus seeded random byte flips) that must each raise rlvr::io_error.
#include <rlvr/io/safetensors.hpp>
#include <rlvr/random/philox.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <ctime>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;
using rlvr::state_dict;

std::vector<std::byte> image(std::string_view header, std::span<const std::byte> data = {}, std::uint64_t n = ~0ull) {
  if (n == ~0ull) n = header.size();
  std::vector<std::byte> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

state_dict sample_dict() {
  state_dict d;
  const std::vector<float> f{1.5f, -0.0f, std::numeric_limits<float>::infinity(), std::bit_cast<float>(0x7fc01234u)};
  d.put<float>("w", f, {2, 2});
  d.put<double>("scalar", std::vector<double>{3.25}, {});
  d.put<std::int64_t>("step", std::vector<std::int64_t>{-7, 1LL << 40});
  d.put<std::int32_t>("ids", std::vector<std::int32_t>{1, 2, 3});
  d.put<std::uint8_t>("mask", std::vector<std::uint8_t>{0, 1});
  d.put<float>("empty", std::vector<float>{}, {0, 3});
  d.put<float>("name with \"quotes\", \\ and \xc3\xa9", std::vector<float>{2.0f});
  d.set_meta("format", "rlvr test");
  d.set_meta_number("lr", 1e-6 / 3);
  d.set_meta("multi\nline", "tab\there \x01");
  return d;
}

void expect_corrupt(const std::vector<std::byte>& file, const std::string& needle) {
  INFO("expecting an io_error containing: " << needle);
  try {
    (void)rlvr::io::from_safetensors(file, "test.safetensors");
    FAIL("no error");
  } catch (const rlvr::io_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("test.safetensors") && Catch::Contains(needle));
  }
}
} // namespace

TEST_CASE("safetensors: every dtype and the metadata round-trip bit for bit", "[policies][io]") {
  const state_dict d = sample_dict();
  const auto file = rlvr::io::to_safetensors(d);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  CHECK(n % 8 == 0); // header padded like the reference implementation
  const state_dict back = rlvr::io::from_safetensors(file);
  CHECK(back == d);
  CHECK(back.tensors()[0].first == "w"); // insertion order restored
  CHECK(std::bit_cast<std::uint32_t>(back.get<float>("w")[3]) == 0x7fc01234u);
  CHECK(back.meta_number("lr") == 1e-6 / 3);
  CHECK(back.at("scalar").shape.empty());
  CHECK(back.get<std::int64_t>("step")[1] == (1LL << 40));
}

TEST_CASE("safetensors: reads a hand-written file in the reference layout", "[policies][io]") {
  // the format's own README example: I32 [2, 2], metadata, keys in another order, no padding
  const auto data = bytes_of({1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff});
  const auto file = image(R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"foo":"bar"}})", data);
  const state_dict d = rlvr::io::from_safetensors(file);
  CHECK(d.get<std::int32_t>("test") == std::vector<std::int32_t>{1, 2, 3, -1});
  CHECK(d.at("test").shape == std::vector<std::int64_t>{2, 2});
  CHECK(d.meta("foo") == "bar");
  // whitespace, escapes and a \u escape with a surrogate pair in a name
  const auto f2 = image(" { \"a\\u00e9\\ud83d\\ude00\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ ] , \"dtype\" : \"F32\" } } ",
                        bytes_of({0, 0, 0x80, 0x3f}));
  const state_dict d2 = rlvr::io::from_safetensors(f2);
  CHECK(d2.get<float>("a\xc3\xa9\xf0\x9f\x98\x80")[0] == 1.0f);
}

TEST_CASE("safetensors: files are replaced atomically and leave no temporaries", "[policies][io]") {
  const fs::path dir = fs::temp_directory_path() / "rlvr_safetensors_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path p = dir / "w.safetensors";
  state_dict a;
  a.put<float>("x", std::vector<float>{1, 2, 3});
  rlvr::io::save_safetensors(p, a);
  state_dict b;
  b.put<float>("y", std::vector<float>{4});
  rlvr::io::save_safetensors(p, b); // replaces
  CHECK(rlvr::io::load_safetensors(p) == b);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  CHECK_THROWS_AS(rlvr::io::save_safetensors(dir / "missing" / "w.safetensors", b), rlvr::io_error);
  CHECK_THROWS_WITH(rlvr::io::load_safetensors(dir / "nope.safetensors"), Catch::Contains("cannot open"));
  fs::remove_all(dir);
}

TEST_CASE("safetensors: corrupt and truncated files raise io_error naming the problem", "[policies][io]") {
  const auto good = rlvr::io::to_safetensors(sample_dict());
  SECTION("shorter than the length prefix") { expect_corrupt(bytes_of({1, 2, 3}), "truncated"); }
  SECTION("header length beyond the file") {
    auto f = good;
    f[4] = std::byte{1};
    expect_corrupt(f, "exceeds");
  }
  SECTION("header length past the end by one") {
    const auto f = image(std::string(reinterpret_cast<const char*>(good.data() + 8), 10), {}, 11);
    expect_corrupt(f, "truncated");
  }
  SECTION("data cut short") {
    auto f = good;
    f.resize(f.size() - 3);
    expect_corrupt(f, "truncated");
  }
  SECTION("every truncation point fails cleanly") {
    for (std::size_t len = 0; len < good.size(); ++len) {
      std::vector<std::byte> f(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
      CHECK_THROWS_AS(rlvr::io::from_safetensors(f, "test.safetensors"), rlvr::io_error);
    }
  }
  SECTION("trailing garbage") {
    auto f = good;
    f.push_back(std::byte{0});
    expect_corrupt(f, "trailing");
  }
  SECTION("malformed JSON") {
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})", bytes_of({0, 0, 0, 0})), "JSON");
    expect_corrupt(image(R"({"x" "dtype"})"), "JSON");
    expect_corrupt(image("[]"), "not a JSON object");
    expect_corrupt(image(R"({"x\q":1})"), "JSON");
  }
  SECTION("unsupported dtype") {
    expect_corrupt(image(R"({"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", bytes_of({0, 0})), "BF16");
  }
  SECTION("byte count disagrees with dtype and shape") {
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::vector<std::byte>(20)),
                   "need 24");
  }
  SECTION("bad extents and offsets") {
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::vector<std::byte>(4)), "extent");
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", std::vector<std::byte>(4)), "extent");
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", std::vector<std::byte>(4)), "data_offsets");
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", std::vector<std::byte>(4)), "pair");
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}})"),
                   "overflows");
    expect_corrupt(image(R"({"x":{"dtype":"F32","shape":[1]}})"), "lacks");
  }
  SECTION("overlapping and gapped tensors") {
    expect_corrupt(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                         std::vector<std::byte>(4)),
                   "overlap");
    expect_corrupt(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::vector<std::byte>(8)), "gap");
  }
  SECTION("duplicates and bad metadata") {
    expect_corrupt(image(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})"),
                   "duplicate");
    expect_corrupt(image(R"({"__metadata__":{"k":1}})"), "not a string");
    expect_corrupt(image(R"({"__metadata__":[]})"), "not an object");
  }
  SECTION("deep nesting does not overflow the stack") {
    // the only place the schema allows arbitrary values is a field rlvr does not use
    expect_corrupt(image("{\"a\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}"),
                   "nests too deeply");
    expect_corrupt(image("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}"), "not an object");
  }
  SECTION("strict schema") {
    expect_corrupt(image(R"({"x":{"dtype":"U8","dtype":"U8","shape":[0],"data_offsets":[0,0]}})"), "duplicate field 'dtype'");
    expect_corrupt(image(R"({"__metadata__":{},"__metadata__":{}})"), "duplicate __metadata__");
    expect_corrupt(image(R"({"__metadata__":{"k":"a","k":"b"}})"), "duplicate metadata key 'k'");
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}})", bytes_of({0})), "JSON");
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}})", bytes_of({0})), "extent '1e0'");
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,9223372036854775808]}})", bytes_of({0})),
                   "bad data_offsets");
    expect_corrupt(image(R"({"x":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", bytes_of({0})), "unsupported dtype '7'");
    // unknown fields are checked for syntax and ignored (as the reference reader does)
    const auto ok = image(R"({"x":{"note":[1,{"a":null}],"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", bytes_of({9}));
    CHECK(rlvr::io::from_safetensors(ok).get<std::uint8_t>("x") == std::vector<std::uint8_t>{9});
  }
  SECTION("rank and element caps") {
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})",
                         bytes_of({0})),
                   "at most 16 extents");
    // 2^27 × 2^27 = 2^54 elements exceed the cap of 2^53 even though a zero extent makes the tensor empty
    expect_corrupt(image(R"({"x":{"dtype":"U8","shape":[0,134217728,134217728],"data_offsets":[0,0]}})"), "2^53");
    const auto at_cap = image(R"({"x":{"dtype":"F64","shape":[0,9007199254740992],"data_offsets":[0,0]}})");
    CHECK(rlvr::io::from_safetensors(at_cap).tensors().front().second.shape ==
          std::vector<std::int64_t>{0, std::int64_t{1} << 53});
  }
}

TEST_CASE("safetensors: seeded random byte flips never crash", "[policies][io]") {
  const auto good = rlvr::io::to_safetensors(sample_dict());
  rlvr::philox_engine rng(2024);
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto f = good;
    const int flips = 1 + static_cast<int>(rng.uniform_index(3));
    for (int k = 0; k < flips; ++k) {
      // bias the flips towards the length prefix and the header, where parsing happens
      const auto limit = static_cast<std::uint32_t>(std::min<std::size_t>(f.size(), trial % 2 ? f.size() : 300));
      f[rng.uniform_index(limit)] = static_cast<std::byte>(rng.uniform_index(256));
    }
    try {
      (void)rlvr::io::from_safetensors(f, "fuzz");
      ++loaded;
    } catch (const rlvr::io_error&) {
      ++rejected;
    }
  }
  INFO(loaded << " loaded, " << rejected << " rejected");
  CHECK(rejected > 500);
  CHECK(loaded + rejected == 3000);
}

TEST_CASE("safetensors: a path that is not a regular file is rejected before any allocation", "[policies][io]") {
  const fs::path dir = fs::temp_directory_path() / "rlvr_safetensors_dir";
  fs::create_directories(dir);
  CHECK_THROWS_WITH(rlvr::io::load_safetensors(dir), Catch::Contains("is not a regular file") &&
                                                         Catch::Contains("directory") && Catch::Contains(dir.string()));
  fs::remove_all(dir);
  CHECK_THROWS_WITH(rlvr::io::load_safetensors("/dev/null"), Catch::Contains("not a regular file"));
  CHECK_THROWS_WITH(rlvr::io::load_safetensors("/proc/self/status"), Catch::Contains("truncated")); // size 0
  // a path that runs through a regular file
  const fs::path file = fs::temp_directory_path() / "rlvr_safetensors_plain";
  std::ofstream(file) << "x";
  CHECK_THROWS_WITH(rlvr::io::load_safetensors(file / "w.safetensors"), Catch::Contains("cannot open"));
  fs::remove(file);
}

namespace {
// Wall-clock bound for a parse that should take milliseconds: generous in release, and scaled
// for sanitizer builds (several times slower).
double parse_bound_seconds() {
#if defined(__SANITIZE_ADDRESS__)
  return 10.0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 10.0;
#else
  return 1.0;
#endif
#else
  return 1.0;
#endif
}
// CPU time of the calling thread (not wall time: other processes on a loaded machine must not
// fail the bound, and the parser is single-threaded).
template <class F> double seconds(F&& f) {
  auto now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double t0 = now();
  f();
  return now() - t0;
}
} // namespace

TEST_CASE("safetensors: 100k tensors, or 100k metadata keys, parse in under a second", "[policies][io]") {
  constexpr int n = 100'000;
  std::string meta = "{\"__metadata__\":{", tensors = "{";
  for (int i = 0; i < n; ++i) meta += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  for (int i = 0; i < n; ++i)
    tensors += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  const auto file_meta = image(meta + "}}"), file_tensors = image(tensors + "}");
  REQUIRE(file_tensors.size() > 5'000'000);
  rlvr::state_dict d;
  const double t1 = seconds([&] { d = rlvr::io::from_safetensors(file_tensors); });
  INFO("100k tensors (" << file_tensors.size() << " bytes): " << t1 << " s CPU");
  CHECK(t1 < parse_bound_seconds());
  CHECK(d.size() == std::size_t{n});
  CHECK(d.contains("t12345"));
  const double t2 = seconds([&] { d = rlvr::io::from_safetensors(file_meta); });
  INFO("100k metadata keys (" << file_meta.size() << " bytes): " << t2 << " s CPU");
  CHECK(t2 < parse_bound_seconds());
  CHECK(d.metadata().size() == std::size_t{n});
  CHECK(d.meta("k99999") == "v");
  // a duplicate at the end is found, just as fast
  const auto dup = image(tensors + ",\"t7\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
  const double t3 = seconds([&] { expect_corrupt(dup, "duplicate tensor 't7'"); });
  CHECK(t3 < parse_bound_seconds());
}

TEST_CASE("safetensors: a 10 MB shape array is rejected at its 17th extent", "[policies][io]") {
  std::string h = R"({"x":{"dtype":"U8","data_offsets":[0,0],"shape":[)";
  h.reserve(10'000'000);
  while (h.size() < 10'000'000) h += "1,";
  h += "1]}}";
  const auto file = image(h);
  const double t = seconds([&] { expect_corrupt(file, "at most 16 extents"); });
  CHECK(t < parse_bound_seconds());
  // skipped values (an unused field) are checked without being stored
  std::string u = R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"note":[)";
  while (u.size() < 10'000'000) u += "1,";
  u += "1]}}";
  const auto file2 = image(u);
  const double t2 = seconds([&] { CHECK(rlvr::io::from_safetensors(file2).size() == 1); });
  CHECK(t2 < parse_bound_seconds());
}

TEST_CASE("safetensors: names and metadata must be UTF-8 on read and on write", "[policies][io]") {
  using rlvr::io::detail::valid_utf8;
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));      // é € 😀
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));                          // U+10FFFF
  CHECK(!valid_utf8("\xff"));                                    // never a UTF-8 byte
  CHECK(!valid_utf8("\x80"));                                    // lone continuation
  CHECK(!valid_utf8("\xc3"));                                    // truncated
  CHECK(!valid_utf8("\xc0\xaf"));                                // overlong '/'
  CHECK(!valid_utf8("\xe0\x80\xaf"));                            // overlong, 3 bytes
  CHECK(!valid_utf8("\xf0\x80\x80\xaf"));                        // overlong, 4 bytes
  CHECK(!valid_utf8("\xed\xa0\x80"));                            // surrogate U+D800
  CHECK(!valid_utf8("\xf4\x90\x80\x80"));                        // above U+10FFFF
  CHECK(!valid_utf8("\xe2\x82"));                                // truncated 3-byte
  CHECK(rlvr::io::detail::utf8_error_at("ab\xc3\xa9\xff") == 4);

  const std::string entry = R"(":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  expect_corrupt(image("{\"\xff" + entry, bytes_of({0})), "not valid UTF-8");
  expect_corrupt(image("{\"a\xed\xa0\x80" + entry, bytes_of({0})), "not valid UTF-8");
  expect_corrupt(image("{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}"), "not valid UTF-8");
  expect_corrupt(image("{\"x\":{\"n\":\"\xfe\",\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}"), "not valid UTF-8");
  CHECK(rlvr::io::from_safetensors(image("{\"\xf0\x9f\x98\x80" + entry, bytes_of({5}))).contains("\xf0\x9f\x98\x80"));
  // escapes are decoded to UTF-8; a lone surrogate escape is not a character
  CHECK(rlvr::io::from_safetensors(image("{\"\\u00e9\\ud83d\\ude00" + entry, bytes_of({5})))
            .contains("\xc3\xa9\xf0\x9f\x98\x80"));
  expect_corrupt(image("{\"\\udc00" + entry, bytes_of({0})), "surrogate");

  state_dict bad;
  bad.put<float>("ok", std::vector<float>{1});
  bad.put<float>("w\xff", std::vector<float>{1});
  CHECK_THROWS_MATCHES(rlvr::io::to_safetensors(bad), rlvr::config_error,
                       Catch::Matchers::Predicate<rlvr::config_error>([](const rlvr::config_error& e) {
                         const std::string w = e.what();
                         return w.find("tensor name #1") != std::string::npos && w.find("w\\xff") != std::string::npos &&
                                w.find("not valid UTF-8") != std::string::npos;
                       }));
  state_dict badmeta;
  badmeta.set_meta("k", "\xc3");
  CHECK_THROWS_WITH(rlvr::io::to_safetensors(badmeta), Catch::Contains("metadata value #0"));
  const fs::path p = fs::temp_directory_path() / "rlvr_safetensors_utf8.safetensors";
  CHECK_THROWS_AS(rlvr::io::save_safetensors(p, bad), rlvr::config_error);
  CHECK(!fs::exists(p));
}
