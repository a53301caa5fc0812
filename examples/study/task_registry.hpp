#pragma once
// rlvr-study's tasks are plugins: any type that models `rlvr::tasks::Task` joins the study with
// one registration, without editing the study's sources.
//
//     // my_task.hpp — a header of yours
//     #include "task_registry.hpp"
//     struct my_task { … };                            // models rlvr::tasks::Task
//     RLVR_STUDY_TASK(my_task, {
//         .name = "my_task",
//         .summary = "what it is, in one line",
//         .wrong_fraction = 0.5,                       // its default pretraining data mix
//         .map_wrong_fractions = {0.25, 0.5, 0.75},    // the mixes --regime-map tries
//         .make = [](study::task_options& o) {
//           return study::any_task(my_task(o.get_int("size", 8)));  // --task-option size=12
//         }});
//
// and, in CMake, a study program that includes it (docs/study.md):
//
//     rlvr_add_study(my-study TASKS ${CMAKE_CURRENT_SOURCE_DIR}/my_task.hpp)
//
// (or `cmake -DRLVR_STUDY_EXTRA_TASKS=/path/my_task.hpp` to add it to rlvr-study itself).
//
// `study::any_task` erases the task's type: the study draws problems and examples through it
// with rlvr's Philox engine, forwarded draw by draw, so a task's numbers are the same whether it
// is called directly or through `any_task`. `task_options` carries the `--task-option key=value`
// flags to the factory: a key the factory never asks for is an error naming the keys it knows,
// and every value the factory used (given or default) is recorded for results.json and for the
// base model's cache key, together with a fingerprint of what the task draws (so an edited task
// never reuses a stale cached base model).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <rlvr/error.hpp>
#include <rlvr/io/sha256.hpp>
#include <rlvr/random/philox.hpp>
#include <rlvr/tasks/concepts.hpp>

namespace study {

using rlvr::index_t;
using rlvr::token_t;

// ---- --task-option key=value ---------------------------------------------------------------------
//! The `--task-option key=value` settings of one task, read by its factory with typed getters
//! that take the default. Every getter records the value it returned (given or default), in the
//! order asked: `resolved()` is the task's full parameter list for results.json and cache keys.
class task_options {
public:
  using value = std::variant<long long, double, bool, std::string>;

  task_options() = default;
  //! Parses "key=value" strings; throws `rlvr::config_error` on a missing '=', an empty key or
  //! a key given twice.
  explicit task_options(const std::vector<std::string>& settings) {
    for (const std::string& s : settings) {
      const auto eq = s.find('=');
      RLVR_EXPECTS(eq != std::string::npos && eq > 0, config, "rlvr-study: --task-option '", s,
                   "' is not of the form key=value");
      const std::string key = s.substr(0, eq);
      RLVR_EXPECTS(!given_.contains(key), config, "rlvr-study: --task-option ", key, " is given twice");
      given_[key] = s.substr(eq + 1);
    }
  }

  [[nodiscard]] int get_int(const std::string& key, int fallback) {
    int v = fallback;
    if (const std::string* s = find(key)) {
      const auto r = std::from_chars(s->data(), s->data() + s->size(), v);
      RLVR_EXPECTS(!s->empty() && r.ec == std::errc() && r.ptr == s->data() + s->size(), config,
                   "rlvr-study: --task-option ", key, "=", *s, " is not an integer in the range of int");
    }
    record(key, static_cast<long long>(v));
    return v;
  }
  [[nodiscard]] double get_double(const std::string& key, double fallback) {
    double v = fallback;
    if (const std::string* s = find(key)) {
      const auto r = std::from_chars(s->data(), s->data() + s->size(), v);
      RLVR_EXPECTS(!s->empty() && r.ec == std::errc() && r.ptr == s->data() + s->size() && std::isfinite(v), config,
                   "rlvr-study: --task-option ", key, "=", *s, " is not a finite number");
    }
    record(key, v);
    return v;
  }
  [[nodiscard]] bool get_bool(const std::string& key, bool fallback) {
    bool v = fallback;
    if (const std::string* s = find(key)) {
      RLVR_EXPECTS(*s == "true" || *s == "false" || *s == "1" || *s == "0", config, "rlvr-study: --task-option ", key,
                   "=", *s, " is not a boolean (true, false, 1, 0)");
      v = *s == "true" || *s == "1";
    }
    record(key, v);
    return v;
  }
  [[nodiscard]] std::string get_string(const std::string& key, const std::string& fallback) {
    std::string v = fallback;
    if (const std::string* s = find(key)) v = *s;
    record(key, v);
    return v;
  }

  //! Throws `rlvr::config_error` if a given key was never asked for, naming the task's keys.
  void check_all_used(std::string_view task) const {
    for (const auto& [key, v] : given_) {
      if (asked(key)) continue;
      std::string known;
      for (const auto& [k, x] : resolved_) known += (known.empty() ? "" : ", ") + k;
      rlvr::fail<rlvr::config_error>("rlvr-study: --task-option ", key, " is not an option of task '", task, "' (",
                                     known.empty() ? std::string("it takes none") : known, ")");
    }
  }
  //! Every value the factory used, in the order it asked.
  [[nodiscard]] const std::vector<std::pair<std::string, value>>& resolved() const noexcept { return resolved_; }

  //! "key=value …" of `resolved()`, doubles in their shortest exact form (cache keys).
  [[nodiscard]] std::string describe() const {
    std::string s;
    for (const auto& [k, v] : resolved_) {
      if (!s.empty()) s += ' ';
      s += k;
      s += '=';
      s += to_string(v);
    }
    return s;
  }
  static std::string to_string(const value& v) {
    if (const auto* i = std::get_if<long long>(&v)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) {
      char b[32];
      return std::string(b, std::to_chars(b, b + sizeof b, *d).ptr);
    }
    if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
    return std::get<std::string>(v);
  }

private:
  const std::string* find(const std::string& key) const {
    const auto it = given_.find(key);
    return it == given_.end() ? nullptr : &it->second;
  }
  bool asked(const std::string& key) const {
    return std::any_of(resolved_.begin(), resolved_.end(), [&](const auto& kv) { return kv.first == key; });
  }
  void record(const std::string& key, value v) {
    if (!asked(key)) resolved_.emplace_back(key, std::move(v));
  }
  std::map<std::string, std::string> given_;
  std::vector<std::pair<std::string, value>> resolved_;
};

// ---- any_task --------------------------------------------------------------------------------------
//! A `BitEngine` that forwards every draw to a caller's engine of the same word size (so a task
//! called through `any_task` sees exactly the draws it would see called directly).
template <class Word> struct erased_engine {
  using result_type = Word;
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }
  void* engine;
  result_type (*draw)(void*);
  result_type operator()() { return draw(engine); }
};
static_assert(rlvr::tasks::BitEngine<erased_engine<std::uint32_t>>);
static_assert(rlvr::tasks::BitEngine<erased_engine<std::uint64_t>>);

//! A task of any type modelling `rlvr::tasks::Task`, as a regular value (shared, immutable).
//! Models `rlvr::tasks::Task` itself; `fingerprint()` is a SHA-256 over what the task is and
//! draws: its name, vocabulary, length bounds, and the first 64 problems of each split and 64
//! correct and 64 wrong pretraining examples of a fixed Philox stream — a changed task (new
//! parameters, or edited code that draws differently) gets a new fingerprint.
class any_task {
public:
  // any_task itself first: checking Task<any_task> would consider this constructor again
  template <class T>
    requires(!std::is_same_v<std::remove_cvref_t<T>, any_task> && rlvr::tasks::Task<T>)
  explicit any_task(T task) : self_(std::make_shared<const model<T>>(std::move(task))) {
    fingerprint_ = compute_fingerprint();
  }

  [[nodiscard]] const rlvr::tasks::vocabulary& vocab() const noexcept { return self_->vocab(); }
  [[nodiscard]] std::string_view name() const noexcept { return self_->name(); }
  [[nodiscard]] index_t max_prompt_length() const noexcept { return self_->max_prompt_length(); }
  [[nodiscard]] index_t max_response_length() const noexcept { return self_->max_response_length(); }
  [[nodiscard]] float score(std::span<const token_t> prompt, std::span<const token_t> response) const noexcept {
    return self_->score(prompt, response);
  }
  template <rlvr::tasks::BitEngine G> [[nodiscard]] std::vector<token_t> problem(G& g, rlvr::tasks::split s) const {
    if constexpr (G::max() == 0xFFFFFFFFull) {
      erased_engine<std::uint32_t> e{&g, [](void* p) { return static_cast<std::uint32_t>((*static_cast<G*>(p))()); }};
      return self_->problem32(e, s);
    } else {
      erased_engine<std::uint64_t> e{&g, [](void* p) { return static_cast<std::uint64_t>((*static_cast<G*>(p))()); }};
      return self_->problem64(e, s);
    }
  }
  template <rlvr::tasks::BitEngine G> [[nodiscard]] rlvr::tasks::example pretraining_example(G& g, bool correct) const {
    if constexpr (G::max() == 0xFFFFFFFFull) {
      erased_engine<std::uint32_t> e{&g, [](void* p) { return static_cast<std::uint32_t>((*static_cast<G*>(p))()); }};
      return self_->example32(e, correct);
    } else {
      erased_engine<std::uint64_t> e{&g, [](void* p) { return static_cast<std::uint64_t>((*static_cast<G*>(p))()); }};
      return self_->example64(e, correct);
    }
  }
  //! 64 hex digits (see the class comment).
  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }

private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual const rlvr::tasks::vocabulary& vocab() const noexcept = 0;
    virtual std::string_view name() const noexcept = 0;
    virtual index_t max_prompt_length() const noexcept = 0;
    virtual index_t max_response_length() const noexcept = 0;
    virtual float score(std::span<const token_t>, std::span<const token_t>) const noexcept = 0;
    virtual std::vector<token_t> problem32(erased_engine<std::uint32_t>&, rlvr::tasks::split) const = 0;
    virtual std::vector<token_t> problem64(erased_engine<std::uint64_t>&, rlvr::tasks::split) const = 0;
    virtual rlvr::tasks::example example32(erased_engine<std::uint32_t>&, bool) const = 0;
    virtual rlvr::tasks::example example64(erased_engine<std::uint64_t>&, bool) const = 0;
  };
  template <class T> struct model final : concept_t {
    explicit model(T t) : task(std::move(t)) {}
    T task;
    const rlvr::tasks::vocabulary& vocab() const noexcept override { return task.vocab(); }
    std::string_view name() const noexcept override { return task.name(); }
    index_t max_prompt_length() const noexcept override { return task.max_prompt_length(); }
    index_t max_response_length() const noexcept override { return task.max_response_length(); }
    float score(std::span<const token_t> p, std::span<const token_t> r) const noexcept override { return task.score(p, r); }
    std::vector<token_t> problem32(erased_engine<std::uint32_t>& g, rlvr::tasks::split s) const override {
      return task.problem(g, s);
    }
    std::vector<token_t> problem64(erased_engine<std::uint64_t>& g, rlvr::tasks::split s) const override {
      return task.problem(g, s);
    }
    rlvr::tasks::example example32(erased_engine<std::uint32_t>& g, bool c) const override {
      return task.pretraining_example(g, c);
    }
    rlvr::tasks::example example64(erased_engine<std::uint64_t>& g, bool c) const override {
      return task.pretraining_example(g, c);
    }
  };

  std::string compute_fingerprint() const {
    rlvr::io::sha256 h;
    auto tokens = [&](const std::vector<token_t>& t) {
      h.update_u64(t.size());
      for (token_t x : t) h.update_u64(static_cast<std::uint64_t>(x));
    };
    h.update(name());
    h.update_u64(static_cast<std::uint64_t>(vocab().size()));
    for (index_t t = 0; t < vocab().size(); ++t) {
      h.update_u64(vocab().word(static_cast<token_t>(t)).size());
      h.update(vocab().word(static_cast<token_t>(t)));
    }
    h.update_u64(static_cast<std::uint64_t>(max_prompt_length()));
    h.update_u64(static_cast<std::uint64_t>(max_response_length()));
    rlvr::philox_engine g(0x5EEDF1A6E4ULL, 0);
    for (int i = 0; i < 64; ++i) {
      tokens(problem(g, rlvr::tasks::split::train));
      tokens(problem(g, rlvr::tasks::split::eval));
      for (bool correct : {true, false}) {
        const rlvr::tasks::example ex = pretraining_example(g, correct);
        tokens(ex.prompt);
        tokens(ex.response);
      }
    }
    return rlvr::io::to_hex(h.finish());
  }

  std::shared_ptr<const concept_t> self_;
  std::string fingerprint_;
};
static_assert(rlvr::tasks::Task<any_task>);

// ---- the registry ----------------------------------------------------------------------------------
//! One entry of the study's task registry.
struct registered_task {
  std::string name;                        //!< what --task takes
  std::string summary;                     //!< one line for --help and --task lists
  double wrong_fraction = 0.5;             //!< the task's default pretraining data mix (--wrong-fraction)
  std::vector<double> map_wrong_fractions; //!< the data mixes --regime-map runs (≥ 1; default: the one above)
  std::function<any_task(task_options&)> make; //!< builds the task from its --task-option settings
};

namespace detail {
struct registry_state {
  std::vector<registered_task> tasks;
  std::vector<std::string> errors; // registrations that failed (reported at first use)
};
inline registry_state& registry() {
  static registry_state r;
  return r;
}
} // namespace detail

//! Adds `t` to the registry (returns true, for use in a static initialiser: RLVR_STUDY_TASK).
//! A bad entry (empty or duplicate name, no factory, a mix outside [0, 1]) is not added; the
//! study reports it, with the name, when it next looks a task up.
inline bool register_task(registered_task t) {
  auto& r = detail::registry();
  auto bad_mix = [](double w) { return !(std::isfinite(w) && w >= 0.0 && w <= 1.0); };
  std::string why;
  if (t.name.empty()) why = "a task was registered with an empty name";
  else if (std::any_of(r.tasks.begin(), r.tasks.end(), [&](const registered_task& x) { return x.name == t.name; }))
    why = "task '" + t.name + "' is registered twice";
  else if (!t.make) why = "task '" + t.name + "' was registered without a factory (make)";
  else if (bad_mix(t.wrong_fraction) || std::any_of(t.map_wrong_fractions.begin(), t.map_wrong_fractions.end(), bad_mix))
    why = "task '" + t.name + "' was registered with a wrong fraction outside [0, 1]";
  if (!why.empty()) {
    r.errors.push_back(why);
    return false;
  }
  if (t.map_wrong_fractions.empty()) t.map_wrong_fractions = {t.wrong_fraction};
  r.tasks.push_back(std::move(t));
  return true;
}

inline void check_registry() {
  const auto& r = detail::registry();
  if (!r.errors.empty()) rlvr::fail<rlvr::config_error>("rlvr-study: ", r.errors.front());
}

//! The registered task names, in registration order.
inline std::vector<std::string> task_names() {
  std::vector<std::string> v;
  for (const auto& t : detail::registry().tasks) v.push_back(t.name);
  return v;
}

//! The entry named `name`; throws `rlvr::config_error` listing the registered tasks otherwise.
inline const registered_task& find_task(const std::string& name) {
  check_registry();
  for (const auto& t : detail::registry().tasks)
    if (t.name == name) return t;
  std::string known;
  for (const auto& n : task_names()) known += (known.empty() ? "" : ", ") + n;
  rlvr::fail<rlvr::config_error>("rlvr-study: unknown task '", name, "' (registered: ",
                                 known.empty() ? std::string("none") : known, ")");
}

//! A registered task built from `settings` ("key=value"): the task, and the options as the
//! factory resolved them. Throws `rlvr::config_error` for an unknown task, a malformed or
//! unknown option, or a value the task rejects.
struct built_task {
  any_task task;
  task_options options;
  const registered_task* entry;
};
inline built_task make_registered_task(const std::string& name, const std::vector<std::string>& settings) {
  const registered_task& e = find_task(name);
  task_options o(settings);
  any_task t = e.make(o);
  o.check_all_used(name);
  return {std::move(t), std::move(o), &e};
}

} // namespace study

//! Registers a task with rlvr-study (see the file comment): `ID` is a C++ identifier naming the
//! registration, the braces a `study::registered_task` in designated-initialiser form.
#define RLVR_STUDY_TASK(ID, ...)                                                                                        \
  inline const bool rlvr_study_task_registered_##ID = ::study::register_task(::study::registered_task __VA_ARGS__)
