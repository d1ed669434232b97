"""Row locks go through `portal.locks` (issue 13, finding 4): a `select_for_update()` joined
to another table loses its row on PostgreSQL when a concurrent request changed the foreign
key it joins on. `portal.locks.lock` checks its joined read against the keys the locked row
holds and locks by key alone when they disagree; nothing else takes a joined lock."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "legal", "portal", "privacy", "subscriptions", "support")
LOOKUPS = {"exact", "in", "gt", "gte", "lt", "lte", "isnull", "range", "startswith", "contains"}


def chain(node: ast.expr) -> list[ast.Call]:
    """The calls of `a.b(...).c(...).d(...)`, outermost first."""
    calls = []
    while True:
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return calls


def joins(lookup: str) -> bool:
    """`price__plan__code` follows relations; `decided_at__gte` does not."""
    parts = lookup.split("__")
    if parts[-1] in LOOKUPS:
        parts.pop()
    return len(parts) > 1


def joined_locks(source: str) -> list[int]:
    """The lines of `select_for_update()` chains that join another table."""
    tree = ast.parse(source)
    inner = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inner:
            continue  # only whole chains
        calls = [c for c in chain(node) if isinstance(c.func, ast.Attribute)]
        names = {c.func.attr for c in calls}  # type: ignore[attr-defined]
        if "select_for_update" not in names:
            continue
        lookups = [
            kw.arg
            for c in calls
            if c.func.attr in ("get", "filter", "exclude")  # type: ignore[attr-defined]
            for kw in c.keywords
            if kw.arg and joins(kw.arg)
        ]
        if names & {"select_related", "prefetch_related"} or lookups:
            found.append(node.lineno)
    return found


def test_no_row_lock_is_taken_through_a_join():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and path != ROOT / "portal" / "locks.py"
        for line in joined_locks(path.read_text())
    ]
    assert offenders == []


def test_the_check_finds_a_joined_lock():
    joined = 'S.objects.select_for_update(of=("self",)).select_related("price").get(pk=1)'
    through = "S.objects.select_for_update().filter(price__plan__code='pro', pk__in=[1])"
    assert joined_locks(joined) == [1]
    assert joined_locks(through) == [1]
    assert joined_locks("S.objects.select_for_update().get(pk=1)") == []
    assert joined_locks("S.objects.select_for_update().filter(at__gte=1, price=p)") == []


def test_a_locked_read_whose_joined_row_is_not_the_one_keyed_is_not_trusted():
    """PostgreSQL's re-check after a wait can hand back the locked row's new key beside the
    old joined row (or none, on an outer join): `lock` then locks by key and reads again."""
    from accounts.models import User
    from portal.locks import _joined_as_keyed
    from subscriptions.models import Plan, Price, Subscription

    plan = Plan(pk=1)
    old, new = Price(pk=1, plan=plan), Price(pk=2, plan=plan)
    sub = Subscription(pk=1, user=User(pk=1), plan=plan, price=new, scheduled_price=None)
    assert _joined_as_keyed(sub, ["price", "plan"])
    assert _joined_as_keyed(sub, ["scheduled_price", "plan"])
    sub._state.fields_cache["price"] = old  # the key says 2, the joined row is 1
    assert not _joined_as_keyed(sub, ["price", "plan"])
    sub.scheduled_price_id = 2  # a key set since, with no row joined (an outer join)
    sub._state.fields_cache["scheduled_price"] = None
    assert not _joined_as_keyed(sub, ["scheduled_price"])
