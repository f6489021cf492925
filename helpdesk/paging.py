"""Pages of long lists whose total is counted only up to a cap.

An exact `COUNT(*)` reads every row that matches: at a million tickets it cost more than the rest of a
list page together. Above the cap a list says "10,000+" instead (as Zendesk and Gmail do); the pages
beyond the cap are not linked (narrowing the filters or searching finds what is there).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from helpdesk.search import capped_count

#: Totals are exact up to this many rows.
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A paginator whose `count` stops at `cap + 1`; `capped` says the list is longer than `cap`."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, cap=COUNT_CAP):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, list):
            return len(self.object_list)
        return capped_count(self.object_list, self.cap)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_display(self) -> str:
        """ "1,234", or "10,000+" when there are more than the cap."""
        return f"{self.cap:,}+" if self.capped else f"{self.count:,}"
