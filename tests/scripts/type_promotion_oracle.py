#!/usr/bin/env python3
"""PyTorch's type promotion, recorded as the oracle of kiln's TypePromotionTest.

Runs every case (op x operand kinds x dtypes, see cases()) with PyTorch and
prints one line per case:

    CASE -> DTYPE V1 V2 ...      the result's dtype and values (row-major)
    CASE -> error                PyTorch refuses the case

where CASE is the op and its operands: `tensor:DT` (the values 0 1 2 7 as
the first operand, 1 3 2 5 as the second), `scalar:DT` (a zero-dim tensor,
3 or 2), or a number `int:V`, `float:V`, `bool:V`, or `none:` (clamp's
absent bound).

    type_promotion_oracle.py > tests/unit/data/type_promotion.oracle
    type_promotion_oracle.py --check tests/unit/data/type_promotion.oracle

--check compares with a recorded file (exit 1 on a difference, 77 when
PyTorch is not installed). Use Debian's python3-torch (PyTorch 1.13).
"""
import sys

DTYPES = ["bool", "u8", "i64", "f32", "f64"]
NUMBERS = ["bool:true", "int:2", "float:2.5"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "lt", "where"]
BINARY_NUMBER = ["add", "sub", "mul", "div", "eq", "lt", "where"]
NUMBER_FIRST = ["add", "sub", "mul", "div", "where"]  # kiln has no `2 < t`
UNARY = ["neg", "abs", "exp", "sqrt", "sigmoid", "tanh", "relu", "sum", "mean", "max",
         "sin", "cos", "log1p", "expm1", "softplus"]
CLAMP_BOUNDS = [("int:1", "int:5"), ("float:0.5", "none:"), ("none:", "float:2.5"),
                ("int:-1", "int:300"), ("bool:false", "bool:true"), ("none:", "none:")]
INPLACE = ["add_", "sub_", "mul_", "div_"]
EXPONENTS = ["int:0", "int:2", "int:-1", "float:0.5", "bool:true"]
VALUES = ([0, 1, 2, 7], [1, 3, 2, 5])
SCALARS = (3, 2)
MASK = [True, False, True, False]


def cases():
    operands = [f"tensor:{d}" for d in DTYPES] + [f"scalar:{d}" for d in DTYPES]
    for op in BINARY:
        for a in operands:
            for b in operands:
                yield [op, a, b]
    for op in BINARY_NUMBER:
        for d in DTYPES:
            for n in NUMBERS:
                yield [op, f"tensor:{d}", n]
                if op in NUMBER_FIRST:
                    yield [op, n, f"tensor:{d}"]
    for op in UNARY:
        for d in DTYPES:
            yield [op, f"tensor:{d}"]
    for d in DTYPES:
        for lo, hi in CLAMP_BOUNDS:
            yield ["clamp", f"tensor:{d}", lo, hi]
    for d in DTYPES:
        for e in EXPONENTS:
            yield ["pow", f"tensor:{d}", e]
    for op in INPLACE:
        for a in DTYPES:
            for b in [f"tensor:{d}" for d in DTYPES] + NUMBERS:
                yield [op, f"tensor:{a}", b]


def run(case):
    import torch

    dtypes = {"bool": torch.bool, "u8": torch.uint8, "i64": torch.int64,
              "f32": torch.float32, "f64": torch.float64}

    def operand(spec, position):
        kind, value = spec.split(":")
        if kind == "tensor":
            return torch.tensor(VALUES[position]).to(dtypes[value])
        if kind == "scalar":
            return torch.tensor(SCALARS[position]).to(dtypes[value])
        if kind == "none":
            return None
        return {"int": int, "float": float, "bool": lambda v: v == "true"}[kind](value)

    op, args = case[0], [operand(s, i) for i, s in enumerate(case[1:])]
    if op == "where":
        return torch.where(torch.tensor(MASK), *args)
    if op in ("maximum", "minimum"):
        return getattr(torch, op)(*args)
    if op in ("eq", "lt"):
        a, b = args
        return a == b if op == "eq" else a < b
    if op in ("add", "sub", "mul", "div"):
        a, b = args
        return {"add": lambda: a + b, "sub": lambda: a - b,
                "mul": lambda: a * b, "div": lambda: a / b}[op]()
    if op == "pow":
        return torch.pow(*args)
    if op == "clamp":
        return torch.clamp(*args)
    if op == "softplus":
        return torch.nn.functional.softplus(args[0])
    if op in INPLACE:
        return getattr(args[0], op)(args[1])
    return getattr(torch, op)(args[0])


def line(case):
    names = {"torch.bool": "bool", "torch.uint8": "u8", "torch.int64": "i64",
             "torch.float32": "f32", "torch.float64": "f64"}
    try:
        result = run(case)
    except RuntimeError:
        return " ".join(case) + " -> error"
    values = [repr(float(v)) for v in result.reshape(-1).tolist()]
    return " ".join(case + ["->", names[str(result.dtype)]] + values)


def main():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("type_promotion_oracle: PyTorch is not installed (python3-torch)", file=sys.stderr)
        return 77
    lines = [line(c) for c in cases()]
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            recorded = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
        if recorded != lines:
            diff = [f"- {r}\n+ {n}" for r, n in zip(recorded, lines) if r != n]
            print(f"{sys.argv[2]} differs from PyTorch {torch.__version__} "
                  f"({len(recorded)} vs {len(lines)} lines):\n" + "\n".join(diff[:20]))
            return 1
        print(f"{len(lines)} cases agree with PyTorch {torch.__version__}")
        return 0
    print(f"# PyTorch {torch.__version__}'s results, from tests/scripts/type_promotion_oracle.py")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
