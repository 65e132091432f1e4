"""The package's import rules (README, "Architecture"), checked on the source tree.

Every ``import`` of rnnkit's own modules is read from the source (those inside functions too),
so a rule broken anywhere fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rnnkit"

# Which part may import which: a part imports only parts of a lower rank (and itself).
RANKS = {
    "__init__": 0,  # the version
    "_validation": 0,
    "_files": 0,
    "_lazy": 0,
    "_cpu": 0,  # the CPU's name and vector extensions (/proc/cpuinfo)  # names of a package imported on first use
    "runtime": 0,
    "_tracing": 0,  # export mode (interop): exporters and compilers see plain ops
    "config": 1,  # task settings: dataclass fields -> validation, CLI options, JSON
    "text": 1,
    "functional": 1,
    "datasets": 2,  # may read text's tokenizer
    "kernels": 2,
    "initializers": 2,  # Keras initializers, on raw tensors
    "regularizers": 2,  # Keras weight penalties, on raw tensors
    "constraints": 2,  # Keras weight constraints, on raw tensors
    "layers": 3,
    "utils": 4,
    "distributed": 4,  # data-parallel fit on torch.distributed (interop)
    "models": 5,
    "preprocessing": 5,  # Keras's keras.preprocessing path: text.legacy, pad_sequences, utils
    "reporting": 5,
    "losses": 6,  # Keras's import paths keras.losses / metrics / callbacks: re-exports of models
    "metrics": 6,
    "callbacks": 6,
    "optimizers": 6,  # keras.optimizers: re-exports of models.optimizers (helper "keras")
    "tasks": 6,
    "interop": 6,  # weights to and from torch.nn.LSTM / GRU / RNN
    "export": 7,  # ONNX files (the translator's encoder / decoder step: reads tasks)
    "lab": 6,
    "bench": 6,  # rnnkit bench: the seed model against nn.LSTM, one process per peer
    "cli": 8,  # the command: may serve the web app
    "web": 7,
}
KERNELS_PUBLIC = {"rnnkit.kernels", "rnnkit.kernels.dispatch", "rnnkit.kernels.build"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of an rnnkit module in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("rnnkit")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("rnnkit"):
                continue
            for alias in node.names:  # `from . import lstm` imports the module rnnkit.x.lstm
                sub = f"{target}.{alias.name}"
                is_module = (SRC / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    SRC / sub.replace(".", "/")
                ).is_dir()
                found.append((node.lineno, sub if is_module else target))
    return found


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_rank():
    missing = {part(module_name(p)) for p in SOURCES} - RANKS.keys()
    assert not missing, f"add these parts of rnnkit to RANKS (and the README): {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path):
    here = part(module_name(path))
    for line, target in imports_of(path):
        there = part(target)
        assert there == here or RANKS[there] < RANKS[here], (
            f"{path.relative_to(SRC)}:{line} imports {target}: {here} may not import {there}"
        )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_kernels_import_kernel_modules(path):
    if part(module_name(path)) == "kernels":
        return
    for line, target in imports_of(path):
        if target.startswith("rnnkit.kernels"):
            assert target in KERNELS_PUBLIC, (
                f"{path.relative_to(SRC)}:{line} imports {target}; outside rnnkit.kernels use "
                "rnnkit.kernels.dispatch"
            )


def test_no_import_cycle():
    graph = {module_name(p): {t for _, t in imports_of(p)} for p in SOURCES}
    for node, targets in graph.items():  # a module imports its package's __init__ too
        graph[node] = {t for t in targets if t in graph and t != node}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                if not all(c.startswith(cycle[0] + ".") or c == cycle[0] for c in cycle):
                    pytest.fail("import cycle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
