"""MathJSON solutions: extract, parse and evaluate safely; check against the answer.

A mathjson record's instruction is ``Create a MathJSON solution to the following: …``
and its response ends with the expression between ``<mathjson>`` and ``</mathjson>``,
in the compute engine's list notation, e.g. ``["Multiply", "Pi", ["Power", 17.2, 2]]``.

The evaluator is a small interpreter over the parsed JSON: an explicit table of
operators and constants (looked up by lower-cased name in a dict — never an attribute
of a module, never ``eval``), every value a finite float, with bounds on nesting
depth, node count, text size, exponents, factorial and binomial arguments. Anything
outside the table or the bounds raises :class:`MathJSONError` with the reason.

Example:
    >>> evaluate(["Add", ["Multiply", 3, 4], ["Divide", 10, 4]])
    14.5
    >>> evaluate(["Power", 10, 400])
    Traceback (most recent call last):
    ...
    airloom.checks.mathjson.MathJSONError: Power: result out of range
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airloom.checks import Verdict
from airloom.errors import AirloomError
from airloom.formats.fences import trim_edge_fences
from airloom.formats.records import Record

#: The instruction prefix of every mathjson record (3.x cards).
MATHJSON_PREFIX = "Create a MathJSON solution to the following:"
#: Default relative tolerance between the evaluated and the expected answer.
DEFAULT_TOLERANCE = 0.01

_BLOCK_RE = re.compile(r"<mathjson>(.*?)</mathjson>", re.DOTALL | re.IGNORECASE)
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?")
_FRACTION_RE = re.compile(r"([+-]?\d{1,15})/(\d{1,15})")


class MathJSONError(AirloomError):
    """A MathJSON expression is missing, malformed, unsupported or out of bounds."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource bounds of one evaluation."""

    max_depth: int = 40
    max_nodes: int = 2000
    max_text: int = 20_000
    max_exponent: float = 10_000.0
    max_factorial: int = 170
    max_binomial_n: int = 10_000
    max_integer: float = 2.0**53


DEFAULT_LIMITS = Limits()

CONSTANTS: dict[str, float] = {
    "pi": math.pi,
    "exponentiale": math.e,
    "goldenratio": (1 + math.sqrt(5)) / 2,
    "eulergamma": 0.5772156649015329,
    "catalanconstant": 0.915965594177219,
    "machineepsilon": sys.float_info.epsilon,
    "half": 0.5,
}


def _finite(value: float, op: str) -> float:
    if not math.isfinite(value):
        raise MathJSONError(f"{op}: result out of range")
    return value


def _integer(value: float, op: str, limit: float) -> int:
    if not value.is_integer() or abs(value) > limit:
        raise MathJSONError(f"{op}: needs an integer argument up to {limit:g}, got {value:g}")
    return int(value)


def _subtract(args: list[float]) -> float:
    if len(args) == 1:
        return -args[0]
    result = args[0]
    for value in args[1:]:
        result -= value
    return result


def _divide(args: list[float]) -> float:
    result = args[0]
    for value in args[1:]:
        if value == 0:
            raise MathJSONError("Divide: division by zero")
        result /= value
    return result


def _power(base: float, exponent: float, limits: Limits) -> float:
    if abs(exponent) > limits.max_exponent:
        raise MathJSONError(f"Power: exponent {exponent:g} is beyond the bound")
    if base == 0 and exponent < 0:
        raise MathJSONError("Power: zero to a negative power")
    if base < 0 and not exponent.is_integer():
        raise MathJSONError("Power: negative base with a fractional exponent")
    try:
        return math.pow(base, exponent)
    except OverflowError:
        raise MathJSONError("Power: result out of range") from None


def _root(value: float, degree: float, limits: Limits) -> float:
    if degree == 0:
        raise MathJSONError("Root: degree zero")
    if value < 0:
        if not (degree.is_integer() and int(degree) % 2 == 1):
            raise MathJSONError("Root: even root of a negative number")
        return -_power(-value, 1 / degree, limits)
    return _power(value, 1 / degree, limits)


def _log(args: list[float]) -> float:
    if args[0] <= 0 or (len(args) == 2 and (args[1] <= 0 or args[1] == 1)):
        raise MathJSONError("Log: argument out of domain")
    return math.log10(args[0]) if len(args) == 1 else math.log(args[0], args[1])


def _round(value: float) -> float:
    return float(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def _mod(a: float, b: float) -> float:
    if b == 0:
        raise MathJSONError("Mod: division by zero")
    return math.fmod(a, b) if (a < 0) == (b < 0) else a % b


def _factorial(value: float, limits: Limits) -> float:
    n = _integer(value, "Factorial", limits.max_factorial)
    if n < 0:
        raise MathJSONError("Factorial: negative argument")
    return float(math.factorial(n))


def _binomial(n_value: float, k_value: float, limits: Limits) -> float:
    n = _integer(n_value, "Binomial", limits.max_binomial_n)
    k = _integer(k_value, "Binomial", limits.max_binomial_n)
    if n < 0 or k < 0:
        raise MathJSONError("Binomial: negative argument")
    try:
        return float(math.comb(n, k))
    except OverflowError:
        raise MathJSONError("Binomial: result out of range") from None


def _gcd_lcm(args: list[float], limits: Limits, lcm: bool) -> float:
    name = "LCM" if lcm else "GCD"
    values = [_integer(value, name, limits.max_integer) for value in args]
    result = math.lcm(*values) if lcm else math.gcd(*values)
    return _finite(float(result), name)


def _clamp(args: list[float]) -> float:
    low, high = (args[1], args[2]) if len(args) == 3 else (-1.0, 1.0)
    return min(max(args[0], low), high)


Operator = Callable[[list[float], Limits], float]


def _unary(fn: Callable[[float], float]) -> Operator:
    return lambda args, limits: fn(args[0])


#: name (lower case) -> (fewest args, most args or None, implementation)
OPERATORS: dict[str, tuple[int, int | None, Operator]] = {
    "add": (1, None, lambda a, _: math.fsum(a)),
    "subtract": (1, None, lambda a, _: _subtract(a)),
    "multiply": (1, None, lambda a, _: math.prod(a)),
    "divide": (2, None, lambda a, _: _divide(a)),
    "negate": (1, 1, _unary(lambda x: -x)),
    "power": (2, 2, lambda a, lim: _power(a[0], a[1], lim)),
    "square": (1, 1, lambda a, lim: _power(a[0], 2.0, lim)),
    "sqrt": (1, 1, lambda a, lim: _root(a[0], 2.0, lim)),
    "root": (2, 2, lambda a, lim: _root(a[0], a[1], lim)),
    "exp": (1, 1, lambda a, lim: _power(math.e, a[0], lim)),
    "ln": (1, 1, _unary(math.log)),
    "log": (1, 2, lambda a, _: _log(a)),
    "lb": (1, 1, _unary(math.log2)),
    "lg": (1, 1, _unary(math.log10)),
    "logoneplus": (1, 1, _unary(math.log1p)),
    "abs": (1, 1, _unary(abs)),
    "floor": (1, 1, _unary(lambda x: float(math.floor(x)))),
    "ceil": (1, 1, _unary(lambda x: float(math.ceil(x)))),
    "ceiling": (1, 1, _unary(lambda x: float(math.ceil(x)))),
    "round": (1, 1, _unary(_round)),
    "truncate": (1, 1, _unary(lambda x: float(math.trunc(x)))),
    "max": (1, None, lambda a, _: max(a)),
    "min": (1, None, lambda a, _: min(a)),
    "mod": (2, 2, lambda a, _: _mod(a[0], a[1])),
    "rational": (1, 2, lambda a, _: _divide(a) if len(a) == 2 else a[0]),
    "half": (1, 1, _unary(lambda x: x / 2)),
    "delimiter": (1, 1, _unary(lambda x: x)),
    "sin": (1, 1, _unary(math.sin)),
    "cos": (1, 1, _unary(math.cos)),
    "tan": (1, 1, _unary(math.tan)),
    "arcsin": (1, 1, _unary(math.asin)),
    "arccos": (1, 1, _unary(math.acos)),
    "arctan": (1, 1, _unary(math.atan)),
    "arctan2": (2, 2, lambda a, _: math.atan2(a[0], a[1])),
    "sinh": (1, 1, _unary(math.sinh)),
    "cosh": (1, 1, _unary(math.cosh)),
    "tanh": (1, 1, _unary(math.tanh)),
    "arsinh": (1, 1, _unary(math.asinh)),
    "arcosh": (1, 1, _unary(math.acosh)),
    "artanh": (1, 1, _unary(math.atanh)),
    "factorial": (1, 1, lambda a, lim: _factorial(a[0], lim)),
    "binomial": (2, 2, lambda a, lim: _binomial(a[0], a[1], lim)),
    "choose": (2, 2, lambda a, lim: _binomial(a[0], a[1], lim)),
    "gcd": (1, None, lambda a, lim: _gcd_lcm(a, lim, lcm=False)),
    "lcm": (1, None, lambda a, lim: _gcd_lcm(a, lim, lcm=True)),
    "clamp": (1, 3, lambda a, _: _clamp(a)),
}


class _Evaluator:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.nodes = 0

    def value(self, node: Any, depth: int) -> float:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise MathJSONError(f"the expression has more than {self.limits.max_nodes} nodes")
        if depth > self.limits.max_depth:
            raise MathJSONError(f"the expression is nested deeper than {self.limits.max_depth}")
        if isinstance(node, bool) or node is None:
            raise MathJSONError(f"{json.dumps(node)} is not a number")
        if isinstance(node, (int, float)):
            return self.number(node)
        if isinstance(node, str):
            return self.symbol(node)
        if isinstance(node, Mapping):
            return self.mapping(node, depth)
        if isinstance(node, list):
            return self.call(node, depth)
        raise MathJSONError(f"unsupported value of type {type(node).__name__}")

    def number(self, node: float) -> float:
        try:
            value = float(node)
        except OverflowError:
            raise MathJSONError("a number is out of range") from None
        return _finite(value, "number")

    def symbol(self, text: str) -> float:
        stripped = text.strip()
        if _NUMBER_RE.fullmatch(stripped):
            return self.number(float(stripped))
        fraction = _FRACTION_RE.fullmatch(stripped)
        if fraction:
            return _divide([float(fraction.group(1)), float(fraction.group(2))])
        constant = CONSTANTS.get(stripped.lower())
        if constant is None:
            raise MathJSONError(f"unknown symbol {stripped[:40]!r}")
        return constant

    def mapping(self, node: Mapping[str, Any], depth: int) -> float:
        if len(node) == 1:
            ((key, inner),) = node.items()
            if key in ("num", "sym") and isinstance(inner, str):
                return self.symbol(inner)
            if key == "fn" and isinstance(inner, list):
                return self.call(inner, depth)
        raise MathJSONError(f"unsupported object with keys {sorted(map(str, node))[:5]}")

    def call(self, node: list[Any], depth: int) -> float:
        if not node or not isinstance(node[0], str):
            raise MathJSONError("a function expression must start with an operator name")
        name = node[0]
        entry = OPERATORS.get(name.strip().lower())
        if entry is None:
            raise MathJSONError(f"unsupported operator {name[:40]!r}")
        fewest, most, implementation = entry
        arguments = node[1:]
        if len(arguments) < fewest or (most is not None and len(arguments) > most):
            wanted = f"{fewest}" if most == fewest else f"{fewest} to {most or 'any'}"
            raise MathJSONError(f"{name}: takes {wanted} arguments, got {len(arguments)}")
        values = [self.value(argument, depth + 1) for argument in arguments]
        try:
            result = implementation(values, self.limits)
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            raise MathJSONError(f"{name}: {exc}") from None
        return _finite(float(result), name)


def evaluate(expression: Any, limits: Limits = DEFAULT_LIMITS) -> float:
    """Evaluate a parsed MathJSON expression to a finite float.

    Example:
        >>> evaluate(["Multiply", "Pi", ["Power", 2, 2]]) == 4 * math.pi
        True
        >>> evaluate({"num": "1/4"}), evaluate(["Sqrt", 16]), evaluate(["Factorial", 5])
        (0.25, 4.0, 120.0)
        >>> evaluate(["__import__", "os"])
        Traceback (most recent call last):
        ...
        airloom.checks.mathjson.MathJSONError: unsupported operator '__import__'
    """
    return _Evaluator(limits).value(expression, 0)


def _reject_constant(name: str) -> float:
    raise MathJSONError(f"{name} is not a finite number")


def parse_mathjson(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse the JSON of a MathJSON block (code fences tolerated, NaN/Infinity refused).

    Example:
        >>> parse_mathjson('```json\\n["Add", 1, 2]\\n```')
        ['Add', 1, 2]
    """
    if len(text) > limits.max_text:
        raise MathJSONError(f"the expression is longer than {limits.max_text} characters")
    body = trim_edge_fences(text)
    if not body:
        raise MathJSONError("the <mathjson> block is empty")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise MathJSONError(f"the <mathjson> block is not valid JSON: {exc}") from None


def extract_mathjson(response: str) -> str:
    """The text between the one ``<mathjson>`` and ``</mathjson>`` of a response.

    Example:
        >>> extract_mathjson("Area is pi r^2.\\n<mathjson>\\n[\\"Multiply\\", \\"Pi\\", 4]\\n"
        ...                  "</mathjson>")
        '\\n["Multiply", "Pi", 4]\\n'
    """
    blocks = _BLOCK_RE.findall(response)
    if not blocks:
        raise MathJSONError("no <mathjson>…</mathjson> block")
    if len(blocks) > 1:
        raise MathJSONError(f"{len(blocks)} <mathjson> blocks, expected one")
    return str(blocks[0])


def solve(response: str, limits: Limits = DEFAULT_LIMITS) -> float:
    """Extract, parse and evaluate the MathJSON of a response.

    Example:
        >>> solve("3 boxes of 12 eggs.\\n<mathjson>[\\"Multiply\\", 3, 12]</mathjson>")
        36.0
    """
    return evaluate(parse_mathjson(extract_mathjson(response), limits), limits)


def close_enough(value: float, expected: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """``value`` is within a relative ``tolerance`` of ``expected`` (absolute near zero).

    Example:
        >>> close_enough(99.5, 100), close_enough(98, 100), close_enough(1e-12, 0)
        (True, False, True)
    """
    return math.isclose(value, expected, rel_tol=tolerance, abs_tol=1e-9)


def mathjson_verdict(
    instruction: str,
    response: str,
    expected: float | None,
    tolerance: float = DEFAULT_TOLERANCE,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[Verdict, float | None]:
    """Check a mathjson record's parts; returns the verdict and the evaluated value.

    Example:
        >>> v, value = mathjson_verdict(f"{MATHJSON_PREFIX} 2 apples and 3 more?",
        ...                             "<mathjson>[\\"Add\\", 2, 3]</mathjson>", 5)
        >>> v.ok, value
        (True, 5.0)
        >>> mathjson_verdict(f"{MATHJSON_PREFIX} x", "<mathjson>4</mathjson>", 5)[0].reason
        'the expression evaluates to 4, expected 5 (tolerance 1%)'
    """
    if not instruction.startswith(MATHJSON_PREFIX):
        return Verdict.failed(f"the instruction does not start with {MATHJSON_PREFIX!r}"), None
    try:
        value = solve(response, limits)
    except MathJSONError as exc:
        return Verdict.failed(exc.message), None
    if expected is not None and not close_enough(value, expected, tolerance):
        return (
            Verdict.failed(
                f"the expression evaluates to {value:g}, expected {expected:g} "
                f"(tolerance {tolerance:.0%})"
            ),
            value,
        )
    return Verdict.passed(), value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def check_mathjson(record: Record) -> Verdict:
    """The record's MathJSON evaluates, and matches ``meta["expected"]`` when stored.

    Without an expected answer (e.g. a plain export) only the prefix, the block and
    the evaluation are checked.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_mathjson(make_record(instruction=f"{MATHJSON_PREFIX} Twice 21?",
        ...                 response="<mathjson>[\\"Multiply\\", 2, 21]</mathjson>",
        ...                 meta={"expected": 42})).ok
        True
    """
    meta = record.meta
    meta = meta if isinstance(meta, Mapping) else {}
    tolerance = _number(meta.get("tolerance"))
    verdict, _ = mathjson_verdict(
        record.instruction,
        record.response,
        _number(meta.get("expected")),
        tolerance if tolerance is not None and tolerance >= 0 else DEFAULT_TOLERANCE,
    )
    return verdict


def answer_number(text: str) -> float | None:
    """A numeric answer written by a teacher: ``42``, ``-3.5``, ``1,200``, ``3/4``, ``12%``.

    Returns None when the text holds no single number.

    Example:
        >>> answer_number("1,200 dollars"), answer_number("3/4"), answer_number("about")
        (1200.0, 0.75, None)
    """
    cleaned = text.strip().replace(",", "").replace("$", "")
    fraction = re.match(r"^\s*([+-]?\d+)\s*/\s*(\d+)\b", cleaned)
    if fraction and int(fraction.group(2)) != 0:
        return int(fraction.group(1)) / int(fraction.group(2))
    match = re.match(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?)", cleaned)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def expression_size(expression: Any) -> int:
    """Nodes in a parsed expression (for reports).

    Example:
        >>> expression_size(["Add", 1, ["Multiply", 2, 3]])
        5
    """
    if isinstance(expression, list):
        return sum(expression_size(item) for item in expression)
    if isinstance(expression, Mapping):
        return 1 + sum(expression_size(item) for item in expression.values())
    return 1


__all__: Sequence[str] = (
    "CONSTANTS",
    "DEFAULT_TOLERANCE",
    "MATHJSON_PREFIX",
    "OPERATORS",
    "Limits",
    "MathJSONError",
    "answer_number",
    "check_mathjson",
    "close_enough",
    "evaluate",
    "expression_size",
    "extract_mathjson",
    "mathjson_verdict",
    "parse_mathjson",
    "solve",
)
