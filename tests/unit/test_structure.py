"""The import rules of ``service/``, read from the source with ``ast`` (nothing is imported).

- aiokafka is imported only by the modules of ``service/kafka/`` and by the composition
  root, ``service/app.py``;
- the domain packages (rules, prioritizer, sla, sentiment) do not load aiokafka,
  ``service.kafka``, prometheus_client, ``service.observability.metrics`` or asyncio,
  neither themselves nor through the other modules of ``service/`` they import;
- the modules of ``service/`` import one another without a cycle.

The package docstrings that state these rules (``service/kafka/__init__.py``, those of
the domain packages) name this test.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service"

#: Modules that may import aiokafka: the Kafka package and the composition root.
KAFKA_PACKAGE = "service.kafka"
COMPOSITION_ROOT = "service.app"
DOMAIN_PACKAGES = ("service.rules", "service.prioritizer", "service.sla", "service.sentiment")
#: What domain code must not load: the Kafka client and the Kafka side, the metrics (and
#: their client library), the event loop.
FORBIDDEN_IN_DOMAIN = (
    "aiokafka",
    "service.kafka",
    "prometheus_client",
    "service.observability.metrics",
    "asyncio",
)
#: Import cycles between modules of ``service/`` that are tolerated, each as the sorted
#: names of its modules. None today: keep it empty.
ALLOWED_CYCLES: frozenset[frozenset[str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SERVICE.rglob("*.py"))}


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _TopLevelImports(ast.NodeVisitor):
    """The import statements that run when the module is imported: not those in
    functions (they run when called), not those under ``if TYPE_CHECKING:`` (never)."""

    def __init__(self) -> None:
        self.found: list[ast.Import | ast.ImportFrom] = []

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.found.append(node)

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        pass

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for stmt in node.orelse:
                self.visit(stmt)
        else:
            self.generic_visit(node)


def _import_nodes(tree: ast.Module, top_level: bool) -> list[ast.Import | ast.ImportFrom]:
    if not top_level:
        return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    visitor = _TopLevelImports()
    visitor.visit(tree)
    return visitor.found


def imports(module: str, top_level: bool = False) -> set[str]:
    """The modules ``module`` imports, by absolute name: ``from a.b import c`` is ``a.b.c``
    when that is a module of ``service/``, else ``a.b``."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(TREES[module], top_level):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            found.add(sub if sub in MODULES else base)
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def loads(module: str) -> dict[str, str | None]:
    """Every module that importing ``module`` may load (functions' imports included:
    they run sooner or later), each with the module that imports it (None: ``module``),
    following the imports of the modules of ``service/`` and their parent packages."""
    seen: dict[str, str | None] = {module: None}
    queue = deque([module])
    while queue:
        current = queue.popleft()
        for name in imports(current):
            for target in [*_parents(name), name]:
                if target not in seen:
                    seen[target] = current
                    if target in MODULES:
                        queue.append(target)
    return seen


def _chain(seen: dict[str, str | None], name: str) -> str:
    chain = [name]
    while (up := seen[chain[-1]]) is not None:
        chain.append(up)
    return " ← ".join(chain)


def test_the_source_is_read() -> None:
    """The parsing finds what is known to be there (so the rules below are not vacuous)."""
    assert len(MODULES) > 40
    assert "aiokafka" in imports("service.kafka.clients")
    assert "service.rules.matcher" in imports("service.rules.engine", top_level=True)
    assert "py3langid.langid" in imports("service.rules.language")  # in a function
    assert "py3langid.langid" not in imports("service.rules.language", top_level=True)
    assert "service.app" in imports("service.cli")  # in a function


def test_aiokafka_is_imported_only_under_service_kafka_and_by_the_composition_root() -> None:
    importers = {
        module
        for module in MODULES
        if any(_in(name, "aiokafka") for name in imports(module))
        and not (_in(module, KAFKA_PACKAGE) or module == COMPOSITION_ROOT)
    }
    assert not importers, (
        f"aiokafka imported outside service/kafka/ and service/app.py: {importers}"
    )


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_load_no_kafka_metrics_or_event_loop(package: str) -> None:
    members = [m for m in MODULES if _in(m, package)]
    assert members
    wrong: dict[str, str] = {}  # "what ← its importer" → the whole chain, from a member
    for module in members:
        seen = loads(module)
        for name in seen:
            if any(_in(name, forbidden) for forbidden in FORBIDDEN_IN_DOMAIN):
                wrong.setdefault(f"{name} ← {seen[name]}", _chain(seen, name))
    assert not wrong, "domain code loads:\n" + "\n".join(
        f"{edge}   ({chain})" for edge, chain in sorted(wrong.items())
    )


#: The notify role (escalations → Alertmanager) is async HTTP, not Kafka: none of its
#: modules loads aiokafka or ``service.kafka`` (``service.kafka.notify_runtime`` drives it),
#: and its mapping of an escalation to an alert is as pure as domain code.
NOTIFY_PACKAGE = "service.notify"
PURE_NOTIFY_MODULES = ("service.notify.alerts",)


def _loaded_forbidden(module: str, forbidden: tuple[str, ...]) -> list[str]:
    seen = loads(module)
    return [_chain(seen, n) for n in seen if any(_in(n, f) for f in forbidden)]


def test_notify_loads_no_kafka_and_its_mapping_is_pure() -> None:
    members = [m for m in MODULES if _in(m, NOTIFY_PACKAGE)]
    assert set(PURE_NOTIFY_MODULES) < set(members)
    wrong = [
        chain
        for module in members
        for chain in _loaded_forbidden(module, ("aiokafka", KAFKA_PACKAGE))
    ]
    wrong += [
        chain
        for module in PURE_NOTIFY_MODULES
        for chain in _loaded_forbidden(module, FORBIDDEN_IN_DOMAIN)
    ]
    assert not wrong, "service/notify loads:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module, or of one module that
    imports itself (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(frozenset(component))
    return found


def import_graph() -> dict[str, set[str]]:
    """module → the modules of ``service/`` it imports when it is imported (top-level
    imports: those in functions run later and those under ``if TYPE_CHECKING:`` never)."""
    return {m: {n for n in imports(m, top_level=True) if n in MODULES} for m in MODULES}


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    assert sorted(map(sorted, _cycles(graph))) == [["a", "b", "c"], ["d"]]


def test_no_import_cycle_between_modules_of_service() -> None:
    graph = import_graph()
    cycles = set(_cycles(graph))
    assert cycles <= ALLOWED_CYCLES, f"import cycles: {[sorted(c) for c in cycles]}"
    assert not ALLOWED_CYCLES - cycles, "an allowed cycle is gone: remove it from the list"
