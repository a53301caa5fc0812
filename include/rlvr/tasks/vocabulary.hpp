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
using token_t = std::int32_t;
} // namespace rlvr

namespace rlvr::tasks {

//! A word-level vocabulary with the four special tokens `<bos>`, `<sep>`, `<eos>`, `<pad>`.
class vocabulary {
public:
  //! Builds the vocabulary `words` followed by `<bos> <sep> <eos> <pad>`. Throws
  //! `rlvr::config_error` on an empty, duplicated or whitespace-containing word.
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

  //! Number of tokens V (the policy's output width).
  [[nodiscard]] index_t size() const noexcept { return static_cast<index_t>(words_.size()); }
  [[nodiscard]] token_t bos() const noexcept { return bos_; }
  [[nodiscard]] token_t sep() const noexcept { return sep_; }
  [[nodiscard]] token_t eos() const noexcept { return eos_; }
  [[nodiscard]] token_t pad() const noexcept { return pad_; }

  //! The id of `word`; throws `rlvr::parse_error` naming it if it is not in the vocabulary.
  [[nodiscard]] token_t id(std::string_view word) const {
    const auto it = std::lower_bound(index_.begin(), index_.end(), word,
                                     [](const auto& e, std::string_view w) { return e.first < w; });
    RLVR_EXPECTS(it != index_.end() && it->first == word, parse, "vocabulary: unknown word '", word,
                 "'");
    return it->second;
  }
  //! True if `word` is in the vocabulary.
  [[nodiscard]] bool contains(std::string_view word) const {
    const auto it = std::lower_bound(index_.begin(), index_.end(), word,
                                     [](const auto& e, std::string_view w) { return e.first < w; });
    return it != index_.end() && it->first == word;
  }
  //! The word of token `t`; throws `rlvr::range_error` if t ∉ [0, size()).
  [[nodiscard]] const std::string& word(token_t t) const {
    RLVR_EXPECTS(t >= 0 && t < static_cast<token_t>(words_.size()), range, "vocabulary: token ", t,
                 " outside [0, ", words_.size(), ")");
    return words_[static_cast<std::size_t>(t)];
  }

  //! Splits `text` on ASCII whitespace and maps each word to its id.
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
  //! The words of `tokens` joined by single spaces.
  [[nodiscard]] std::string decode(std::span<const token_t> tokens) const {
    std::string s;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) s += ' ';
      s += word(tokens[i]);
    }
    return s;
  }

private:
  static constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  std::vector<std::string> words_;
  std::vector<std::pair<std::string, token_t>> index_;
  token_t bos_ = 0, sep_ = 0, eos_ = 0, pad_ = 0;
};

} // namespace rlvr::tasks
