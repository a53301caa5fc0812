#pragma once
//! \file rlvr/trainer/metrics_writer.hpp
//! \brief `rlvr::metrics_writer`: the trainer's step metrics as JSON Lines or CSV, one record
//! per step, flushed after every record (a crashed run keeps what it logged).
//!
//!     rlvr::metrics_writer log("run/metrics.jsonl");       // ".csv" → CSV, anything else → JSONL
//!     trainer.on_step([&](const rlvr::step_metrics& m) { log.write(m); });
//!
//! Record fields, in this order (the CSV header; the JSON keys): every field of
//! `rlvr::step_metrics` under its member name — `step, prompts, responses, reward_mean, accuracy,
//! solved_fraction, unsolved_fraction, entropy, response_length, truncated_fraction, kept, dropped,
//! updates, loss, grad_norm, clip_frac_low, clip_frac_high, approx_kl, ref_kl, value_loss,
//! learning_rate, rollout_seconds, logprob_seconds, advantage_seconds, forward_seconds,
//! loss_seconds, backward_seconds, optimizer_seconds, step_seconds`. Integers are written as
//! integers, reals in the shortest form that reads back to the same double (`std::to_chars`);
//! a NaN or infinity is `null` in JSON and empty in CSV.
//!
//! Errors: a file that cannot be opened or written raises `rlvr::io_error` naming the path.
//!
//! Design notes:
//! - Each record is one line, written and flushed at once, and the stream state is checked
//!   after the flush: a full disk is reported at the step that could not be logged, and a run
//!   killed between steps leaves a file of whole records (at most the last line is torn by a
//!   kill during the write itself; JSONL and CSV readers skip or report such a line).
//! - Appending (`append = true`) is how a resumed run continues its log: open the writer with
//!   `append = true` and pass it to `trainer::fit` (`fit_config::log`), which resumes from its
//!   checkpoint; a CSV file that already has content does not get a second header. The writer
//!   does not remove records written after the checkpoint the run resumed from: every record
//!   carries its `step`, so a reader keeps the last record of each step.
//! - Numbers round-trip: integers exactly, doubles by `std::to_chars` (shortest form), so a
//!   metric read back from the log compares equal to the in-memory value.
//! - Not thread-safe: one writer per file, called from the thread that runs the trainer.
//! - The phase timings are the only fields that differ between two runs with one seed; compare
//!   logs with them left out (or use `step_metrics`' other fields) when checking that a run
//!   is reproducible.

#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"
#include "rlvr/trainer/step_metrics.hpp"

namespace rlvr {

//! Calls `f(name, value)` for every field of `m` in the documented order (`value` is an
//! `index_t` or a `double`). The one list of the fields: the writer, its CSV header and any
//! other serialisation of `step_metrics` go through it, so adding a field to `step_metrics`
//! means adding one line here. Example — the metrics as a map:
//!
//!     std::map<std::string, double> kv;
//!     rlvr::for_each_metric(m, [&](std::string_view k, auto v) { kv[std::string(k)] = double(v); });
//! `m` may be non-const: `f` then receives each field as an lvalue and may assign it (reading a
//! record back into a `step_metrics`).
template <class M, class F>
  requires std::is_same_v<std::remove_const_t<M>, step_metrics>
void for_each_metric(M& m, F&& f) {
  f("step", m.step);
  f("prompts", m.prompts);
  f("responses", m.responses);
  f("reward_mean", m.reward_mean);
  f("accuracy", m.accuracy);
  f("solved_fraction", m.solved_fraction);
  f("unsolved_fraction", m.unsolved_fraction);
  f("entropy", m.entropy);
  f("response_length", m.response_length);
  f("truncated_fraction", m.truncated_fraction);
  f("kept", m.kept);
  f("dropped", m.dropped);
  f("updates", m.updates);
  f("loss", m.loss);
  f("grad_norm", m.grad_norm);
  f("clip_frac_low", m.clip_frac_low);
  f("clip_frac_high", m.clip_frac_high);
  f("approx_kl", m.approx_kl);
  f("ref_kl", m.ref_kl);
  f("value_loss", m.value_loss);
  f("learning_rate", m.learning_rate);
  f("rollout_seconds", m.rollout_seconds);
  f("logprob_seconds", m.logprob_seconds);
  f("advantage_seconds", m.advantage_seconds);
  f("forward_seconds", m.forward_seconds);
  f("loss_seconds", m.loss_seconds);
  f("backward_seconds", m.backward_seconds);
  f("optimizer_seconds", m.optimizer_seconds);
  f("step_seconds", m.step_seconds);
}

//! Writes step metrics to a file as JSON Lines or CSV (see the file comment).
//!
//! Reading the log back, e.g. in Python:
//!
//!     import pandas as pd
//!     df = pd.read_json("run/metrics.jsonl", lines=True)      # or pd.read_csv("run/metrics.csv")
//!     df = df.drop_duplicates("step", keep="last")             # a resumed run may repeat steps
//!     df.plot(x="step", y=["reward_mean", "entropy"])
//!
//! Ownership: the writer owns its `std::ofstream` (movable, not copyable); the file is closed
//! when the writer is destroyed. Cost per record: one line of ~600 bytes and one flush — small
//! against a training step, but not meant for per-token logging.
class metrics_writer {
public:
  //! The two file formats: one JSON object per line, or comma-separated values with a header.
  //! JSONL keeps working when a later version adds fields (readers look fields up by name);
  //! CSV is the smaller file and opens in a spreadsheet.
  enum class format { jsonl, csv };

  //! Opens `path` (truncating it, or appending with `append`); the format follows the
  //! extension: `.csv` → CSV, anything else → JSON Lines. A CSV file gets its header when it
  //! starts empty. Missing parent directories are created. Throws `rlvr::io_error` naming the
  //! path when a directory cannot be created or the file cannot be opened for writing (a
  //! missing permission, a path through a regular file); nothing is written then.
  explicit metrics_writer(const std::filesystem::path& path, bool append = false)
      : metrics_writer(path, path.extension() == ".csv" ? format::csv : format::jsonl, append) {}
  //! As above with the format given explicitly (a `.log` file in CSV, say).
  metrics_writer(const std::filesystem::path& path, format fmt, bool append = false) : path_(path), fmt_(fmt) {
    if (path.has_parent_path()) {
      std::error_code ec; // create_directories reports through `ec`: the error names the path
      std::filesystem::create_directories(path.parent_path(), ec);
      RLVR_EXPECTS(!ec, io, "metrics_writer: cannot create the directory ", path.parent_path().string(), " for ",
                   path.string(), ": ", ec.message());
    }
    const bool had_content = append && std::filesystem::exists(path) && std::filesystem::file_size(path) > 0;
    out_.open(path, append ? std::ios::app : std::ios::trunc);
    RLVR_EXPECTS(out_.good(), io, "metrics_writer: cannot open ", path.string(), " for writing");
    if (fmt_ == format::csv && !had_content) {
      std::string header;
      const step_metrics none{};
      for_each_metric(none, [&](std::string_view name, auto) {
        if (!header.empty()) header += ',';
        header += name;
      });
      line(header);
    }
  }

  //! Appends one record and flushes. The fields are those of `for_each_metric`, in its order;
  //! a JSONL record is an object keyed by field name, a CSV record the values in header order.
  //! Throws `rlvr::io_error` naming the path when the write or the flush fails.
  void write(const step_metrics& m) {
    std::string s = fmt_ == format::jsonl ? "{" : "";
    bool first = true;
    for_each_metric(m, [&](std::string_view name, auto value) {
      if (!first) s += ',';
      first = false;
      if (fmt_ == format::jsonl) {
        s += '"';
        s += name;
        s += "\":";
      }
      append_number(s, value);
    });
    if (fmt_ == format::jsonl) s += '}';
    line(s);
  }

  //! The file written to.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  //! JSONL or CSV, as chosen at construction.
  [[nodiscard]] format file_format() const noexcept { return fmt_; }

private:
  // Writes `s` and a newline, flushes, and checks the stream (the one place that touches it).
  void line(const std::string& s) {
    out_ << s << '\n';
    out_.flush();
    RLVR_EXPECTS(out_.good(), io, "metrics_writer: cannot write to ", path_.string());
  }
  // Integers in decimal; doubles in their shortest round-trip form, non-finite ones as the
  // format's "missing" (null in JSON, an empty CSV cell).
  void append_number(std::string& s, index_t v) const { s += std::to_string(v); }
  void append_number(std::string& s, double v) const {
    if (!std::isfinite(v)) {
      if (fmt_ == format::jsonl) s += "null";
      return;
    }
    std::array<char, 32> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    s.append(buf.data(), r.ptr);
  }

  // The destination, its format, and the stream kept open between records (closed by the
  // destructor; a failed write is reported by `line` and leaves the stream failed).
  std::filesystem::path path_;
  format fmt_;
  std::ofstream out_;
};

} // namespace rlvr
