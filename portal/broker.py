"""The embedded default's broker (`filesystem://`, DESIGN.md): kombu's filesystem transport
with each message written whole before the worker can see it.

kombu (5.7) creates the message file in the queue folder and then writes into it; a worker
listing the folder in between reads an empty file and stops on a JSONDecodeError, which
ends `make run`'s worker. Here the message is written under a name the worker does not
read, then renamed into place, which is atomic on one file system."""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The worker reads "<stamp>_<id>.<queue>.msg" only: a leading dot hides this one.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """`filesystem://` means this transport from now on (the Celery app calls it)."""
    TRANSPORT_ALIASES["filesystem"] = "portal.broker:Transport"
