#pragma once
//! \file rlvr/tasks/vocabulary.hpp
//! \brief A small word-level tokenizer: a fixed list of words, one token id each.
//!
//! rlvr's tasks are generated in-process, so their text is already a sequence of known words
//! ("17", "+", "=", "<eos>"). A `vocabulary` maps each word to a dense id in [0, size()) and
//! back; `encode` splits on ASCII whitespace, `decode` joins with single spaces. Four special
//! words are always present: `<bos>` (start of a prompt), `<sep>` (end of the prompt: the policy
//! answers after it), `<eos>` (end of a response) and `<pad>` (never produced by a task; filler
//! for ragged batches).
//!
//! Lookups are O(log V) (sorted index); the vocabularies here have under a few hundred words.
//!
//! Ids are positions: the caller's words get 0 … W − 1 in the order given, and the specials
//! follow, so `<bos>` = W, `<sep>` = W + 1, `<eos>` = W + 2, `<pad>` = W + 3 and V = W + 4. The
//! walk tasks rely on this: their node v is the word "v" and the token v.
//!
//! Words are compared byte for byte (case-sensitive, no Unicode normalisation). A vocabulary is
//! immutable after construction, so const use from several threads is safe; copying it copies
//! the word list.
//!
//!     rlvr::tasks::vocabulary v({"0", "1", "+", "="});
//!     auto ids = v.encode("<bos> 1 + 1 = <sep>");   // {4, 1, 2, 1, 3, 5}
//!     std::string s = v.decode(ids);                // "<bos> 1 + 1 = <sep>"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlvr/config.hpp"
#include "rlvr/error.hpp"

namespace rlvr {
//! Token ids (the same alias as in rlvr/policy/concepts.hpp; redeclaring it is allowed).
//! Signed 32-bit, like the ids the policies and samplers exchange; valid ids are ≥ 0.
using token_t = std::int32_t;
} // namespace rlvr

namespace rlvr::tasks {

//! A word-level vocabulary with the four special tokens `<bos>`, `<sep>`, `<eos>`, `<pad>`.
//! Every task exposes one (`vocab()`, see `TaskVerifier`), and its size is the V of the policy
//! trained on the task. There is no default constructor: the word list defines the ids.
class vocabulary {
public:
  //! Builds the vocabulary `words` followed by `<bos> <sep> <eos> <pad>`. Throws
  //! `rlvr::config_error` on an empty, duplicated or whitespace-containing word.
  //!
  //! A word equal to one of the four specials counts as a duplicate. O(W log W) time for the
  //! sorted index, which holds a second copy of every word.
  explicit vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
    for (const char* s : {"<bos>", "<sep>", "<eos>", "<pad>"}) words_.emplace_back(s);
    index_.reserve(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) {
      const std::string& w = words_[i];
      RLVR_EXPECTS(!w.empty(), config, "vocabulary: word ", i, " is empty");
      RLVR_EXPECTS(w.find_first_of(" \t\n\r") == std::string::npos, config, "vocabulary: word '", w,
                   "' contains whitespace");
      index_.emplace_back(w, static_cast<token_t>(i));
    }
    // Sorting (word, id) pairs puts equal words next to each other, so one pass over
    // neighbours finds every duplicate.
    std::sort(index_.begin(), index_.end());
    for (std::size_t i = 1; i < index_.size(); ++i)
      RLVR_EXPECTS(index_[i].first != index_[i - 1].first, config, "vocabulary: word '",
                   index_[i].first, "' appears twice");
    const auto n = static_cast<token_t>(words_.size());
    bos_ = n - 4;
    sep_ = n - 3;
    eos_ = n - 2;
    pad_ = n - 1;
  }

  //! Number of tokens V (the policy's output width): the caller's words plus the four specials.
  [[nodiscard]] index_t size() const noexcept { return static_cast<index_t>(words_.size()); }
  //! `<bos>`, the first token of every prompt (id V − 4).
  [[nodiscard]] token_t bos() const noexcept { return bos_; }
  //! `<sep>`, the last token of every prompt: the policy's answer starts after it (id V − 3).
  [[nodiscard]] token_t sep() const noexcept { return sep_; }
  //! `<eos>`, which ends a response; the trainer's stop token when it is given a task (id V − 2).
  [[nodiscard]] token_t eos() const noexcept { return eos_; }
  //! `<pad>`, filler for ragged batches; no task produces it (id V − 1).
  [[nodiscard]] token_t pad() const noexcept { return pad_; }

  //! The id of `word`; throws `rlvr::parse_error` naming it if it is not in the vocabulary.
  //! Use `contains` first where an unknown word is not an error (model output).
  [[nodiscard]] token_t id(std::string_view word) const {
    // Binary search with a heterogeneous comparison (stored std::string against the
    // string_view key), so a lookup allocates nothing.
    const auto it = std::lower_bound(index_.begin(), index_.end(), word,
                                     [](const auto& e, std::string_view w) { return e.first < w; });
    RLVR_EXPECTS(it != index_.end() && it->first == word, parse, "vocabulary: unknown word '", word,
                 "'");
    return it->second;
  }
  //! True if `word` is in the vocabulary (the specials included). Never throws.
  [[nodiscard]] bool contains(std::string_view word) const {
    const auto it = std::lower_bound(index_.begin(), index_.end(), word,
                                     [](const auto& e, std::string_view w) { return e.first < w; });
    return it != index_.end() && it->first == word;
  }
  //! The word of token `t`; throws `rlvr::range_error` if t ∉ [0, size()).
  //! The reference stays valid as long as the vocabulary. O(1).
  [[nodiscard]] const std::string& word(token_t t) const {
    RLVR_EXPECTS(t >= 0 && t < static_cast<token_t>(words_.size()), range, "vocabulary: token ", t,
                 " outside [0, ", words_.size(), ")");
    return words_[static_cast<std::size_t>(t)];
  }

  //! Splits `text` on ASCII whitespace and maps each word to its id.
  //!
  //! Whitespace is space, tab, CR and LF; runs of it, and leading or trailing whitespace, are
  //! ignored, so `decode(encode(text))` normalises spacing. Special words are written as text
  //! (`"<bos> 3 7 <sep>"`). Throws `rlvr::parse_error` on the first unknown word, which makes
  //! it the tool for trusted text (prompts); `tasks::text_verifier` tokenizes model output
  //! without throwing. O(length + words · log V).
  [[nodiscard]] std::vector<token_t> encode(std::string_view text) const {
    std::vector<token_t> out;
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && is_space(text[i])) ++i;
      std::size_t j = i;
      while (j < text.size() && !is_space(text[j])) ++j;
      if (j > i) out.push_back(id(text.substr(i, j - i)));
      i = j;
    }
    return out;
  }
  //! The words of `tokens` joined by single spaces (specials included: nothing is stripped).
  //! Throws `rlvr::range_error` for an id outside [0, V). The inverse of `encode` up to
  //! whitespace.
  [[nodiscard]] std::string decode(std::span<const token_t> tokens) const {
    std::string s;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) s += ' ';
      s += word(tokens[i]);
    }
    return s;
  }

private:
  // The four ASCII whitespace characters a word may not contain; other bytes (including
  // non-ASCII UTF-8) are word characters.
  static constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  // words_[id] = word: the id → word direction is a plain index.
  std::vector<std::string> words_;
  // (word, id) sorted by word: the word → id direction by binary search. A sorted vector
  // rather than a map: built once, never modified, compact and cache-friendly.
  std::vector<std::pair<std::string, token_t>> index_;
  token_t bos_ = 0, sep_ = 0, eos_ = 0, pad_ = 0;
};

} // namespace rlvr::tasks
