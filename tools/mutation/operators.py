"""Mutation operators: small deliberate mistakes, generated from a module's AST.

Each mutant replaces one source span of the original text (everything else stays byte
for byte), so its line number is the line an operator would see in a diff. Operators:
comparison boundary and equality flips, ``and``/``or`` swaps, removed ``not``,
arithmetic swaps, numeric constants (also inside ``Decimal("...")``) changed, booleans
flipped, Decimal rounding modes swapped, ``min``/``max`` swapped, ``await`` dropped,
statements (calls, attribute stores, ``+=``), ``return`` values, ``raise``, ``break`` and
``continue`` removed. Docstrings, annotations, messages and logging text are left alone.
A line ending in ``# pragma: no mutate`` is skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository root
    line: int  # first line of the mutated span
    stmt_line: int  # first line of the enclosing statement (for the coverage map)
    end_line: int
    operator: str
    original: str
    replacement: str
    start: int  # offsets into the source text
    end: int
    at_import: bool = False  # module or class level: runs when the module is imported

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.operator}:{self.original}->{self.replacement}"

    def describe(self) -> str:
        old = " ".join(self.original.split())
        new = " ".join(self.replacement.split())
        if len(old) > 70:
            old = old[:67] + "..."
        if len(new) > 70:
            new = new[:67] + "..."
        return f"{self.operator}: `{old}` -> `{new}`"

    def apply(self, source: str) -> str:
        return source[: self.start] + self.replacement + source[self.end :]


COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE,),
    ast.LtE: (ast.Lt,),
    ast.Gt: (ast.GtE,),
    ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}

BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}

ROUNDING_SWAPS = {
    "ROUND_FLOOR": "ROUND_CEILING",
    "ROUND_CEILING": "ROUND_FLOOR",
    "ROUND_DOWN": "ROUND_UP",
    "ROUND_UP": "ROUND_DOWN",
    "ROUND_HALF_EVEN": "ROUND_HALF_UP",
    "ROUND_HALF_UP": "ROUND_HALF_DOWN",
    "ROUND_HALF_DOWN": "ROUND_HALF_UP",
}

#: Calls whose arguments are text for people, not logic.
TEXT_CALLS = {"Notice", "log", "debug", "info", "warning", "error", "exception"}


class _Offsets:
    def __init__(self, source: str) -> None:
        self.starts = [0]
        for line in source.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.lines = source.splitlines()

    def of(self, line: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode()[:col].decode(errors="ignore"))


def _bump_decimal_text(text: str) -> str | None:
    """'0.01' -> '0.02', '1' -> '2', '-3' -> '-2': one unit in the last place, upward."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    unit = Decimal(1).scaleb(value.as_tuple().exponent)  # type: ignore[arg-type]
    return str(value + unit)


class _Collector(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.offsets = _Offsets(source)
        self.mutants: list[Mutant] = []
        self._stmt_line = 0
        self._depth = 0  # functions we are inside
        self._skip_lines = {i + 1 for i, text in enumerate(source.splitlines())
                            if text.rstrip().endswith("# pragma: no mutate")}

    # -- helpers ---------------------------------------------------------------------
    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offsets.of(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offsets.of(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def _add(self, node: ast.AST, operator: str, replacement: str,
             span: tuple[int, int] | None = None) -> None:
        line = node.lineno  # type: ignore[attr-defined]
        if line in self._skip_lines or self._stmt_line in self._skip_lines:
            return
        start, end = span or self._span(node)
        original = self.source[start:end]
        if original == replacement:
            return
        self.mutants.append(Mutant(self.path, line, self._stmt_line or line,
                                   node.end_lineno or line,  # type: ignore[attr-defined]
                                   operator, original, replacement, start, end, self._depth == 0))

    def _replace_node(self, node: ast.AST, new: ast.AST, operator: str) -> None:
        ast.copy_location(new, node)
        self._add(node, operator, ast.unparse(new))

    # -- statements ------------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            outer = self._stmt_line
            self._stmt_line = node.lineno
            self._statement(node)
            super().generic_visit(node)
            self._stmt_line = outer
        else:
            super().generic_visit(node)

    def _statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):  # docstring
                return
            self._add(node, "statement removed", "pass")
        elif isinstance(node, ast.AugAssign) or (isinstance(node, ast.Assign) and all(
                isinstance(t, ast.Attribute | ast.Subscript) for t in node.targets)):
            self._add(node, "statement removed", "pass")
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                self._add(node, "return value removed", "return None")
        elif isinstance(node, ast.Raise):
            self._add(node, "raise removed", "pass")
        elif isinstance(node, ast.Break):
            self._add(node, "break to continue", "continue")
        elif isinstance(node, ast.Continue):
            self._add(node, "continue to break", "break")

    # -- things never mutated --------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self._stmt_line
        self._stmt_line = node.lineno
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(default)
        self._depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self._depth -= 1
        self._stmt_line = outer

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for stmt in node.body:
            self.visit(stmt)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        outer = self._stmt_line
        self._stmt_line = node.lineno
        if node.value is not None:
            self.visit(node.value)
        self._stmt_line = outer

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # message text

    def visit_Import(self, node: ast.Import) -> None:
        return

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        return

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    # -- expressions -----------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else (
            node.func.attr if isinstance(node.func, ast.Attribute) else "")
        if name in TEXT_CALLS:
            return
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            swapped = "max" if node.func.id == "min" else "min"
            self._add(node.func, "min/max swapped", swapped)
        if name == "Decimal" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            bumped = _bump_decimal_text(node.args[0].value)
            if bumped is not None:
                self._add(node.args[0], "constant changed", repr(bumped))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            for new in COMPARE_SWAPS.get(type(op), ()):
                ops = list(node.ops)
                ops[i] = new()
                self._replace_node(node, ast.Compare(node.left, ops, node.comparators),
                                   "comparison changed")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        new_op: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self._replace_node(node, ast.BoolOp(new_op, node.values), "and/or swapped")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self._add(node, "not removed", self.source[slice(*self._span(node.operand))])
        elif isinstance(node.op, ast.USub):
            self._add(node, "sign removed", self.source[slice(*self._span(node.operand))])
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        new = BINOP_SWAPS.get(type(node.op))
        if new is not None:
            self._replace_node(node, ast.BinOp(node.left, new(), node.right), "arithmetic changed")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self._add(node, "await dropped", self.source[slice(*self._span(node.value))])
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        swapped = ROUNDING_SWAPS.get(node.id)
        if swapped is not None and isinstance(node.ctx, ast.Load):
            self._add(node, "rounding mode changed", swapped)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self._add(node, "boolean flipped", repr(not value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            new: int | float = 1 if value == 0 else (value + 1 if isinstance(value, int) else value * 2)
            self._add(node, "constant changed", repr(new))


def mutants_for(path: str, source: str) -> list[Mutant]:
    """Every mutant of one module, in source order."""
    tree = ast.parse(source)
    collector = _Collector(path, source)
    for stmt in tree.body:
        collector.visit(stmt)
    seen: set[tuple[int, int, str]] = set()
    unique: list[Mutant] = []
    for m in sorted(collector.mutants, key=lambda m: (m.start, m.end, m.replacement)):
        if (m.start, m.end, m.replacement) in seen:
            continue
        seen.add((m.start, m.end, m.replacement))
        try:
            ast.parse(m.apply(source))
        except SyntaxError:
            continue
        unique.append(m)
    return unique


def iter_mutants(files: dict[str, str]) -> Iterator[Mutant]:
    for path, source in files.items():
        yield from mutants_for(path, source)
