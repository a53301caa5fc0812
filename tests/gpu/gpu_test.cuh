#pragma once
// A minimal test harness for rlvr's GPU tests (nvcc only; no Catch2, so the GPU machine needs
// nothing beyond the CUDA toolkit).
//
//   RLVR_GPU_TEST(fused_loss_matches_serial) { RLVR_GPU_CHECK(x == y); }
//
// main() exits 77 (ctest SKIP_RETURN_CODE) when no CUDA device is usable, 0 when every test
// passed, 1 otherwise. `./test_x <substring>` runs only the tests whose name contains it.
// Tests may print measurements with RLVR_GPU_REPORT(...) (one "[report] ..." line each).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "rlvr/backends/cuda/error.cuh"

namespace rlvr::gpu_test {

struct test_case {
  const char* name;
  void (*fn)();
};
inline std::vector<test_case>& registry() {
  static std::vector<test_case> r;
  return r;
}
struct registrar {
  registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};
inline int& failed_checks() {
  static int n = 0;
  return n;
}
inline void report_failure(const char* file, int line, const std::string& what) {
  ++failed_checks();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}
template <class A, class B> bool close(A a, B b, double rtol, double atol) {
  const double x = static_cast<double>(a), y = static_cast<double>(b);
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::abs(x - y) <= atol + rtol * std::abs(y);
}
template <class... Args> std::string str(const Args&... args) {
  std::ostringstream os;
  os.precision(10);
  (os << ... << args);
  return os.str();
}

inline int run_all(int argc, char** argv) {
  const int devices = rlvr::cuda::device_count();
  if (devices == 0) {
    std::printf("no usable CUDA device: skipping %zu GPU tests\n", registry().size());
    return 77;
  }
  cudaDeviceProp prop{};
  RLVR_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int failed_tests = 0, run = 0;
  for (const auto& t : registry()) {
    if (filter != nullptr && std::strstr(t.name, filter) == nullptr) continue;
    ++run;
    const int before = failed_checks();
    try {
      t.fn();
    } catch (const std::exception& e) {
      report_failure(t.name, 0, std::string("unexpected exception: ") + e.what());
    }
    const bool ok = failed_checks() == before;
    failed_tests += ok ? 0 : 1;
    std::printf("[%s] %s\n", ok ? "pass" : "FAIL", t.name);
    std::fflush(stdout);
  }
  std::printf("%d of %d tests passed\n", run - failed_tests, run);
  return failed_tests == 0 && run > 0 ? 0 : 1;
}

} // namespace rlvr::gpu_test

#define RLVR_GPU_TEST(name)                                                                        \
  static void name();                                                                              \
  static const ::rlvr::gpu_test::registrar name##_registrar(#name, &name);                         \
  static void name()

#define RLVR_GPU_CHECK(cond)                                                                       \
  do {                                                                                             \
    if (!(cond)) ::rlvr::gpu_test::report_failure(__FILE__, __LINE__, #cond);                      \
  } while (false)

#define RLVR_GPU_CHECK_MSG(cond, ...)                                                              \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ::rlvr::gpu_test::report_failure(__FILE__, __LINE__,                                         \
                                       std::string(#cond) + ": " + ::rlvr::gpu_test::str(__VA_ARGS__)); \
  } while (false)

#define RLVR_GPU_CHECK_CLOSE(a, b, rtol, atol)                                                     \
  do {                                                                                             \
    const auto rlvr_a_ = (a);                                                                      \
    const auto rlvr_b_ = (b);                                                                      \
    if (!::rlvr::gpu_test::close(rlvr_a_, rlvr_b_, (rtol), (atol)))                                \
      ::rlvr::gpu_test::report_failure(__FILE__, __LINE__,                                         \
                                       ::rlvr::gpu_test::str(#a, " = ", rlvr_a_, " vs ", #b, " = ", rlvr_b_)); \
  } while (false)

#define RLVR_GPU_CHECK_THROWS_AS(expr, E)                                                          \
  do {                                                                                             \
    bool rlvr_thrown_ = false;                                                                     \
    try {                                                                                          \
      (void)(expr);                                                                                \
    } catch (const E&) {                                                                           \
      rlvr_thrown_ = true;                                                                         \
    } catch (...) {                                                                                \
    }                                                                                              \
    if (!rlvr_thrown_) ::rlvr::gpu_test::report_failure(__FILE__, __LINE__, #expr " did not throw " #E); \
  } while (false)

#define RLVR_GPU_REPORT(...) std::printf("[report] %s\n", ::rlvr::gpu_test::str(__VA_ARGS__).c_str())

#define RLVR_GPU_TEST_MAIN()                                                                       \
  int main(int argc, char** argv) { return ::rlvr::gpu_test::run_all(argc, argv); }
