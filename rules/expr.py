r"""A small, whitelisted expression language for rule packs, compiled to polars expressions.

Rule packs are data written by engineers and reviewed by stewards, so a rule's `when:` text is never executed:
it is parsed with :func:`ast.parse` in ``eval`` mode and every node is checked against a whitelist before a
polars expression is built from it. Anything else (attribute access, subscripts, lambdas, comprehensions,
unknown names or functions, dunder names, statements, SQL) is refused with an error naming the rule and the
offending token.

The language::

    is_blank(full_name) or lower(strip(full_name)) in ('?', '-', 'không rõ')
    not is_null(citizen_id_digits) and len(citizen_id_digits) != 12 and len(citizen_id_digits) != 9
    years_between(dob, as_of) > max_age
    updated_ts < as_of - days(freshness_days)
    cccd_birth_year // 100 != year(dob) // 100
    not matches(phone_e164, r'^\+84\d{9}$')

Names are the table's columns, the rule's ``params`` and ``as_of`` (the run's reference date, never the wall
clock). Operators: ``and or not``, comparisons (chains allowed), ``in``/``not in`` a tuple or list of constants
(or a list parameter), ``+ -`` on numbers and dates/durations, ``// %`` on numbers, unary ``-``.
Functions: see :data:`FUNCTIONS`.

Null semantics are SQL's (Kleene): a comparison with a null is null, ``null and False`` is False,
``null or True`` is True. The engine turns the final null into "does not fire" unless the rule says
``on_null: fire``. To fire on a missing value, say so: ``is_null(x) or ...``.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

MAX_EXPRESSION_LENGTH = 2000
# Rust's regex engine is linear in the text, but a counted repetition is copied into the automaton once per count,
# and a Unicode class (\w, ., \p{L}) is large: `\w{100}z` ran ~55x slower than `\w+z` here, `\w{50}z` about
# as fast. Patterns whose counted repetitions add more than this many copies are refused at load time.
MAX_REGEX_REPEAT = 50
MAX_REGEX_LENGTH = 500
MAX_DEPTH = 32
MAX_LIST_ITEMS = 500

# Value kinds the compiler tracks so it can refuse `len(dob)` or `full_name > 3` at load time with a clear
# message instead of a polars error at run time.
TEXT, NUMBER, DATE, DATETIME, DURATION, BOOL, NULL, LIST = (
    "text",
    "number",
    "date",
    "datetime",
    "duration",
    "bool",
    "null",
    "list",
)
ANY = "any"

RESERVED_NAMES = frozenset({"as_of"})


class RuleExpressionError(ValueError):
    """A rule expression was refused. Names the rule and, where there is one, the offending token."""

    def __init__(self, rule_id: str, reason: str, token: str | None = None, column: int | None = None):
        self.rule_id = rule_id
        self.reason = reason
        self.token = token
        self.column = column
        where = ""
        if token is not None:
            shown = token if len(token) <= 60 else token[:57] + "..."
            where = f" at {shown!r}"
            if column is not None:
                where += f" (column {column})"
        super().__init__(f"rule '{rule_id}': {reason}{where}")


@dataclass(frozen=True)
class Typed:
    """A compiled sub-expression, its kind, and its Python value when it is a constant or a parameter."""

    expr: pl.Expr
    kind: str
    constant: object = None
    is_constant: bool = False


def kind_of_dtype(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return TEXT
    if dtype.is_numeric():
        return NUMBER
    if dtype == pl.Date:
        return DATE
    if isinstance(dtype, pl.Datetime):
        return DATETIME
    if isinstance(dtype, pl.Duration):
        return DURATION
    if dtype == pl.Boolean:
        return BOOL
    if isinstance(dtype, pl.List):
        return LIST
    return ANY


def kind_of_value(value: object) -> str | None:
    # bool before int: bool is a subclass of int; datetime before date for the same reason.
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return DATE
    if isinstance(value, timedelta):
        return DURATION
    return None


def _literal(value: object) -> Typed:
    kind = kind_of_value(value)
    if kind is None:
        raise TypeError(f"unsupported constant {value!r}")
    if kind == NULL:
        return Typed(pl.lit(None), NULL, None, True)
    return Typed(pl.lit(value), kind, value, True)


# --- functions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    arg_kinds: tuple[frozenset[str], ...]
    result_kind: str | None  # None: same kind as the first argument
    build: Callable[..., pl.Expr]
    help: str
    constant_args: tuple[int, ...] = ()  # positions that must be constants (patterns, literals)


def _kinds(*names: str) -> frozenset[str]:
    return frozenset(names)


_TEXTUAL = _kinds(TEXT, NULL)
_TEMPORAL = _kinds(DATE, DATETIME, NULL)
_NUMERIC = _kinds(NUMBER, NULL)
_ANYTHING = _kinds(TEXT, NUMBER, DATE, DATETIME, DURATION, BOOL, NULL, LIST, ANY)


def _date_number(value: Typed) -> pl.Expr:
    """A date as the integer YYYYMMDD: whole years between two dates are their difference // 10000."""
    if value.is_constant and isinstance(value.constant, date):
        return pl.lit(value.constant.year * 10_000 + value.constant.month * 100 + value.constant.day)
    d = value.expr
    return d.dt.year().cast(pl.Int32) * 10_000 + d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)


def _years_between(start: Typed, end: Typed) -> pl.Expr:
    """Whole years from start to end (an age); negative when end is before start."""
    difference = _date_number(end) - _date_number(start)
    # Floor division rounds towards -inf; an age counts whole years towards zero.
    return pl.when(difference >= 0).then(difference // 10_000).otherwise(-((-difference) // 10_000))


def _parse_date(arg: Typed) -> pl.Expr:
    return pl.lit(date.fromisoformat(str(arg.constant)))


FUNCTIONS: dict[str, Function] = {
    "is_null": Function((_ANYTHING,), BOOL, lambda x: x.expr.is_null(), "is_null(x): x is missing"),
    "is_blank": Function(
        (_TEXTUAL,),
        BOOL,
        lambda x: x.expr.is_null() | (x.expr.str.strip_chars() == ""),
        "is_blank(text): missing, empty or only spaces",
    ),
    "len": Function((_TEXTUAL,), NUMBER, lambda x: x.expr.str.len_chars(), "len(text): number of characters"),
    "lower": Function((_TEXTUAL,), TEXT, lambda x: x.expr.str.to_lowercase(), "lower(text)"),
    "upper": Function((_TEXTUAL,), TEXT, lambda x: x.expr.str.to_uppercase(), "upper(text)"),
    "strip": Function((_TEXTUAL,), TEXT, lambda x: x.expr.str.strip_chars(), "strip(text): trim spaces"),
    "nfc": Function((_TEXTUAL,), TEXT, lambda x: x.expr.str.normalize("NFC"), "nfc(text): Unicode NFC form"),
    "matches": Function(
        (_TEXTUAL, _kinds(TEXT)),
        BOOL,
        lambda x, p: x.expr.str.contains(str(p.constant)),
        "matches(text, 'regex'): the regex (Rust syntax, linear time) finds a match",
        constant_args=(1,),
    ),
    "contains": Function(
        (_TEXTUAL, _kinds(TEXT)),
        BOOL,
        lambda x, s: x.expr.str.contains(str(s.constant), literal=True),
        "contains(text, 'part')",
        constant_args=(1,),
    ),
    "starts_with": Function(
        (_TEXTUAL, _kinds(TEXT)),
        BOOL,
        lambda x, s: x.expr.str.starts_with(str(s.constant)),
        "starts_with(text, 'prefix')",
        constant_args=(1,),
    ),
    "ends_with": Function(
        (_TEXTUAL, _kinds(TEXT)),
        BOOL,
        lambda x, s: x.expr.str.ends_with(str(s.constant)),
        "ends_with(text, 'suffix')",
        constant_args=(1,),
    ),
    "year": Function((_TEMPORAL,), NUMBER, lambda d: d.expr.dt.year(), "year(date)"),
    "days": Function(
        (_NUMERIC,), DURATION, lambda n: pl.duration(days=n.expr), "days(n): a duration of n days"
    ),
    "date": Function(
        (_kinds(TEXT),), DATE, _parse_date, "date('YYYY-MM-DD'): a date constant", constant_args=(0,)
    ),
    "years_between": Function(
        (_TEMPORAL, _TEMPORAL), NUMBER, _years_between, "years_between(start, end): whole years (an age)"
    ),
    "coalesce": Function(
        (_ANYTHING, _ANYTHING),
        None,
        lambda a, b: pl.coalesce(a.expr, b.expr),
        "coalesce(a, b): a, or b when a is missing",
    ),
}


# --- the compiler ------------------------------------------------------------------------------------------

_COMPARE_OPS: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_ORDERED_KINDS = frozenset({TEXT, NUMBER, DATE, DATETIME, DURATION})

# Why each refused node is refused, so the error tells the rule author what to write instead.
_REFUSED_NODES: dict[type, str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.IfExp: "conditional expressions are not allowed (write two rules)",
    ast.Starred: "star arguments are not allowed",
    ast.NamedExpr: "assignment is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed (use a tuple)",
}


class _Compiler:
    def __init__(
        self,
        source: str,
        rule_id: str,
        columns: Mapping[str, pl.DataType],
        params: Mapping[str, object],
        as_of: date,
    ):
        self.source = source
        self.rule_id = rule_id
        self.columns = columns
        self.params = params
        self.as_of = as_of
        self.used_columns: set[str] = set()

    # errors
    def fail(self, node: ast.AST | None, reason: str) -> RuleExpressionError:
        token = None
        column = None
        if node is not None and hasattr(node, "col_offset"):
            token = ast.get_source_segment(self.source, node) or type(node).__name__
            column = node.col_offset + 1
        return RuleExpressionError(self.rule_id, reason, token, column)

    # dispatch
    def compile(self, node: ast.AST, depth: int) -> Typed:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is None:
            reason = _REFUSED_NODES.get(type(node), f"{type(node).__name__} is not part of the rule language")
            raise self.fail(node, reason)
        return handler(node, depth + 1)

    def visit_Constant(self, node: ast.Constant, depth: int) -> Typed:
        if kind_of_value(node.value) not in {TEXT, NUMBER, BOOL, NULL}:
            raise self.fail(node, f"constants of type {type(node.value).__name__} are not allowed")
        return _literal(node.value)

    def visit_Name(self, node: ast.Name, depth: int) -> Typed:
        name = node.id
        if "__" in name:
            raise self.fail(node, "dunder names are not allowed")
        if name == "as_of":
            return Typed(pl.lit(self.as_of), DATE, self.as_of, True)
        if name in self.params:
            value = self.params[name]
            if isinstance(value, list | tuple):
                kinds = {kind_of_value(v) for v in value}
                if None in kinds or len(kinds - {NULL}) > 1:
                    raise self.fail(node, f"parameter '{name}' must be a list of constants of one type")
                return Typed(pl.lit(None), LIST, list(value), True)
            if kind_of_value(value) is None:
                raise self.fail(node, f"parameter '{name}' has an unsupported value {value!r}")
            return _literal(value)
        if name in self.columns:
            self.used_columns.add(name)
            return Typed(pl.col(name), kind_of_dtype(self.columns[name]))
        if name in FUNCTIONS:
            raise self.fail(node, f"'{name}' is a function: call it as {FUNCTIONS[name].help.split(':')[0]}")
        known = [*self.columns, *self.params, "as_of"]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise self.fail(node, f"unknown name (not a column, a parameter or as_of){hint}")

    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> Typed:
        parts = [self.compile(value, depth) for value in node.values]
        for value, part in zip(node.values, parts, strict=True):
            self.require(value, part, {BOOL, NULL}, "and/or operand")
        combined = parts[0].expr
        for part in parts[1:]:
            combined = combined & part.expr if isinstance(node.op, ast.And) else combined | part.expr
        return Typed(combined, BOOL)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Typed:
        operand = self.compile(node.operand, depth)
        if isinstance(node.op, ast.Not):
            self.require(node.operand, operand, {BOOL, NULL}, "'not' operand")
            return Typed(~operand.expr, BOOL)
        if isinstance(node.op, ast.USub):
            self.require(node.operand, operand, {NUMBER, DURATION}, "unary minus operand")
            if operand.is_constant:
                return _literal(-operand.constant)  # type: ignore[operator]
            return Typed(-operand.expr, operand.kind)
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Typed:
        left = self.compile(node.left, depth)
        right = self.compile(node.right, depth)
        kinds = (left.kind, right.kind)
        if isinstance(node.op, ast.FloorDiv | ast.Mod):
            self.require(node.left, left, {NUMBER, NULL}, "'//' and '%' operand")
            self.require(node.right, right, {NUMBER, NULL}, "'//' and '%' operand")
            expr = left.expr // right.expr if isinstance(node.op, ast.FloorDiv) else left.expr % right.expr
            return Typed(expr, NUMBER)
        if not isinstance(node.op, ast.Add | ast.Sub):
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed (only + - // %)")
        is_add = isinstance(node.op, ast.Add)
        result = None
        same_kind_arithmetic = kinds in {(NUMBER, NUMBER), (DURATION, DURATION)}
        if same_kind_arithmetic or (left.kind in {DATE, DATETIME} and right.kind == DURATION):
            result = left.kind
        elif is_add and left.kind == DURATION and right.kind in {DATE, DATETIME}:
            result = right.kind
        elif not is_add and left.kind in {DATE, DATETIME} and right.kind in {DATE, DATETIME}:
            result = DURATION
        if result is None:
            raise self.fail(node, f"cannot {'add' if is_add else 'subtract'} {right.kind} and {left.kind}")
        return Typed(left.expr + right.expr if is_add else left.expr - right.expr, result)

    def visit_Compare(self, node: ast.Compare, depth: int) -> Typed:
        left_node: ast.expr = node.left
        left = self.compile(left_node, depth)
        pieces: list[pl.Expr] = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                members = self.members(right_node, depth)
                self.require_member_kinds(left_node, left, right_node, members)
                if left.kind == DATETIME:
                    raise self.fail(left_node, "'in' on timestamps is not supported")
                found = left.expr.is_in(_member_list(members)) if members else pl.lit(False)
                pieces.append(~found if isinstance(op, ast.NotIn) else found)
                right = None
            elif type(op) in _COMPARE_OPS:
                right = self.compile(right_node, depth)
                if NULL in (left.kind, right.kind):
                    raise self.fail(right_node, "comparing with None is always unknown: use is_null(x)")
                a, b = self.comparable(node, left, right, ordered=not isinstance(op, ast.Eq | ast.NotEq))
                pieces.append(_COMPARE_OPS[type(op)](a, b))
            else:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed (use == or in)")
            left_node = right_node
            if right is None:
                break
            left = right
        if len(node.ops) > len(pieces):
            raise self.fail(node, "'in' cannot be chained with other comparisons")
        combined = pieces[0]
        for piece in pieces[1:]:
            combined = combined & piece
        return Typed(combined, BOOL)

    def visit_Call(self, node: ast.Call, depth: int) -> Typed:
        if not isinstance(node.func, ast.Name):
            reason = _REFUSED_NODES.get(type(node.func), "only plain function names can be called")
            raise self.fail(node.func, reason)
        name = node.func.id
        if "__" in name:
            raise self.fail(node.func, "dunder names are not allowed")
        function = FUNCTIONS.get(name)
        if function is None:
            close = difflib.get_close_matches(name, FUNCTIONS, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise self.fail(node.func, f"unknown function (allowed: {', '.join(sorted(FUNCTIONS))}){hint}")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        if len(node.args) != len(function.arg_kinds):
            raise self.fail(
                node,
                f"{name}() takes {len(function.arg_kinds)} argument(s), got {len(node.args)}: {function.help}",
            )
        args = [self.compile(arg, depth) for arg in node.args]
        for position, (arg_node, arg, allowed) in enumerate(
            zip(node.args, args, function.arg_kinds, strict=True)
        ):
            if arg.kind not in allowed and ANY not in allowed and arg.kind != ANY:
                raise self.fail(
                    arg_node, f"{name}() argument {position + 1} must be {_describe(allowed)}, got {arg.kind}"
                )
            if position in function.constant_args and not arg.is_constant:
                raise self.fail(
                    arg_node, f"{name}() argument {position + 1} must be a constant or a parameter"
                )
        if name == "matches":
            self.check_regex(node.args[1], str(args[1].constant))
        if name == "date":
            try:
                date.fromisoformat(str(args[0].constant))
            except ValueError:
                raise self.fail(node.args[0], "date() needs 'YYYY-MM-DD'") from None
        if name == "coalesce" and NULL not in (args[0].kind, args[1].kind) and args[0].kind != args[1].kind:
            raise self.fail(
                node, f"coalesce() arguments must be of one kind, got {args[0].kind} and {args[1].kind}"
            )
        result_kind = function.result_kind or (args[0].kind if args[0].kind != NULL else args[1].kind)
        return Typed(function.build(*args), result_kind)

    def visit_Tuple(self, node: ast.Tuple, depth: int) -> Typed:
        raise self.fail(node, "a tuple is only allowed on the right of 'in'")

    visit_List = visit_Tuple

    # helpers
    def members(self, node: ast.expr, depth: int) -> list[object]:
        if isinstance(node, ast.Tuple | ast.List):
            if len(node.elts) > MAX_LIST_ITEMS:
                raise self.fail(node, f"more than {MAX_LIST_ITEMS} items")
            values = []
            for element in node.elts:
                item = self.compile(element, depth + 1)
                if not item.is_constant or item.kind == LIST:
                    raise self.fail(element, "'in' lists may only hold constants")
                values.append(item.constant)
            return values
        if isinstance(node, ast.Name):
            item = self.compile(node, depth)
            if item.kind == LIST:
                return list(item.constant)  # type: ignore[arg-type]
        raise self.fail(node, "the right of 'in' must be a tuple or list of constants, or a list parameter")

    def require_member_kinds(
        self, left_node: ast.expr, left: Typed, right_node: ast.expr, members: list
    ) -> None:
        kinds = {kind_of_value(v) for v in members} - {NULL}
        if not kinds:
            return
        if len(kinds) > 1:
            raise self.fail(right_node, "'in' list mixes types")
        (kind,) = kinds
        if left.kind not in {kind, ANY, NULL}:
            raise self.fail(left_node, f"cannot look up {left.kind} in a list of {kind}")

    def comparable(self, node: ast.AST, left: Typed, right: Typed, ordered: bool) -> tuple[pl.Expr, pl.Expr]:
        kinds = {left.kind, right.kind}
        if ANY in kinds or len(kinds) == 1:
            if ordered and kinds <= {BOOL, LIST}:
                raise self.fail(node, f"{left.kind} values have no order")
            if kinds == {LIST}:
                raise self.fail(node, "list columns cannot be compared")
            return left.expr, right.expr
        if kinds == {DATE, DATETIME}:
            # A date compares as its midnight, so `updated_ts < as_of` means "before the start of as_of".
            to_datetime = pl.Datetime("us")
            a = left.expr.cast(to_datetime) if left.kind == DATE else left.expr
            b = right.expr.cast(to_datetime) if right.kind == DATE else right.expr
            return a, b
        raise self.fail(node, f"cannot compare {left.kind} with {right.kind}")

    def require(self, node: ast.AST, typed: Typed, allowed: set[str], what: str) -> None:
        if typed.kind not in allowed and typed.kind != ANY:
            raise self.fail(node, f"{what} must be {_describe(allowed)}, got {typed.kind}")

    def check_regex(self, node: ast.AST, pattern: str) -> None:
        if len(pattern) > MAX_REGEX_LENGTH:
            raise self.fail(
                node, f"regular expression is {len(pattern)} characters long (limit {MAX_REGEX_LENGTH})"
            )
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except pl.exceptions.PolarsError as error:
            first_line = str(error).strip().splitlines()[-1] if str(error).strip() else "invalid"
            raise self.fail(node, f"invalid regular expression: {first_line}") from None
        copies = regex_repeat_copies(pattern)
        if copies > MAX_REGEX_REPEAT:
            raise self.fail(
                node,
                f"regular expression repeats counted parts {copies} extra times (limit {MAX_REGEX_REPEAT}): "
                "a long counted repetition such as \\w{100} is slow on every row; check the length with "
                "len(...) and the characters with + or *",
            )


_COUNTED = re.compile(r"\{(\d{1,9})(?:,(\d{0,9}))?\}")
_GROUP_FLAGS = frozenset("imsxuUR-")


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at `start` (classes nest: `[a-z&&[^aeiou]]`)."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            depth += 1
            i += 1
            # A ']' right after '[' or '[^' is a literal member.
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                i += 1
            continue
        if char == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


def _escape_end(pattern: str, start: int) -> int:
    """The index after the escape starting with the backslash at `start` (`\\p{Greek}`, `\\x{1F600}`, `\\d`)."""
    kind = pattern[start + 1 : start + 2]
    if kind in ("p", "P", "x", "u", "U") and pattern[start + 2 : start + 3] == "{":
        close = pattern.find("}", start + 3)
        return len(pattern) if close < 0 else close + 1
    if kind in ("p", "P"):
        return start + 3
    if kind == "x":
        return start + 4
    return start + 2


def regex_repeat_copies(pattern: str) -> int:
    """How many extra copies of its parts the counted repetitions of `pattern` (Rust syntax) make.

    Every atom counts 1; `x{n}` / `x{n,m}` copies x (with everything inside it) n resp. m times, nested counts
    multiply; `*`, `+` and `?` are loops, not copies. The result is the pattern's size once expanded minus its
    written size: `\\d{12}` gives 11, `(\\w{7}){7}` 48, `\\w{100}z` 99.
    """
    frames: list[list[int]] = [[0, 0]]  # (expanded, written) size of each open group's contents
    last: tuple[int, int] | None = None  # the atom a quantifier would apply to
    i = 0
    while i < len(pattern):
        char = pattern[i]
        atom: tuple[int, int] | None = None
        if char == "\\":
            i, atom = _escape_end(pattern, i), (1, 1)
        elif char == "[":
            i, atom = _class_end(pattern, i), (1, 1)
        elif char == "(":
            i += 1
            if pattern[i : i + 1] == "?":
                j = i + 1
                while j < len(pattern) and pattern[j] in _GROUP_FLAGS:
                    j += 1
                if pattern[j : j + 1] == ")":  # `(?i)`: flags only, no group
                    i, last = j + 1, None
                    continue
                if pattern[j : j + 1] in ("P", "<"):  # named group
                    close = pattern.find(">", j)
                    j = len(pattern) if close < 0 else close
                i = j + 1
            frames.append([0, 0])
            last = None
            continue
        elif char == ")":
            i += 1
            if len(frames) > 1:
                expanded, written = frames.pop()
                atom = (expanded, written)
            else:
                last = None
                continue
        elif char == "|":
            i, last = i + 1, None
            continue
        elif char in "*+?":
            i += 1
            continue
        elif char == "{":
            counted = _COUNTED.match(pattern, i)
            if counted and last is not None:
                low, high = counted.group(1), counted.group(2)
                copies = max(int(low), int(high) if high else 0)
                frames[-1][0] += last[0] * (copies - 1) if copies else -last[0]
                last = None
                i = counted.end()
                continue
            i, atom = i + 1, (1, 1)
        else:
            i, atom = i + 1, (1, 1)
        frames[-1][0] += atom[0]
        frames[-1][1] += atom[1]
        last = atom
    while len(frames) > 1:  # unbalanced: polars refused it already; count what was seen
        expanded, written = frames.pop()
        frames[-1][0] += expanded
        frames[-1][1] += written
    return max(frames[0][0] - frames[0][1], 0)


def _member_list(members: list[object]) -> pl.Expr:
    return pl.lit(pl.Series(members, strict=False)).implode()


def _describe(kinds: set[str] | frozenset[str]) -> str:
    shown = sorted(k for k in kinds if k not in {NULL, ANY})
    return " or ".join(shown) if shown else "a value"


@dataclass(frozen=True)
class CompiledExpression:
    expr: pl.Expr  # Boolean, may be null (see the module docstring for null semantics)
    columns: frozenset[str]


def compile_expression(
    source: str,
    *,
    rule_id: str,
    columns: Mapping[str, pl.DataType],
    params: Mapping[str, object] | None = None,
    as_of: date | None = None,
) -> CompiledExpression:
    """Compile a rule's `when:` text into a Boolean polars expression, or raise RuleExpressionError.

    `columns` maps the names the expression may read to their dtypes; `params` are the rule's parameters;
    `as_of` is the run's reference date (a placeholder date is used when only validating a pack).
    """
    if not isinstance(source, str):
        raise RuleExpressionError(rule_id, f"the expression must be text, got {type(source).__name__}")
    if not source.strip():
        raise RuleExpressionError(rule_id, "the expression is empty")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise RuleExpressionError(
            rule_id, f"the expression is {len(source)} characters long (limit {MAX_EXPRESSION_LENGTH})"
        )
    params = dict(params or {})
    for name in params:
        if name in columns or name in RESERVED_NAMES:
            raise RuleExpressionError(rule_id, "parameter name shadows a column or as_of", name)
    # Newlines are fine in YAML block scalars; parse as one expression regardless.
    text = " ".join(source.split("\n"))
    try:
        with warnings.catch_warnings():
            # '\\d' in a plain string literal is an invalid escape (a warning today, an error tomorrow).
            warnings.simplefilter("error")
            tree = ast.parse(text, mode="eval")
    except (SyntaxError, SyntaxWarning, DeprecationWarning) as error:
        message = getattr(error, "msg", str(error))
        if "escape sequence" in message:
            message += "; write regular expressions as raw strings: r'^\\d+$'"
        column = getattr(error, "offset", None)
        token = text[column - 1 : column + 19] if column else None
        raise RuleExpressionError(rule_id, f"not a valid expression ({message})", token, column) from None
    except (RecursionError, MemoryError, ValueError) as error:
        raise RuleExpressionError(rule_id, f"cannot parse the expression ({type(error).__name__})") from None
    compiler = _Compiler(text, rule_id, columns, params, as_of or date(2000, 1, 1))
    try:
        typed = compiler.compile(tree.body, 0)
    except RecursionError:
        raise RuleExpressionError(rule_id, f"expression nested deeper than {MAX_DEPTH} levels") from None
    if typed.kind not in {BOOL, ANY}:
        raise RuleExpressionError(
            rule_id, f"a rule expression must be true/false (a finding when true), got {typed.kind}", text
        )
    return CompiledExpression(typed.expr, frozenset(compiler.used_columns))
