#pragma once
// Per-parameter optimizer state ("slots") matched to a parameter list by position and name, and
// its (de)serialisation into a state_dict. Private to rlvr/optim.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rlvr/error.hpp"
#include "rlvr/optim/parameter.hpp"
#include "rlvr/optim/state_dict.hpp"

namespace rlvr::detail {

//! K float buffers per parameter (momentum; Adam's m and v), created zero on the first step.
template <int K> class optimizer_slots {
public:
  struct slot {
    std::string name;
    std::vector<float> buf[K];
  };

  //! Creates the slots on first use, then checks that `params` is the list they were made for.
  void bind(std::span<const parameter_ref> params, const char* who) {
    if (slots_.empty() && !params.empty()) {
      slots_.resize(params.size());
      for (std::size_t i = 0; i < params.size(); ++i) {
        slots_[i].name = std::string(params[i].name);
        for (auto& b : slots_[i].buf) b.assign(params[i].value.size(), 0.0f);
      }
    }
    RLVR_EXPECTS(params.size() == slots_.size(), config, who, ": step with ", params.size(),
                 " parameters, but the optimizer state holds ", slots_.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const parameter_ref& p = params[i];
      RLVR_EXPECTS(p.name == slots_[i].name, config, who, ": parameter ", i, " is '", p.name,
                   "', but the optimizer state was made for '", slots_[i].name, "'");
      RLVR_EXPECTS(p.value.size() == slots_[i].buf[0].size(), shape, who, ": parameter '", p.name, "' has ",
                   p.value.size(), " elements, its optimizer state ", slots_[i].buf[0].size());
      RLVR_EXPECTS(p.grad.size() == p.value.size(), shape, who, ": parameter '", p.name, "' has ",
                   p.value.size(), " values but ", p.grad.size(), " gradients");
    }
  }

  [[nodiscard]] slot& operator[](std::size_t i) { return slots_[i]; }
  [[nodiscard]] std::size_t size() const { return slots_.size(); }

  //! Writes slot k of parameter `name` as tensor `<buf_names[k]>.<name>`, and the parameter order
  //! (newline-separated) as metadata `params`.
  void save(state_dict& d, const char* const (&buf_names)[K]) const {
    std::string order;
    for (const slot& s : slots_) {
      if (!order.empty()) order += '\n';
      order += s.name;
      for (int k = 0; k < K; ++k)
        d.put<float>(std::string(buf_names[k]) + "." + s.name, std::span<const float>(s.buf[k]));
    }
    d.set_meta("params", order);
  }

  void load(const state_dict& d, const char* const (&buf_names)[K]) {
    std::vector<slot> fresh;
    const std::string& order = d.meta("params");
    std::size_t pos = 0;
    while (!order.empty() && pos <= order.size()) {
      const std::size_t nl = order.find('\n', pos);
      const std::size_t end = nl == std::string::npos ? order.size() : nl;
      slot s;
      s.name = order.substr(pos, end - pos);
      for (int k = 0; k < K; ++k) s.buf[k] = d.get<float>(std::string(buf_names[k]) + "." + s.name);
      for (int k = 1; k < K; ++k)
        RLVR_EXPECTS(s.buf[k].size() == s.buf[0].size(), shape, "optimizer state: buffers of '", s.name,
                     "' differ in length");
      fresh.push_back(std::move(s));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    slots_ = std::move(fresh);
  }

private:
  std::vector<slot> slots_;
};

//! Checks the `optimizer` metadata names the expected kind.
inline void expect_optimizer_kind(const state_dict& d, std::string_view kind) {
  const std::string& got = d.meta("optimizer");
  RLVR_EXPECTS(got == kind, config, "load_state: the state was saved by optimizer '", got, "', not '", kind, "'");
}

inline void expect_lr(double lr, const char* who) {
  RLVR_EXPECTS(std::isfinite(lr) && lr >= 0.0, config, who, ": learning rate ", lr, " must be finite and >= 0");
}

} // namespace rlvr::detail
