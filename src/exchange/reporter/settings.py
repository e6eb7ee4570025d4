"""What an operator sets for the reporter (journal into SQL): plain values, one default each."""

from typing import Annotated

import msgspec
from msgspec import Meta


class ReporterSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    db_url: Annotated[
        str,
        Meta(
            description="the report database, SQLAlchemy URL (default $EXCHANGE_REPORT_DB or "
            "<data dir>/reports.db)",
            extra={"flag": "--report-db-url", "env": "EXCHANGE_REPORT_DB", "secret": True},
        ),
    ] = ""
    max_records: Annotated[int, Meta(ge=1, description="records per transaction")] = 2_000
