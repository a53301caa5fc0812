#include <catch2/catch.hpp>
#include <rlvr/view.hpp>
#include <vector>

TEST_CASE("matrix_view addresses strided rows", "[core][view]") {
  std::vector<float> buf(3 * 5);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i);
  auto m = rlvr::make_matrix_view(buf.data(), 3, 4, 5); // 3x4 block of a 3x5 buffer
  CHECK(m(0, 0) == 0.0f);
  CHECK(m(1, 0) == 5.0f);
  CHECK(m(2, 3) == 13.0f);
  CHECK_FALSE(m.contiguous());
  auto r = m.row(2);
  CHECK(r.size() == 4);
  CHECK(r[1] == 11.0f);
  auto b = m.block_rows(1, 2);
  CHECK(b.rows() == 2);
  CHECK(b(0, 2) == 7.0f);
  rlvr::matrix_view<const float> c = m;
  CHECK(c(2, 2) == 12.0f);
}

TEST_CASE("make_matrix_view rejects bad extents", "[core][view]") {
  std::vector<double> buf(10);
  CHECK_THROWS_WITH(rlvr::make_matrix_view(buf.data(), 2, 5, 4),
                    "[rlvr.shape] matrix_view: row_stride = 4 is smaller than cols = 5");
  CHECK_THROWS_AS(rlvr::make_matrix_view(buf.data(), -1, 5), rlvr::shape_error);
  CHECK_THROWS_AS(rlvr::make_matrix_view<double>(nullptr, 2, 2), rlvr::shape_error);
  CHECK_NOTHROW(rlvr::make_matrix_view<double>(nullptr, 0, 7));
}

TEST_CASE("vector_view wraps contiguous ranges and checks sizes", "[core][view]") {
  std::vector<int> v{1, 2, 3};
  rlvr::vector_view<int> a = v;
  CHECK(a.size() == 3);
  CHECK(a[2] == 3);
  rlvr::vector_view<const int> ca = a;
  int sum = 0;
  for (int x : ca) sum += x;
  CHECK(sum == 6);
  CHECK_NOTHROW(rlvr::expect_size(ca, 3, "targets"));
  CHECK_THROWS_WITH(rlvr::expect_size(ca, 4, "targets"), "[rlvr.shape] targets: length 3 but 4 expected");
}
