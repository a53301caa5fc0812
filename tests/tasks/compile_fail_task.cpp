// A user's task without a verifier: the diagnostic names `TaskVerifier` / `score`.
#include <rlvr/tasks/concepts.hpp>

struct my_task {
  rlvr::tasks::vocabulary v{{"a", "b"}};
  const rlvr::tasks::vocabulary& vocab() const { return v; }
  const char* name() const { return "mine"; }
  rlvr::index_t max_prompt_length() const { return 3; }
  rlvr::index_t max_response_length() const { return 3; }
#ifdef RLVR_COMPILE_FAIL_CONTROL
  float score(std::span<const rlvr::token_t>, std::span<const rlvr::token_t>) const { return 0; }
#endif
  template <class G> std::vector<rlvr::token_t> problem(G&, rlvr::tasks::split) const { return {}; }
  template <class G> rlvr::tasks::example pretraining_example(G&, bool) const { return {}; }
};

template <rlvr::tasks::Task T> int use(const T&) { return 0; }
int main() { return use(my_task{}); }
