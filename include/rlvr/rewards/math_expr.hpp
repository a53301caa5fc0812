#pragma once
//! \file rlvr/rewards/math_expr.hpp
//! \brief The symbolic-numeric core of the math verifier: a LaTeX-subset parser to an
//!        expression tree, exact evaluation (arbitrary-length rationals and canonical surds),
//!        seeded random-point comparison for expressions with variables, and structured values
//!        (tuples, intervals, sets, unions, equations, inequalities, matrices) with their own
//!        equality. docs/rewards.md names every rule with an example pair.
//!
//! ## Grammar (lowest precedence first)
//!     answer  := item ((`,` | `;` | `\text{ or }` | `\text{ and }`) item)*
//!     item    := union (relop union)*          relop: = < > \le \ge \ne \in ≤ ≥ ≠ ∈
//!     union   := sum (\cup sum)*
//!     sum     := [+ - \pm \mp] term ((+ | - | \pm | \mp) term)*
//!     term    := factor ((\cdot | \times | * | / | \div | juxtaposition) factor)*
//!     factor  := (- | + | \pm) factor | postfix [^ script]
//!     postfix := primary (! | _ script | \%)*
//!     primary := number | letter | \alpha… | \pi | e | \infty | ( … ) | [ … ] | { … } | \{ … \}
//!              | |…| | \lfloor…\rfloor | \lceil…\rceil | \frac A B | \binom A B | {A \over B}
//!              | \sqrt[n] A | \sin… A | \log_b A | \begin{pmatrix}…\end{pmatrix} | \mathbb{R}
//!     script  := { answer } | number | letter | \pi | \infty | - script   (`-` only after ^)
//!     A, B    := { answer } | one digit of a number | letter | \pi         (\frac, \binom, \sqrt)
//!     func    := \sin… [^ script] [_ script] (( item ) | postfix (number | letter | \pi)*)
//!     matrix  := \begin{env} row (\\ row)* [\\] \end{env}     row := sum (& sum)*
//! (`_ script` after a function is accepted for `\log` only; `\sqrt[n]` takes a sum as n. After
//! a letter, `_` starts a subscript *name* — one character or a `{…}` group — not a script.)
//! A `\frac`/`\sqrt` argument without braces is one token as TeX reads it (`\frac12` = ½,
//! `\frac123` = ½·3), but a superscript digit run is read whole (`2^10` = 1024, the author's
//! intent). An integer followed by an integer `\frac` is a mixed number (`3\frac13` = 10/3).
//! Spacing (`\,` `\;` `\!` `\quad` `~`), `\left`/`\right`/`\big…`, `$`, `\$`, `\textdollar`,
//! degrees (`^\circ`, `°`) and `\displaystyle` are read as nothing; Unicode `√ π × ÷ · ≤ ≥ ≠ −
//! ± ∞ ∪ ∅ ℝ ∈` as their commands.
//!
//! ## Evaluation
//! Constants evaluate exactly when they can: numbers of any length, + − × ÷, integer powers,
//! rational powers of rationals that are exact (8^{2/3} = 4), square roots as canonical surds
//! Σ qᵢ·√rᵢ (rᵢ squarefree, distinct — a unique form, so √12 = 2√3 exactly), factorials (n ≤
//! 1000) and binomials. Anything else (π, e, functions, irrational powers) is evaluated in
//! double. Two values are equal when both are exact and identical, or — when either is inexact
//! — when |a − b| ≤ 1e-12·max(1, |a|, |b|). An expression with variables is evaluated at 6 seeded
//! Philox points (each variable a rational ±n/d, n ≤ 400, 2 ≤ d ≤ 9, fixed per name); it equals
//! another iff every point agrees (exactly, or within 1e-9·max(1, |a|, |b|) when inexact), where
//! points at which both are undefined are skipped and at least one point must be defined.
//!
//! ## Bounds
//! Parsing is linear in the input with recursion depth ≤ 200 and at most 65 536 tree nodes
//! (deeper or longer input is not parsed — tokens are read on demand, so the rest is never
//! read — and the caller falls back to string rules). Evaluation shares one `step_budget`; powers, factorials
//! and numbers that would exceed ~18 000 digits are refused, so `10^{10^{10}}` costs a size
//! estimate. Order-free comparisons are capped at 64 elements. Nothing throws except
//! `std::bad_alloc`.
//!
//! ## Where it fits
//! `normalize.hpp`'s `math_equivalent` (docs/rewards.md §4) calls `compare_math` after the cheap
//! string rules (normal forms, plain numbers, text answers) have not decided; `math_verifier` in
//! verifiers.hpp calls `math_equivalent` on the last box of a response. `compare_math` is public
//! so that callers can see the three outcomes of the core on its own:
//!   compare_math("\\frac{1}{1+\\sqrt2}", "\\sqrt2 - 1")    // equal (rationalised surd)
//!   compare_math("\\sqrt2", "1.4142135623730951")          // different (exact vs inexact)
//!   compare_math("f\\circ g", "g\\circ f")                 // undecided (\circ is unsupported)
//!
//! ## Pipeline
//! 1. `parser` reads each answer into a `tree` (an arena of `node`s indexed by `uint32_t`) with
//!    a lazily driven `lexer`; anything outside the grammar makes the whole answer unparsed.
//! 2. `comparer::canonical` rewrites structure: `±` expands into a list of sign choices,
//!    inequalities in one variable become intervals, `\mathbb{R}` becomes (−∞, ∞).
//! 3. `comparer::eq` walks both canonical trees: collections order-free, tuples and matrices in
//!    order, relations by operator and sides; scalars are compared through their `signature` —
//!    the values at the random points, computed by `evaluator`.
//! 4. With `strip_variable_prefix`, a failed comparison is retried with `x =` / `x \in` removed.
//!
//! ## Outcomes and guarantees
//! - `equal` / `different` are verdicts; `undecided` means "the core cannot say" (unparsed input,
//!   a refused evaluation, no point where either side is defined) and the caller falls back to
//!   string rules. A refusal is never turned into a verdict by approximation: a power beyond the
//!   size cap or a double overflow makes the comparison undecided, not "∞ = ∞" (one gap: an
//!   exact value too large for a double meets an inexact ∞ as equal — see `values_agree`).
//! - Deterministic: no threads, no global mutable state, a fixed Philox seed; the same pair gives
//!   the same outcome in every run. Exact arithmetic is platform-independent; verdicts that rest
//!   on `double` (π, functions) use the C library's `sin`, `log`, …, whose last-bit differences
//!   between platforms matter only for values at the edge of the 1e-12 / 1e-9 tolerances.
//! - Thread-safe: `compare_math` keeps all its state in local objects; the lexer's command
//!   table is a function-local static, initialised once (thread-safe since C++11), then
//!   read-only.
//! - Cost: parsing is linear in the answer; evaluation is bounded by the step budget and the caps
//!   above (bignum.hpp's `step_budget` says what a budget costs in time).
//!
//! ## Known limits (all documented in docs/rewards.md)
//! - `i` is a variable, not the imaginary unit; `e` is Euler's number, never a variable.
//! - `\log` without a base is the natural logarithm (same verdicts for any fixed base).
//! - A variable takes values ±n/d with n ≤ 400, so functions with a small domain (`\arcsin x`,
//!   `\arccos x`) are undefined at almost every point and such comparisons are mostly undecided.
//! - `\circ` inside an answer (composition), `\rightarrow`, `\overline{…}`, `\text{(A)}` and any
//!   other unknown command are unsupported: the answer is left to the string rules.
//! - Also outside the subset: set-builder notation (`\{x | x > 0\}`), `\cap` and `\setminus`,
//!   primes (`f'(x)`), `\sum`, `\int`, `\lim`, ellipses (`\ldots`, `\cdots`), `\mod`, repeating
//!   decimals (`0.\overline{3}`) and complex numbers.
//! - A relation binds tighter than a list comma: `x = 1, 2` is the list (x = 1), 2, which the
//!   prefix leniency reads as 1, 2.
//! - No equation solving and no renaming: `x^2 = 4` ≢ `x = \pm 2`, and `y = 2x` ≢ `b = 2a`
//!   (variables are identified by name).
//! - Unions are compared as collections of their parts, not as point sets: nothing is merged,
//!   so `\{1,2\}\cup\{3\}` ≢ `\{1,2,3\}` and `[0,1]\cup[1,2]` ≢ `[0,2]`.
//! - Interval notation is the English one: `]0, 1[` is not parsed.
//! - Commands that read as nothing (`\quad`, `\left`, `\big`, an empty `\text{}`) are skipped
//!   by the lexer's loop, not by recursion: any number of them in a row costs O(1) stack (a
//!   regression test feeds 3·10^5 of each in a `\boxed{}`; before 0.2.0 this recursed once per
//!   command and 10^5 of them overflowed the stack).
//!
//! ## Readings that may surprise (all deliberate or documented behaviour)
//!   `\log 100` ≢ `2`          `\log` is the natural logarithm
//!   `\sin x^2` ≡ `\sin^2 x`    the power applies to the function value, not to x
//!   `f(x)` ≡ `xf`             a letter before parentheses is a variable times the group
//!   `i^2` ≢ `-1`              `i` is a variable (so is it in `e^{i\pi}`, which ≢ `-1` either)
//!   `1/2x` ≡ `x/2`            `/` and juxtaposition share one level, read left to right
//!   `\sqrt{4}` ≢ `\pm 2`       √ is the principal root
//!   `1,000` ≢ `1000`          for the core alone `1,000` is the list 1, 0; `math_equivalent`
//!                             removes whole-answer thousands separators before calling it
//!   `2\pi r` vs `2\pir`       undecided: `\pir` is an unknown command (TeX reads it so too)
//!   `10\%` ≢ `0.1`            by default `\%` is dropped; `percent_rule::divide` makes it /100
//!   `5\% \cdot 20` ≡ `100`     the same rule inside an expression: 5·20 by default, 1 with
//!                             `percent_rule::divide`
//!   `\sin 30^\circ` ≢ `\frac12` a degree mark reads as nothing (so that `90^\circ` ≡ `90`), and
//!                             functions take radians: this is sin(30 rad); `math_equivalent`
//!                             gives the same verdict
//!   `((1,2),(3,4))` ≢ a 2×2 `pmatrix`   tuples of tuples are not matrices
//!   `1 000` ≡ `0`             for the core alone: 1 juxtaposed with 000 is a product; the
//!                             normaliser removes the space first (`math_equivalent` sees 1000)
//!
//! ## A comparison, step by step
//! `x = \pm\sqrt{2}` against `\{\sqrt2, -\sqrt2\}`:
//! 1. Parsing gives rel(var x, upm(sqrt(2))) with operator `=` on one side, and
//!    set(sqrt(2), neg(sqrt(2))) on the other.
//! 2. Canonicalisation expands the ±: rel(x, list(sqrt(2), neg(sqrt(2)))); `=` is not an
//!    inequality, so the relation stays. The set is unchanged.
//! 3. `eq` compares a relation with a two-element set: a structure mismatch, "different".
//! 4. With `strip_variable_prefix` (the default) the prefix `x =` is removed and the list is
//!    compared with the set order-free; each √2 evaluates exactly to the surd 0 + 1·√2, so the
//!    elements match as canonical forms and the verdict is `equal`. With
//!    `math_options::strict()` step 4 is skipped and the verdict is `different`.
//!
//! `y = 2x + 1` against `2x - y + 1 = 0` (an equation, rearranged):
//! 1. Both parse as relations with one `=`; canonicalisation leaves them as they are.
//! 2. Same orientation: the sides `y` and `2x - y + 1` differ at the random points; mirrored:
//!    `y` against `0` differs too.
//! 3. Both are single equations, so lhs − rhs is built on each side — y − (2x + 1) and
//!    (2x − y + 1) − 0 — and evaluated at the six points (x and y get independent values). The
//!    ratio is −1 at every point, exactly: `equal`.
//!
//! `10^{10^{10}}` against `10^{10^{10}}+1` (a refused evaluation):
//! 1. Both parse; the inner power 10^{10} = 10 000 000 000 is exact.
//! 2. The outer power would have ten billion digits: `pow_int`'s size estimate refuses it, the
//!    evaluator fails, and `compare_math` answers `undecided` without allocating anything large.
//! 3. `math_equivalent` falls back to the normal forms, which differ: not equivalent. Against
//!    itself the normal forms are equal, so `10^{10^{10}}` ≡ `10^{10^{10}}` before the core runs.
//!
//! `-1 < x \le 2` against `(-1, 2]` (an inequality and an interval):
//! 1. The chain parses as rel(−1, x, 2) with operators {<, ≤}; canonicalisation turns it into
//!    tuple(−1, 2) with brackets `(` `]`, the same structure the interval parses to.
//! 2. `eq` compares the tuples: same length, equal elements (exact −1 and 2), same brackets.
//!
//! ## Extending the core
//! - A new command: a row in `lexer::commands` (an existing token kind, or a new `tk` handled
//!   by the parser); unknown commands already make an answer unsupported, so adding one only
//!   widens what is decided.
//! - A new function: its name in the `func` row of the table and a case in `evaluator::eval_node`
//!   (`op::func`); a name the evaluator does not know fails the evaluation.
//! - A new structure: an `op` enumerator after `tuple` (`is_structure` compares the order), a
//!   rule in `comparer::canonical_` and `comparer::eq_`, and `has_var`/`count_pm` cases if it
//!   holds scalars.
//! - Every new rule gets pairs on both sides in `tests/rewards/answer_pairs.hpp` (`core_pairs`)
//!   and a row in docs/rewards.md §4.2.
//!
//! ## Canonical structure, by example
//!   `\pm 3`             → list(3, −3)
//!   `1 \pm \sqrt2`      → list(1 + √2, 1 − √2)
//!   `\{1, \pm 2\}`      → set(1, 2, −2)          (the expansion is flattened into the set)
//!   `x > 3`             → tuple(3, ∞) with brackets `(` `)`
//!   `-1 < x \le 2`      → tuple(−1, 2) with brackets `(` `]`
//!   `x \ne 1`           → union((−∞, 1), (1, ∞))
//!   `\mathbb{R}`        → tuple(−∞, ∞)
//!   `y = 2x + 1`        → unchanged: equations stay relations
//!
//! ## Invariants the components rely on
//! - `tree`: children are built before their parents; `rels` is indexed like `kids` (the
//!   operator after side i of the relation node n is `rels[n.a + i]`); texts are views into the
//!   answer.
//! - `exact_value`: canonical surd form (see the struct); its `rational`s are reduced.
//! - `point_value`: `approx` is never NaN; `exact` always carries its double in `d`.
//! - `signature`: one entry for a constant, `random_points` entries for an expression with
//!   variables (fewer only when evaluation failed, which makes the comparison undecided).
//! - `comparer`: a canonical tree has no `pm`/`upm` node, no `reals` node and no inequality in
//!   one variable left.
//!
//! ## Where work is bounded
//! | what                        | bound                                   | beyond it        |
//! |-----------------------------|-----------------------------------------|------------------|
//! | parser recursion            | 200 levels (`parser::max_depth`)        | not parsed       |
//! | tree size                   | 65 536 nodes (`parser::max_nodes`)      | not parsed       |
//! | matrix shape                | 255 × 255                               | not parsed       |
//! | evaluation recursion        | 400 levels                              | failed           |
//! | canonical / eq recursion    | 300 levels                              | failed           |
//! | big numbers                 | 2000 limbs, 4·10⁶ budget steps          | failed           |
//! | number literals             | exponent ≤ 10^5, ≤ 18 000 digits        | failed           |
//! | ± in one scalar             | 4 (16 variants)                         | failed           |
//! | collection size             | 64 elements                             | failed           |
//! | surd products               | 64 term pairs, radicands ≤ 2^62         | double instead   |
//! | powers of surds             | exponent within ±64                     | failed           |
//! | factorial, binomial         | n ≤ 1000, ≤ 1000 factors                | failed           |
//! "Not parsed" and "failed" both make `compare_math` return `undecided`; "double instead"
//! continues with an inexact value.
//! The budget is shared by both answers at all six points, which is what limits high powers of
//! variables in practice: `x^{4500}` against itself is decided (exactly), `x^{5000}` against
//! itself runs out of budget, and beyond k ≈ 6900 the size cap alone refuses x^k at points whose
//! numerator is near 400 (k·log₁₀ 400 > 18 000 digits).
//!
//! ## Why a comparison is undecided, by example
//!   `\text{(A)}` vs `A`           — a text token: outside the subset
//!   `\overline{3}` vs `3`         — an unknown command: outside the subset
//!   `2^3^2` vs `512`              — one script per base: not parsed
//!   `10^{10^{10}}` vs `1`         — the power is refused by the size cap
//!   `\ln(-1)` vs `\ln(-1)`        — no point where either side is defined
//!   `\arcsin x` vs `\sin^{-1} x`  — undefined at every random point (|x| > 1)
//!   `1012_{2}` vs `1012`          — the digit 2 does not exist in base 2
//! `math_equivalent` then falls back to its string rules: equal normal forms still match, and
//! tuples are compared element-wise.
//!
//! ## Precedence and associativity (tightest first)
//! | level | operators                                   | associativity / notes                     |
//! |-------|---------------------------------------------|-------------------------------------------|
//! | 1     | `!`, `_` (subscript), `\%`                  | postfix, repeatable: `5!!` is (5!)!       |
//! | 2     | `^`                                         | one script per base: `2^3^2` is unparsed  |
//! | 3     | unary `-` `+` `±`                           | looser than `^`: `-2^2` = −4              |
//! | 4     | `·` `×` `*` `/` `÷`, juxtaposition          | left: `1/2x` = x/2, `6÷2·3` = 9           |
//! | 5     | `+` `-` `±` `∓`                             | left                                      |
//! | 6     | `\cup`                                      | n-ary union                               |
//! | 7     | `=` `<` `>` `≤` `≥` `≠` `∈`                 | chains: `1 < x \le 2`                     |
//! | 8     | `,` `;` `\text{ or }` `\text{ and }`         | n-ary list                                |
//! Brackets, `\frac`, `\sqrt`, `|…|`, floor/ceiling and functions are primaries (level 0).
//!
//! ## How far a verdict can be trusted
//! - Two constants: exact values are compared exactly; anything involving π, e, a function or
//!   an irrational power is compared in double within 1e-12 relative, so a decimal
//!   approximation of such a constant counts as equal once it is correct to about 12
//!   significant digits (`\pi` ≡ `3.14159265359`, but `\pi` ≢ `3.1415926536`).
//! - Expressions with variables: agreement at 6 points is evidence, not proof, but strong
//!   evidence for rational functions, which are compared exactly. A variable takes one of 4260
//!   values, none with probability above 1/800 (8 of the 6400 equally likely draws of n, d and
//!   the sign), so by the Schwartz–Zippel argument a nonzero polynomial of total degree D
//!   vanishes at one point with probability at most D/800, and at six independent points with
//!   at most (D/800)^6 — below 4·10⁻¹² for D = 10, over the choice of the seed. For a fixed seed
//!   an expression built to match another at exactly those points would pass, and the same
//!   pair always gets the same verdict.
//! - Domains: points where exactly one side is undefined count against equality, so
//!   `\sqrt{x}^2` ≢ `x` (negative points) but `\frac{x^2}{x}` ≡ `x` (x is never 0).
//!
//! ## Reading order
//! The file runs bottom-up: the options (`percent_rule`, `math_options`), exact surd arithmetic
//! (`exact_value` and friends), tokens and the `lexer`, the expression `tree` and its `parser`,
//! evaluation at a point (`point_value`, `evaluator`, `signature`), structured comparison
//! (`comparer`), and last the public entry point `compare_math` with `math_comparison`.
//!
//! ## Where each rule of docs/rewards.md §4.2 lives
//! | rule                          | code                                                        |
//! |-------------------------------|-------------------------------------------------------------|
//! | long integers and decimals    | `lexer::number`, `evaluator::literal` (bignum rationals)     |
//! | powers, rational powers       | `evaluator::power`, `evaluator::nth_root`, `pow_int`         |
//! | factorials and binomials      | `evaluator::eval_node` (`op::fact`, `op::binom`)             |
//! | fractions, mixed numbers      | `parser::primary` (`\frac`), `parser::term` (mixed numbers)  |
//! | surds                         | `exact_value`, `add`/`mul`/`inverse`, `sqrt_rational`        |
//! | π, e, functions               | `evaluator::eval_node` (doubles), `values_agree` tolerance   |
//! | sets, lists, ±                | `comparer::canonical_`, `comparer::collections_eq`           |
//! | tuples and intervals          | `parser::bracketed`, `comparer::eq_` (brackets, ∞ endpoints) |
//! | inequalities as intervals     | `comparer::inequality_interval`                              |
//! | equations                     | `comparer::relations_eq`, `comparer::proportional`           |
//! | matrices                      | `parser::matrix`, `comparer::eq_`                            |
//! | Unicode, `$`, spacing         | `lexer::scan`, `lexer::commands`                             |
//! | subscripted bases             | `parser::postfix` (`op::based`), `evaluator::eval_node`      |
//! | polynomials at random points  | `variable_value`, `make_signature`, `signatures_equal`       |
//! | bounded evaluation            | `step_budget`, `max_limbs` (bignum.hpp) and the table above   |
//! Text case, units and doubled backslashes are handled before the core, by normalize.hpp.
//!
//! ## Investigating a verdict
//! Call `compare_math(a, b)` on the two answers as the verifier sees them (the box contents;
//! `math_equivalent` may have cut units first) and read the outcome: `undecided` points to the
//! parser or a bound (see "Why a comparison is undecided"), `different` to a value or structure
//! mismatch. A new pair for the regression tables goes into `tests/rewards/answer_pairs.hpp`
//! (`core_pairs`), with the verdict a careful human grader would give.
//!
//! ## Cost, measured
//! `compare_math` on the development machine (g++ -O2, one thread, a loaded 2-core box): a
//! constant pair (`\frac{1}{2}` vs `0.5`, `\sin\frac{\pi}{6}` vs `\frac12`) ≈ 1.5 µs; a set
//! (`\{3,2,1\}` vs `1, 2, 3`) ≈ 2 µs; a polynomial identity at the six points (`(x+1)^2` vs
//! `x^2+2x+1`) ≈ 9 µs; two equations compared by proportionality ≈ 17 µs. Memory: 40 bytes
//! per tree node, 24 per token, 4 per child index; a point value takes 120 bytes plus any limbs
//! and surd terms it owns.
//!
//! ## Tests
//! tests/rewards/test_math_expr.cpp: the 467-pair core table (both outcomes, symmetry, every
//! pair the MATH reference accepts), the examples of issue 16, big_int and surd arithmetic,
//! the options, "tolerance only where a value is inexact", crafted inputs that must finish in
//! 0.5 s (`10^{10^{10}}`, `100000!`, `(1+\sqrt{2})^{1000000}`, `\binom{10^{12}}{500000}`,
//! `1e99999999`, …), linear time on 2^16-long and 2^20-deep nesting patterns, megabyte literals
//! compared exactly, 3000 random token soups that must not throw, and symmetry on random cross
//! pairs of both tables. `fuzz/fuzz_math_core.cpp` (libFuzzer, ASan + UBSan) checks on any
//! bytes that comparison finishes without exceptions, that `compare_math(a, a)` is never
//! `different`, that `math_equivalent` is symmetric, and the bignum division identity.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlvr/random/philox.hpp"
#include "rlvr/rewards/bignum.hpp"
#include "rlvr/rewards/extract.hpp"

namespace rlvr {

//! How `50\%` reads: as `50` (MATH's rule, the default) or as 50/100 = `\frac12` (strict).
//!
//! MATH's normaliser deletes `\%`, so with its rule a percentage is its number; with `divide`
//! the parser wraps the operand in `op::percent`, which evaluates to x/100. The choice is made
//! at parse time: the two answers of one comparison are always read with the same rule.
//! `drop`: `50\%` is 50 (MATH-compatible default); `divide`: `50\%` is 1/2.
enum class percent_rule { drop, divide };

//! The leniencies of `math_equivalent`. The defaults are MATH-compatible; `strict()` turns every
//! leniency off (docs/rewards.md names each rule with an example pair).
//!
//! Each field relaxes one rule that MATH's reference checker applies and that a stricter grader
//! may not want (docs/rewards.md §4.4 has the table). Mathematics is not a leniency: set order,
//! swapped sides of an equation, inequalities as intervals hold in both modes. Only `percent`
//! and `strip_variable_prefix` are read by this header; `strip_units` and `fold_text_case` act
//! in normalize.hpp's string rules. Configure with designated initialisers:
//!   rlvr::math_options o{.percent = rlvr::percent_rule::divide};   // 50\% ≡ \frac12
//!   rlvr::math_verifier strict{.options = rlvr::math_options::strict()};
struct math_options {
  //! Read by normalize.hpp only (rule 1 and the text handed to the core); the default follows
  //! MATH's checker, which drops units.
  bool strip_units = true;           //!< `10\text{ cm}` ≡ `10` (a trailing text group after a number)
  //! Read by normalize.hpp (rule 4) and by `comparer::equal_roots` here (the retry without the
  //! prefix); the default follows MATH's "≤ 2 characters before `=`" rule.
  bool strip_variable_prefix = true; //!< `x = 5` ≡ `5`, `x \in [0,1]` ≡ `[0,1]`
  //! Read by normalize.hpp (rule 2) and by the parser here (`op::percent`).
  percent_rule percent = percent_rule::drop; //!< `50\%` ≡ `50` (drop) or ≡ `\frac12` (divide)
  //! Read by normalize.hpp only (rule (iv) of `math_equivalent`).
  bool fold_text_case = true;        //!< `\text{Yes}` ≡ `yes` for words of letters only
  //! No leniency: units, prefixes and text case count, `%` means /100.
  //! `{.strip_units = false, .strip_variable_prefix = false, .percent = divide,
  //! .fold_text_case = false}`.
  [[nodiscard]] static constexpr math_options strict() noexcept {
    return {.strip_units = false, .strip_variable_prefix = false, .percent = percent_rule::divide,
            .fold_text_case = false};
  }
};

namespace detail::rewards {

// All of the machinery below is an implementation detail of `compare_math`; it is in a public
// header only because the library is header-only. Tests and the fuzz target reach into it
// (bignum and surd arithmetic), other code should not.
// ---------------------------------------------------------------------------------------------
// Canonical surds: q + Σ cᵢ √rᵢ with rᵢ ≥ 2 squarefree, sorted, cᵢ ≠ 0.

//! One term c·√r of a canonical surd: 2√3 is {radicand 3, coef 2}.
struct surd_term {
  //! r: squarefree, 2 ≤ r ≤ 2^62 (both producers, `mul` and `square_free_split`, check the bound).
  std::uint64_t radicand;
  //! c: a non-zero reduced rational.
  rational coef;
};

//! An exact real value q + Σ cᵢ·√rᵢ (a canonical surd; a rational when `roots` is empty).
//! 1 − √2 + (1/2)√3 is q = 1, roots {(2, −1), (3, 1/2)}.
//!
//! Invariant (kept by `add_term`, `mul`, `inverse`, `sqrt_rational`): radicands are squarefree,
//! ≥ 2, strictly increasing, and every coefficient is non-zero. Square roots of distinct
//! squarefree integers are linearly independent over ℚ, so this form is unique: two exact values
//! are equal iff their members are equal, and `operator==` is the exact equality the verifier
//! relies on (√12 and 2√3 have the same form; √2 and 1.4142135623730951 do not).
//!
//! Only square roots of rationals have an exact irrational form. A higher root is exact only
//! when it is rational (∛8 = 2); ∛2, nested radicals (√(2 + √3)) and anything combined with
//! them are doubles, compared with the tolerance — so √(2 + √3) ≡ (√6 + √2)/2 and ∛16 ≡ 2∛2
//! hold, but as agreements within 1e-12 rather than as identities.
struct exact_value {
  //! The rational part q.
  rational q;
  //! The irrational terms, sorted by radicand.
  std::vector<surd_term> roots;
  //! True when there is no surd term (the value is the rational `q`).
  [[nodiscard]] bool is_rational() const noexcept { return roots.empty(); }
  //! q + Σ cᵢ·√rᵢ in double (each term rounded; used for inexact comparisons and for `abs`,
  //! `floor` and `ceil` of surds). 1 + √2 → 2.414213562373095.
  [[nodiscard]] double to_double() const {
    double d = q.to_double();
    for (const auto& t : roots) d += t.coef.to_double() * std::sqrt(static_cast<double>(t.radicand));
    return d;
  }
  //! Exact equality: same rational part and the same terms (the form is canonical).
  friend bool operator==(const exact_value& a, const exact_value& b) noexcept {
    if (!(a.q == b.q) || a.roots.size() != b.roots.size()) return false;
    for (std::size_t i = 0; i < a.roots.size(); ++i)
      if (a.roots[i].radicand != b.roots[i].radicand || !(a.roots[i].coef == b.roots[i].coef)) return false;
    return true;
  }
};

//! Adds c·√r (r ≥ 2 squarefree, or r = 1 for the rational part) into v.
//!
//! Keeps the terms sorted: a term with the same radicand has its coefficient added (and is
//! erased when the sum is 0, so the invariant "no zero coefficient" holds), a new radicand is
//! inserted in order. O(number of terms) plus one rational addition; false when the budget or
//! the size cap refuses the addition. Precondition (not checked): r is 1 or squarefree ≥ 2 —
//! otherwise the canonical form, and with it exact equality, breaks.
//!   add_term(v = 1 + √2, 2, −1)   // v = 1 (the √2 term cancels and is erased)
//!   add_term(v = 1 + √2, 3, 1/2)  // v = 1 + √2 + (1/2)√3 (inserted after √2)
inline bool add_term(exact_value& v, std::uint64_t r, const rational& c, step_budget& budget) {
  if (c.is_zero()) return true;
  if (r == 1) return add(v.q, c, v.q, budget);
  auto it = v.roots.begin();
  // Linear search for the insertion point; values have few terms (`mul` caps products at 64
  // term pairs).
  while (it != v.roots.end() && it->radicand < r) ++it;
  if (it != v.roots.end() && it->radicand == r) {
    rational s;
    if (!add(it->coef, c, s, budget)) return false;
    if (s.is_zero()) v.roots.erase(it);
    else it->coef = std::move(s);
    return true;
  }
  v.roots.insert(it, surd_term{r, c});
  return true;
}

//! a + b, exact: the rational parts added, then every term of b merged into a copy of a.
//! False when the budget refuses. `out` may alias `a` or `b`: the sum is built in a local and
//! moved out at the end (the same holds for `mul` and `inverse`, which the evaluator calls as
//! `mul(acc, base, acc, …)`).
//! O(|a| + |b|·|a|) term operations (each term of b is merged by a linear search in a).
inline bool add(const exact_value& a, const exact_value& b, exact_value& out, step_budget& budget) {
  exact_value r = a;
  if (!add(r.q, b.q, r.q, budget)) return false;
  for (const auto& t : b.roots)
    if (!add_term(r, t.radicand, t.coef, budget)) return false;
  out = std::move(r);
  return true;
}

//! −a: every part negated (canonical form preserved).
//! O(number of terms); never refuses (negation cannot grow a number).
inline exact_value negated(const exact_value& a) {
  exact_value r{a.q.negated(), a.roots};
  for (auto& t : r.roots) t.coef = t.coef.negated();
  return r;
}

//! a·b, exact. Distributes (q₁ + Σ cᵢ√rᵢ)(q₂ + Σ dⱼ√sⱼ) and merges every term with `add_term`,
//! using √r·√s = g·√((r/g)(s/g)) with g = gcd(r, s): the product of two squarefree numbers
//! divided by the square of their gcd is squarefree, so the result stays canonical without
//! factoring. False (the caller then evaluates in double, or fails on a budget refusal) when
//! the product has more than 64 term pairs, a radicand product would pass 2^62, or the budget
//! refuses. Rational × rational takes the plain `rational` path. Cost: |a|·|b| term products,
//! each merged by a linear search, plus the rational products they need.
//!   mul(√2 + √3, √2 + √3)   // 5 + 2√6   (√2·√3 = √6 twice, √2·√2 = 2, √3·√3 = 3)
//!   mul(√6, √10)            // 2√15      (gcd 2: √6·√10 = 2·√(3·5))
inline bool mul(const exact_value& a, const exact_value& b, exact_value& out, step_budget& budget) {
  if (a.is_rational() && b.is_rational()) {
    exact_value r;
    if (!mul(a.q, b.q, r.q, budget)) return false;
    out = std::move(r);
    return true;
  }
  // A cap on the term pairs keeps (√2 + √3 + … )^k from growing without bound in memory and time.
  if (a.roots.size() * b.roots.size() > 64) return false;
  exact_value r;
  // q₁·q₂ first, then the cross terms q₁·dⱼ√sⱼ and q₂·cᵢ√rᵢ, then the surd-by-surd products.
  if (!mul(a.q, b.q, r.q, budget)) return false;
  rational c;
  for (const auto& t : b.roots) {
    if (!mul(a.q, t.coef, c, budget) || !add_term(r, t.radicand, c, budget)) return false;
  }
  for (const auto& t : a.roots) {
    if (!mul(b.q, t.coef, c, budget) || !add_term(r, t.radicand, c, budget)) return false;
  }
  for (const auto& s : a.roots) {
    for (const auto& t : b.roots) {
      // √r1·√r2 = g·√((r1/g)(r2/g)) with g = gcd(r1, r2): squarefree stays squarefree.
      std::uint64_t x = s.radicand, y = t.radicand;
      while (y != 0) x = std::exchange(y, x % y);
      const std::uint64_t g = x, p = s.radicand / g, q = t.radicand / g;
      // p·q ≤ 2^62 keeps the new radicand inside int64 (it is also made into a big_int below).
      if (p != 0 && q > (std::uint64_t{1} << 62) / p) return false;
      if (!mul(s.coef, t.coef, c, budget) || !mul(c, rational{big_int(static_cast<std::int64_t>(g)), big_int(1)}, c, budget))
        return false;
      if (!add_term(r, p * q, c, budget)) return false;
    }
  }
  out = std::move(r);
  return true;
}

//! 1/a for a rational, a single term c√r, or q + c√r (the conjugate); false otherwise.
//!
//! (q + c√r)⁻¹ = (q − c√r) / (q² − c²r); with q = 0 this is the single-term case 1/(c√r) =
//! √r/(c·r). The denominator q² − c²r is never 0 for a squarefree r ≥ 2 (√r is irrational), but
//! it is checked anyway. Values with two or more radicands (1/(√2 + √3)) are not rationalised:
//! the function returns false and the evaluator falls back to double, so such a quotient is
//! compared with the tolerance instead of exactly. False also for 1/0 and budget refusals.
//! Cost: a constant number of rational operations.
//!   inverse(1 + √2)   // √2 − 1    ((1 − √2)/(1 − 2))
//!   inverse(2√3)      // (1/6)√3
inline bool inverse(const exact_value& a, exact_value& out, step_budget& budget) {
  const rational one{big_int(1), big_int(1)};
  if (a.is_rational()) {
    if (a.q.is_zero()) return false;
    exact_value r;
    if (!div(one, a.q, r.q, budget)) return false;
    out = std::move(r);
    return true;
  }
  // Two or more radicands would need repeated conjugation; refuse and let the caller go inexact.
  if (a.roots.size() != 1) return false;
  const surd_term& t = a.roots[0];
  const rational rr{big_int(static_cast<std::int64_t>(t.radicand)), big_int(1)};
  // (q + c√r)⁻¹ = (q − c√r) / (q² − c²r)
  rational q2, c2, c2r, den, qq, cc;
  if (!mul(a.q, a.q, q2, budget) || !mul(t.coef, t.coef, c2, budget) || !mul(c2, rr, c2r, budget) ||
      !sub(q2, c2r, den, budget) || den.is_zero())
    return false;
  // q/(q² − c²r) − (c/(q² − c²r))·√r: one radicand, already canonical.
  if (!div(a.q, den, qq, budget) || !div(t.coef.negated(), den, cc, budget)) return false;
  exact_value r;
  r.q = std::move(qq);
  r.roots.push_back({t.radicand, std::move(cc)});
  out = std::move(r);
  return true;
}

//! Largest k with k² ≤ n.
//!
//! isqrt_u64(15) = 3, isqrt_u64(16) = 4.
//! Starts from the double square root (exact up to 2^52, off by a few units above) and corrects
//! it in both directions, so the result is exact. Precondition: n ≤ 2^62, as in every use here,
//! so (k + 1)² cannot overflow.
inline std::uint64_t isqrt_u64(std::uint64_t n) noexcept {
  auto k = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  // The double root can be off either way once n exceeds 2^53; step to the exact floor.
  while (k > 0 && k * k > n) --k;
  while ((k + 1) * (k + 1) <= n) ++k;
  return k;
}

//! n = s²·m with m squarefree; false when that cannot be established cheaply (m would keep a
//! square factor with both primes above 1000 — then the caller evaluates in double).
//!
//! Trial division by 2 and the odd numbers up to 1000 (composites among them never divide what
//! is left, since their prime factors were removed first): each pair of equal factors moves into
//! s, an odd one out into m. What remains has no prime factor ≤ 1000; if it is a perfect square
//! it goes into s, and if it is below 10^9 it is a prime or a product of two distinct primes
//! (three factors above 1000 would exceed 10^9), so it is squarefree and joins m. A larger
//! remainder might hide a square of a prime above 1000 and is refused. O(500) divisions.
//!   square_free_split(12, s, m)     // true: s = 2, m = 3   (12 = 2²·3)
//!   square_free_split(1000003 * 1000003 * 2, …)   // true: s = 1000003, m = 2 (remainder square)
inline bool square_free_split(std::uint64_t n, std::uint64_t& s, std::uint64_t& m) noexcept {
  s = 1;
  m = 1;
  // p runs over 2, 3, 5, 7, 9, … — odd composites are harmless (see above) and cheaper to keep
  // than a prime sieve.
  for (std::uint64_t p = 2; p <= 1000 && p * p <= n; p += (p == 2 ? 1 : 2)) {
    while (n % p == 0) {
      n /= p;
      if (n % p == 0) {
        n /= p;
        s *= p;
      } else {
        m *= p;
      }
    }
  }
  // What is left has no prime factor ≤ 1000, or the loop stopped early because p² > n, in which
  // case it is 1 or a prime.
  if (n > 1) {
    const std::uint64_t k = isqrt_u64(n);
    if (k * k == n) {
      s *= k;
    } else {
      // n has no prime factor ≤ 1000: if n < 1000³ it is p, pq (squarefree) or p² (caught above).
      if (n >= 1'000'000'000ull) return false;
      // m·n must stay below 2^62 for the radicand invariant of surd_term.
      if (m > (std::uint64_t{1} << 62) / n) return false;
      m *= n;
    }
  }
  return true;
}

//! √q for a rational q ≥ 0 as a canonical surd; false when q is too large to factor.
//!
//! √(n/d) = √(n·d)/d with n·d = s²·m split by `square_free_split`, giving (s/d)·√m, which is
//! rational when m = 1: √(9/4) = 3/2, √12 = 2√3, √(1/2) = (1/2)√2. Refuses (false) when q < 0,
//! when n or d is not an inline big_int, when n·d > 2^62, or when the split refuses; the
//! evaluator then uses `std::sqrt` in double. √0 = 0.
//!   sqrt_rational(8)      // 2√2
//!   sqrt_rational(9/4)    // 3/2 (rational: no surd term)
inline bool sqrt_rational(const rational& q, exact_value& out, step_budget& budget) {
  if (q.sign() < 0) return false;
  if (q.is_zero()) {
    out = exact_value{};
    return true;
  }
  // Factoring needs 64-bit parts; larger rationals take the double path.
  if (!q.num.is_small() || !q.den.is_small()) return false;
  const auto n = static_cast<std::uint64_t>(q.num.small()), d = static_cast<std::uint64_t>(q.den.small());
  // √(n/d) = √(n·d)/d
  if (d != 0 && n > (std::uint64_t{1} << 62) / d) return false;
  std::uint64_t s = 0, m = 0;
  if (!square_free_split(n * d, s, m)) return false;
  rational c;
  if (!make_rational(big_int(static_cast<std::int64_t>(s)), big_int(static_cast<std::int64_t>(d)), c, budget)) return false;
  exact_value r;
  if (m == 1) r.q = c;
  else r.roots.push_back({m, c});
  out = std::move(r);
  return true;
}

//! The exact k-th root of an integer ≥ 0 when it is a perfect power.
//!
//! The candidate r = round(n^(1/k)) from `pow` may be off by one for large n, so r − 1, r and
//! r + 1 are each raised to the k-th power in 128-bit arithmetic (stopping as soon as the power
//! exceeds n, so nothing overflows) and compared with n. False when n is not a perfect k-th
//! power; n < 2 and k = 1 are their own roots. O(k) multiplications per candidate.
//!   exact_root_u64(27, 3, r)   // true, r = 3
//!   exact_root_u64(28, 3, r)   // false
inline bool exact_root_u64(std::uint64_t n, std::uint64_t k, std::uint64_t& out) noexcept {
  if (n < 2 || k == 1) {
    out = n;
    return true;
  }
  auto r = static_cast<std::uint64_t>(std::llround(std::pow(static_cast<double>(n), 1.0 / static_cast<double>(k))));
  // Try the neighbours of the rounded estimate; the inner loop stops once p exceeds n, so p
  // stays below n·c < 2^128.
  for (std::uint64_t c = r > 0 ? r - 1 : 0; c <= r + 1; ++c) {
    u128 p = 1;
    for (std::uint64_t i = 0; i < k && p <= n; ++i) p *= c;
    if (p == n) {
      out = c;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Tokens

//! Token kinds. Operators and brackets map one-to-one to characters or commands; a few kinds
//! carry meaning in their text:
//! - `num`: a number literal (`12`, `1{,}000`, `0.5`, `.5`, `1.5e3`), or a digit-only `\mathbf{2}`;
//! - `ident`: one ASCII letter or a Greek-letter command (the text is its name), or a
//!   one-letter `\text{x}`;
//! - `func`: a function command (`sin` … `exp`); `text`: the contents of another `\text…` group;
//! - `sep`: a text connector `\text{ or }`, `\text{ and }` (list separators, like `comma`);
//! - `lset`/`rset`: `\{` `\}` (and `\lbrace` `\rbrace`); `bar`: `|`, `\vert`, `\lvert`, `\rvert`;
//! - `rowsep`: `\\` (matrix rows); `amp`: `&` (matrix columns); `comma` is also `;`;
//! - `begin_mat`/`end_mat`: `\begin{…}`/`\end{…}` of a matrix environment (text: its name);
//! - `bad`: anything unsupported — the parser fails on it, and the lexer stops reading there;
//! - `end`: the end of the input (returned forever after).
//!
//! The other kinds and what produces them (ASCII / command / Unicode):
//! | kind            | from                              | kind            | from                   |
//! |-----------------|-----------------------------------|-----------------|------------------------|
//! | `plus`          | `+`                               | `minus`         | `-`, `−`               |
//! | `star`          | `*`, `\cdot`, `\times`, `\ast`, `×`, `·`, `⋅` | `slash` | `/`, `\div`, `÷`   |
//! | `caret`         | `^` (not `^\circ`)                | `under`         | `_`                    |
//! | `bang`          | `!`                               | `percent`       | `%`, `\%`              |
//! | `lpar` `rpar`   | `(` `)`                           | `lbrack` `rbrack` | `[` `]`              |
//! | `lbrace` `rbrace` | `{` `}` (grouping)              | `comma`         | `,`, `;`               |
//! | `eq` `lt` `gt`  | `=` `<` `>`, `\lt` `\gt`          | `le` `ge` `ne`  | `\le…`, `≤`; `\ge…`, `≥`; `\ne…`, `≠` |
//! | `in`            | `\in`, `∈`                        | `pm` `mp`       | `\pm`, `±`; `\mp`     |
//! | `cup`           | `\cup`, `∪`                       | `inf` `pi`      | `\infty`, `∞`; `\pi`, `π` |
//! | `empty`         | `\emptyset`, `\varnothing`, `∅`   | `reals`         | `\mathbb{R}`, `ℝ`      |
//! | `sqrt`          | `\sqrt`, `√`                      | `frac` `binom`  | `\frac`…, `\binom`…    |
//! | `over`          | `\over`                           | `lfloor` … `rceil` | `\lfloor` `\rfloor` `\lceil` `\rceil` |
enum class tk : std::uint8_t {
  end, num, ident, plus, minus, star, slash, caret, under, bang, lpar, rpar, lbrack, rbrack,
  lbrace, rbrace, lset, rset, bar, comma, sep, eq, lt, gt, le, ge, ne, in, pm, mp, cup, percent,
  text, amp, rowsep, inf, pi, empty, reals, sqrt, frac, binom, over, func, lfloor, rfloor, lceil,
  rceil, begin_mat, end_mat, bad
};

//! One token: its kind and a view into the answer (empty for `end`): `12` → {num, "12"},
//! `\sqrt` → {sqrt, "sqrt"}, `√` → {sqrt, "√"}. The parser may shorten
//! `text` of a `num` token in place to take one digit at a time (`\frac12`, `x_12`).
struct token {
  tk kind;
  //! The bytes the token was read from: the command name without its backslash for commands,
  //! the trimmed contents for `\text{…}` groups, the environment name for `\begin`/`\end`.
  std::string_view text;
};

//! FNV-1a, 64-bit: names variables by a hash of their spelling (and subscripts, see
//! `parser::postfix`), so a variable needs no string storage and the same name gets the same
//! random values in both answers. Two different names colliding (probability ≈ 2^-64 per pair)
//! would make them the same variable.
//! The FNV-1a 64-bit offset basis (the multiplier below, 1099511628211, is the FNV prime).
inline constexpr std::uint64_t fnv_offset = 1469598103934665603ull;
//! O(|s|). `h` chains hashes: fnv(b, fnv(a)) hashes the concatenation a·b. The variable x is
//! named fnv("x"); x_1 is fnv("1", fnv("|", fnv("_", fnv("x")))).
inline std::uint64_t fnv(std::string_view s, std::uint64_t h = fnv_offset) noexcept {
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

//! True when `n` is one of `set` (a linear scan; the sets here have a handful of entries).
inline bool name_in(std::string_view n, std::initializer_list<std::string_view> set) noexcept {
  for (std::string_view x : set)
    if (n == x) return true;
  return false;
}

//! Splits an answer into tokens (one linear pass). Unknown commands become `tk::bad`.
//!
//! Whitespace, `$`, `~`, TeX spacing (`\,` `\;` `\:` `\!` `\ `), sizing and style commands
//! (`\left`, `\right` and a following `.`, `\big…`, `\displaystyle`, `\quad`, `\limits`, …),
//! dollar signs (`\$`, `\textdollar`), degree marks (`°`, `\degree`, `^\circ`, `^{\circ}`, a final
//! `\circ`), empty `\text{}` groups and a final sentence period produce no token. Letters are
//! one-character identifiers (`xy` is x·y). Unicode symbols (UTF-8) map to the tokens of their
//! commands. The lexer holds a view of the answer and an offset, nothing else; tokens are views
//! into the answer, so the answer must outlive the parse.
//!
//!   "2x^{2}"          → num "2", ident "x", caret, lbrace, num "2", rbrace, end
//!   "\\frac12"        → frac, num "12", end          (the parser splits the digits)
//!   "1{,}000.5"       → num "1{,}000.5", end
//!   "x \\le 3"         → ident "x", le, num "3", end
//!   "\\overline{3}"   → bad "overline"               (nothing after it is read)
//! Not thread-safe (it has a position); one lexer per parse.
class lexer {
public:
  //! Reads `s` from its first byte; `s` must outlive the lexer and every token it returns.
  //! Cost: O(1) per byte of the answer over the whole scan.
  explicit lexer(std::string_view s) : s_(s) {}

  //! The next token; `tk::end` at the end (and forever after).
  //! After a `tk::bad` token the offset jumps to the end: the parser fails on `bad` anyway, so the
  //! rest of a long answer is never scanned. On `x+1`: ident "x", plus, num "1", then end on
  //! every further call.
  token next() {
    for (;;) {
      // (The loop always returns on its first pass: after a `bad` token the offset jumps to the end.)
      const token t = scan();
      if (t.kind != tk::bad || i_ >= s_.size()) return t;
      i_ = s_.size(); // nothing parses past an unknown token: stop reading
      return t;
    }
  }

private:
  // The answer being read and the current byte offset into it.
  std::string_view s_;
  std::size_t i_ = 0;

  // Does the input continue with `p` at the current offset?
  [[nodiscard]] bool at(std::string_view p) const noexcept { return s_.substr(i_, p.size()) == p; }
  // Advance past ASCII whitespace (TeX ignores it inside math).
  void skip_spaces() noexcept {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  // True when only whitespace follows offset k (used for a final `\circ` and a final period).
  [[nodiscard]] bool only_spaces_left(std::size_t k) const noexcept {
    while (k < s_.size() && is_space(s_[k])) ++k;
    return k >= s_.size();
  }
  //! Reads a balanced `{…}` group after optional spaces; the view excludes the braces.
  //! Uses extract.hpp's `match_brace` (a counting scan; a backslash escapes the next byte), so a
  //! group is found in time linear in its length and nested groups cost no recursion. False when
  //! no `{` follows or it is never closed (the caller then returns `tk::bad`). After `\text`,
  //! ` {ab}` gives the content "ab".
  bool read_group(std::string_view& content) {
    skip_spaces();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    const std::size_t close = match_brace(s_, i_);
    if (close == std::string_view::npos) return false;
    content = s_.substr(i_ + 1, close - i_ - 1);
    i_ = close + 1;
    return true;
  }
  //! `^\circ`, `^{\circ}`, `^{ \circ }` at i_ (just after `^`): consumed when present.
  //! A degree mark reads as nothing (`90^\circ` is 90). `\circle` or `\circ` followed by another
  //! letter is not a degree mark, so the `^` stays a power. `^{\circ 2}` is not a degree mark
  //! either (and the `\circ` inside it is then unsupported).
  bool skip_degree_script() {
    std::size_t k = i_;
    while (k < s_.size() && is_space(s_[k])) ++k;
    auto circ_at = [&](std::size_t p) {
      return s_.substr(p, 5) == "\\circ" && (p + 5 >= s_.size() || !is_ascii_letter(s_[p + 5]));
    };
    // `^\circ`.
    if (circ_at(k)) {
      i_ = k + 5;
      return true;
    }
    // `^{\circ}`, with spaces allowed inside the braces.
    if (k < s_.size() && s_[k] == '{') {
      ++k;
      while (k < s_.size() && is_space(s_[k])) ++k;
      if (!circ_at(k)) return false;
      k += 5;
      while (k < s_.size() && is_space(s_[k])) ++k;
      if (k < s_.size() && s_[k] == '}') {
        i_ = k + 1;
        return true;
      }
    }
    return false;
  }

  //! A number literal at the current offset: digits, `{,}` thousands groups (exactly three digits,
  //! not followed by a fourth: `1{,}000`), a decimal part (`.` must be followed by a digit, so `5.`
  //! is 5 and a period), and an exponent `e`/`E` with optional sign and digits, taken only when no
  //! letter follows the digits (`1.5e3` is 1500, but in `2e3x` the `e` is Euler's number). A
  //! literal may start with `.` (`.5`). Value conversion happens later, in `evaluator::literal`.
  //! `1{,}000{,}000` is one token; `1{,}00` stops after the `1`.
  token number() {
    const std::size_t b = i_;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    // LaTeX thousands groups: 1{,}000
    while (s_.substr(i_, 3) == "{,}" && i_ + 6 <= s_.size() && is_digit(s_[i_ + 3]) && is_digit(s_[i_ + 4]) &&
           is_digit(s_[i_ + 5]) && (i_ + 6 >= s_.size() || !is_digit(s_[i_ + 6])))
      i_ += 6;
    // A decimal part needs a digit after the point: in `5.` the point ends a sentence.
    if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    // Scientific notation only when the exponent is complete and no letter follows; otherwise
    // `e` is Euler's number (`2e` = 2·e).
    if (i_ + 1 < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      std::size_t j = i_ + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (j < s_.size() && is_digit(s_[j])) {
        while (j < s_.size() && is_digit(s_[j])) ++j;
        if (j >= s_.size() || !is_ascii_letter(s_[j])) i_ = j;
      }
    }
    return {tk::num, s_.substr(b, i_ - b)};
  }

  // What a known command does: `tok` emits the entry's token kind; `skip` produces nothing;
  // `leftright` also drops a following `.` (`\left.`); `circ` is a degree mark at the end and
  // unsupported elsewhere; `text` reads a `{…}` group (`\text`, `\mathrm`, `\operatorname`, …);
  // `mathbb` accepts only `\mathbb{R}`; `env` reads `\begin{…}`/`\end{…}`.
  enum class act : std::uint8_t { tok, skip, leftright, circ, text, mathbb, env };
  // One row of the command table: the command name without its backslash, its action, and the
  // token kind for `tok` (and `text`, `mathbb`, `env`, which decide their kind themselves).
  struct command_entry {
    std::string_view name;
    act what;
    tk kind;
  };
  //! Every command the lexer knows, sorted by name (binary search: a lookup is ~7 comparisons).
  //! Built on first use (a function-local static: initialisation is thread-safe, reads after it
  //! are lock-free). Commands absent from the table — `\overline`, `\vec`, `\rightarrow`, `\circ`
  //! in the middle, `\cdots` — make the answer unsupported, which sends the comparison to the
  //! string rules rather than guessing.
  //! Cost: the first call builds and sorts the 135 entries; later calls return the same span.
  static std::span<const command_entry> commands() {
    static const std::vector<command_entry> table = [] {
      std::vector<command_entry> t;
      auto add = [&](std::initializer_list<std::string_view> names, act a, tk k) {
        for (std::string_view n : names) t.push_back({n, a, k});
      };
      // Delimiter sizing: `\left(` is `(`; `\left.` and `\right.` (invisible delimiters) vanish.
      add({"left", "right"}, act::leftright, tk::end);
      // Sizes, styles, spacing, dollar signs, limit placement and struts: no mathematical content.
      add({"big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
           "displaystyle", "textstyle", "quad", "qquad", "degree", "textdollar", "dollar", "limits", "nolimits",
           "mathstrut", "strut"},
          act::skip, tk::end);
      // `\circ` without `^`: a degree sign at the end (`90\circ`), composition elsewhere.
      add({"circ"}, act::circ, tk::end);
      // Text and font commands: the group's contents decide the token (see `command`).
      add({"text", "textrm", "textnormal", "textbf", "textit", "textsf", "mbox", "mathrm", "mathbf", "mathit",
           "mathsf", "operatorname", "boldsymbol", "bm", "hbox"},
          act::text, tk::text);
      // `\mathbb{R}` is ℝ; other blackboard letters are unsupported.
      add({"mathbb"}, act::mathbb, tk::reals);
      // Matrix environments (the environment name is checked in `command`).
      add({"begin", "end"}, act::env, tk::begin_mat);
      // Display-style variants are the same operators.
      add({"frac", "dfrac", "tfrac", "cfrac"}, act::tok, tk::frac);
      add({"binom", "dbinom", "tbinom"}, act::tok, tk::binom);
      add({"sqrt"}, act::tok, tk::sqrt);
      // TeX's infix fraction `{a \over b}` (accepted only inside braces).
      add({"over"}, act::tok, tk::over);
      // Every multiplication sign is one operator, and `\div` is `/`.
      add({"cdot", "times", "ast"}, act::tok, tk::star);
      add({"div"}, act::tok, tk::slash);
      // Relations with their synonyms (`\leqslant` and `\leqq` are ≤).
      add({"le", "leq", "leqslant", "leqq"}, act::tok, tk::le);
      add({"ge", "geq", "geqslant", "geqq"}, act::tok, tk::ge);
      add({"ne", "neq"}, act::tok, tk::ne);
      // `\lt` and `\gt`, the MathJax spellings of < and >.
      add({"lt"}, act::tok, tk::lt);
      add({"gt"}, act::tok, tk::gt);
      // ± and ∓: the parser reads ∓ like ± (the same pair of values).
      add({"pm"}, act::tok, tk::pm);
      add({"mp"}, act::tok, tk::mp);
      // Of the set operations only ∪ is supported (`\cap`, `\setminus` are not in the table).
      add({"cup"}, act::tok, tk::cup);
      // Constants ∞ and π (`e` is a letter, turned into Euler's number by the parser).
      add({"infty"}, act::tok, tk::inf);
      add({"pi"}, act::tok, tk::pi);
      // ∅ in both spellings.
      add({"emptyset", "varnothing"}, act::tok, tk::empty);
      // `\lbrace … \rbrace` are set braces like `\{ … \}`; the `\vert` variants are `|`.
      add({"lbrace"}, act::tok, tk::lset);
      add({"rbrace"}, act::tok, tk::rset);
      add({"lvert", "rvert", "vert"}, act::tok, tk::bar);
      // Floor and ceiling brackets.
      add({"lfloor"}, act::tok, tk::lfloor);
      add({"rfloor"}, act::tok, tk::rfloor);
      add({"lceil"}, act::tok, tk::lceil);
      add({"rceil"}, act::tok, tk::rceil);
      // Membership: `x \in S` is a relation for the parser.
      add({"in"}, act::tok, tk::in);
      // The functions `evaluator::eval_node` knows (its `op::func` case lists the same names).
      add({"sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "ln",
           "log", "exp"},
          act::tok, tk::func);
      // Greek letters are variables; `\pi` (above) is the constant.
      add({"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
           "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
           "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"},
          act::tok, tk::ident);
      // Sorted once, so that every lookup is a binary search.
      std::sort(t.begin(), t.end(), [](const command_entry& x, const command_entry& y) { return x.name < y.name; });
      return t;
    }();
    return table;
  }

  //! A command at the current offset (a backslash followed by letters). The name is the maximal
  //! run of ASCII letters, as TeX reads it (`\pix` is the unknown command `pix`, not π·x).
  //!   `\cdot` → star;  `\quad` → nullopt (reads as nothing; `scan` goes on);  `\text{ or }` → sep "or";
  //!   `\mathbb{R}` → reals;  `\begin{pmatrix}` → begin_mat "pmatrix";  `\foo` → bad "foo"
  //! O(length of the name + log of the table size), plus the group read by `text`, `mathbb` and
  //! `env` actions.
  std::optional<token> command() {
    const std::size_t b = i_ + 1;
    std::size_t e = b;
    // A command name is the maximal run of letters after the backslash.
    while (e < s_.size() && is_ascii_letter(s_[e])) ++e;
    const std::string_view n = s_.substr(b, e - b);
    i_ = e;
    const auto table = commands();
    const auto it = std::lower_bound(table.begin(), table.end(), n,
                                     [](const command_entry& x, std::string_view key) { return x.name < key; });
    // Not in the table: unsupported.
    if (it == table.end() || it->name != n) return token{tk::bad, n};
    switch (it->what) {
    // The token text is the command name (`function` reads the function's name from it).
    case act::tok: return token{it->kind, n};
    // Skipped commands read as nothing: `scan` continues after them in its loop (never by
    // recursion, so a long run of `\quad` or `\left` in model output cannot exhaust the stack).
    case act::skip: return std::nullopt;
    // Also drop the dot of an invisible delimiter `\left.` / `\right.`.
    case act::leftright:
      skip_spaces();
      if (i_ < s_.size() && s_[i_] == '.') ++i_;
      return std::nullopt;
    case act::circ: // a final \circ is a degree sign; inside it is composition (unsupported)
      if (only_spaces_left(i_)) return std::nullopt;
      // Composition (f\circ g) is not modelled: the answer is left to the string rules.
      return token{tk::bad, n};
    // `\text{…}` and friends: the trimmed contents decide. Empty text is skipped; `or`/`and`
    // (optionally with a comma) separate list items; a single letter is a variable (`\text{x}`);
    // digits inside a math-style command are a number (`\mathbf{2}`; `\text{2}` stays text);
    // anything else is a text token, which no grammar rule accepts — a word answer is compared by
    // normalize.hpp's text rule instead.
    case act::text: {
      std::string_view c;
      if (!read_group(c)) return token{tk::bad, n};
      const std::string_view t = trim(c);
      if (t.empty()) return std::nullopt;
      // Connectors separate list items: `2 \text{ or } 5`, `1 \text{ and } 2`.
      if (t == "or" || t == "and" || t == "," || t == "or," || t == "and,") return token{tk::sep, t};
      // `\text{x}`, `\mathrm{d}`: a one-letter variable.
      if (t.size() == 1 && is_ascii_letter(t[0])) return token{tk::ident, t};
      if (n != "text" && is_digit(t[0])) { // \mathbf{2}
        bool digits = true;
        for (char ch : t) digits = digits && is_digit(ch);
        if (digits) return token{tk::num, t};
      }
      return token{tk::text, t};
    }
    // Only ℝ is supported among blackboard letters; `\mathbb{N}`, `\mathbb{Z}`, … are unsupported.
    case act::mathbb: {
      std::string_view c;
      if (read_group(c) && trim(c) == "R") return token{tk::reals, c};
      return token{tk::bad, n};
    }
    // Matrix environments; `array` also has a column spec `{cc}` to skip. The token's text is the
    // environment name, which the parser does not check against the `\end`.
    case act::env: {
      std::string_view c;
      if (!read_group(c)) return token{tk::bad, n};
      c = trim(c);
      if (!name_in(c, {"pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix", "array"})) return token{tk::bad, c};
      if (n == "begin" && c == "array") {
        std::string_view spec;
        if (!read_group(spec)) return token{tk::bad, c};
      }
      return token{n == "begin" ? tk::begin_mat : tk::end_mat, c};
    }
    }
    return token{tk::bad, n};
  }

  //! The token at the current offset, skipping what reads as nothing (see the class comment).
  //! Linear overall: every byte is consumed once (by this loop, `number`, `command` or the
  //! `match_brace` scan of a group).
  //!   `$x$` → ident "x", end;  `\,5` → num "5";  `5.` → num "5", end (a final period)
  token scan() {
    for (;;) {
      skip_spaces();
      if (i_ >= s_.size()) return {tk::end, {}};
      const char c = s_[i_];
      const std::size_t b = i_;
      // Math delimiters and non-breaking spaces read as nothing.
      if (c == '$' || c == '~') {
        ++i_;
        continue;
      }
      // A number starts with a digit, or with a point followed by a digit (`.5`).
      if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) return number();
      // Every ASCII letter is its own identifier: `xy` is x·y, and a word is a product of letters.
      if (is_ascii_letter(c)) {
        ++i_;
        return {tk::ident, s_.substr(b, 1)};
      }
      // A backslash: a command (letters), or an escaped character — `\{` `\}` set braces, TeX spaces
      // (skipped), `\%`, `\\` (a matrix row separator); a lone final backslash is bad.
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return {tk::bad, s_.substr(b)};
        const char d = s_[i_ + 1];
        if (is_ascii_letter(d)) {
          if (std::optional<token> t = command()) return *t;
          continue; // the command reads as nothing (`\quad`, `\left`, empty `\text{}`, a final `\circ`)
        }
        i_ += 2;
        switch (d) {
        // `\{` `\}` are set braces; plain `{` `}` only group.
        case '{': return {tk::lset, s_.substr(b, 2)};
        case '}': return {tk::rset, s_.substr(b, 2)};
        case ',': case ';': case ':': case '!': case ' ': case '\t': case '\n': case '$': continue;
        case '%': return {tk::percent, s_.substr(b, 2)};
        // `\\`: a matrix row separator (a line break anywhere else, which no rule accepts).
        case '\\': return {tk::rowsep, s_.substr(b, 2)};
        default: return {tk::bad, s_.substr(b, 2)};
        }
      }
      // UTF-8 symbols: each recognised sequence is consumed and mapped to the token of its
      // command (√ → \sqrt, × · ⋅ → \cdot, − → -, …). `kind` is unused inside the lambda; the
      // return statements name the kind. Any other non-ASCII byte is unsupported.
      auto utf = [&](std::string_view seq, tk kind) -> bool {
        if (!at(seq)) return false;
        i_ += seq.size();
        (void)kind;
        return true;
      };
      if (static_cast<unsigned char>(c) >= 0x80) {
        if (utf("\xC2\xB0", tk::end)) continue;                     // °
        if (utf("\xE2\x88\x9A", tk::sqrt)) return {tk::sqrt, s_.substr(b, 3)};   // √
        if (utf("\xCF\x80", tk::pi)) return {tk::pi, s_.substr(b, 2)};           // π
        if (utf("\xC3\x97", tk::star)) return {tk::star, s_.substr(b, 2)};       // ×
        if (utf("\xC2\xB7", tk::star)) return {tk::star, s_.substr(b, 2)};       // ·
        if (utf("\xE2\x8B\x85", tk::star)) return {tk::star, s_.substr(b, 3)};   // ⋅
        if (utf("\xC3\xB7", tk::slash)) return {tk::slash, s_.substr(b, 2)};     // ÷
        if (utf("\xE2\x89\xA4", tk::le)) return {tk::le, s_.substr(b, 3)};       // ≤
        if (utf("\xE2\x89\xA5", tk::ge)) return {tk::ge, s_.substr(b, 3)};       // ≥
        if (utf("\xE2\x89\xA0", tk::ne)) return {tk::ne, s_.substr(b, 3)};       // ≠
        if (utf("\xE2\x88\x92", tk::minus)) return {tk::minus, s_.substr(b, 3)}; // −
        if (utf("\xC2\xB1", tk::pm)) return {tk::pm, s_.substr(b, 2)};           // ±
        if (utf("\xE2\x88\x9E", tk::inf)) return {tk::inf, s_.substr(b, 3)};     // ∞
        if (utf("\xE2\x88\xAA", tk::cup)) return {tk::cup, s_.substr(b, 3)};     // ∪
        if (utf("\xE2\x88\x85", tk::empty)) return {tk::empty, s_.substr(b, 3)}; // ∅
        if (utf("\xE2\x84\x9D", tk::reals)) return {tk::reals, s_.substr(b, 3)}; // ℝ
        if (utf("\xE2\x88\x88", tk::in)) return {tk::in, s_.substr(b, 3)};       // ∈
        return {tk::bad, s_.substr(b, 1)};
      }
      // ASCII operators and brackets, one byte each. `;` separates items like `,`. `.` is allowed
      // only as a final sentence period (`x = 5.`); a decimal point belongs to `number`.
      ++i_;
      switch (c) {
      case '+': return {tk::plus, s_.substr(b, 1)};
      case '-': return {tk::minus, s_.substr(b, 1)};
      case '*': return {tk::star, s_.substr(b, 1)};
      case '/': return {tk::slash, s_.substr(b, 1)};
      case '^':
        // `^\circ` is a degree mark and vanishes with its `^`; any other `^` is a power.
        if (skip_degree_script()) continue;
        return {tk::caret, s_.substr(b, 1)};
      case '_': return {tk::under, s_.substr(b, 1)};
      case '!': return {tk::bang, s_.substr(b, 1)};
      case '(': return {tk::lpar, s_.substr(b, 1)};
      case ')': return {tk::rpar, s_.substr(b, 1)};
      case '[': return {tk::lbrack, s_.substr(b, 1)};
      case ']': return {tk::rbrack, s_.substr(b, 1)};
      case '{': return {tk::lbrace, s_.substr(b, 1)};
      case '}': return {tk::rbrace, s_.substr(b, 1)};
      // `|` both opens and closes absolute values; the parser tells them apart by depth.
      case '|': return {tk::bar, s_.substr(b, 1)};
      case ',': return {tk::comma, s_.substr(b, 1)};
      case ';': return {tk::comma, s_.substr(b, 1)};
      case '=': return {tk::eq, s_.substr(b, 1)};
      case '<': return {tk::lt, s_.substr(b, 1)};
      case '>': return {tk::gt, s_.substr(b, 1)};
      case '%': return {tk::percent, s_.substr(b, 1)};
      // The matrix column separator.
      case '&': return {tk::amp, s_.substr(b, 1)};
      case '.':
        if (only_spaces_left(i_)) continue; // a final sentence period
        return {tk::bad, s_.substr(b, 1)};
      default: return {tk::bad, s_.substr(b, 1)};
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Expression tree

//! Node kinds. Operands live in `node::a`/`node::b` (node indices) unless noted:
//! - `num`: a literal, `text` = its spelling (value computed and cached by the evaluator);
//! - `var`: a variable, `h` = the FNV-1a hash of its name (with subscripts);
//! - `pi`, `e`, `inf`: the constants π, Euler's e and +∞ (no operands);
//! - `neg`: −a; `add`, `sub`, `mul`, `div`, `pow`: a ∘ b (`div.x` = 1 when written `\frac`);
//! - `sqrt`: √a; `root`: the a-th root of b (`\sqrt[a]{b}`); `fact`: a!; `binom`: C(a, b);
//! - `func`: `text`(a) for a function name (`sin` … `exp`, `arcsin` for `\sin^{-1}`); `logb`:
//!   log base b of a; `abs`, `floor`, `ceil`: |a|, ⌊a⌋, ⌈a⌉;
//! - `pm`: a ± b; `upm`: ±a (leading); both are expanded into lists before evaluation;
//! - `percent`: a/100 (only with `percent_rule::divide`);
//! - `based`: the digits in `text` read in base a (`1011_{2}`);
//! - structures (n-ary: `a` = first index into `tree::kids`, `b` = count): `tuple` (brackets in
//!   x/y, also intervals), `set`, `list` (bare items), `union_`, `rel` (sides; operators in
//!   `tree::rels`), `matrix` (row-major cells, rows in x, columns in y); `reals` is ℝ and
//!   `empty` ∅ (the parser builds ∅ as an empty `set`).
//! Every kind from `tuple` on is a structure (`is_structure`); the order of the enumerators
//! matters for that test.
enum class op : std::uint8_t {
  num, var, pi, e, inf, neg, add, sub, mul, div, pow, sqrt, root, fact, func, logb, abs, floor, ceil,
  binom, pm, upm, percent, based,            // scalars (pm/upm are expanded before evaluation)
  tuple, set, list, union_, rel, matrix, reals, empty // structures
};

//! The relation operators of `op::rel` (`in` is `\in`/∈).
enum class rel_op : std::uint8_t { eq, lt, gt, le, ge, ne, in };

//! The "no node" index: returned by every parser routine on failure, and the empty operand.
inline constexpr std::uint32_t no_node = 0xFFFFFFFFu;

//! One expression-tree node: a kind, two small fields, two operand indices, a hash and a text
//! view (field meanings per kind at `op`). Nodes refer to each other by index into
//! `tree::nodes`, so the tree can grow (canonicalisation appends nodes) without invalidating
//! references held as indices.
struct node {
  //! What the node is; decides how the other fields are read (see `op`).
  op kind = op::num;
  std::uint8_t x = 0;   //!< tuple: open bracket; matrix: rows; div: 1 when written as \frac
  std::uint8_t y = 0;   //!< tuple: close bracket; matrix: columns
  std::uint32_t a = no_node, b = no_node; //!< operands; n-ary: first child index and count
  std::uint64_t h = 0;  //!< var: name hash
  std::string_view text; //!< num: literal; func: name; based: digits

  //! A `num` node with no text (used as a default value only).
  node() = default;
  //! A node of kind k with operands a_ and b_ (or first child and count), text, hash and the two
  //! small fields; all optional.
  explicit node(op k, std::uint32_t a_ = no_node, std::uint32_t b_ = no_node, std::string_view t = {},
                std::uint64_t h_ = 0, std::uint8_t x_ = 0, std::uint8_t y_ = 0)
      : kind(k), x(x_), y(y_), a(a_), b(b_), h(h_), text(t) {}
};

//! An expression tree as an arena: nodes, the child lists of n-ary nodes, and relation
//! operators. Parsing builds children before their parents; `comparer::canonical` later
//! appends rewritten nodes to the same arena. A tree owns no text: `node::text` views point into
//! the parsed answer, which must outlive the tree.
//!
//! Layout, by example:
//!   `\{1, x\}`      nodes: 0 num "1", 1 var h("x"), 2 set(a = 0, b = 2)   kids: 0, 1
//!   `1 < x \le 2`   nodes: 0 num "1", 1 var h("x"), 2 num "2", 3 rel(a = 0, b = 3)
//!                  kids: 0, 1, 2   rels: lt, le, (unused slot)
//! An n-ary node's children are `kids[a], …, kids[a + b − 1]`; a relation's operator after its
//! side i is `rels[a + i]`.
struct tree {
  //! Every node of the answer, and the nodes canonicalisation adds; indices are stable.
  std::vector<node> nodes;
  std::vector<std::uint32_t> kids;   //!< children of n-ary nodes
  std::vector<rel_op> rels;          //!< rel: operator between kids[a+i] and kids[a+i+1]
  //! The answer's root node after a successful parse.
  std::uint32_t root = no_node;

  //! Appends a node; returns its index. Indices stay far below `no_node` (2^32 − 1): the parser
  //! stops at `max_nodes`, and canonicalisation adds at most a bounded multiple of that.
  std::uint32_t make(node n) {
    nodes.push_back(n);
    return static_cast<std::uint32_t>(nodes.size() - 1);
  }
  //! Appends a unary or binary node.
  std::uint32_t unary(op k, std::uint32_t a) { return make(node(k, a)); }
  std::uint32_t binary(op k, std::uint32_t a, std::uint32_t b) { return make(node(k, a, b)); }
  //! Appends an n-ary node whose children `ch` are copied to `kids` (first index in `a`, count in
  //! `b`), with the small fields x and y (brackets or matrix shape).
  std::uint32_t nary(op k, const std::vector<std::uint32_t>& ch, std::uint8_t x = 0, std::uint8_t y = 0) {
    const auto first = static_cast<std::uint32_t>(kids.size());
    kids.insert(kids.end(), ch.begin(), ch.end());
    return make(node(k, first, static_cast<std::uint32_t>(ch.size()), {}, 0, x, y));
  }
  //! The i-th child of n-ary node n. (A convenience accessor: the parser and the comparer index
  //! `kids` directly.)
  [[nodiscard]] std::uint32_t kid(std::uint32_t n, std::uint32_t i) const { return kids[nodes[n].a + i]; }
};

//! True for tuples, sets, lists, unions, relations, matrices, ℝ and ∅ (the values compared
//! structurally rather than numerically).
inline bool is_structure(op k) noexcept { return k >= op::tuple; }

//! Recursive-descent parser over the token vector; every routine returns `no_node` on failure.
//!
//! One routine per grammar rule of the file comment (`item_list`, `item`, `union_expr`, `sum`,
//! `term`, `factor`, `postfix`, `primary`, plus helpers for arguments, scripts, brackets,
//! functions and matrices). A failure anywhere fails the whole parse; there is no error recovery
//! and no error message — an unparsed answer is simply "not in the subset". Bounds: recursion
//! deeper than `max_depth` and trees larger than `max_nodes` fail, so a 2^20-deep `((((…` costs
//! 200 levels of recursion. Memory: the token vector and the tree, both linear in the input read.
//! Time: every token is consumed once and each routine does O(1) work per token it consumes
//! (n-ary nodes copy their child lists once), so a parse is linear in the input read.
class parser {
public:
  //! Tokens are read on demand, so input past the point where parsing fails (too deep, an
  //! unknown command) is never tokenised.
  //! A parser is single-use and not thread-safe: it holds the token position and appends to `t`.
  parser(std::string_view s, tree& t, const math_options& opt) : t_(t), lex_(s), opt_(opt) {}

  //! Parses the whole answer; true when it is in the subset and every token was consumed. On
  //! success `t.root` is set; on failure `t` may hold a partial tree, which the caller discards.
  bool run() {
    // The whole answer is one item list, and nothing may follow it.
    const std::uint32_t r = item_list(tk::end);
    if (r == no_node || peek() != tk::end) return false;
    t_.root = r;
    return true;
  }

private:
  // Recursion limit shared by the parser's routines (one count per routine entered).
  static constexpr int max_depth = 200;
  static constexpr std::size_t max_nodes = std::size_t{1} << 16; //!< longer answers are left to string rules
  // The tree being built, the lexer, the tokens read so far, whether the lexer reached `end` or
  // `bad`, the options (only `percent` is read here), the current token index, the recursion
  // depth, and how many `|…|` are open (inside one, `|` closes instead of opening).
  tree& t_;
  lexer lex_;
  std::vector<token> toks_;
  bool lexed_all_ = false;
  const math_options& opt_;
  std::size_t p_ = 0;
  int depth_ = 0;
  int abs_depth_ = 0;

  // RAII increment of a depth counter for the scope of one routine.
  struct depth_guard {
    int& d;
    // Every recursive routine opens with `depth_guard g(depth_); if (depth_ > max_depth) return
    // no_node;`, so the limit holds however the routines call each other.
    explicit depth_guard(int& dd) : d(dd) { ++d; }
    ~depth_guard() { --d; }
  };

  // The kind of the token k places ahead, reading tokens from the lexer on demand; `end` past
  // the last token (also after a `bad` one, which ends the token stream). The grammar needs one
  // token of lookahead: every routine decides on `peek()` alone, and no caller passes k > 0.
  tk peek(std::size_t k = 0) {
    // Lazy lexing: a parse that fails early never tokenises the rest of a long answer.
    while (p_ + k >= toks_.size() && !lexed_all_) {
      toks_.push_back(lex_.next());
      lexed_all_ = toks_.back().kind == tk::end || toks_.back().kind == tk::bad;
    }
    return p_ + k < toks_.size() ? toks_[p_ + k].kind : tk::end;
  }
  // Consumes the current token when it is of kind k.
  bool accept(tk k) noexcept {
    if (peek() != k) return false;
    ++p_;
    return true;
  }

  //! Items separated by `,` `;` or a text connector, up to (not including) `close`.
  //! Runs of separators collapse (`1, \text{ and } 2` is two items); one item is returned as
  //! itself, several as an `op::list`. `close` documents the expected closing token; the caller
  //! checks it.
  //!   `1, 2; 3`            → list(1, 2, 3)
  //!   `2 \text{ or } 5`    → list(2, 5)
  //!   `x`                  → x (no list node for one item)
  std::uint32_t item_list(tk close) {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    std::vector<std::uint32_t> items;
    for (;;) {
      const std::uint32_t it = item();
      if (it == no_node) return no_node;
      items.push_back(it);
      // A separator: skip it (and a run of connectors) and read the next item.
      if (peek() == tk::comma || peek() == tk::sep) {
        ++p_;
        // Skip further connectors, and a comma right after a connector (`\text{ or }, 2`).
        while (peek() == tk::sep || (peek() == tk::comma && items.size() > 0 && toks_[p_ - 1].kind == tk::sep)) ++p_;
        continue;
      }
      break;
    }
    // `close` is not consulted: every caller checks its own closing token after the list.
    (void)close;
    if (items.size() == 1) return items[0];
    return t_.nary(op::list, items);
  }

  //! A relation chain `s₀ r₀ s₁ r₁ …` (`1 < x \le 2`, `a = b = c`) as one `op::rel` node with
  //! the sides as children and the operators in `tree::rels`; a single side is returned as is.
  //!   `x = 5`          → rel(x, 5) with rels {eq}
  //!   `1 < x \le 2`    → rel(1, x, 2) with rels {lt, le}
  std::uint32_t item() {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    std::vector<std::uint32_t> sides;
    // The sides and the operators between them; a chain may mix kinds (`1 < x = y`): the comparer
    // decides what such a relation means.
    std::vector<rel_op> ops;
    std::uint32_t s = union_expr();
    if (s == no_node) return no_node;
    sides.push_back(s);
    for (;;) {
      rel_op r;
      switch (peek()) {
      // Relation operators continue the chain; any other token ends it.
      case tk::eq: r = rel_op::eq; break;
      case tk::lt: r = rel_op::lt; break;
      case tk::gt: r = rel_op::gt; break;
      case tk::le: r = rel_op::le; break;
      case tk::ge: r = rel_op::ge; break;
      case tk::ne: r = rel_op::ne; break;
      case tk::in: r = rel_op::in; break;
      // Any other token ends the chain; the goto leaves the switch and the loop at once.
      default: goto done;
      }
      ++p_;
      s = union_expr();
      if (s == no_node) return no_node;
      sides.push_back(s);
      ops.push_back(r);
    }
  done:
    if (sides.size() == 1) return sides[0];
    const std::uint32_t n = t_.nary(op::rel, sides);
    // rels is indexed like kids: pad so rels[a + i] is the operator after side i.
    t_.rels.resize(t_.kids.size());
    for (std::size_t i = 0; i < ops.size(); ++i) t_.rels[t_.nodes[n].a + i] = ops[i];
    return n;
  }

  //! `\cup`-separated sums as one `op::union_` node (a single sum is returned as is).
  //!   `(1,2)\cup(3,4)` → union(tuple(1,2), tuple(3,4))
  std::uint32_t union_expr() {
    std::vector<std::uint32_t> parts;
    std::uint32_t s = sum();
    if (s == no_node) return no_node;
    parts.push_back(s);
    // `\cup` binds looser than + and −: `(1,2)\cup(3,4)`.
    while (accept(tk::cup)) {
      s = sum();
      if (s == no_node) return no_node;
      parts.push_back(s);
    }
    if (parts.size() == 1) return parts[0];
    return t_.nary(op::union_, parts);
  }

  //! A signed sum of terms, left-associative: `a − b + c` = (a − b) + c. A leading `−` negates the
  //! first term only (`−2^2` = −(2^2) = −4, as in mathematics); a leading `±`/`∓` makes an
  //! `op::upm`, an inner one an `op::pm` (∓ is read as ±: both give the same pair of values).
  //!   `-x + 1`       → add(neg(x), 1)
  //!   `1 \pm \sqrt2` → pm(1, sqrt(2))
  //!   `\pm 3`        → upm(3)
  std::uint32_t sum() {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    std::uint32_t acc;
    if (accept(tk::minus)) {
      const std::uint32_t x = term();
      if (x == no_node) return no_node;
      acc = t_.unary(op::neg, x);
    } else if (peek() == tk::pm || peek() == tk::mp) {
      ++p_;
      const std::uint32_t x = term();
      if (x == no_node) return no_node;
      acc = t_.unary(op::upm, x);
    } else {
      // A leading `+` is ignored.
      accept(tk::plus);
      acc = term();
      if (acc == no_node) return no_node;
    }
    for (;;) {
      op k;
      if (peek() == tk::plus) k = op::add;
      else if (peek() == tk::minus) k = op::sub;
      else if (peek() == tk::pm || peek() == tk::mp) k = op::pm;
      else break;
      ++p_;
      const std::uint32_t x = term();
      if (x == no_node) return no_node;
      acc = t_.binary(k, acc, x);
    }
    return acc;
  }

  //! Can the current token start a factor of an implicit product (`2x`, `3\sqrt2`, `2(x+1)`)?
  //! Numbers, letters, π, ∞, `(`, `{`, `\sqrt`, `\frac`, `\binom`, functions, floor and ceiling
  //! do, and `|` outside an absolute value; operators, `[`, `\{` and separators do not (so
  //! `2[x]` is not parsed).
  //! A `|` starts one only outside an absolute value: inside `|a|b|`-like text the next `|`
  //! closes the open one, so `|x|y` is |x|·y and not |x·|y.
  bool starts_implicit_factor() {
    switch (peek()) {
    case tk::num: case tk::ident: case tk::pi: case tk::lpar: case tk::lbrace: case tk::sqrt:
    case tk::frac: case tk::binom: case tk::func: case tk::lfloor: case tk::lceil: case tk::inf:
      return true;
    case tk::bar: return abs_depth_ == 0;
    default: return false;
    }
  }

  //! True when node n is a literal of digits only (no point, exponent or `{,}`): the integers that
  //! may form a mixed number or a numeral in a base. `12` yes; `1.5`, `1{,}000`, `1e3` no.
  [[nodiscard]] bool is_int_literal(std::uint32_t n) const noexcept {
    const node& x = t_.nodes[n];
    if (x.kind != op::num) return false;
    for (char c : x.text)
      if (!is_digit(c)) return false;
    return true;
  }

  //! Factors joined by `·`, `×`, `*`, `/`, `÷` or juxtaposition, left-associative, all of one
  //! precedence: `a/b·c` = (a/b)·c and `1/2x` = (1/2)·x, as written left to right.
  //! An integer literal directly followed by a `\frac` of two integer literals is a mixed number
  //! and adds (`3\frac{1}{3}` = 10/3); anything else juxtaposed multiplies (`3\frac{1}{x}` = 3/x,
  //! `3 \cdot \frac13` = 1).
  //!   `2x\sqrt3`      → mul(mul(2, x), sqrt(3))
  //!   `3\frac{1}{3}`  → add(3, div(1, 3))   (a mixed number)
  //!   `6 \div 2 \cdot 3` → mul(div(6, 2), 3) = 9
  std::uint32_t term() {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    std::uint32_t acc = factor();
    if (acc == no_node) return no_node;
    for (;;) {
      // Explicit × and ÷ and implicit juxtaposition share one precedence level, left to right.
      if (peek() == tk::star || peek() == tk::slash) {
        const op k = peek() == tk::star ? op::mul : op::div;
        ++p_;
        const std::uint32_t x = factor();
        if (x == no_node) return no_node;
        acc = t_.binary(k, acc, x);
      } else if (starts_implicit_factor()) {
        const bool left_int = is_int_literal(acc) && peek() == tk::frac; // 3\frac13, not 3(\frac13)
        const std::uint32_t x = factor();
        if (x == no_node) return no_node;
        // The mixed-number test: both parts integer literals, and the fraction written with `\frac`.
        const node& xn = t_.nodes[x];
        if (left_int && xn.kind == op::div && xn.x == 1 && is_int_literal(xn.a) && is_int_literal(xn.b))
          acc = t_.binary(op::add, acc, x); // mixed number 3\frac{1}{3}
        else
          acc = t_.binary(op::mul, acc, x);
      } else {
        break;
      }
    }
    return acc;
  }

  //! A signed factor or a power: `−a`, `+a`, `±a`, or `postfix [^ script] [!]*`. The sign binds
  //! looser than `^`, and a power is not right-associative across tokens: `2^3^2` fails to parse
  //! (the second `^` has no rule), while `2^{3^2}` is 2^9.
  //!   `-2^2`       → neg(pow(2, 2)) = −4
  //!   `x^{-1}`     → pow(x, neg(1))
  //!   `2^3!`       → fact(pow(2, 3)) = 40320
  std::uint32_t factor() {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    if (accept(tk::minus)) {
      const std::uint32_t x = factor();
      return x == no_node ? no_node : t_.unary(op::neg, x);
    }
    // Unary signs recurse, so `--2` is 2 and `-+2` is −2.
    if (accept(tk::plus)) return factor();
    if (peek() == tk::pm || peek() == tk::mp) {
      ++p_;
      const std::uint32_t x = factor();
      return x == no_node ? no_node : t_.unary(op::upm, x);
    }
    // The base of a power is a postfix expression: `x_1^2`, `(a+b)^2`, `5!^2`.
    std::uint32_t base = postfix();
    if (base == no_node) return no_node;
    if (accept(tk::caret)) {
      const std::uint32_t e = script(true);
      if (e == no_node) return no_node;
      base = t_.binary(op::pow, base, e);
      // `x^2!`: factorials after a superscript apply to the power.
      while (accept(tk::bang)) base = t_.unary(op::fact, base);
    }
    return base;
  }

  //! A superscript/subscript argument: a group, a whole number, a letter, a sign + argument.
  //! `x^2`, `x^{n+1}`, `x^-1`, `e^\pi` are scripts; `x^\frac12` is not (a `\frac` needs braces
  //! around it in a script), so that answer is left unparsed.
  //! A number is the whole token, so `2^10` = 2^10 = 1024 (the author's intent, although TeX would
  //! typeset 2^1·0); `x^-1` and `x^{-1}` both work. `\pi` and `\infty` are accepted (`e^{\pi}`
  //! as `e^\pi`). `allow_sign` is false for subscripts (a base cannot be negative).
  std::uint32_t script(bool allow_sign) {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    // `x^-1`: a minus directly after `^` belongs to the script.
    if (allow_sign && accept(tk::minus)) {
      const std::uint32_t x = script(true);
      return x == no_node ? no_node : t_.unary(op::neg, x);
    }
    switch (peek()) {
    case tk::lbrace: return braced();
    case tk::num: return t_.make(node(op::num, no_node, no_node, toks_[p_++].text));
    case tk::ident: return variable(toks_[p_++].text);
    case tk::pi: ++p_; return t_.make(node(op::pi));
    case tk::inf: ++p_; return t_.make(node(op::inf));
    default: return no_node;
    }
  }

  //! A letter or Greek-letter variable; `e` is Euler's number, never a variable.
  //! `x` → var(hash of "x"); `\alpha` → var(hash of "alpha"); `e` → the constant e.
  std::uint32_t variable(std::string_view name) {
    if (name == "e") return t_.make(node(op::e));
    return t_.make(node(op::var, no_node, no_node, {}, fnv(name)));
  }

  //! A primary followed by `!`, a subscript or `\%`, any number of times.
  //! - `x_1`, `a_{n+1}`, `\pi_2`: a new variable whose name hashes the base name and the
  //!   subscript's tokens, so `x_1` and `x_2` are different variables and `x_1` ≠ x·1;
  //! - `1011_{2}`: an integer literal with a subscript is a numeral in that base (`op::based`);
  //! - `50\%`: with `percent_rule::drop` the sign is dropped, with `divide` it becomes /100.
  //!   `5!`         → fact(5)
  //!   `x_{1}`      → var (hash of "x", "_", "|", "1")
  //!   `777_{8}`    → based(8; "777") = 511
  std::uint32_t postfix() {
    std::uint32_t x = primary();
    if (x == no_node) return no_node;
    for (;;) {
      // Factorials stack: `5!!` is (5!)!, not the double factorial.
      if (accept(tk::bang)) {
        x = t_.unary(op::fact, x);
      } else if (peek() == tk::under) {
        ++p_;
        node& xn = t_.nodes[x];
        if (xn.kind == op::var || xn.kind == op::e || xn.kind == op::pi) {
          // x_1, a_{n}: a new variable named by the subscript's tokens
          std::uint64_t h = xn.kind == op::var ? xn.h : fnv(xn.kind == op::e ? "e" : "pi");
          h = fnv("_", h);
          if (!subscript_name(h)) return no_node;
          t_.nodes[x] = node(op::var, no_node, no_node, {}, h);
        } else if (is_int_literal(x)) {
          // 1011_{2}: a numeral in base 2..10
          // The base of the numeral: a group or a whole number, checked (2–10) when evaluated.
          const std::uint32_t b = script(false);
          if (b == no_node || !is_int_literal(b)) return no_node;
          const std::string_view digits = t_.nodes[x].text;
          x = t_.make(node(op::based, b, no_node, digits));
        } else {
          return no_node;
        }
      } else if (peek() == tk::percent) {
        ++p_;
        // drop: the sign is read as nothing (MATH's rule); divide: x/100.
        if (opt_.percent == percent_rule::divide) x = t_.unary(op::percent, x);
      } else {
        return x;
      }
    }
  }

  //! Extends the name hash h with a subscript: a `{…}` group (the text of every token up to the
  //! matching `}`) or one character (a letter, or the first digit of a number, which stays in
  //! the stream: `x_12` is x_1 · 2). False when the subscript is missing or never closed.
  bool subscript_name(std::uint64_t& h) {
    // Subscript `{…}`: hash every token up to the matching `}` (nested braces counted).
    if (peek() == tk::lbrace) {
      ++p_;
      int d = 1;
      while (peek() != tk::end) {
        const tk k = peek();
        if (k == tk::lbrace) ++d;
        if (k == tk::rbrace && --d == 0) {
          ++p_;
          return true;
        }
        // Each token joins the name after a `|`, so `x_{12}` and `x_{1 2}` are different names.
        h = fnv(toks_[p_].text, fnv("|", h));
        ++p_;
      }
      return false;
    }
    if (peek() == tk::num || peek() == tk::ident) {
      // one character, as TeX reads x_12 (= x_1 2)
      // A reference into `toks_` is safe here: no token is read (which could reallocate the
      // vector) before its last use.
      token& t = toks_[p_];
      h = fnv(t.text.substr(0, 1), fnv("|", h));
      if (t.kind == tk::num && t.text.size() > 1) {
        t.text.remove_prefix(1);
      } else {
        ++p_;
      }
      return true;
    }
    return false;
  }

  //! `{…}` at the current token: its contents, then the closing brace.
  //! Braces only group: `{{{5}}}` is 5 and `{1, 2}` is the list 1, 2 (sets need `\{ \}`);
  //! `{x+1}` → add(x, 1).
  std::uint32_t braced() {
    ++p_;
    const std::uint32_t x = group_body();
    if (x == no_node || !accept(tk::rbrace)) return no_node;
    return x;
  }

  //! The contents of `{…}` (after the `{`): an item list, or `A \over B`.
  //! `{a \over b}` is the only place `\over` is accepted; it divides the whole item lists on
  //! either side (`{1 + 2 \over 3}` = 1, `{1 \over 2}` → div(1, 2)).
  std::uint32_t group_body() {
    const std::uint32_t x = item_list(tk::rbrace);
    if (x == no_node) return no_node;
    if (accept(tk::over)) {
      const std::uint32_t y = item_list(tk::rbrace);
      if (y == no_node) return no_node;
      return t_.binary(op::div, x, y);
    }
    return x;
  }

  //! A `\frac`/`\sqrt` argument: a group or one token (one digit of a number).
  //! `\frac12` = 1/2 and `\frac123` = (1/2)·3, as TeX reads them: a digit run gives up its first
  //! digit and stays in the token stream. `\frac1.5` fails (the rest `.5` would be read as a
  //! factor, which TeX does not do either). Letters and `\pi` are one-token arguments.
  //!   `\frac12` → first arg num "1", the token becomes "2"; second arg num "2"
  //!   `\frac{a}{b}` → both args via `braced`
  std::uint32_t arg() {
    depth_guard g(depth_);
    if (depth_ > max_depth) return no_node;
    switch (peek()) {
    case tk::lbrace: return braced();
    case tk::num: {
      // Safe reference into `toks_`, as in `subscript_name`: nothing is lexed while it is used.
      token& t = toks_[p_];
      if (t.text.size() > 1 && is_digit(t.text[0])) {
        const std::uint32_t x = t_.make(node(op::num, no_node, no_node, t.text.substr(0, 1)));
        t.text.remove_prefix(1);
        // The rest of the token starts with '.': "1.5" split after "1" — refuse rather than guess.
        if (!is_digit(t.text[0])) return no_node; // \frac1.5
        return x;
      }
      ++p_;
      return t_.make(node(op::num, no_node, no_node, t.text));
    }
    case tk::ident: return variable(toks_[p_++].text);
    case tk::pi: ++p_; return t_.make(node(op::pi));
    default: return no_node;
    }
  }

  //! `( … )` or `[ … ]`: a parenthesised item, or a tuple/interval of two or more items. The
  //! closing bracket may differ from the opening one (half-open intervals `[0, 1)`), but a single
  //! item needs a matching pair: `(x)` is x and `(1]` fails. The tuple keeps both brackets in
  //! `node::x`/`node::y` for comparison.
  //!   `(1, 2)`  → tuple x='(' y=')';   `[0, 1)` → tuple x='[' y=')';   `(x+1)` → add(x, 1)
  std::uint32_t bracketed(tk open) {
    const std::uint8_t o = open == tk::lpar ? '(' : '[';
    ++p_;
    const std::size_t first_item = p_;
    (void)first_item;
    // Parse items up to ) or ].
    std::vector<std::uint32_t> items;
    for (;;) {
      const std::uint32_t it = item();
      if (it == no_node) return no_node;
      items.push_back(it);
      // Commas (and `;`, lexed as commas) separate tuple items.
      if (accept(tk::comma)) continue;
      break;
    }
    std::uint8_t c;
    // Either closing bracket: half-open intervals mix them.
    if (accept(tk::rpar)) c = ')';
    else if (accept(tk::rbrack)) c = ']';
    else return no_node;
    // One item is plain grouping: `(x)` and `[x]` are x; `(x]` has no meaning.
    if (items.size() == 1) {
      if ((o == '(' && c == ')') || (o == '[' && c == ']')) return items[0];
      return no_node;
    }
    return t_.nary(op::tuple, items, o, c);
  }

  //! An item between `open` (the current token) and `close`, as a unary node of kind k
  //! (`|…|`, `\lfloor…\rfloor`, `\lceil…\rceil`). `|x - 1|` → abs(sub(x, 1));
  //! `\lfloor x/2 \rfloor` → floor(div(x, 2)).
  std::uint32_t closed(op k, tk close) {
    ++p_;
    const std::uint32_t x = item();
    if (x == no_node || !accept(close)) return no_node;
    return t_.unary(k, x);
  }

  //! One primary expression (see the grammar): literals, variables and constants, bracketed
  //! forms, sets (`\{…\}`, ∅ as an empty set, a one-element set kept as a set), absolute values,
  //! floor and ceiling, `\frac`/`\binom` with TeX arguments, `\sqrt`/`\sqrt[n]`, functions,
  //! matrices and ℝ. `max_nodes` is checked here, once per primary expression.
  //!   `\{1\}` → set(1);  `\emptyset` → set();  `\sqrt[3]{8}` → root(3, 8);  `\mathbb{R}` → reals
  std::uint32_t primary() {
    depth_guard g(depth_);
    if (depth_ > max_depth || t_.nodes.size() > max_nodes) return no_node;
    const tk k = peek();
    switch (k) {
    case tk::num: return t_.make(node(op::num, no_node, no_node, toks_[p_++].text));
    case tk::ident: return variable(toks_[p_++].text);
    case tk::pi: ++p_; return t_.make(node(op::pi));
    case tk::inf: ++p_; return t_.make(node(op::inf));
    // ∅ is the empty set, so `\emptyset` ≡ `\{\}`.
    case tk::empty: ++p_; return t_.nary(op::set, {});
    // ℝ stays a node here; the comparer turns it into (−∞, ∞).
    case tk::reals: ++p_; return t_.make(node(op::reals));
    case tk::lpar:
    case tk::lbrack: return bracketed(k);
    case tk::lbrace: return braced();
    // `\{…\}`, and `\{\}` for the empty set.
    case tk::lset: {
      ++p_;
      if (accept(tk::rset)) return t_.nary(op::set, {});
      const std::uint32_t x = item_list(tk::rset);
      if (x == no_node || !accept(tk::rset)) return no_node;
      // `\{1, 2\}`: the item list becomes the set itself; `\{x\}` wraps the single item.
      if (t_.nodes[x].kind == op::list) {
        t_.nodes[x].kind = op::set;
        return x;
      }
      return t_.nary(op::set, {x});
    }
    case tk::bar: {
      // `|` opens here; inside, `starts_implicit_factor` will not treat `|` as a new opening.
      // Inside |…| a `|` after an operand closes; one where an operand is expected opens a nested
      // absolute value (`|-|x||`).
      ++abs_depth_;
      const std::uint32_t x = closed(op::abs, tk::bar);
      --abs_depth_;
      return x;
    }
    case tk::lfloor: return closed(op::floor, tk::rfloor);
    case tk::lceil: return closed(op::ceil, tk::rceil);
    case tk::frac:
    case tk::binom: {
      ++p_;
      const std::uint32_t x = arg();
      if (x == no_node) return no_node;
      const std::uint32_t y = arg();
      if (y == no_node) return no_node;
      if (k == tk::binom) return t_.binary(op::binom, x, y);
      const std::uint32_t d = t_.binary(op::div, x, y);
      // Only `\frac` sets the flag: `{1 \over 3}` and `1/3` never form mixed numbers.
      t_.nodes[d].x = 1; // written as \frac (mixed numbers)
      return d;
    }
    case tk::sqrt: {
      ++p_;
      // `\sqrt[n]{x}`: the index is a sum inside brackets (`\sqrt[3]{8}`, `\sqrt[n+1]{x}`).
      std::uint32_t index = no_node;
      if (accept(tk::lbrack)) {
        index = sum();
        if (index == no_node || !accept(tk::rbrack)) return no_node;
      }
      const std::uint32_t x = arg();
      if (x == no_node) return no_node;
      return index == no_node ? t_.unary(op::sqrt, x) : t_.binary(op::root, index, x);
    }
    case tk::func: return function();
    case tk::begin_mat: return matrix();
    default: return no_node;
    }
  }

  //! A function application: `\sin x`, `\sin^2 x`, `\log_2 8`, `\log_{b}^{2} x`, `\ln(x+1)`.
  //! A power and (for `\log`) a base may follow the name in either order. The argument is a
  //! parenthesised item, or else a run of juxtaposed postfix factors made of numbers, letters and
  //! `\pi` (`\sin 2x` = sin(2x), `\sin 2x + 1` = sin(2x) + 1, `\sin x \cos x` = sin(x)·cos(x)).
  //! `\sin^{-1}`, `\cos^{-1}`, `\tan^{-1}` are the inverse functions (not reciprocals); any other
  //! power applies to the value (`\sin^2 x` = (sin x)²). The evaluator rejects unknown names, so
  //! the table in `lexer::commands` and `evaluator::eval_node` must agree.
  //!   `\log_2 8`   → logb(8, 2)
  //!   `\sin^2 x`   → pow(func "sin"(x), 2)
  //!   `\sin^{-1} x` → func "arcsin"(x)
  std::uint32_t function() {
    const std::string_view name = toks_[p_++].text;
    std::uint32_t power = no_node, base = no_node;
    // A power and a base in either order: `\log_2^3 x`, `\log^3_2 x`.
    for (int k = 0; k < 2; ++k) {
      if (power == no_node && accept(tk::caret)) {
        power = script(true);
        if (power == no_node) return no_node;
      } else if (base == no_node && name == "log" && accept(tk::under)) {
        base = script(false);
        if (base == no_node) return no_node;
      }
    }
    std::uint32_t a;
    // `\sin(…)`: the parenthesised item is the argument; a following `^2` then squares the value
    // (`\sin(x)^2` = `\sin^2 x`), because the caller reads it as a power of this primary.
    if (peek() == tk::lpar) {
      ++p_;
      a = item();
      if (a == no_node || !accept(tk::rpar)) return no_node;
    } else {
      // \sin 2x: a run of juxtaposed factors, not crossing another function or operator
      a = postfix();
      if (a == no_node) return no_node;
      // Numbers, letters and π continue the argument; a command, bracket or operator ends it.
      while (peek() == tk::num || peek() == tk::ident || peek() == tk::pi) {
        const std::uint32_t x = postfix();
        if (x == no_node) return no_node;
        a = t_.binary(op::mul, a, x);
      }
    }
    // Without a base the node is `func` (text = name); `\log_b` becomes `logb(argument, base)`.
    std::uint32_t f = base == no_node ? t_.make(node(op::func, a, no_node, name))
                                      : t_.binary(op::logb, a, base);
    if (power != no_node) {
      const node& pn = t_.nodes[power];
      // `^{-1}` on sin, cos and tan is the inverse function by convention; elsewhere it is a power.
      const bool inverse = pn.kind == op::neg && t_.nodes[pn.a].kind == op::num && t_.nodes[pn.a].text == "1";
      if (inverse && name_in(name, {"sin", "cos", "tan"}) && base == no_node) {
        t_.nodes[f].text = name == "sin" ? "arcsin" : name == "cos" ? "arccos" : "arctan";
      } else {
        f = t_.binary(op::pow, f, power);
      }
    }
    return f;
  }

  //! `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (also bmatrix, matrix, Bmatrix, smallmatrix,
  //! array): cells are sums separated by `&`, rows by `\\`; every row must have the same number of
  //! cells, a trailing `\\` before `\end` is allowed, and shapes are limited to 255 × 255 (the
  //! node's small fields). The cells are stored row-major.
  //!   `\begin{pmatrix}1&2\\3&4\end{pmatrix}` → matrix x=2 y=2, cells 1, 2, 3, 4
  //!   `\begin{pmatrix}1&2\\3\end{pmatrix}`   → no_node (the rows differ in length)
  std::uint32_t matrix() {
    ++p_;
    std::vector<std::uint32_t> cells;
    // Cells are read row by row; the first row fixes `cols`, every later row must match it.
    std::size_t cols = 0, col = 0, rows = 0;
    for (;;) {
      if (accept(tk::end_mat)) break;
      const std::uint32_t x = sum();
      if (x == no_node) return no_node;
      cells.push_back(x);
      ++col;
      // `&`: the next cell of the same row.
      if (accept(tk::amp)) continue;
      // Row ends at `\\` or at `\end`; the first row fixes the column count.
      const bool row_end = accept(tk::rowsep);
      if (rows == 0) cols = col;
      if (col != cols) return no_node;
      ++rows;
      col = 0;
      // No `\\`: this row must be the last, closed by `\end`.
      if (!row_end) {
        if (!accept(tk::end_mat)) return no_node;
        break;
      }
    }
    // The shape must fit node::x and node::y (one byte each).
    if (rows == 0 || rows > 255 || cols > 255) return no_node;
    return t_.nary(op::matrix, cells, static_cast<std::uint8_t>(rows), static_cast<std::uint8_t>(cols));
  }
};

// ---------------------------------------------------------------------------------------------
// Evaluation at a point

//! A scalar's value at one point.
//!
//! `exact` values carry their canonical surd in `v` and its double in `d`; `approx` values only
//! `d` (finite or ±∞, never NaN — a NaN becomes `undefined`); `undefined` means "no real value
//! here" (division by zero, √ of a negative, ln of a non-positive number, 0^−1, …), which is a
//! legitimate outcome that the comparison handles, unlike an evaluation failure.
//!   √2 → exact, v = 0 + 1·√2, d = 1.4142135623730951;  π → approx, d = 3.141592653589793;
//!   1/0 → undefined.
//!
//! Vocabulary used throughout this file: a *point* is one assignment of values to the
//! variables; *exact* means a canonical surd (so comparisons are identities), *inexact* a
//! double (compared with a tolerance); *undefined* is a value that does not exist at a point;
//! *failed* means the evaluator could not produce a trustworthy value, which makes the whole
//! comparison *undecided*.
struct point_value {
  //! Which of the three states the value is in; `undefined` by default.
  enum kind_t : std::uint8_t { undefined, exact, approx } kind = undefined;
  exact_value v; //!< when exact
  double d = std::numeric_limits<double>::quiet_NaN(); //!< always (nearest double of v when exact)
};

//! Points per expression with variables. Six agreeing points make a false "equal" unlikely for
//! the polynomial and rational expressions of answers: two different rational functions of low
//! degree agree at a random rational point only if it is a root of their difference.
inline constexpr int random_points = 6;
//! Philox key of the point values: fixed, so verdicts are reproducible across runs and machines.
inline constexpr std::uint64_t point_seed = 0x5EED'0016'2026'0001ull;

//! The value of a variable (by name hash) at point k: ±n/d, 1 ≤ n ≤ 400, 2 ≤ d ≤ 9.
//!
//! The Philox4x32-10 block at (seed `point_seed`, subsequence = name hash, offset k): word 0
//! gives n, word 1 gives d, the low bit of word 2 the sign; the fraction is then reduced
//! (4/2 = 2), so integers occur. Denominators ≥ 2 make most values non-integers, which keeps
//! `\lfloor x\rfloor` ≢ x; both signs occur, which keeps √(x²) ≢ x. A pure function of
//! (name, k): both answers, and every run, see the same value for the same variable. Cost: one
//! Philox block and an int64 gcd.
//! A variable is never 0 (n ≥ 1), so a removable singularity at 0 is invisible: `\frac{x^2}{x}`
//! ≡ `x`, and `\ln|x|` is defined at every point.
//! The actual values, for reference when a verdict looks odd:
//!   x: −33/2, −27/2, −69/2, −299/8, 195/7, −11/2
//!   y: 251/3, 351/5, 50/9, 62/9, 146/7, −101/4
//!   t: 34, 62/3, 7, 239/5, −32/3, 42
//! x is negative at five of its six points, so an expression in x defined only for x > 0
//! (`\ln x`, `\sqrt{x}`) is compared at a single point.
inline rational variable_value(std::uint64_t name, int k) {
  const auto w = philox_block(point_seed, name, static_cast<std::uint64_t>(k));
  const auto n = static_cast<std::int64_t>(w[0] % 400u + 1u);
  const auto d = static_cast<std::int64_t>(w[1] % 8u + 2u);
  const std::int64_t s = (w[2] & 1u) ? -1 : 1;
  // A local budget: the reduction of two small integers is free and cannot be refused.
  step_budget b;
  rational r;
  make_rational(big_int(s * n), big_int(d), r, b);
  return r;
}

//! Evaluates scalar subtrees; fails (sets `failed`) on unsupported input or an exhausted budget.
//!
//! `eval(n, k)` returns the value of node n at point k. Exact arithmetic is used while every
//! operand is exact and the operation has an exact result (+ − × ÷ on surds, integer powers,
//! rational powers with exact roots, factorials, binomials, floor/ceil/abs of rationals,
//! numerals in a base); otherwise the double path is taken (π, e, functions, irrational
//! powers, multi-radicand inverses). `failed` is sticky and means the comparison is undecidable:
//! an unsupported node (a structure, an unknown function), a refused size, the budget, recursion
//! deeper than 400, or a double overflow. `saw_variable` records that a `var` was evaluated, so
//! the caller knows whether more points are needed. Literal values are cached per node, so the
//! six points parse each literal once. Not thread-safe (mutable caches); one per signature.
//! Cost per point: one visit per node of the subtree plus the bignum work, which is charged to
//! the shared budget.
//!
//! Example: `\frac{x^2-1}{x-1}` at a point where x = 3/2 evaluates to (5/4)/(1/2) = 5/2 exactly,
//! the same rational as `x+1` there — no rounding enters a comparison of rational functions.
//!
//! | kind                 | exact when                            | undefined when            |
//! |----------------------|---------------------------------------|---------------------------|
//! | num, var             | always                                | never                     |
//! | + − ×                | both operands exact                   | an operand is undefined   |
//! | ÷                    | both exact, divisor rational or 1 radicand | the divisor is 0     |
//! | pow                  | exact base and integer exponent; or rational base and p/q exponent (q ≤ 64) with an exact root | 0^negative; a negative base with a non-integer exponent (unless p/q with q odd) |
//! | sqrt, root           | rational radicand (square root: surd; k-th root: perfect power) | even root of a negative |
//! | fact, binom          | small integer arguments               | negative integer (fact)   |
//! | abs, floor, ceil     | rational argument (abs: any exact)    | —                         |
//! | based                | always (digits below the base)        | —                         |
//! | π, e, ∞, func, logb  | never (double)                        | outside the domain (NaN)  |
//! Everything that is not exact is a double; the failure cases are listed in the class comment.
class evaluator {
public:
  //! Binds the tree (read-only) and the comparer's budget; the literal cache gets one slot per
  //! node that exists now (the tree does not grow while an evaluator is in use).
  evaluator(const tree& t, step_budget& budget) : t_(t), budget_(budget), literal_(t.nodes.size()) {}

  //! Sticky: set by any evaluation that cannot give a trustworthy value.
  bool failed = false;
  //! Set when a variable was evaluated (the expression is not a constant).
  bool saw_variable = false;

  //! The value of node n at point `point` (0 ≤ point < `random_points`). A NaN double result is
  //! reported as `undefined`. Returns `undefined` with `failed` set once the evaluator has failed.
  //! The budget is checked after every node, so an exhausted budget stops the evaluation within
  //! one node's work.
  point_value eval(std::uint32_t n, int point) {
    point_value r;
    // Stop at the first failure; trees deeper than 400 fail rather than risk the stack.
    if (failed || depth_ >= 400) {
      failed = true;
      return r;
    }
    ++depth_;
    r = eval_node(n, point);
    --depth_;
    if (!budget_.ok()) failed = true;
    // A NaN from the double path (0·∞, ∞ − ∞, asin 2) is no value: undefined.
    if (r.kind == point_value::approx && std::isnan(r.d)) {
      r.kind = point_value::undefined;
    }
    return r;
  }

private:
  // The tree, the shared budget (owned by the comparer), a per-node cache of literal values,
  // and the current recursion depth.
  const tree& t_;
  step_budget& budget_;
  std::vector<std::optional<rational>> literal_;
  int depth_ = 0;

  // Constructors of point values: exact (with its double), approximate (NaN → undefined),
  // undefined, and failure (which also marks the evaluator failed).
  static point_value exact(exact_value v) {
    point_value r;
    r.kind = point_value::exact;
    r.v = std::move(v);
    r.d = r.v.to_double();
    return r;
  }
  static point_value exact(rational q) {
    exact_value v;
    v.q = std::move(q);
    return exact(std::move(v));
  }
  static point_value approx(double d) {
    point_value r;
    r.kind = std::isnan(d) ? point_value::undefined : point_value::approx;
    r.d = d;
    return r;
  }
  static point_value undef() { return {}; }
  point_value fail() {
    failed = true;
    return {};
  }

  //! A number literal: digits, optional {,} groups, decimals, exponent.
  //! The value is exact: all digits form one integer, scaled by 10^(exponent − fraction digits),
  //! so `0.1` is 1/10 and `1.5e-3` is 3/2000 exactly. Refused (false) when the exponent exceeds
  //! 10^5 in magnitude, the literal has more than 9·`max_limbs` digits, or the power of ten is
  //! refused by the size cap — the answer is then undecidable rather than rounded.
  //!   literal("0.125")     // 1/8
  //!   literal("1{,}000")   // 1000
  //!   literal("2.5e-3")    // 1/400
  //! Cost: O(|s|) to collect the digits, one `pow_int` of 10 and one product.
  bool literal(std::string_view s, rational& out) {
    std::string digits;
    digits.reserve(s.size());
    std::int64_t frac = 0, exp10 = 0;
    std::size_t i = 0;
    bool in_frac = false;
    // All digits (integer and fractional part) form one integer; count the fractional digits.
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (is_digit(c)) {
        digits.push_back(c);
        if (in_frac) ++frac;
      } else if (c == '.') {
        in_frac = true;
      } else if (c == '{' || c == ',' || c == '}') {
        // `{`, `,`, `}` occur only inside a `1{,}000` group (the lexer guarantees it): skipped.
      } else {
        break;
      }
    }
    // The lexer only lets `e`/`E` [+-] digits through here.
    if (i < s.size()) { // exponent
      ++i;
      bool neg = false;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
      for (; i < s.size(); ++i) {
        exp10 = exp10 * 10 + (s[i] - '0');
        if (exp10 > 100000) return false;
      }
      if (neg) exp10 = -exp10;
    }
    if (digits.empty()) return false;
    // Literals longer than the size cap are not evaluated (the comparison is then undecidable).
    if (digits.size() > 9 * max_limbs) return false;
    // value = digits · 10^(exponent − number of fractional digits)
    const std::int64_t shift = exp10 - frac;
    rational ten_pow;
    if (!pow_int(rational{big_int(10), big_int(1)}, shift, ten_pow, budget_)) return false;
    return mul(rational{big_int::from_digits(digits), big_int(1)}, ten_pow, out, budget_);
  }

  // An exact rational integer whose numerator is inline: the exponents, factorial arguments and
  // bases that the exact paths accept.
  static bool small_int(const point_value& v, std::int64_t& out) {
    if (v.kind != point_value::exact || !v.v.is_rational() || !v.v.q.is_integer() || !v.v.q.num.is_small()) return false;
    out = v.v.q.num.small();
    return true;
  }

  //! b^e. Exact when b and e are exact and e is rational:
  //! - integer e: a rational b by `pow_int` (size-capped: `10^{10^{10}}` fails rather than being
  //!   rounded to ∞), a surd b by repeated multiplication for |e| ≤ 64 (through its inverse for
  //!   e < 0), anything larger fails; 0^e for e < 0 is undefined;
  //! - e = p/q with q ≤ 64 and a rational b: exact when the q-th root of b is exact (8^{2/3} = 4,
  //!   (−8)^{1/3} = −2), undefined for an even root of a negative number.
  //! Otherwise double: a negative base is real only for an exact exponent with an odd denominator
  //! (sign from the numerator's parity); any other negative base is undefined; an overflow fails.
  //!   2^{10} → 1024 (exact);  (√2)^3 → 2√2 (exact);  8^{2/3} → 4 (exact);
  //!   2^{1/3} → 1.2599… (double)
  //!   (−8)^{1/3} → −2 (exact odd root);  (−2)^{1/2} → undefined;  0^{−1} → undefined
  //! Cost: O(log |e|) big products for a rational base, at most 64 surd products otherwise.
  point_value power(const point_value& b, const point_value& e) {
    if (b.kind == point_value::undefined || e.kind == point_value::undefined) return undef();
    if (b.kind == point_value::exact && e.kind == point_value::exact && e.v.is_rational()) {
      const rational& q = e.v.q;
      if (q.is_integer()) {
        // An integer exponent beyond the inline range is refused outright.
        if (!q.num.is_small()) return fail();
        const std::int64_t k = q.num.small();
        if (b.v.is_rational()) {
          // 0 to a negative power is a division by zero.
          if (b.v.q.is_zero() && k < 0) return undef();
          rational r;
          if (pow_int(b.v.q, k, r, budget_)) return exact(std::move(r));
          return fail(); // beyond the size cap: 10^{10^{10}} is not evaluated (nor rounded to ∞ or 0)
        }
        // A surd base: repeated exact multiplication, for small exponents only.
        if (k >= -64 && k <= 64) {
          exact_value acc;
          acc.q = rational{big_int(1), big_int(1)};
          exact_value base = b.v;
          // A surd base with a negative exponent: invert once (exactly when possible), else
          // go inexact.
          if (k < 0 && !inverse(b.v, base, budget_)) return approx(std::pow(b.v.to_double(), static_cast<double>(k)));
          for (std::int64_t i = 0; i < (k < 0 ? -k : k); ++i)
            if (!mul(acc, base, acc, budget_)) return fail();
          return exact(std::move(acc));
        }
        return fail();
      }
      // p/q: take the q-th root exactly, then the integer power p of it.
      // rational exponent p/q of a rational base: exact when the q-th root is exact
      if (b.v.is_rational() && q.den.is_small() && q.num.is_small() && q.den.small() <= 64) {
        point_value root = nth_root(b.v.q, q.den.small());
        if (root.kind == point_value::exact)
          return power(root, exact(rational{q.num, big_int(1)}));
        // An even root of a negative base: no real value.
        if (root.kind == point_value::undefined) return undef();
      }
    }
    // The inexact path: both as doubles.
    const double bd = b.d, ed = e.d;
    if (bd < 0) {
      // a negative base with a non-integer exponent: real only for odd denominators
      if (e.kind == point_value::exact && e.v.is_rational() && e.v.q.den.is_small() && e.v.q.den.small() % 2 == 1) {
        // |b|^e with the sign of an odd numerator: (−8)^{2/3} = 4, (−8)^{1/3} = −2.
        const double m = std::pow(-bd, ed);
        const bool odd_num = e.v.q.num.is_small() && (e.v.q.num.small() % 2 != 0);
        return approx(odd_num ? -m : m);
      }
      return undef();
    }
    return finite_or_fail(std::pow(bd, ed), bd, ed);
  }

  //! A double result of finite inputs that overflowed to ±∞ (or underflowed to 0 from a nonzero
  //! base) is not a value: the comparison is undecidable rather than wrong.
  point_value finite_or_fail(double z, double x, double y) {
    if (std::isfinite(x) && std::isfinite(y) && (std::isinf(z) || (z == 0 && x != 0))) return fail();
    return approx(z);
  }

  //! x^(1/k) for rational x: exact when x is a perfect k-th power (k = 2: canonical surd).
  //! Otherwise double. Undefined for k ≤ 0 and for even roots of negative numbers; an odd root of
  //! a negative number is negative (∛−8 = −2). For k > 2 only inline numerators and denominators
  //! are tried exactly; the others go to double.
  //!   nth_root(27/8, 3) → 3/2;  nth_root(12, 2) → 2√3;  nth_root(2, 3) → 1.2599… (double)
  //! Cost: O(k) 128-bit products for the exact test of k > 2; a square-free split for k = 2.
  point_value nth_root(const rational& x, std::int64_t k) {
    if (k <= 0) return undef();
    if (x.sign() < 0 && k % 2 == 0) return undef();
    // Square roots: canonical surds, for any rational with 64-bit parts.
    if (k == 2) {
      exact_value s;
      if (sqrt_rational(x, s, budget_)) return exact(std::move(s));
    } else if (x.num.is_small() && x.den.is_small()) {
      const std::int64_t n = x.num.small();
      std::uint64_t rn = 0, rd = 0;
      const auto an = static_cast<std::uint64_t>(n < 0 ? -n : n);
      if (exact_root_u64(an, static_cast<std::uint64_t>(k), rn) &&
          exact_root_u64(static_cast<std::uint64_t>(x.den.small()), static_cast<std::uint64_t>(k), rd)) {
        const auto sn = static_cast<std::int64_t>(rn);
        return exact(rational{big_int(n < 0 ? -sn : sn), big_int(static_cast<std::int64_t>(rd))});
      }
    }
    // No exact root: double, keeping the sign for odd roots.
    const double d = x.to_double();
    const double m = std::pow(std::fabs(d), 1.0 / static_cast<double>(k));
    return approx(d < 0 ? -m : m);
  }

  //! a ∘ b for ∘ ∈ {+, −, ×, ÷}. Exact when both operands are exact and the operation succeeds;
  //! if the exact operation is refused for a reason other than the budget (more than 64 surd term
  //! pairs, a multi-radicand divisor), the double path is taken instead. Division by exact or
  //! double zero is undefined. A double overflow of finite operands fails (undecidable); ∞ as an
  //! operand is allowed and propagates (`\infty + 1` is ∞).
  //!   1/3 + 1/6 → 1/2 (exact);  π + 1 → 4.1415… (double);  1/(√2 + √3) → 0.3178… (double: two
  //!   radicands);  x/0 → undefined;  10^{300}·10^{300} as doubles → failed (overflow)
  point_value arith(op k, const point_value& a, const point_value& b) {
    if (a.kind == point_value::undefined || b.kind == point_value::undefined) return undef();
    // Both exact: try the exact operation first.
    if (a.kind == point_value::exact && b.kind == point_value::exact) {
      exact_value r;
      bool ok = false;
      switch (k) {
      case op::add: ok = add(a.v, b.v, r, budget_); break;
      case op::sub: ok = add(a.v, negated(b.v), r, budget_); break;
      case op::mul: ok = mul(a.v, b.v, r, budget_); break;
      case op::div: {
        // Exact division by zero: undefined, not a failure.
        if (b.v.is_rational() && b.v.q.is_zero()) return undef();
        exact_value inv;
        ok = inverse(b.v, inv, budget_) && mul(a.v, inv, r, budget_);
        break;
      }
      default: break;
      }
      // A budget refusal is final; any other refusal falls through to doubles.
      if (ok) return exact(std::move(r));
      if (!budget_.ok()) return fail();
    }
    // The double path: an operand is inexact, or the exact operation was refused.
    const double x = a.d, y = b.d;
    double z = 0;
    switch (k) {
    case op::add: z = x + y; break;
    case op::sub: z = x - y; break;
    case op::mul: z = x * y; break;
    case op::div:
      // Double division by zero is undefined too (no ±∞ results).
      if (y == 0) return undef();
      z = x / y;
      break;
    default: return fail();
    }
    if (std::isinf(z) && std::isfinite(x) && std::isfinite(y)) return fail(); // overflow: undecidable
    return approx(z);
  }

  //! Dispatch on the node kind; every case handles `undefined` operands by propagating them.
  //! Operands are evaluated first (post-order); each case then combines their point values.
  //! Structure nodes (tuples, sets, relations, …) and unexpanded ± are not scalars and fail:
  //! the comparer only asks for the values of scalar subtrees.
  point_value eval_node(std::uint32_t n, int point) {
    const node& x = t_.nodes[n];
    switch (x.kind) {
    case op::num: {
      // The literal's exact value is computed at the first point and reused at the others.
      if (!literal_[n]) {
        rational q;
        if (!literal(x.text, q)) return fail();
        literal_[n] = std::move(q);
      }
      return exact(*literal_[n]);
    }
    // π and e are inexact: any expression containing them is compared with the tolerance.
    // A variable's exact value at this point; noted so that the caller evaluates every point.
    case op::var: saw_variable = true; return exact(variable_value(x.h, point));
    case op::pi: return approx(3.141592653589793238462643383279502884);
    case op::e: return approx(2.718281828459045235360287471352662498);
    // ∞ is a double; `-\infty` is neg(∞), and arithmetic with it stays infinite.
    case op::inf: return approx(std::numeric_limits<double>::infinity());
    case op::neg: {
      point_value a = eval(x.a, point);
      if (a.kind == point_value::exact) return exact(negated(a.v));
      return a.kind == point_value::approx ? approx(-a.d) : a;
    }
    // Binary arithmetic: both operands at this point, then `arith` chooses exact or double.
    case op::add: case op::sub: case op::mul: case op::div: {
      const point_value a = eval(x.a, point);
      const point_value b = eval(x.b, point);
      return arith(x.kind, a, b);
    }
    // Only built with percent_rule::divide: x% = x/100.
    case op::percent: {
      const point_value a = eval(x.a, point);
      return arith(op::div, a, exact(rational{big_int(100), big_int(1)}));
    }
    // Powers: `power` decides between pow_int, exact roots, and double.
    case op::pow: return power(eval(x.a, point), eval(x.b, point));
    // √ of a rational: exact surd; of anything else: double, undefined below 0.
    case op::sqrt: {
      const point_value a = eval(x.a, point);
      if (a.kind == point_value::exact && a.v.is_rational()) return nth_root(a.v.q, 2);
      if (a.kind == point_value::undefined || a.d < 0) return undef();
      return approx(std::sqrt(a.d));
    }
    // ⁿ√x: exact for a small integer index 1..64 and a rational radicand, else double.
    case op::root: {
      const point_value k = eval(x.a, point);
      const point_value a = eval(x.b, point);
      std::int64_t kk = 0;
      if (!small_int(k, kk) || kk < 1 || kk > 64) {
        if (k.kind == point_value::undefined || a.kind == point_value::undefined || a.d < 0) return undef();
        // A non-integer or large index: x^(1/k) in double, for x ≥ 0 only.
        return approx(std::pow(a.d, 1.0 / k.d));
      }
      if (a.kind == point_value::exact && a.v.is_rational()) return nth_root(a.v.q, kk);
      // A surd or double radicand: an odd root of a negative number is negative, an even one
      // undefined.
      if (a.kind == point_value::undefined || (a.d < 0 && kk % 2 == 0)) return undef();
      const double m = std::pow(std::fabs(a.d), 1.0 / static_cast<double>(kk));
      return approx(a.d < 0 ? -m : m);
    }
    // n! exactly for integers 0..1000 (product of limbs, charged to the budget); undefined for
    // negative integers; Γ(x + 1) in double for non-integers ((1/2)! = √π/2).
    // `5!` = 120, `(1/2)!` ≈ 0.8862, `(-1)!` undefined, `1001!` failed.
    case op::fact: {
      const point_value a = eval(x.a, point);
      std::int64_t k = 0;
      if (small_int(a, k)) {
        if (k < 0) return undef();
        // 1000! has 2568 digits; larger factorials are refused rather than approximated.
        if (k > 1000) return fail();
        big_int acc(1);
        for (std::int64_t i = 2; i <= k; ++i)
          if (!mul(acc, big_int(i), acc, budget_)) return fail();
        return exact(rational{std::move(acc), big_int(1)});
      }
      if (a.kind == point_value::undefined) return undef();
      // Γ has poles at the non-positive integers.
      if (a.d < 0 && a.d == std::floor(a.d)) return undef();
      return finite_or_fail(std::tgamma(a.d + 1.0), a.d, 1.0);
    }
    // C(n, k) exactly for small integers (0 when k < 0 or k > n, and also for n < 0 — the
    // generalised binomial is not used), built as Π (n − k + i)/i with k ≤ n − k; otherwise via Γ.
    // `\binom{10}{3}` = 120, `\binom{6}{8}` = 0, `\binom{5.5}{2}` ≈ 12.375.
    case op::binom: {
      const point_value a = eval(x.a, point), b = eval(x.b, point);
      std::int64_t nn = 0, kk = 0;
      if (!small_int(a, nn) || !small_int(b, kk)) {
        if (a.kind == point_value::undefined || b.kind == point_value::undefined) return undef();
        return approx(std::tgamma(a.d + 1) / (std::tgamma(b.d + 1) * std::tgamma(a.d - b.d + 1)));
      }
      if (nn < 0 || kk < 0 || kk > nn) return exact(rational{});
      // C(n, k) = C(n, n − k): use the shorter product, at most 1000 factors.
      kk = std::min(kk, nn - kk);
      if (kk > 1000) return fail();
      rational acc{big_int(1), big_int(1)};
      for (std::int64_t i = 1; i <= kk; ++i) {
        rational f;
        if (!make_rational(big_int(nn - kk + i), big_int(i), f, budget_) || !mul(acc, f, acc, budget_)) return fail();
      }
      return exact(std::move(acc));
    }
    // |a|: exact values keep their form (sign tested on the double); doubles take fabs.
    case op::abs: {
      point_value a = eval(x.a, point);
      if (a.kind == point_value::exact) return a.d < 0 ? exact(negated(a.v)) : a;
      return a.kind == point_value::approx ? approx(std::fabs(a.d)) : a;
    }
    // ⌊a⌋ / ⌈a⌉: exact for rationals via truncating division and a correction for the sign of the
    // remainder; surds and doubles via std::floor / std::ceil on the double.
    case op::floor:
    case op::ceil: {
      const point_value a = eval(x.a, point);
      if (a.kind == point_value::exact && a.v.is_rational()) {
        big_int q, r;
        if (!divmod(a.v.q.num, a.v.q.den, q, r, budget_)) return fail();
        // Truncation rounds toward zero: the floor of a negative non-integer is one lower, the
        // ceiling of a positive one one higher.
        if (x.kind == op::floor && r.sign() < 0) q = sub(q, big_int(1));
        if (x.kind == op::ceil && r.sign() > 0) q = add(q, big_int(1));
        return exact(rational{std::move(q), big_int(1)});
      }
      if (a.kind == point_value::undefined) return a;
      return approx(x.kind == op::floor ? std::floor(a.d) : std::ceil(a.d));
    }
    // A numeral in base b (2..10): every digit must be below b (`1012_{2}` fails); the value is
    // built by Horner's rule in big_int, so long numerals stay exact. `777_{8}` = 511.
    case op::based: {
      const point_value b = eval(x.a, point);
      std::int64_t base = 0;
      // Bases 2–10 only: letter digits (hexadecimal) are not read.
      if (!small_int(b, base) || base < 2 || base > 10) return fail();
      big_int acc(0);
      for (char c : x.text) {
        // A digit that does not exist in this base.
        if (c - '0' >= base) return fail();
        if (!mul(acc, big_int(base), acc, budget_)) return fail();
        acc = add(acc, big_int(c - '0'));
      }
      return exact(rational{std::move(acc), big_int(1)});
    }
    // log_b a = ln a / ln b in double; undefined for a ≤ 0, b ≤ 0 or b = 1.
    // `\log_{10} 1000` ≈ 3 (within the tolerance), `\log_1 5` undefined.
    case op::logb: {
      const point_value a = eval(x.a, point), b = eval(x.b, point);
      if (a.kind == point_value::undefined || b.kind == point_value::undefined || a.d <= 0 || b.d <= 0 || b.d == 1)
        return undef();
      return approx(std::log(a.d) / std::log(b.d));
    }
    // Functions are evaluated in double on the argument's double. Poles are not detected:
    // `\tan(\pi/2)` is a large finite number, as the double of π/2 is not exactly π/2.
    case op::func: {
      const point_value a = eval(x.a, point);
      if (a.kind == point_value::undefined) return a;
      const double v = a.d;
      const std::string_view f = x.text;
      if (f == "sin") return approx(std::sin(v));
      if (f == "cos") return approx(std::cos(v));
      if (f == "tan") return approx(std::tan(v));
      // Reciprocal functions via sin and cos; near a pole the double is huge rather than ∞.
      if (f == "sec") return approx(1.0 / std::cos(v));
      if (f == "csc") return approx(1.0 / std::sin(v));
      if (f == "cot") return approx(std::cos(v) / std::sin(v));
      // Inverse functions give NaN (→ undefined) outside their domain.
      if (f == "arcsin") return approx(std::asin(v));
      if (f == "arccos") return approx(std::acos(v));
      if (f == "arctan") return approx(std::atan(v));
      if (f == "sinh") return approx(std::sinh(v));
      if (f == "cosh") return approx(std::cosh(v));
      if (f == "tanh") return approx(std::tanh(v));
      if (f == "ln") return v <= 0 ? undef() : approx(std::log(v));
      if (f == "log") return v <= 0 ? undef() : approx(std::log(v)); // base-free: equal bases on both sides
      // exp overflowing for a finite argument is a failure, not ∞.
      if (f == "exp") return finite_or_fail(std::exp(v), v, 1.0);
      return fail();
    }
    default: return fail(); // structures and unexpanded ± do not evaluate
    }
  }
};

//! A scalar's values at the comparison points (one entry for a constant).
//! `variables` is true when the expression contains a variable; then `at` has `random_points`
//! entries (fewer when evaluation failed part-way, in which case the signature is not used).
struct signature {
  //! The values at points 0, 1, …; for a constant only point 0.
  std::vector<point_value> at;
  //! True when the expression contains a variable (then `at` has one entry per random point).
  bool variables = false;
};

//! Evaluates node n of t at point 0, and at the other points when a variable was seen. Sets
//! `failed` (never clears it) when evaluation failed. Constants cost one evaluation.
//!   `2 + 3`      → variables = false, at = {5}
//!   `x^2 - 1`    → variables = true,  at = {x₀² − 1, …, x₅² − 1} (exact rationals)
//!   `\sqrt{x}`   → undefined at the points where x < 0
inline signature make_signature(const tree& t, std::uint32_t n, step_budget& budget, bool& failed) {
  signature s;
  evaluator ev(t, budget);
  s.at.push_back(ev.eval(n, 0));
  // Constants have one value; expressions with variables are evaluated at every point, stopping
  // at the first failure.
  if (ev.saw_variable) {
    s.variables = true;
    for (int k = 1; k < random_points && !ev.failed; ++k) s.at.push_back(ev.eval(n, k));
  }
  if (ev.failed) failed = true;
  return s;
}

//! Equality of two point values (file comment: exact, or within tolerance when either is inexact).
//! Exact against exact is the canonical-form identity (no tolerance at all). Otherwise the
//! doubles must satisfy |a − b| ≤ rel · max(1, |a|, |b|) — relative for large values, absolute
//! below 1, so that a value that should be 0 but carries rounding (`\sin\pi` is 1.2e-16 in
//! double) still equals 0 — and an infinite double only equals the same infinity. An exact value
//! is finite: when its double overflows (d = ±∞, e.g. `10^{400}`) it agrees with no inexact
//! value (`10^{400}` ≢ `\infty`); two exact values compare by canonical form as always.
//!   exact 1/2 vs exact 1/2 → true;  exact √2 vs the exact decimal 1.4142135623730951 → false
//!   (two exact values: no tolerance);  exact 1/2 vs approx sin(π/6) = 0.49999999999999994
//!   → true (one side inexact: within 1e-12)
//! Cost: O(number of surd terms) for two exact values, O(1) otherwise.
inline bool values_agree(const point_value& a, const point_value& b, double rel) {
  if (a.kind == point_value::exact && b.kind == point_value::exact) return a.v == b.v;
  // an exact value's infinite double is an overflow, not ∞: undecidable in double, so not equal
  if ((a.kind == point_value::exact && std::isinf(a.d)) || (b.kind == point_value::exact && std::isinf(b.d)))
    return false;
  if (std::isinf(a.d) || std::isinf(b.d)) return a.d == b.d;
  const double scale = std::fmax(1.0, std::fmax(std::fabs(a.d), std::fabs(b.d)));
  return std::fabs(a.d - b.d) <= rel * scale;
}

//! Tolerance for constants: 1e-12 relative, about 4500 double epsilons — enough for the rounding of
//! π, trigonometric and logarithmic expressions (`\sin\frac{\pi}{6}` ≡ `\frac12`), far below
//! the precision of any decimal an answer would round to (`\pi` ≢ `3.1416`, ≢ `3.14159265`).
inline constexpr double constant_tolerance = 1e-12; //!< relative, when either side is inexact
//! Looser at random points, where values reach 400^k and cancellations (`\sin^2 x + \cos^2 x`,
//! differences of large powers) lose more relative precision.
inline constexpr double variable_tolerance = 1e-9;  //!< relative, at random points

//! 1 equal, 0 different, -1 undecidable (no point where either is defined).
//!
//! Compares point by point; a constant is compared with every point of the other side (its one
//! entry is reused). Points where both are undefined are skipped; a point where exactly one is
//! defined is a disagreement; any disagreement is final. The tolerance is the variable one when
//! either side has variables, the constant one otherwise.
//!   {5} vs {5}                         → 1
//!   {x₀, …, x₅} vs {|x₀|, …, |x₅|}     → 0 at the first negative point
//!   {undefined ×6} vs {undefined ×6}   → −1 (`\ln(-1)` against itself: undecidable)
inline int signatures_equal(const signature& a, const signature& b) {
  // A constant (one entry) is compared with every point of the other side.
  const std::size_t n = std::max(a.at.size(), b.at.size());
  const double rel = (a.variables || b.variables) ? variable_tolerance : constant_tolerance;
  std::size_t defined = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const point_value& x = a.at[std::min(k, a.at.size() - 1)];
    const point_value& y = b.at[std::min(k, b.at.size() - 1)];
    const bool dx = x.kind != point_value::undefined, dy = y.kind != point_value::undefined;
    if (!dx && !dy) continue;
    // Defined on one side only: the expressions differ there.
    if (dx != dy) return 0;
    if (!values_agree(x, y, rel)) return 0;
    ++defined;
  }
  return defined > 0 ? 1 : -1;
}

// ---------------------------------------------------------------------------------------------
// Structured values and their equality

//! Compares structured values of two trees; `failed` is set when a comparison could not be
//! decided (budget, unsupported construct) so the caller can fall back to string rules.
//!
//! Owns the step budget of one `compare_math` call and caches each node's `signature` per tree,
//! so a scalar met in several comparisons (an element of a set compared with every element of
//! the other) is evaluated once. `canonical` and `strip` append rewritten nodes to the trees,
//! which is why the trees are taken by non-const reference. Equality rules:
//! - collections (`list`, `set`, `union_`) compare order-free with set semantics, after
//!   flattening nested lists and ± expansions; a one-element collection equals its element;
//! - tuples and intervals compare element-wise with the same brackets, except at an infinite
//!   endpoint; matrices entry by entry with the same shape;
//! - relations compare with the same operators and equal sides, or mirrored (`3 < x` ≡ `x > 3`,
//!   `a = b` ≡ `b = a`); two equations also when the differences of their sides are
//!   proportional at the random points (`y = 2x + 1` ≡ `2x − y + 1 = 0`);
//! - scalars compare by `signatures_equal`; a scalar never equals a structure.
//! Recursion is bounded (depth 300 for `canonical` and `eq`), so nesting costs no unbounded stack.
//! Cost: canonicalisation is linear in the tree except for ± expansion (at most 16 copies of a
//! scalar); `eq` on two collections compares up to 64 × 64 element pairs, but through the
//! signature caches every scalar node is evaluated at most once per side. Memory: a signature
//! holds up to six 120-byte point values per scalar node evaluated.
class comparer {
public:
  //! Binds the two parsed trees and the options (`strip_variable_prefix` is read here).
  //! Single-use and not thread-safe (caches, depth counter, budget); `compare_math` builds one
  //! per call.
  comparer(tree& a, tree& b, const math_options& opt) : ta_(a), tb_(b), opt_(opt) {}
  //! Set when some comparison could not be decided; the verdict of `equal_roots` is then only
  //! trustworthy if it is `true` (an equality found before the failure).
  bool failed = false;

  //! Are the two roots equal? Canonicalises both; compares; with `strip_variable_prefix`, retries
  //! with `x = …` / `x \in …` prefixes removed when the first comparison answered "different"
  //! (not when it was undecidable). Sets `failed` when canonicalisation failed (too many ± or
  //! elements, too deep) or a comparison was undecidable.
  //!   `(0,1]` vs `(0,1)`             → false (brackets differ), not failed
  //!   `x = \pm 2` vs `\{2, -2\}`     → true, via the prefix retry
  //!   `10^{10^{10}}` vs `1`          → false with `failed` set (the power was refused)
  bool equal_roots() {
    const std::uint32_t ra = canonical(ta_, ta_.root), rb = canonical(tb_, tb_.root);
    if (ra == no_node || rb == no_node) {
      failed = true;
      return false;
    }
    // Structural comparison of the canonical forms; an equality found is final.
    if (eq(ra, rb)) return true;
    if (failed) return false;
    // The prefix leniency: compare again with `x =` removed on either side.
    if (opt_.strip_variable_prefix) {
      const std::uint32_t sa = strip(ta_, ra), sb = strip(tb_, rb);
      // Only when something was stripped; otherwise the answer is already known.
      if (sa != ra || sb != rb) return eq(sa, sb);
    }
    return false;
  }

private:
  // The two trees (mutable: canonicalisation appends nodes), the options, the budget shared by
  // every evaluation of this comparison, the per-node signature caches of each side (grown on
  // demand, as canonicalisation adds nodes), and the recursion depth of canonical/eq.
  tree& ta_;
  tree& tb_;
  const math_options& opt_;
  step_budget budget_;
  std::vector<std::optional<signature>> sig_a_, sig_b_;
  int depth_ = 0;

  // ---- canonical structure: ± expanded, inequalities as intervals, ℝ as an interval
  // Is node n a variable? Only a lone variable may be the subject of an inequality or a prefix.
  static bool is_var(const tree& t, std::uint32_t n) { return t.nodes[n].kind == op::var; }
  // Does the subtree contain a variable? Depth-capped at 400: a deeper tree counts as having one,
  // which only disables the inequality-to-interval rewrite for it. `x^2 + 1`, `\{1, x\}`: yes;
  // `\pi + 1`: no.
  // `func` nodes use `b` for nothing (the name is in `text`), so only `a` is followed for them.
  static bool has_var(const tree& t, std::uint32_t n, int depth = 0) {
    if (depth > 400) return true;
    const node& x = t.nodes[n];
    if (x.kind == op::var) return true;
    if (x.kind == op::num || x.kind == op::pi || x.kind == op::e || x.kind == op::inf) return false;
    // Structures: any element with a variable.
    if (is_structure(x.kind)) {
      if (x.kind == op::reals) return false;
      for (std::uint32_t i = 0; i < x.b; ++i)
        if (has_var(t, t.kids[x.a + i], depth + 1)) return true;
      return false;
    }
    if (x.a != no_node && has_var(t, x.a, depth + 1)) return true;
    if (x.b != no_node && x.kind != op::func && has_var(t, x.b, depth + 1)) return true;
    return false;
  }
  // How many ± / ∓ the scalar subtree contains (structures and numerals in a base count 0; the
  // depth cap returns 99, more than the 4 that `canonical_` accepts). `1 \pm 2 \pm 3` → 2;
  // `\sin(\pm x)` → 1.
  // The visit order (a before b, func's argument only, numerals in a base skipped) must match
  // `choose_signs`, which assigns sign bits in the same order.
  static std::uint32_t count_pm(const tree& t, std::uint32_t n, int depth = 0) {
    if (depth > 400) return 99;
    const node& x = t.nodes[n];
    if (is_structure(x.kind) || x.kind == op::num || x.kind == op::var) return 0;
    std::uint32_t c = (x.kind == op::pm || x.kind == op::upm) ? 1 : 0;
    if (x.kind == op::func) return c + count_pm(t, x.a, depth + 1);
    if (x.a != no_node && x.kind != op::based) c += count_pm(t, x.a, depth + 1);
    if (x.b != no_node && x.kind != op::based) c += count_pm(t, x.b, depth + 1);
    return c;
  }
  //! A copy of scalar n with the i-th ± (in visit order) taking the sign in bit i of `signs`.
  //! Visits in the same pre-order as `count_pm`, so bit i always refers to the same ±. `a ± b`
  //! becomes a + b or a − b, a leading `±a` becomes a or −a; leaves (numbers, variables,
  //! numerals in a base) are shared, every operator node is copied.
  //! `1 \pm 2 \pm 3` is pm(pm(1, 2), 3): bit 0 is the outer ± (before 3), bit 1 the inner one
  //! (before 2), so signs = 0b10 gives 1 − 2 + 3.
  static std::uint32_t choose_signs(tree& t, std::uint32_t n, std::uint32_t signs, std::uint32_t& index) {
    // A copy, not a reference: `t.make` below may reallocate `t.nodes`.
    const node x = t.nodes[n];
    if (is_structure(x.kind) || x.kind == op::num || x.kind == op::var || x.kind == op::based) return n;
    std::uint32_t a = x.a, b = x.b;
    const bool pm = x.kind == op::pm || x.kind == op::upm;
    const bool minus = pm && ((signs >> index) & 1u);
    if (pm) ++index;
    // Rebuild the operands first, numbering the ± in the same pre-order as count_pm.
    if (a != no_node) a = choose_signs(t, a, signs, index);
    if (b != no_node && x.kind != op::func) b = choose_signs(t, b, signs, index);
    node y = x;
    y.a = a;
    y.b = b;
    if (x.kind == op::pm) y.kind = minus ? op::sub : op::add;
    // A leading ±: `+a` is a itself, `−a` a negation.
    if (x.kind == op::upm) {
      if (!minus) return a;
      y.kind = op::neg;
    }
    return t.make(y);
  }

  // [lo, hi] / (lo, hi) / … as a two-element tuple with the given brackets:
  // interval(t, lo, hi, true, false) is [lo, hi).
  std::uint32_t interval(tree& t, std::uint32_t lo, std::uint32_t hi, bool lo_closed, bool hi_closed) {
    return t.nary(op::tuple, {lo, hi}, lo_closed ? '[' : '(', hi_closed ? ']' : ')');
  }
  // +∞, or −∞ as neg(∞) (the form `is_infinite` recognises).
  std::uint32_t infinity(tree& t, bool negative) {
    const std::uint32_t i = t.make(node(op::inf));
    return negative ? t.unary(op::neg, i) : i;
  }

  //! `x > 3` → (3, ∞); `1 < x \le 2` → (1, 2]; `x \ne 1` → (−∞, 1) ∪ (1, ∞). `no_node` if the
  //! relation is not of that form.
  //! The variable must be a lone variable and the bounds free of variables; a chain must point
  //! one way (`1 < x < 2` or `2 > x > 1`, not `1 < x > 0`). `=` and `\in` are not inequalities:
  //! they stay relations (and equations are compared by `relations_eq`).
  //!   `3 < x` → (3, ∞);  `x \ge 0` → [0, ∞);  `5 > x > 1` → (1, 5);  `x < y` → no_node
  std::uint32_t inequality_interval(tree& t, std::uint32_t n) {
    // A copy: building the interval appends nodes, which may reallocate `t.nodes`.
    const node x = t.nodes[n];
    const std::uint32_t k = x.b;
    // Accessors for the relation's operators and sides; "lower" is < or ≤, "greater" > or ≥.
    auto op_at = [&](std::uint32_t i) { return t.rels[x.a + i]; };
    auto side = [&](std::uint32_t i) { return t.kids[x.a + i]; };
    auto is_lower = [](rel_op r) { return r == rel_op::lt || r == rel_op::le; };
    auto is_greater = [](rel_op r) { return r == rel_op::gt || r == rel_op::ge; };
    if (k == 2) {
      const rel_op r = op_at(0);
      // Equations and memberships are not inequalities.
      if (r == rel_op::eq || r == rel_op::in) return no_node;
      std::uint32_t v = side(0), c = side(1);
      bool var_left = true;
      if (!is_var(t, v)) {
        std::swap(v, c);
        var_left = false;
      }
      if (!is_var(t, v) || has_var(t, c)) return no_node;
      // x ≠ c: everything but c.
      if (r == rel_op::ne)
        return t.nary(op::union_, {interval(t, infinity(t, true), c, false, false),
                                   interval(t, c, infinity(t, false), false, false)});
      // normalise to "v OP c"
      // Mirror the operator when the variable is on the right: 3 < x is x > 3.
      rel_op q = r;
      if (!var_left) q = r == rel_op::lt ? rel_op::gt : r == rel_op::gt ? rel_op::lt : r == rel_op::le ? rel_op::ge : rel_op::le;
      if (q == rel_op::lt || q == rel_op::le) return interval(t, infinity(t, true), c, false, q == rel_op::le);
      return interval(t, c, infinity(t, false), q == rel_op::ge, false);
    }
    // Chains a < x < b (or a > x > b): both operators must point the same way.
    if (k == 3) {
      const rel_op r0 = op_at(0), r1 = op_at(1);
      const std::uint32_t lo = side(0), v = side(1), hi = side(2);
      if (!is_var(t, v) || has_var(t, lo) || has_var(t, hi)) return no_node;
      if (is_lower(r0) && is_lower(r1)) return interval(t, lo, hi, r0 == rel_op::le, r1 == rel_op::le);
      if (is_greater(r0) && is_greater(r1)) return interval(t, hi, lo, r1 == rel_op::ge, r0 == rel_op::ge);
    }
    return no_node;
  }

  //! The canonical form of node n (see the class comment), or `no_node` when canonicalisation
  //! gives up: depth above 300, more than 64 elements in a collection, more than 4 ± in one
  //! scalar (2^4 = 16 sign choices). New nodes are appended to t; unchanged scalars are reused.
  //! Depth-guarded entry point of `canonical_` (see the class comment for what it rewrites).
  std::uint32_t canonical(tree& t, std::uint32_t n) {
    // Depth guard shared with `eq`: canonicalisation recurses once per nesting level.
    if (++depth_ > 300) {
      --depth_;
      return no_node;
    }
    const std::uint32_t r = canonical_(t, n);
    --depth_;
    return r;
  }

  std::uint32_t canonical_(tree& t, std::uint32_t n) {
    // A copy: the recursive calls append nodes, which may reallocate `t.nodes`.
    const node x = t.nodes[n];
    switch (x.kind) {
    // ℝ is the interval (−∞, ∞), so `\mathbb{R}` ≡ `(-\infty, \infty)`.
    case op::reals: return interval(t, infinity(t, true), infinity(t, false), false, false);
    case op::list:
    case op::set:
    case op::union_: {
      std::vector<std::uint32_t> items;
      for (std::uint32_t i = 0; i < x.b; ++i) {
        const std::uint32_t c = canonical(t, t.kids[x.a + i]);
        if (c == no_node) return no_node;
        const node& cn = t.nodes[c];
        // Lists inside lists and sets are flattened (`1, \pm 2` is the list 1, 2, −2); inside a union
        // they are kept as parts.
        if (cn.kind == op::list && x.kind != op::union_) { // flatten ± expansions and nested lists
          for (std::uint32_t j = 0; j < cn.b; ++j) items.push_back(t.kids[cn.a + j]);
        } else {
          items.push_back(c);
        }
        // The order-free comparison is quadratic in the element counts; cap them.
        if (items.size() > 64) return no_node;
      }
      return t.nary(x.kind, items);
    }
    case op::tuple:
    case op::matrix: {
      std::vector<std::uint32_t> items;
      for (std::uint32_t i = 0; i < x.b; ++i) {
        const std::uint32_t c = canonical(t, t.kids[x.a + i]);
        if (c == no_node) return no_node;
        items.push_back(c);
      }
      return t.nary(x.kind, items, x.x, x.y);
    }
    case op::rel: {
      // An inequality in one variable is compared as the interval it describes.
      const std::uint32_t iv = inequality_interval(t, n);
      if (iv != no_node) return canonical(t, iv);
      std::vector<std::uint32_t> sides;
      for (std::uint32_t i = 0; i < x.b; ++i) {
        const std::uint32_t c = canonical(t, t.kids[x.a + i]);
        if (c == no_node) return no_node;
        sides.push_back(c);
      }
      // Rebuild the relation over the canonical sides; its operators go to the new node's slots in
      // `rels` (indexed like `kids`). They are copied first: resizing `rels` may reallocate it.
      std::vector<rel_op> ops(t.rels.begin() + x.a, t.rels.begin() + x.a + x.b - 1);
      const std::uint32_t r = t.nary(op::rel, sides);
      t.rels.resize(t.kids.size());
      for (std::size_t i = 0; i < ops.size(); ++i) t.rels[t.nodes[r].a + i] = ops[i];
      return r;
    }
    // A scalar: expand its ± into the list of all sign choices (`1 \pm \sqrt2` → 1 + √2, 1 − √2).
    default: {
      const std::uint32_t k = count_pm(t, n);
      if (k == 0) return n;
      // 2^k sign choices: at most 16 variants.
      if (k > 4) return no_node;
      std::vector<std::uint32_t> variants;
      for (std::uint32_t s = 0; s < (1u << k); ++s) {
        std::uint32_t index = 0;
        variants.push_back(choose_signs(t, n, s, index));
      }
      return t.nary(op::list, variants);
    }
    }
  }

  //! The `x =` / `x \in` prefix leniency: `x = 5` → 5, elementwise in collections.
  //! Only a two-sided relation whose left side is a lone variable is stripped (`f(x) = 2` and
  //! `5 = x` are kept). In lists and sets every element is stripped, and a stripped element that
  //! is itself a list is spliced in (`x = \pm 2, 3` → 2, −2, 3). Returns n itself when nothing
  //! changed, so the caller can tell whether a retry is worth it.
  //!   `x = 5` → 5;   `x \in [0, 1]` → [0, 1];   `x = 1, y = 2` → list(1, 2);   `f(x) = 2` → kept
  //! Cost: O(elements); a new collection node is built only when some element changed.
  std::uint32_t strip(tree& t, std::uint32_t n) {
    // A copy: `nary` may reallocate `t.nodes`.
    const node x = t.nodes[n];
    // `v = rhs` or `v \in rhs` with a lone variable v: keep the right side.
    if (x.kind == op::rel && x.b == 2 && (t.rels[x.a] == rel_op::eq || t.rels[x.a] == rel_op::in) &&
        t.nodes[t.kids[x.a]].kind == op::var)
      return t.kids[x.a + 1];
    // Collections: strip element by element.
    if (x.kind == op::list || x.kind == op::set) {
      std::vector<std::uint32_t> items;
      bool changed = false;
      for (std::uint32_t i = 0; i < x.b; ++i) {
        const std::uint32_t c = t.kids[x.a + i];
        const std::uint32_t s = strip(t, c);
        changed = changed || s != c;
        const node& sn = t.nodes[s];
        if (s != c && sn.kind == op::list) {
          for (std::uint32_t j = 0; j < sn.b; ++j) items.push_back(t.kids[sn.a + j]);
        } else {
          items.push_back(s);
        }
      }
      return changed ? t.nary(x.kind, items) : n;
    }
    return n;
  }

  // ---- equality
  // The signature of node n on one side, computed on first use with the comparer's budget;
  // evaluation failures set `failed`.
  const signature& sig(bool side_a, std::uint32_t n) {
    // The two caches are separate vectors, so a reference returned for one side stays valid
    // while the other side's cache grows (`proportional(sig(true, …), sig(false, …))`);
    // two calls for the same side in one expression could invalidate the first reference.
    auto& cache = side_a ? sig_a_ : sig_b_;
    const tree& t = side_a ? ta_ : tb_;
    if (cache.size() < t.nodes.size()) cache.resize(t.nodes.size());
    if (!cache[n]) cache[n] = make_signature(t, n, budget_, failed);
    return *cache[n];
  }

  // Two scalars: equal signatures; "no defined point" is undecidable. `a` indexes tree a and
  // `b` tree b, as in every comparison method below.
  bool scalar_eq(std::uint32_t a, std::uint32_t b) {
    const int r = signatures_equal(sig(true, a), sig(false, b));
    if (r < 0) failed = true;
    return r == 1;
  }

  // The order-free kinds: bare lists, sets and unions compare with set semantics.
  static bool is_collection(op k) { return k == op::list || k == op::set || k == op::union_; }
  // ±∞ as built by the parser or `infinity` (an `inf` node, possibly negated).
  static bool is_infinite(const tree& t, std::uint32_t n) {
    const node& x = t.nodes[n];
    return x.kind == op::inf || (x.kind == op::neg && t.nodes[x.a].kind == op::inf);
  }

  //! Set semantics: every element of one has an equal element in the other.
  //! Duplicates do not count (`\{1, 2\}` ≡ `\{2, 1, 1\}`), an empty collection equals only an
  //! empty one. Compares every pair (no early exit for the second side, which must be covered
  //! too): O(|a|·|b|) element comparisons, each possibly recursive, at most 64 × 64.
  //!   {1, 2} vs {2, 1, 1} → true;   {1, 2} vs {1} → false (2 unmatched);   ∅ vs ∅ → true
  bool collections_eq(std::uint32_t a, std::uint32_t b) {
    const node xa = ta_.nodes[a], xb = tb_.nodes[b];
    // A shortcut: ∅ equals only ∅.
    if ((xa.b == 0) != (xb.b == 0)) return false;
    // Which elements of b some element of a has matched.
    std::vector<char> hit_b(xb.b, 0);
    for (std::uint32_t i = 0; i < xa.b; ++i) {
      bool found = false;
      for (std::uint32_t j = 0; j < xb.b; ++j) {
        if (eq(ta_.kids[xa.a + i], tb_.kids[xb.a + j])) {
          found = true;
          hit_b[j] = 1;
        }
      }
      if (!found) return false;
    }
    // Every element of b must have been matched as well.
    for (char h : hit_b)
      if (!h) return false;
    return true;
  }

  // Depth-guarded entry point of the structural comparison; once `failed` is set every further
  // comparison answers false immediately.
  bool eq(std::uint32_t a, std::uint32_t b) {
    if (failed || depth_ >= 300) {
      failed = true;
      return false;
    }
    ++depth_;
    const bool r = eq_(a, b);
    --depth_;
    return r;
  }

  // The comparison proper (rules in the class comment), dispatching on the node kinds:
  // `\{1\}` vs `1` → the element; `(1,2)` vs `\{1,2\}` → false (a tuple is not a collection);
  // `[0,\infty)` vs `[0,\infty]` → true (the bracket at ∞ does not count).
  bool eq_(std::uint32_t a, std::uint32_t b) {
    const node xa = ta_.nodes[a], xb = tb_.nodes[b];
    const bool ca = is_collection(xa.kind), cb = is_collection(xb.kind);
    // Lists, sets and unions are interchangeable (`1, 2` ≡ `\{1, 2\}`), compared order-free.
    if (ca && cb) return collections_eq(a, b);
    if (ca && xa.b == 1) return eq(ta_.kids[xa.a], b); // a one-element collection is its element
    if (cb && xb.b == 1) return eq(a, tb_.kids[xb.a]);
    // A collection of several elements never equals a single value.
    if (ca || cb) return false;
    // Two scalars: compare their values.
    if (!is_structure(xa.kind) && !is_structure(xb.kind)) return scalar_eq(a, b);
    // Different structures (a tuple and a matrix, a relation and an interval) differ.
    if (xa.kind != xb.kind) return false;
    switch (xa.kind) {
    case op::tuple: {
      if (xa.b != xb.b) return false;
      for (std::uint32_t i = 0; i < xa.b; ++i)
        if (!eq(ta_.kids[xa.a + i], tb_.kids[xb.a + i])) return false;
      // brackets must match, except at an infinite endpoint (always open)
      const bool interval = xa.b == 2;
      const bool lo_inf = interval && is_infinite(ta_, ta_.kids[xa.a]);
      const bool hi_inf = interval && is_infinite(ta_, ta_.kids[xa.a + 1]);
      if (xa.x != xb.x && !lo_inf) return false;
      if (xa.y != xb.y && !hi_inf) return false;
      return true;
    }
    case op::matrix: {
      // Same shape, then the entries in row-major order.
      if (xa.b != xb.b || xa.x != xb.x || xa.y != xb.y) return false;
      for (std::uint32_t i = 0; i < xa.b; ++i)
        if (!eq(ta_.kids[xa.a + i], tb_.kids[xb.a + i])) return false;
      return true;
    }
    case op::rel: return relations_eq(a, b);
    default: return false;
    }
  }

  // The mirrored relation operator: x < 3 reads 3 > x from the other side.
  rel_op flipped(rel_op r) const {
    switch (r) {
    case rel_op::lt: return rel_op::gt;
    case rel_op::gt: return rel_op::lt;
    case rel_op::le: return rel_op::ge;
    case rel_op::ge: return rel_op::le;
    default: return r;
    }
  }

  //! Relations: same operators in the same order and equal sides, or the mirror image (sides
  //! reversed and every operator flipped). Two single equations are also equal when the
  //! difference of their sides are proportional (see `proportional`), which covers rearranged
  //! and scaled equations of lines and curves. Chains of different lengths are different.
//! Cost: two element-wise passes, plus at most two signatures for the proportionality test.
  //!   `x < 3` vs `3 > x` → true (mirrored);   `x + y = 1` vs `y + x = 1` → true (sides equal)
  //!   `2y = 4x + 2` vs `y = 2x + 1` → true (proportional);   `x = 1` vs `x = 2` → false
  bool relations_eq(std::uint32_t a, std::uint32_t b) {
    // Copies: the proportionality test appends nodes to both trees.
    const node xa = ta_.nodes[a], xb = tb_.nodes[b];
    if (xa.b != xb.b) return false;
    const std::uint32_t k = xa.b;
    // same orientation
    bool same = true;
    for (std::uint32_t i = 0; i + 1 < k && same; ++i) same = ta_.rels[xa.a + i] == tb_.rels[xb.a + i];
    for (std::uint32_t i = 0; i < k && same; ++i) same = eq(ta_.kids[xa.a + i], tb_.kids[xb.a + i]);
    if (same) return true;
    // reversed: a = b ≡ b = a, x < 3 ≡ 3 > x
    bool rev = true;
    for (std::uint32_t i = 0; i + 1 < k && rev; ++i)
      rev = ta_.rels[xa.a + i] == flipped(tb_.rels[xb.a + k - 2 - i]);
    for (std::uint32_t i = 0; i < k && rev; ++i) rev = eq(ta_.kids[xa.a + i], tb_.kids[xb.a + k - 1 - i]);
    if (rev) return true;
    // one equation each: a − b and c − d proportional (y = 2x + 3 ≡ 2x − y + 3 = 0)
    if (k == 2 && ta_.rels[xa.a] == rel_op::eq && tb_.rels[xb.a] == rel_op::eq) {
      const std::uint32_t lhs_a = ta_.kids[xa.a], rhs_a = ta_.kids[xa.a + 1];
      const std::uint32_t lhs_b = tb_.kids[xb.a], rhs_b = tb_.kids[xb.a + 1];
      // Only scalar sides can be subtracted.
      if (is_structure(ta_.nodes[lhs_a].kind) || is_structure(ta_.nodes[rhs_a].kind) ||
          is_structure(tb_.nodes[lhs_b].kind) || is_structure(tb_.nodes[rhs_b].kind))
        return false;
      // lhs − rhs as a new node of each tree; their signatures are then compared for a constant ratio.
      const std::uint32_t fa = ta_.binary(op::sub, lhs_a, rhs_a);
      const std::uint32_t fb = tb_.binary(op::sub, lhs_b, rhs_b);
      return proportional(sig(true, fa), sig(false, fb));
    }
    return false;
  }

  //! f = k·g at every point for one constant k ≠ 0 (both with variables).
  //! Both sides must have variables (two constant equations such as `1 = 1` are not compared this
  //! way). Points where both are undefined are skipped, where one is undefined fail; zeros must
  //! coincide. The ratio k is exact when every defined non-zero value is exact and the inverse
  //! exists, otherwise compared in double within `variable_tolerance`; an exact and a double
  //! ratio must agree too. At least one defined point is needed. Uses its own step budget (the
  //! values are already computed; only the divisions are charged).
  //!   f = y − (2x + 1), g = (2x − y + 1) − 0 → k = −1 at every point → true
  //!   f = x − 1, g = x² − 1 → the ratio varies with x → false
  static bool proportional(const signature& f, const signature& g) {
    // Constant equations (`1 = 1`) are not compared this way.
    if (!f.variables || !g.variables || f.at.size() != g.at.size()) return false;
    std::optional<exact_value> k_exact;
    double k_d = std::numeric_limits<double>::quiet_NaN();
    std::size_t defined = 0;
    step_budget budget;
    for (std::size_t i = 0; i < f.at.size(); ++i) {
      const point_value& x = f.at[i];
      const point_value& y = g.at[i];
      if (x.kind == point_value::undefined && y.kind == point_value::undefined) continue;
      if (x.kind == point_value::undefined || y.kind == point_value::undefined) return false;
      // Zeros must coincide: f = k·g with k ≠ 0 vanishes exactly where g does.
      const bool xz = x.kind == point_value::exact ? (x.v.is_rational() && x.v.q.is_zero()) : x.d == 0;
      const bool yz = y.kind == point_value::exact ? (y.v.is_rational() && y.v.q.is_zero()) : y.d == 0;
      if (xz != yz) return false;
      ++defined;
      if (xz) continue;
      if (x.kind == point_value::exact && y.kind == point_value::exact) {
        exact_value inv, k;
        if (inverse(y.v, inv, budget) && mul(x.v, inv, k, budget)) {
          // The first exact ratio fixes k; every later exact ratio must be identical.
          if (!k_exact) k_exact = k;
          else if (!(*k_exact == k)) return false;
          continue;
        }
      }
      // Inexact (or non-invertible) values: the ratio in double.
      const double k = x.d / y.d;
      if (std::isnan(k_d)) k_d = k;
      else if (std::fabs(k - k_d) > variable_tolerance * std::fmax(1.0, std::fabs(k_d))) return false;
    }
    // Points with exact and points with double ratios must agree on one k.
    if (k_exact && !std::isnan(k_d) && std::fabs(k_exact->to_double() - k_d) > variable_tolerance * std::fmax(1.0, std::fabs(k_d)))
      return false;
    // At least one point must be defined on both sides.
    return defined > 0;
  }
};

//! Parses an answer into `t` (after the prefix rules are known); false when it is not in the
//! supported LaTeX subset.
//!   parse_math("x^2+1", t, {})   // true; t.root = add(pow(var x, num "2"), num "1")
//! `opt.percent` decides how `\%` reads; `t` is normally empty; the answer must outlive `t`.
//! Bounded: deeper than 200 levels or larger than 65 536 nodes, it returns false.
inline bool parse_math(std::string_view s, tree& t, const math_options& opt) {
  parser p(s, t, opt);
  return p.run();
}

} // namespace detail::rewards

//! The result of comparing two answers with the symbolic-numeric core.
//! - `equal`: an equality was established; final, even if some other part of the comparison
//!   could not be decided on the way;
//! - `different`: the comparison ran to its end without an undecidable step and found no match;
//! - `undecided`: anything else (see "Why a comparison is undecided" in the file comment).
//! `equal` and `different` are verdicts; `undecided` asks the caller to use other evidence
//! (`math_equivalent` then compares the normal forms element-wise).
enum class math_comparison { equal, different, undecided };

//! Compares two answers with the symbolic-numeric core (file comment): `undecided` when either
//! is outside the supported LaTeX subset or the step budget ran out. Symmetric except possibly
//! when the budget runs out mid-comparison (`math_equivalent` orders its pair, so it is always
//! symmetric). Never throws except `std::bad_alloc`.
//!
//! `a` and `b` are single answers (the contents of a box, not a whole solution); `opt` selects
//! the percent rule and the prefix leniency (`strip_units` and `fold_text_case` are string
//! rules of `math_equivalent` and have no effect here). Also `undecided`: no point where either expression
//! is defined, a refused size (`10^{10^{10}}`), a double overflow, too many ± or elements.
//! The fuzz target checks that `compare_math(a, a)` is never `different`.
//! Why the result is symmetric: collections are matched in both directions, relations are tried
//! in both orientations, proportionality accepts any non-zero ratio (k or 1/k), and scalar
//! comparisons are symmetric; only the order in which the budget is spent depends on the order
//! of the arguments.
//!   rlvr::compare_math("(x+1)^2", "x^2+2x+1");            // equal (random points, exact)
//!   rlvr::compare_math("\\{3,2,1\\}", "1, 2, 3");          // equal (order-free)
//!   rlvr::compare_math("(0,1]", "(0,1)");                  // different (brackets)
//!   rlvr::compare_math("50\\%", "\\frac12");               // different by default …
//!   rlvr::compare_math("50\\%", "\\frac12", rlvr::math_options::strict());   // … equal
//! Cost: linear parsing, then evaluation bounded by one step budget; thread-safe (all state is
//! local).
//!
//! `compare_math` sees the answers as written. `math_equivalent` (normalize.hpp) first reads
//! doubled backslashes, compares normal forms, plain decimals and words, cuts units, and only
//! then calls `compare_math`, falling back to the normal forms when it is undecided. Call
//! `compare_math` to examine the core; to grade answers, call `math_equivalent` or use
//! `math_verifier`.
[[nodiscard]] inline math_comparison compare_math(std::string_view a, std::string_view b,
                                                  const math_options& opt = {}) {
  detail::rewards::tree ta, tb;
  // Either answer outside the subset: the core has nothing to say.
  if (!detail::rewards::parse_math(a, ta, opt) || !detail::rewards::parse_math(b, tb, opt))
    return math_comparison::undecided;
  // One comparer, hence one step budget, per call.
  detail::rewards::comparer c(ta, tb, opt);
  // An equality is final even if some other comparison failed along the way.
  const bool r = c.equal_roots();
  if (r) return math_comparison::equal;
  // Not equal: a verdict only when nothing along the way was undecidable.
  return c.failed ? math_comparison::undecided : math_comparison::different;
}

} // namespace rlvr
