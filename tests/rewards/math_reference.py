#!/usr/bin/env python3
"""The MATH reference answer checker (Hendrycks et al. 2021, math_equivalence.py: _strip_string and
is_equiv), transcribed, and a check that the `math_reference` column of answer_pairs.hpp is what
it answers for every pair. Usage: math_reference.py answer_pairs.hpp  (exit 1 on any mismatch)."""
import re
import sys



def _fix_fracs(string):
    substrs = string.split("\\frac")
    new_str = substrs[0]
    if len(substrs) > 1:
        substrs = substrs[1:]
        for substr in substrs:
            new_str += "\\frac"
            if substr[0] == "{":  # IndexError on an empty piece, as in the original
                new_str += substr
            else:
                if len(substr) < 2:
                    return string
                a = substr[0]; b = substr[1]
                if b != "{":
                    new_str += "{" + a + "}{" + b + "}" + substr[2:]
                else:
                    new_str += "{" + a + "}" + b + substr[2:]
    return new_str
def _fix_a_slash_b(string):
    if len(string.split("/")) != 2: return string
    a, b = string.split("/")
    try:
        a = int(a); b = int(b)
        assert string == "{}/{}".format(a, b)
        return "\\frac{" + str(a) + "}{" + str(b) + "}"
    except Exception:
        return string
def _remove_right_units(string):
    if "\\text{ " in string:
        splits = string.split("\\text{ ")
        assert len(splits) == 2
        return splits[0]
    return string
def _fix_sqrt(string):
    if "\\sqrt" not in string: return string
    splits = string.split("\\sqrt")
    new_string = splits[0]
    for split in splits[1:]:
        if split[0] != "{":  # IndexError on an empty piece, as in the original
            new_string += "\\sqrt{" + split[0] + "}" + split[1:]
        else:
            new_string += "\\sqrt" + split
    return new_string
def _strip_string(string):
    string = string.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    string = string.replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\left", "").replace("\\right", "")
    string = string.replace("^{\\circ}", "").replace("^\\circ", "")
    string = string.replace("\\$", "")
    string = _remove_right_units(string)
    string = string.replace("\\%", "")
    string = string.replace(" .", " 0.").replace("{.", "{0.")
    if len(string) == 0: return string
    if string[0] == ".": string = "0" + string
    if len(string.split("=")) == 2 and len(string.split("=")[0]) <= 2:
        string = string.split("=")[1]
    string = _fix_sqrt(string)
    string = string.replace(" ", "")
    string = _fix_fracs(string)
    if string == "0.5": string = "\\frac{1}{2}"
    string = _fix_a_slash_b(string)
    return string
def is_equiv(a, b):
    try:
        return _strip_string(a) == _strip_string(b)
    except Exception:
        return a == b


def unescape(s):
    """A C++ string literal body (as written in the table) to the Python str it denotes."""
    return bytes(s, 'utf-8').decode('unicode_escape').encode('latin-1').decode('utf-8', 'surrogateescape')


def main(path):
    src = open(path, encoding='utf-8').read()
    pat = re.compile(r'\{"((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)", (true|false), (true|false), "((?:[^"\\]|\\.)*)"\}')
    rows = pat.findall(src)
    bad = 0
    for a, b, _ours, ref, rule in rows:
        want = is_equiv(unescape(a), unescape(b))
        if want != (ref == 'true'):
            print('mismatch: is_equiv(%r, %r) = %s but the table says %s (%s)' % (a, b, want, ref, rule))
            bad += 1
    print('%d pairs checked against the MATH reference, %d mismatches' % (len(rows), bad))
    return 1 if bad or len(rows) < 150 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
