"""Pull STIX objects from a TAXII 2.1 collection with `taxii2-client`, page by page.

taxii2-client is synchronous (requests): the service runs `fetch_taxii_bundle` in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from stix2.utils import parse_into_datetime
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection, as_pages

from acso_shared.errors import Upstream

from .models import TaxiiSource

DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"


@dataclass(frozen=True, slots=True)
class TaxiiFetch:
    """All objects added after the watermark, as one bundle, and the next watermark to ask from."""

    bundle: dict[str, Any]
    pages: int
    date_added_last: datetime | None


def fetch_taxii_bundle(source: TaxiiSource) -> TaxiiFetch:
    """Get every object added to the collection after `source.added_after`, following `next` while `more`.

    The whole result is one bundle so that relationships on a later page still connect indicators
    from an earlier one. The next watermark is the server's `X-TAXII-Date-Added-Last` (TAXII 2.1
    section 3.4.3), which taxii2-client does not surface, hence the response hook.
    Raises `Upstream("taxii_unavailable")` when the server fails or answers outside the spec.
    """
    added_last: list[str] = []

    def capture(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        value = response.headers.get(DATE_ADDED_LAST)
        if value:
            added_last.append(value)

    password = source.password.get_secret_value() if source.password else None
    objects: list[Any] = []
    pages = 0
    try:
        collection = Collection(source.collection_url, user=source.username, password=password)
        # `_conn` is the client's requests wrapper; its session is the only place the headers exist.
        collection._conn.session.hooks["response"].append(capture)
        filters: dict[str, Any] = {}
        if source.added_after is not None:
            filters["added_after"] = source.added_after
        for envelope in as_pages(collection.get_objects, per_request=source.page_size, **filters):
            pages += 1
            objects.extend(envelope.get("objects", []))
    except (requests.RequestException, TAXIIServiceException, ValueError) as err:
        raise Upstream("taxii_unavailable", f"TAXII collection {source.collection_url}: {err}") from err
    last = max((parse_into_datetime(v) for v in added_last), default=None)
    return TaxiiFetch(bundle={"type": "bundle", "objects": objects}, pages=pages, date_added_last=last)
