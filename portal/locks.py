"""Row locks for the services: by primary key alone, then the related rows.

PostgreSQL makes a `SELECT ... FOR UPDATE` that waited for another transaction re-check its
row against the row's new version, but against the joined rows' old versions. A lock taken
with `select_related` on a foreign key the other transaction changed (a subscription's price
after an upgrade) therefore finds no row at all: `DoesNotExist`, a 500 (issue 13, finding 4).
Locking `WHERE pk = %s` alone has nothing to re-check but the key; the related rows are read
afterwards, under the lock, as they now are."""

from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def lock(model: type[M], pk: object, *related: str) -> M:
    """Lock `model`'s row `pk` until the end of the transaction, then read it with `related`
    (`select_related` names). Call inside `transaction.atomic()`; raises `DoesNotExist` only
    when the row is really gone."""
    manager = model._default_manager
    manager.select_for_update().filter(pk=pk).values_list("pk", flat=True).get()
    return manager.select_related(*related).get(pk=pk)


def lock_pk(model: type[models.Model], pk: object) -> bool:
    """Lock the row if it still exists; False when it was deleted meanwhile."""
    found = model._default_manager.select_for_update().filter(pk=pk).values_list("pk", flat=True)
    return bool(list(found))
