"""The first-party import graph has no cycle (issue 12): imports go one way, so each layer
can be read, tested and changed with only what is below it in mind.

Function-level imports count too: an import hidden in a function is still a cycle.
"""

import grimp

PACKAGES = ("accounts", "subscriptions", "support", "legal", "privacy", "portal", "backoffice")


def import_cycles(graph: grimp.ImportGraph) -> list[str]:
    """The strongly connected components of more than one module (Tarjan), each as the
    shortest import chain around it, for the message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def edges(module: str) -> list[str]:
        return sorted(m for m in graph.find_modules_directly_imported_by(module) if m in index_all)

    index_all = set(graph.modules)

    def visit(root: str) -> None:
        nonlocal counter
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges(child))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for module in sorted(index_all):
        if module not in index:
            visit(module)
    cycles = []
    for component in components:
        first, *rest = component
        back = min(
            (graph.find_shortest_chain(importer=other, imported=first) or () for other in rest),
            key=len,
        )
        there = graph.find_shortest_chain(importer=first, imported=back[0]) if back else ()
        chain = " -> ".join([*(there or (first,)), *back[1:]])
        cycles.append(f"{chain}  (one cycle among: {', '.join(component)})")
    return cycles


def test_the_first_party_packages_import_each_other_without_a_cycle():
    graph = grimp.build_graph(*PACKAGES)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
