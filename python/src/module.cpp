// rlvr._rlvr: the Python extension (pybind11). Framework-free: every tensor crosses through
// DLPack (tensor.hpp) and every output is a caller-allocated tensor, so the same functions serve
// NumPy, PyTorch and any other DLPack producer; rlvr/__init__.py and rlvr/torch.py allocate.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "registry.hpp"
#include "tensor.hpp"

#include "compose.hpp"
#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/metrics/pass_at_k.hpp"
#include "rlvr/parallel.hpp"
#include "rlvr/random/philox.hpp"
#include "rlvr/rewards/concepts.hpp"
#include "rlvr/rewards/verifiers.hpp"
#include "rlvr/sampling/sampler.hpp"
#include "rlvr/tasks/zp_walk.hpp"

namespace py = pybind11;
using namespace rlvr;
using namespace rlvr::python;

// Masks and active flags cross the DLPack boundary as uint8 (or bool, the same bytes).
static_assert(scalar_v<mask_t> == scalar::u8, "rlvr::mask_t must be the DLPack uint8 the module checks for");

namespace {

// ---- errors: one Python class per rlvr kind, all deriving from rlvr.Error ----------------------
PyObject* g_error_types[9] = {};

void register_errors(py::module_& m) {
  PyObject* base = PyErr_NewExceptionWithDoc("rlvr.Error",
                                             "Base of every error rlvr raises; str(e) starts with the stable id, "
                                             "e.g. '[rlvr.shape] ...', also in e.id.",
                                             PyExc_RuntimeError, nullptr);
  m.add_object("Error", py::handle(base));
  py::setattr(base, "id", py::str("rlvr.unknown"));
  struct kind {
    errc code;
    const char* cls;
    PyObject* extra;
  };
  const kind kinds[] = {{errc::shape, "ShapeError", PyExc_ValueError},
                        {errc::range, "RangeError", PyExc_ValueError},
                        {errc::numerical, "NumericalError", PyExc_ArithmeticError},
                        {errc::io, "IOError", PyExc_OSError},
                        {errc::config, "ConfigError", PyExc_ValueError},
                        {errc::parse, "ParseError", PyExc_ValueError},
                        {errc::unsupported, "UnsupportedError", PyExc_NotImplementedError},
                        {errc::device, "DeviceError", PyExc_RuntimeError}};
  g_error_types[0] = base;
  for (const kind& k : kinds) {
    const std::string qual = std::string("rlvr.") + k.cls;
    PyObject* bases = PyTuple_Pack(2, base, k.extra);
    PyObject* t = PyErr_NewException(qual.c_str(), bases, nullptr);
    Py_DECREF(bases);
    py::setattr(t, "id", py::str(std::string(errc_id(k.code))));
    m.add_object(k.cls, py::handle(t));
    g_error_types[static_cast<int>(k.code)] = t;
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rlvr::error& e) {
      const int c = static_cast<int>(e.code());
      PyErr_SetString(c >= 1 && c <= 8 ? g_error_types[c] : g_error_types[0], e.what());
    }
  });
}

// ---- objective configuration from keyword arguments ---------------------------------------------
template <class E> E parse_enum(const py::handle& v, const char* key, std::initializer_list<std::pair<const char*, E>> opts) {
  const std::string s = py::str(v);
  std::string list;
  for (const auto& [n, e] : opts) {
    if (s == n) return e;
    list += std::string(list.empty() ? "" : ", ") + n;
  }
  fail<config_error>("objective: ", key, " = '", s, "' (expected one of: ", list, ")");
}

double as_double(const py::handle& v, const char* key) {
  try {
    return v.cast<double>();
  } catch (const py::cast_error&) {
    fail<config_error>("objective: ", key, " must be a number (got ", std::string(py::repr(v)), ")");
  }
}

runtime_objective objective_from_kwargs(const std::string& name_in, const py::kwargs& kw) {
  const std::string name = name_in == "reinforce++" ? "reinforce_pp" : name_in;
  objective_config c;
  if (name == "grpo") c.kl = kl_sel::k3; // GRPO's default: k3 KL in the loss
  if (name == "dr_grpo") c.aggregation = agg_kind::seq_mean_token_sum_norm;
  const bool clipped = name != "reinforce";
  std::vector<std::string> allowed = {"aggregation", "max_length", "kl", "kl_beta", "kl_clamp", "entropy_coef"};
  if (clipped) allowed.insert(allowed.end(), {"clip_low", "clip_high", "dual_clip", "log_ratio_clamp"});
  if (name == "psr" || name == "nsr") allowed.push_back("unused");
  if (name == "w_reinforce") allowed.push_back("lam");
  if (name == "reinforce") allowed.insert(allowed.end(), {"positive", "negative"});
  if (name == "grpo") allowed.insert(allowed.end(), {"eps", "std_floor", "singleton"});
  if (name == "reinforce_pp") allowed.push_back("whiten_eps");
  if (name == "ppo")
    allowed.insert(allowed.end(), {"gamma", "gae_lambda", "reward_kl_beta", "reward_kl", "whiten", "whiten_eps"});
  for (const auto& item : kw) {
    const std::string key = py::str(item.first);
    const py::handle v = item.second;
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == key;
    if (!ok) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail<config_error>("objective '", name, "': unknown option '", key, "' (options: ", list, ")");
    }
    const char* k = key.c_str();
    using enum agg_kind;
    if (key == "aggregation") {
      c.aggregation = parse_enum<agg_kind>(v, k, {{"token_mean", token_mean}, {"seq_mean_token_mean", seq_mean_token_mean},
                                                  {"seq_mean_token_sum", seq_mean_token_sum},
                                                  {"seq_mean_token_sum_norm", seq_mean_token_sum_norm},
                                                  {"token_sum", token_sum}});
    } else if (key == "kl") {
      c.kl = v.is_none() ? kl_sel::none
                         : parse_enum<kl_sel>(v, k, {{"none", kl_sel::none}, {"k1", kl_sel::k1}, {"k2", kl_sel::k2},
                                                     {"k3", kl_sel::k3}});
    } else if (key == "reward_kl") {
      c.reward_kl = parse_enum<kl_kind>(v, k, {{"k1", kl_kind::k1}, {"k2", kl_kind::k2}, {"k3", kl_kind::k3}});
    } else if (key == "unused") {
      c.unused = parse_enum<unused_side>(v, k, {{"drop", unused_side::drop}, {"zero", unused_side::zero}});
    } else if (key == "singleton") {
      c.singleton = parse_enum<singleton_policy>(v, k, {{"zero", singleton_policy::zero}, {"raw", singleton_policy::raw}});
    } else if (key == "whiten") {
      c.whiten = v.cast<bool>();
    } else {
      const double x = as_double(v, k);
      double* dst = key == "max_length"        ? &c.max_length
                    : key == "kl_beta"         ? &c.kl_beta
                    : key == "kl_clamp"        ? &c.kl_clamp
                    : key == "entropy_coef"    ? &c.entropy_coef
                    : key == "clip_low"        ? &c.clip_low
                    : key == "clip_high"       ? &c.clip_high
                    : key == "dual_clip"       ? &c.dual_clip
                    : key == "log_ratio_clamp" ? &c.log_ratio_clamp
                    : key == "lam"             ? &c.lam
                    : key == "positive"        ? &c.positive
                    : key == "negative"        ? &c.negative
                    : key == "eps"             ? &c.eps
                    : key == "std_floor"       ? &c.std_floor
                    : key == "whiten_eps"      ? &c.whiten_eps
                    : key == "gamma"           ? &c.gamma
                    : key == "gae_lambda"      ? &c.gae_lambda
                                               : &c.reward_kl_beta;
      *dst = x;
    }
  }
  return make_objective(name, c);
}

// ---- diagnostics and reports as dicts ------------------------------------------------------------
py::dict to_dict(const loss_diagnostics& d) {
  py::dict r;
  r["loss"] = d.loss;
  r["clip_frac_low"] = d.clip_frac_low;
  r["clip_frac_high"] = d.clip_frac_high;
  r["clip_frac_dual"] = d.clip_frac_dual;
  r["kl_clamp_frac"] = d.kl_clamp_frac;
  r["approx_kl"] = d.approx_kl;
  r["ref_kl"] = d.ref_kl;
  r["mean_entropy"] = d.mean_entropy;
  r["mean_logp"] = d.mean_logp;
  r["active_tokens"] = d.active_tokens;
  r["rows"] = d.rows;
  r["zero_std_fraction"] = d.zero_std_fraction;
  r["dropped"] = d.dropped;
  r["mean_gate"] = d.mean_gate;
  r["gated_out_frac"] = d.gated_out_frac;
  r["full_kl"] = d.full_kl;
  return r;
}

py::dict to_dict(const advantage_report& a) {
  py::dict r;
  r["responses"] = a.responses;
  r["groups"] = a.groups;
  r["zero_std_groups"] = a.zero_std_groups;
  r["singleton_groups"] = a.singleton_groups;
  r["nan_rewards"] = a.nan_rewards;
  r["dropped"] = a.dropped;
  r["zero_std_fraction"] = a.zero_std_fraction();
  return r;
}

// ---- the loss ------------------------------------------------------------------------------------
struct loss_args {
  py::object logits, targets, advantages, grad, active, seq, old_logp, ref_logp, logp_out, entropy_out, loss_out;
  index_t num_sequences;
  double temperature, global_tokens, global_sequences;
  std::optional<std::vector<double>> component_tokens, component_sequences;
  int threads;
};

template <class T> py::dict loss_typed(const runtime_objective& o, const loss_args& a) {
  const index_t k = o.ops->components;
  const borrowed z = borrowed::take(a.logits, "logits");
  const borrowed g = borrowed::take(a.grad, "grad");
  g.expect_writable();
  const borrowed y = borrowed::take(a.targets, "targets");
  const borrowed adv = borrowed::take(a.advantages, "advantages");
  const borrowed act = take_opt(a.active, "active");
  const borrowed sq = take_opt(a.seq, "seq");
  const borrowed old = take_opt(a.old_logp, "old_logp");
  const borrowed ref = take_opt(a.ref_logp, "ref_logp");
  const borrowed lp = take_opt(a.logp_out, "logp_out");
  const borrowed en = take_opt(a.entropy_out, "entropy_out");
  const borrowed tl = take_opt(a.loss_out, "loss_out");

  loss_call<T> c;
  c.batch.logits = z.matrix<const T>();
  c.grad = g.matrix<T>();
  std::vector<std::int32_t> y_own, seq_own;
  c.batch.targets = ids32(y, y_own);
  const index_t n = c.batch.logits.rows();
  // [N] (or [B, T]) advantages and flags of a one-component objective are its one row
  c.batch.advantages = (k == 1 && adv.numel() == n) ? matrix_view<const T>(adv.vector<const T>().data(), 1, n)
                                                    : adv.matrix<const T>();
  if (!a.active.is_none()) {
    act.expect_dtype(scalar::u8, "uint8 or bool");
    c.batch.active = (k == 1 && act.numel() == n)
                         ? matrix_view<const mask_t>(act.vector<const mask_t>().data(), 1, n)
                         : act.matrix<const mask_t>();
  }
  if (!a.seq.is_none()) c.batch.seq = ids32(sq, seq_own);
  c.batch.num_sequences = a.num_sequences;
  if (!a.old_logp.is_none()) c.batch.old_logp = old.vector<const T>();
  if (!a.ref_logp.is_none()) c.batch.ref_logp = ref.vector<const T>();
  if (!a.logp_out.is_none()) (lp.expect_writable(), c.outputs.logp = lp.vector<T>());
  if (!a.entropy_out.is_none()) (en.expect_writable(), c.outputs.entropy = en.vector<T>());
  if (!a.loss_out.is_none()) (tl.expect_writable(), c.outputs.loss = tl.vector<T>());
  c.options.temperature = a.temperature;
  c.options.aggregation.global_tokens = a.global_tokens;
  c.options.aggregation.global_sequences = a.global_sequences;
  for (const auto* v : {&a.component_tokens, &a.component_sequences})
    RLVR_EXPECTS(!*v || static_cast<index_t>((*v)->size()) == k, shape, "loss_and_grad: component counts have ",
                 (*v)->size(), " entries but the objective has ", k, " component(s)");
  if (a.component_tokens) c.options.aggregation.component_tokens = a.component_tokens->data();
  if (a.component_sequences) c.options.aggregation.component_sequences = a.component_sequences->data();
  c.threads = a.threads;
  loss_diagnostics d;
  {
    py::gil_scoped_release nogil;
    if constexpr (std::is_same_v<T, float>) d = o.ops->loss_f32(o.obj.get(), c);
    else d = o.ops->loss_f64(o.obj.get(), c);
  }
  return to_dict(d);
}

py::dict loss_entry(const runtime_objective& o, const loss_args& a) {
  const borrowed probe = borrowed::take(a.logits, "logits");
  const scalar s = probe.dtype();
  if (s == scalar::f32) return loss_typed<float>(o, a);
  if (s == scalar::f64) return loss_typed<double>(o, a);
  probe.expect_dtype(scalar::f32, "float32 or float64");
  return {};
}

// ---- advantages ------------------------------------------------------------------------------------
template <class T>
py::dict advantages_typed(const runtime_objective& o, py::handle rewards, py::handle seq, py::handle adv_out,
                          py::handle active_out, py::handle returns_out, py::handle group_ids, py::handle mask,
                          py::handle values, py::handle old_logp, py::handle ref_logp) {
  const borrowed r = borrowed::take(rewards, "rewards");
  const borrowed s = borrowed::take(seq, "seq");
  const borrowed ao = borrowed::take(adv_out, "advantages_out");
  const borrowed acto = borrowed::take(active_out, "active_out");
  const borrowed ro = take_opt(returns_out, "returns_out");
  const borrowed gi = take_opt(group_ids, "group_ids");
  const borrowed mk = take_opt(mask, "mask");
  const borrowed vl = take_opt(values, "values");
  const borrowed ol = take_opt(old_logp, "old_logp");
  const borrowed rl = take_opt(ref_logp, "ref_logp");
  ao.expect_writable();
  acto.expect_writable();
  advantage_input<T> in;
  std::vector<std::int32_t> seq_own;
  std::vector<std::int64_t> gid_own;
  in.rewards = r.vector<const T>();
  in.seq = ids32(s, seq_own);
  if (!group_ids.is_none()) in.group_ids = ids64(gi, gid_own);
  if (!mask.is_none()) {
    mk.expect_dtype(scalar::u8, "uint8 or bool");
    in.mask = mk.vector<const mask_t>();
  }
  if (!values.is_none()) in.values = vl.vector<const T>();
  if (!old_logp.is_none()) in.old_logp = ol.vector<const T>();
  if (!ref_logp.is_none()) in.ref_logp = rl.vector<const T>();
  const auto out_a = ao.vector<T>();
  acto.expect_dtype(scalar::u8, "uint8 or bool");
  const auto out_m = acto.vector<mask_t>();
  const index_t kn = o.ops->components * in.seq.size();
  RLVR_EXPECTS(out_a.size() == kn && out_m.size() == kn, shape, "advantages: the outputs have ", out_a.size(), " and ",
               out_m.size(), " elements but the objective has ", o.ops->components, " component(s) x ", in.seq.size(),
               " tokens");
  advantage_result<T> res;
  {
    py::gil_scoped_release nogil;
    if constexpr (std::is_same_v<T, float>) res = o.ops->adv_f32(o.obj.get(), in);
    else res = o.ops->adv_f64(o.obj.get(), in);
  }
  std::copy(res.adv.begin(), res.adv.end(), out_a.data());
  std::copy(res.act.begin(), res.act.end(), out_m.data());
  if (!returns_out.is_none()) {
    ro.expect_writable();
    const auto out_r = ro.vector<T>();
    expect_size(out_r, in.seq.size(), "advantages: returns_out");
    std::copy(res.returns.begin(), res.returns.end(), out_r.data());
  }
  return to_dict(res.report);
}

// ---- sampling ----------------------------------------------------------------------------------------
template <class T>
void sample_typed(const borrowed& z, const borrowed& tok, const borrowed& lp, const borrowed& plp,
                  const sampling_config& cfg, const stream_batch& st, int threads) {
  const auto logits = z.matrix<const T>();
  const auto lpv = lp.vector<T>();
  const auto plpv = plp.vector<T>();
  expect_size(lpv, logits.rows(), "sample: logprob_out");
  expect_size(plpv, logits.rows(), "sample: policy_logprob_out");
  std::vector<token_draw<T>> draws(static_cast<std::size_t>(logits.rows()));
  {
    py::gil_scoped_release nogil;
    rlvr::sample(host_backend(threads), logits, cfg, st, vector_view<token_draw<T>>(draws));
  }
  if (tok.dtype() == scalar::i64) {
    const auto t = tok.vector<std::int64_t>();
    expect_size(t, logits.rows(), "sample: tokens_out");
    for (std::size_t i = 0; i < draws.size(); ++i) t[static_cast<index_t>(i)] = draws[i].token;
  } else {
    const auto t = tok.vector<std::int32_t>();
    expect_size(t, logits.rows(), "sample: tokens_out");
    for (std::size_t i = 0; i < draws.size(); ++i) t[static_cast<index_t>(i)] = static_cast<std::int32_t>(draws[i].token);
  }
  for (std::size_t i = 0; i < draws.size(); ++i) {
    lpv[static_cast<index_t>(i)] = draws[i].logprob;
    plpv[static_cast<index_t>(i)] = draws[i].policy_logprob;
  }
}

// ---- the Z_p walk task ------------------------------------------------------------------------------
struct py_zp_walk {
  tasks::zp_walk task;
  std::vector<token_t> problem(std::uint64_t seed, std::uint64_t index, const std::string& split) const {
    RLVR_EXPECTS(split == "train" || split == "eval", config, "ZpWalk.problem: split = '", split,
                 "' (expected 'train' or 'eval')");
    philox_engine g(seed, index);
    return task.problem(g, split == "train" ? tasks::split::train : tasks::split::eval);
  }
  std::pair<std::vector<token_t>, std::vector<token_t>> example(std::uint64_t seed, std::uint64_t index, bool correct) const {
    philox_engine g(seed, index);
    tasks::example e = task.pretraining_example(g, correct);
    return {e.prompt, e.response};
  }
};

} // namespace

PYBIND11_MODULE(_rlvr, m) {
  m.doc() = "rlvr: fused RLVR objectives, Philox samplers, Pass@k and verifiers over DLPack tensors";
  register_errors(m);
  m.attr("version") = py::make_tuple(RLVR_VERSION_MAJOR, RLVR_VERSION_MINOR, RLVR_VERSION_PATCH);
  m.attr("backend") = RLVR_PYTHON_EIGEN ? "eigen" : "serial";
  m.attr("cuda") = false;
  // Transparent huge pages for a fresh, untouched host buffer (rlvr.torch's N × V gradient):
  // the 2 MiB-aligned part of its memory is advised MADV_HUGEPAGE, so its first touch faults
  // 2 MiB at a time instead of 4 KiB (page faults of a fresh 65 MB buffer cost more than the
  // fused pass that fills it on some machines; docs/python.md). Returns the bytes advised (0
  // off Linux, for buffers under 2 MiB, or when the kernel refuses: it is only advice).
  m.def(
      "advise_hugepages",
      [](py::object buffer) -> std::int64_t {
        const borrowed b = borrowed::take(buffer, "buffer");
        const std::int64_t bytes = b.compact_bytes(); // 0 for a strided view: nothing advised
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
        const auto p = reinterpret_cast<std::uintptr_t>(b.data());
        const std::uintptr_t lo = (p + huge - 1) / huge * huge, hi = (p + static_cast<std::uintptr_t>(bytes)) / huge * huge;
        if (hi <= lo || madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE) != 0) return 0;
        return static_cast<std::int64_t>(hi - lo);
#else
        (void)bytes;
        return 0;
#endif
      },
      py::arg("buffer"), "advise the 2 MiB-aligned part of a fresh host buffer for transparent huge pages");
  m.def("default_num_threads", &default_num_threads, "threads used when threads = 0 (RLVR_NUM_THREADS or the cores)");

  py::class_<runtime_objective>(m, "Objective", "An objective compiled into the module (see rlvr.objective).")
      .def_readonly("name", &runtime_objective::name)
      .def_readonly("composition", &runtime_objective::composition)
      .def_property_readonly("components", [](const runtime_objective& o) { return o.ops->components; })
      .def_property_readonly("uses_old_logp", [](const runtime_objective& o) { return o.ops->uses_old_logp; })
      .def_property_readonly("uses_ref_logp", [](const runtime_objective& o) { return o.ops->uses_ref_logp; })
      .def_property_readonly("needs_values", [](const runtime_objective& o) { return o.ops->needs_values; })
      .def_property_readonly("needs_group_ids", [](const runtime_objective& o) { return o.ops->needs_group_ids; })
      .def_property_readonly("needs_seq", [](const runtime_objective& o) { return o.ops->needs_seq; })
      .def("__repr__", [](const runtime_objective& o) { return "rlvr.Objective('" + o.name + "': " + o.composition + ")"; });
  m.def("objective", &objective_from_kwargs, py::arg("name"),
        "The objective `name` (psr, nsr, w_reinforce, reinforce, ppo, grpo, dr_grpo, rloo, reinforce_pp) with its "
        "options as keyword arguments.");
  m.def("objective_names", &objective_names);

  m.def(
      "loss_and_grad",
      [](const runtime_objective& o, py::object logits, py::object targets, py::object advantages, py::object grad,
         py::object active, py::object seq, index_t num_sequences, py::object old_logp, py::object ref_logp,
         double temperature, double global_tokens, double global_sequences,
         std::optional<std::vector<double>> component_tokens, std::optional<std::vector<double>> component_sequences,
         int threads, py::object logp_out, py::object entropy_out, py::object loss_out) {
        const loss_args a{logits,      targets,        advantages,         grad,        active,     seq,
                          old_logp,    ref_logp,       logp_out,           entropy_out, loss_out,   num_sequences,
                          temperature, global_tokens,  global_sequences,   std::move(component_tokens),
                          std::move(component_sequences), threads};
        return loss_entry(o, a);
      },
      py::arg("objective"), py::arg("logits"), py::arg("targets"), py::arg("advantages"), py::arg("grad"),
      py::arg("active") = py::none(), py::arg("seq") = py::none(), py::arg("num_sequences") = 0,
      py::arg("old_logp") = py::none(), py::arg("ref_logp") = py::none(), py::arg("temperature") = 1.0,
      py::arg("global_tokens") = 0.0, py::arg("global_sequences") = 0.0, py::arg("component_tokens") = py::none(),
      py::arg("component_sequences") = py::none(), py::arg("threads") = 0, py::arg("logp_out") = py::none(),
      py::arg("entropy_out") = py::none(), py::arg("loss_out") = py::none(),
      "The fused pass: writes dL/dlogits into `grad` (may be `logits` itself) and returns the diagnostics.");

  m.def(
      "estimate_advantages",
      [](const runtime_objective& o, py::object rewards, py::object seq, py::object adv_out, py::object active_out,
         py::object returns_out, py::object group_ids, py::object mask, py::object values, py::object old_logp,
         py::object ref_logp) {
        const borrowed probe = borrowed::take(rewards, "rewards");
        if (probe.dtype() == scalar::f64)
          return advantages_typed<double>(o, rewards, seq, adv_out, active_out, returns_out, group_ids, mask, values,
                                          old_logp, ref_logp);
        probe.expect_dtype(scalar::f32, "float32 or float64");
        return advantages_typed<float>(o, rewards, seq, adv_out, active_out, returns_out, group_ids, mask, values,
                                       old_logp, ref_logp);
      },
      py::arg("objective"), py::arg("rewards"), py::arg("seq"), py::arg("advantages_out"), py::arg("active_out"),
      py::arg("returns_out") = py::none(), py::arg("group_ids") = py::none(), py::arg("mask") = py::none(),
      py::arg("values") = py::none(), py::arg("old_logp") = py::none(), py::arg("ref_logp") = py::none());

  m.def(
      "log_prob_entropy",
      [](py::object logits, py::object targets, py::object logp_out, py::object entropy_out, double temperature,
         int threads) {
        const borrowed z = borrowed::take(logits, "logits");
        const borrowed y = borrowed::take(targets, "targets");
        const borrowed lp = borrowed::take(logp_out, "logp_out");
        const borrowed en = take_opt(entropy_out, "entropy_out");
        lp.expect_writable();
        std::vector<std::int32_t> y_own;
        const auto yv = ids32(y, y_own);
        auto run = [&]<class T>(T) {
          const auto zv = z.matrix<const T>();
          const auto lv = lp.vector<T>();
          vector_view<T> ev;
          if (!entropy_out.is_none()) {
            en.expect_writable();
            ev = en.vector<T>();
          }
          py::gil_scoped_release nogil;
          rlvr::log_prob_entropy(host_backend(threads), zv, yv, lv, ev, temperature);
        };
        if (z.dtype() == scalar::f64) run(0.0);
        else {
          z.expect_dtype(scalar::f32, "float32 or float64");
          run(0.0f);
        }
      },
      py::arg("logits"), py::arg("targets"), py::arg("logp_out"), py::arg("entropy_out") = py::none(),
      py::arg("temperature") = 1.0, py::arg("threads") = 0);

  m.def(
      "sample",
      [](py::object logits, py::object tokens_out, py::object logprob_out, py::object policy_logprob_out,
         double temperature, std::optional<index_t> top_k, double top_p, double min_p, bool greedy, std::uint64_t seed,
         std::uint64_t first_subsequence, std::uint64_t offset, py::object subsequences, py::object offsets,
         int threads) {
        const borrowed z = borrowed::take(logits, "logits");
        const borrowed tok = borrowed::take(tokens_out, "tokens_out");
        const borrowed lp = borrowed::take(logprob_out, "logprob_out");
        const borrowed plp = borrowed::take(policy_logprob_out, "policy_logprob_out");
        const borrowed ss = take_opt(subsequences, "subsequences");
        const borrowed os = take_opt(offsets, "offsets");
        for (const borrowed* b : {&tok, &lp, &plp}) b->expect_writable();
        if (tok.dtype() != scalar::i64) tok.expect_dtype(scalar::i32, "int64 or int32");
        sampling_config cfg{.temperature = temperature, .greedy = greedy, .top_k = top_k, .top_p = top_p, .min_p = min_p};
        stream_batch st{.seed = seed, .first_subsequence = first_subsequence, .offset = offset};
        std::vector<std::int64_t> ss_own, os_own;
        auto u64 = [](const borrowed& b, std::vector<std::int64_t>& own) {
          const auto v = ids64(b, own);
          return vector_view<const std::uint64_t>(reinterpret_cast<const std::uint64_t*>(v.data()), v.size());
        };
        if (!subsequences.is_none()) st.subsequences = u64(ss, ss_own);
        if (!offsets.is_none()) st.offsets = u64(os, os_own);
        if (z.dtype() == scalar::f64) sample_typed<double>(z, tok, lp, plp, cfg, st, threads);
        else {
          z.expect_dtype(scalar::f32, "float32 or float64");
          sample_typed<float>(z, tok, lp, plp, cfg, st, threads);
        }
      },
      py::arg("logits"), py::arg("tokens_out"), py::arg("logprob_out"), py::arg("policy_logprob_out"),
      py::arg("temperature") = 1.0, py::arg("top_k") = py::none(), py::arg("top_p") = 1.0, py::arg("min_p") = 0.0,
      py::arg("greedy") = false, py::arg("seed") = 0, py::arg("first_subsequence") = 0, py::arg("offset") = 0,
      py::arg("subsequences") = py::none(), py::arg("offsets") = py::none(), py::arg("threads") = 0);

  m.def("philox_uniform",
        [](std::uint64_t seed, std::uint64_t subsequence, std::uint64_t offset) {
          return stream_batch{.seed = seed, .first_subsequence = subsequence, .offset = offset}.uniform(0);
        },
        py::arg("seed"), py::arg("subsequence"), py::arg("offset"),
        "The uniform in [0, 1) the sampler draws for a row at (seed, subsequence, offset).");

  m.def("pass_at_k", [](index_t n, index_t c, index_t k) { return pass_at_k(n, c, k); }, py::arg("n"), py::arg("c"),
        py::arg("k"));
  m.def("pass_hat_k", [](index_t n, index_t c, index_t k) { return pass_hat_k(n, c, k); }, py::arg("n"), py::arg("c"),
        py::arg("k"));
  m.def(
      "pass_at_k_many",
      [](py::object n, py::object c, index_t k, py::object out) {
        const borrowed bn = borrowed::take(n, "n"), bc = borrowed::take(c, "c"), bo = borrowed::take(out, "out");
        bo.expect_writable();
        std::vector<std::int64_t> n_own, c_own;
        const auto nv = ids64(bn, n_own), cv = ids64(bc, c_own);
        const auto ov = bo.vector<double>();
        RLVR_EXPECTS(cv.size() == nv.size() && ov.size() == nv.size(), shape, "pass_at_k: n has ", nv.size(),
                     " entries, c ", cv.size(), ", out ", ov.size());
        for (index_t i = 0; i < nv.size(); ++i) ov[i] = pass_at_k(nv[i], cv[i], k);
      },
      py::arg("n"), py::arg("c"), py::arg("k"), py::arg("out"));

  m.def(
      "math_verify",
      [](const std::string& response, const std::string& gold) {
        return math_verifier{}(std::string_view{}, response, gold) > 0.5;
      },
      py::arg("response"), py::arg("gold"),
      "True iff the last \\boxed{} of `response` is math-equivalent to `gold` (bare answer or a solution).");
  m.def(
      "math_verify_batch",
      [](const std::vector<std::string>& responses, const std::vector<std::string>& golds, int threads) {
        std::vector<std::string_view> rv(responses.begin(), responses.end()), gv(golds.begin(), golds.end());
        std::vector<double> out(responses.size());
        {
          py::gil_scoped_release nogil;
          score_batch(math_verifier{}, std::span<const std::string_view>{}, std::span<const std::string_view>(rv),
                      std::span<const std::string_view>(gv), std::span<double>(out), threads);
        }
        return out;
      },
      py::arg("responses"), py::arg("golds"), py::arg("threads") = 0);

  py::class_<py_zp_walk>(m, "ZpWalk", "The Z_p walk task of rlvr-study: reach t from s with v+1 and 2v (mod p).")
      .def(py::init([](int modulus, int train_max_distance, int eval_min_distance, int eval_max_distance, int max_steps) {
             tasks::zp_walk_config c;
             c.modulus = modulus;
             c.walk.train_max_distance = train_max_distance;
             c.walk.eval_min_distance = eval_min_distance;
             c.walk.eval_max_distance = eval_max_distance;
             c.walk.max_steps = max_steps;
             return py_zp_walk{tasks::zp_walk(c)};
           }),
           py::arg("modulus") = 53, py::arg("train_max_distance") = 3, py::arg("eval_min_distance") = 4,
           py::arg("eval_max_distance") = 5, py::arg("max_steps") = 10)
      .def_property_readonly("vocab_size", [](const py_zp_walk& w) { return w.task.vocab().size(); })
      .def_property_readonly("bos", [](const py_zp_walk& w) { return w.task.vocab().bos(); })
      .def_property_readonly("sep", [](const py_zp_walk& w) { return w.task.vocab().sep(); })
      .def_property_readonly("eos", [](const py_zp_walk& w) { return w.task.vocab().eos(); })
      .def_property_readonly("pad", [](const py_zp_walk& w) { return w.task.vocab().pad(); })
      .def_property_readonly("max_prompt_length", [](const py_zp_walk& w) { return w.task.max_prompt_length(); })
      .def_property_readonly("max_response_length", [](const py_zp_walk& w) { return w.task.max_response_length(); })
      .def("problem", &py_zp_walk::problem, py::arg("seed"), py::arg("index"), py::arg("split") = "train",
           "The prompt tokens of problem `index` of the Philox stream `seed`.")
      .def("pretraining_example", &py_zp_walk::example, py::arg("seed"), py::arg("index"), py::arg("correct"),
           "(prompt, response) of a correct or plausibly wrong walk.")
      .def("distance", [](const py_zp_walk& w, const std::vector<token_t>& prompt) {
             int s = 0, t = 0;
             RLVR_EXPECTS(w.task.parse_prompt(prompt, s, t), parse, "ZpWalk.distance: not a prompt of this task");
             return w.task.distance(s, t);
           })
      .def("score", [](const py_zp_walk& w, const std::vector<token_t>& prompt, const std::vector<token_t>& response) {
             return w.task.score(prompt, response);
           })
      .def("decode", [](const py_zp_walk& w, const std::vector<token_t>& tokens) {
             std::string s;
             for (token_t t : tokens) s += (s.empty() ? "" : " ") + w.task.vocab().word(t);
             return s;
           });
}
