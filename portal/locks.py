"""Row locks for the services: one locked read, checked against the keys it holds.

PostgreSQL makes a `SELECT ... FOR UPDATE` that waited for another transaction re-check its
row against the row's new version, but against the joined rows' old versions. A lock taken
with `select_related` on a foreign key the other transaction changed (a subscription's price
after an upgrade) therefore finds no row (an inner join: `DoesNotExist`, a 500 in issue 13,
finding 4) or the row without its new related one (an outer join). So the locked read's
related rows are checked against the keys the locked row now holds; when they disagree, or no
row came back, the row is locked by primary key alone, which has nothing to re-check but the
key, and the related rows are read afterwards, under the lock, as they now are. Nothing
changed underneath (the usual case) costs one query."""

from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

M = TypeVar("M", bound=models.Model)


def lock(model: type[M], pk: object, *related: str) -> M:
    """Lock `model`'s row `pk` until the end of the transaction, then read it with `related`
    (`select_related` names). Call inside `transaction.atomic()`; raises `DoesNotExist` only
    when the row is really gone."""
    manager = model._default_manager
    if related:
        try:
            row = manager.select_for_update(of=("self",)).select_related(*related).get(pk=pk)
        except ObjectDoesNotExist:
            pass  # gone, or a joined row no longer matches: locked by key alone below
        else:
            if all(_joined_as_keyed(row, path.split("__")) for path in related):
                return row
    manager.select_for_update().filter(pk=pk).values_list("pk", flat=True).get()
    return manager.select_related(*related).get(pk=pk)


def _joined_as_keyed(row: models.Model | None, path: list[str]) -> bool:
    """Whether each row joined along `path` is the one its foreign key names now."""
    if row is None or not path:
        return True
    field = row._meta.get_field(path[0])
    related = getattr(row, path[0], None)
    joined = related.pk if related is not None else None
    if isinstance(field, models.ForeignKey) and getattr(row, field.attname) != joined:
        return False  # a forward key that names another row than the one joined
    return _joined_as_keyed(related, path[1:])


def lock_pk(model: type[models.Model], pk: object) -> bool:
    """Lock the row if it still exists; False when it was deleted meanwhile."""
    found = model._default_manager.select_for_update().filter(pk=pk).values_list("pk", flat=True)
    return bool(list(found))
