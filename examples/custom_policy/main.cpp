// A user-written policy: a bigram model (the next token's logits depend on the previous token
// only), plugged into rlvr by modelling rlvr::Policy. Copy this file to start your own model.
//
// What a Policy provides (rlvr/policy/concepts.hpp):
//   vocab_size(), context_length()
//   forward(token_batch, logits [B·T, V])   row b·T + t predicts token t + 1
//   backward(dlogits)                       adds into the parameter gradients
//   zero_grad(), parameters()               a span of rlvr::parameter_ref
//   cache_type, make_cache(n), decode(cache, tokens [n], logits [n, V]) const
//
// The program checks its gradient against a finite difference and with rlvr::check_policy, then lowers the probability of
// an "incorrect" continuation with NSR steps (rlvr-math §6) and AdamW; it exits non-zero if
// anything is off.
#include <rlvr/optim/adam.hpp>
#include <rlvr/policy/concepts.hpp>
#include <rlvr/policy/conformance.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

class bigram_policy {
public:
  static constexpr bool is_policy = true; // opt in to rlvr::Policy

  struct cache_type {
    std::vector<rlvr::token_t> last; // the previous token of each sequence
  };

  bigram_policy(rlvr::index_t vocab, rlvr::index_t context)
      : V_(vocab), ctx_(context), table_(static_cast<std::size_t>(vocab * vocab), 0.0f), grad_(table_.size(), 0.0f) {
    shape_ = {V_, V_};
    params_[0] = rlvr::parameter_ref{"bigram", table_, grad_, shape_};
  }
  // parameter_refs point into this object: copying would need to rebind them (not needed here)
  bigram_policy(const bigram_policy&) = delete;
  bigram_policy& operator=(const bigram_policy&) = delete;

  rlvr::index_t vocab_size() const { return V_; }
  rlvr::index_t context_length() const { return ctx_; }
  std::span<const rlvr::parameter_ref> parameters() { return params_; }
  void zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.0f); }

  void forward(const rlvr::token_batch& batch, rlvr::matrix_view<float> logits) {
    RLVR_EXPECTS(logits.rows() == batch.rows() && logits.cols() == V_, shape, "bigram_policy::forward: logits ",
                 logits.rows(), "x", logits.cols());
    last_ = batch.tokens; // remembered for backward (the caller keeps the tokens alive)
    for (rlvr::index_t b = 0; b < batch.batch(); ++b)
      for (rlvr::index_t t = 0; t < batch.length(); ++t)
        std::copy_n(row(batch.tokens(b, t)), V_, logits.row(b * batch.length() + t).data());
  }
  void backward(rlvr::matrix_view<const float> dlogits) {
    for (rlvr::index_t b = 0; b < last_.rows(); ++b)
      for (rlvr::index_t t = 0; t < last_.cols(); ++t) {
        float* g = grad_.data() + last_(b, t) * V_;
        const float* d = dlogits.row(b * last_.cols() + t).data();
        for (rlvr::index_t v = 0; v < V_; ++v) g[v] += d[v];
      }
  }

  cache_type make_cache(rlvr::index_t n) const { return {std::vector<rlvr::token_t>(static_cast<std::size_t>(n), 0)}; }
  void decode(cache_type& c, rlvr::vector_view<const rlvr::token_t> tokens, rlvr::matrix_view<float> logits) const {
    for (rlvr::index_t i = 0; i < tokens.size(); ++i) {
      c.last[static_cast<std::size_t>(i)] = tokens[i];
      std::copy_n(row(tokens[i]), V_, logits.row(i).data());
    }
  }

  float* row(rlvr::token_t prev) { return table_.data() + prev * V_; }
  const float* row(rlvr::token_t prev) const { return table_.data() + prev * V_; }

private:
  rlvr::index_t V_, ctx_;
  std::vector<float> table_, grad_;
  std::array<rlvr::index_t, 2> shape_{};
  std::array<rlvr::parameter_ref, 1> params_{};
  rlvr::matrix_view<const rlvr::token_t> last_;
};
static_assert(rlvr::Policy<bigram_policy>); // the compiler names any missing piece

// p = softmax(z); returns log p[y]
static double log_softmax(const float* z, rlvr::index_t V, rlvr::token_t y, std::vector<double>* p = nullptr) {
  double m = z[0], s = 0;
  for (rlvr::index_t v = 1; v < V; ++v) m = std::max(m, double(z[v]));
  for (rlvr::index_t v = 0; v < V; ++v) s += std::exp(double(z[v]) - m);
  if (p) {
    p->resize(static_cast<std::size_t>(V));
    for (rlvr::index_t v = 0; v < V; ++v) (*p)[static_cast<std::size_t>(v)] = std::exp(double(z[v]) - m) / s;
  }
  return double(z[y]) - m - std::log(s);
}

int main() {
  const rlvr::index_t V = 5, T = 3;
  bigram_policy pol(V, T);
  for (rlvr::index_t i = 0; i < V * V; ++i) pol.parameters()[0].value[static_cast<std::size_t>(i)] = 0.1f * float(i % 7);

  // An "incorrect" response: the sequence 1 → 2 → 4. NSR (A = −1) on its tokens:
  // ℓ = −A·Σ_t log π(y_{t+1} | y_t), ∂ℓ/∂z_t = A·(p_t − e_{y_{t+1}}).
  const std::vector<rlvr::token_t> seq{1, 2, 4};
  const rlvr::token_batch batch{{seq.data(), 1, T}, {}};
  std::vector<float> logits(static_cast<std::size_t>(T * V)), dlogits(logits.size());
  auto loss_and_grad = [&](double A) {
    pol.forward(batch, {logits.data(), T, V});
    double logp = 0;
    std::fill(dlogits.begin(), dlogits.end(), 0.0f);
    for (rlvr::index_t t = 0; t + 1 < T; ++t) {
      std::vector<double> p;
      const auto y = seq[static_cast<std::size_t>(t + 1)];
      logp += log_softmax(logits.data() + t * V, V, y, &p);
      for (rlvr::index_t v = 0; v < V; ++v)
        dlogits[static_cast<std::size_t>(t * V + v)] = static_cast<float>(A * (p[static_cast<std::size_t>(v)] - (v == y)));
    }
    return logp; // log π(response)
  };

  // 1. gradient check on one parameter (the logit of 2 → 4)
  pol.zero_grad();
  loss_and_grad(-1.0);
  pol.backward({dlogits.data(), T, V});
  float& w = pol.row(2)[4];
  const float analytic = pol.parameters()[0].grad[2 * V + 4];
  const float keep = w, h = 1e-2f;
  w = keep + h;
  const double up = loss_and_grad(-1.0);
  w = keep - h;
  const double down = loss_and_grad(-1.0);
  w = keep;
  const double fd = (up - down) / (2 * h); // ℓ = +log π for A = −1
  std::printf("gradient check: backward %.6f, finite difference %.6f\n", analytic, fd);
  if (std::abs(analytic - fd) > 1e-3) return 1;

  // … and rlvr's conformance checks: decode vs forward, backward vs finite differences on
  // sampled elements of every parameter, gradient accumulation
  const std::vector<rlvr::token_t> probe_tokens{0, 3, 1, 4, 4, 2};
  const auto report = rlvr::check_policy(pol, {{probe_tokens.data(), 2, T}, {}});
  std::printf("check_policy: decode error %.2e, gradient error %.2e, accumulation error %.2e -> %s\n",
              report.decode_error, report.gradient_error, report.accumulate_error, report.ok() ? "ok" : "FAILED");
  if (!report.ok()) return 1;

  // 2. NSR with AdamW lowers the incorrect response's probability
  rlvr::adamw opt({.lr = 0.05, .weight_decay = 0.0});
  const double before = loss_and_grad(-1.0);
  for (int step = 0; step < 20; ++step) {
    pol.zero_grad();
    loss_and_grad(-1.0);
    pol.backward({dlogits.data(), T, V});
    opt.step(pol.parameters());
  }
  const double after = loss_and_grad(-1.0);
  std::printf("log pi(incorrect response): %.4f -> %.4f after 20 NSR steps\n", before, after);
  return after < before - 1.0 ? 0 : 1;
}
