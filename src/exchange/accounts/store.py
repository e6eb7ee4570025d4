"""Applications, accounts and credentials in SQL (SQLite by default, PostgreSQL by URL).

SQLAlchemy Core, one code path for both databases. The store decides
nothing about trading, and account ids are the engine's: the gateway first
opens the account in the engine under the application's `account_owner`
reference (a journaled command that a retry repeats harmlessly), then
approving records the engine's account id and its first credential here.
Secrets are stored only as HMAC-SHA256(pepper, secret) (credentials.py); the
pepper is a key file in the data directory, so every process that shares
this database must read the same file (as with `gateway.key`).
"""

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from exchange.accounts.credentials import (
    SecretHasher,
    new_account_owner,
    new_client_id,
    new_client_secret,
)
from exchange.accounts.keyfile import load_or_create_key
from exchange.accounts.kyc import Application, KycStatus, SanctionsList, Screening, screen
from exchange.accounts.throttle import FailureThrottle
from exchange.migrations import ACCOUNTS

metadata = sa.MetaData()

applications = sa.Table(
    "kyc_applications",
    metadata,
    sa.Column("application_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("full_name", sa.String(100), nullable=False),
    sa.Column("national_id", sa.String(20), nullable=False, index=True),
    sa.Column("date_of_birth", sa.Date, nullable=True),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("findings", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decision_note", sa.String(500), nullable=True),
    sa.Column("account_owner", sa.String(64), nullable=True, unique=True, index=True),
    sa.Index(
        "one_approved_application_per_identity",
        "national_id",
        unique=True,
        sqlite_where=sa.text("status = 'approved'"),
        postgresql_where=sa.text("status = 'approved'"),
    ),
    sqlite_autoincrement=True,
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "application_id",
        sa.Integer,
        sa.ForeignKey("kyc_applications.application_id"),
        nullable=True,
        unique=True,
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(200), nullable=False),
    sa.Column("scopes", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)

credential_accounts = sa.Table(
    "credential_accounts",
    metadata,
    sa.Column("client_id", sa.String(64), sa.ForeignKey("credentials.client_id"), primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id"), primary_key=True),
)


class IdentityTakenError(Exception):
    """Another application with this national ID was approved: one account per person."""


class ApplicationNotPendingError(Exception):
    """Only an application that waits for review can be approved or rejected."""


class AccountTakenError(Exception):
    """The engine's account is recorded for another application here: the accounts database
    and the journal disagree (review M1). Nothing was approved; an operator must look."""


@dataclass(frozen=True)
class StoredApplication:
    application_id: int
    application: Application
    status: KycStatus
    findings: list[dict[str, str]]


@dataclass(frozen=True)
class IssuedCredential:
    """What the approve response shows once: the secret is not stored in clear."""

    account_id: int
    client_id: str
    client_secret: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Credential:
    client_id: str
    scopes: frozenset[str]
    accounts: tuple[int, ...]


@dataclass(frozen=True)
class Attempt:
    """The outcome of a credential check: the credential, or None and maybe a wait."""

    credential: Credential | None
    retry_after: float = 0.0
    """> 0: too many recent failures for this client id; the secret was not checked."""


PEPPER_FILE = "credentials.pepper"


def default_pepper_file(url: str) -> Path:
    """Beside a SQLite database file; else in $EXCHANGE_DATA_DIR (or ./var), like the CLI."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).parent / PEPPER_FILE
    return Path(os.environ.get("EXCHANGE_DATA_DIR", "var")) / PEPPER_FILE


def _now() -> datetime:
    return datetime.now(UTC)


class AccountStore:
    def __init__(
        self,
        url: str = "sqlite:///var/accounts.db",
        *,
        pepper: bytes | None = None,
        pepper_file: Path | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        """`pepper` (tests) or the key file `pepper_file` (default: `default_pepper_file(url)`)."""
        if pepper is None:
            pepper = load_or_create_key(pepper_file or default_pepper_file(url))
        self.hasher = SecretHasher(pepper)
        self.throttle = FailureThrottle() if throttle is None else throttle
        self.engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        ACCOUNTS.require(self.engine)  # migrated before any service starts

    # ----------------------------------------------------------- applications

    def submit(
        self, application: Application, *, today: date, sanctions: SanctionsList
    ) -> tuple[int, Screening]:
        """Screen and record an application; returns its id and the screening."""
        with self.engine.begin() as conn:
            seen = conn.execute(
                sa.select(sa.func.count())
                .select_from(applications)
                .where(applications.c.national_id == application.national_id)
                .where(applications.c.status != KycStatus.REJECTED.value)
            ).scalar_one()
            screening = screen(
                application, today=today, sanctions=sanctions, identity_seen_before=seen > 0
            )
            findings = [{"reason": f.reason.value, "field": f.field} for f in screening.findings]
            result = conn.execute(
                applications.insert().values(
                    full_name=application.full_name,
                    national_id=application.national_id,
                    date_of_birth=application.date_of_birth,
                    address=application.address,
                    email=application.email,
                    phone=application.phone,
                    status=screening.status.value,
                    findings=json.dumps(findings),
                    created_at=_now(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0]), screening

    def applications(self, status: KycStatus, limit: int = 100) -> list[StoredApplication]:
        query = (
            sa.select(applications)
            .where(applications.c.status == status.value)
            .order_by(applications.c.application_id)
            .limit(min(limit, 1000))
        )
        with self.engine.connect() as conn:
            return [self._row(row) for row in conn.execute(query)]

    @staticmethod
    def _row(row: sa.Row[tuple[object, ...]]) -> StoredApplication:
        m = row._mapping
        return StoredApplication(
            application_id=int(m["application_id"]),
            application=Application(
                m["full_name"],
                m["national_id"],
                m["date_of_birth"],
                m["address"],
                m["email"],
                m["phone"],
            ),
            status=KycStatus(m["status"]),
            findings=json.loads(m["findings"]),
        )

    def _decide(
        self, conn: sa.Connection, application_id: int, status: KycStatus, officer: str, note: str
    ) -> None:
        updated = conn.execute(
            applications.update()
            .where(applications.c.application_id == application_id)
            .where(applications.c.status == KycStatus.PENDING_REVIEW.value)
            .values(
                status=status.value,
                decided_at=_now(),
                decided_by=officer[:64],
                decision_note=note[:500],
            )
        )
        if updated.rowcount != 1:
            raise ApplicationNotPendingError(f"application {application_id} is not pending review")

    def status(self, application_id: int) -> KycStatus | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(applications.c.status).where(
                    applications.c.application_id == application_id
                )
            ).scalar_one_or_none()
        return None if value is None else KycStatus(value)

    def account_owner(self, application_id: int) -> str:
        """The application's owner reference for the engine, made once and kept.

        A random reference (not the application id, which a restored or recreated
        database gives again): the engine binds the account it opens to it, so every
        approval attempt of this application asks for the same account, and no other
        application can name it (review M1). Committed before the engine is asked.
        """
        with self.engine.begin() as conn:
            conn.execute(
                applications.update()
                .where(applications.c.application_id == application_id)
                .where(applications.c.account_owner.is_(None))
                .values(account_owner=new_account_owner())
            )
            owner = conn.execute(
                sa.select(applications.c.account_owner).where(
                    applications.c.application_id == application_id
                )
            ).scalar_one()
        return str(owner)

    def approve(self, application_id: int, account_id: int, officer: str) -> IssuedCredential:
        """Record the engine's account and its first credential (trade + read), in one
        transaction.

        `account_id` is the account the engine opened (or had opened) for this
        application's `account_owner`, so the caller opens it *before* approving here,
        and a failure between the two never loses the one-time secret: a retry gets
        the same account. An account already recorded for another application is
        refused with AccountTakenError, never shared.
        """
        scopes = frozenset({"trade", "read"})
        secret = new_client_secret()
        client_id = new_client_id()
        secret_hash = self.hasher.hash(secret)
        with self.engine.begin() as conn:
            if self._identity_taken(conn, application_id):
                raise IdentityTakenError(application_id)
            self._decide(conn, application_id, KycStatus.APPROVED, officer, "approved")
            holder = conn.execute(
                sa.select(accounts.c.application_id).where(accounts.c.account_id == account_id)
            ).first()
            if holder is not None:  # rolls the decision back
                raise AccountTakenError(
                    f"account {account_id} is recorded for application {holder.application_id}"
                )
            conn.execute(
                accounts.insert().values(
                    account_id=account_id, application_id=application_id, created_at=_now()
                )
            )
            self._insert_credential(conn, client_id, secret_hash, scopes, (account_id,))
        return IssuedCredential(account_id, client_id, secret, scopes)

    def reject(self, application_id: int, officer: str, note: str) -> None:
        with self.engine.begin() as conn:
            self._decide(conn, application_id, KycStatus.REJECTED, officer, note)

    # ------------------------------------------------------------ credentials

    @staticmethod
    def _insert_credential(
        conn: sa.Connection,
        client_id: str,
        secret_hash: str,
        scopes: frozenset[str],
        account_ids: tuple[int, ...],
    ) -> None:
        """Inside the caller's transaction."""
        conn.execute(
            credentials.insert().values(
                client_id=client_id,
                secret_hash=secret_hash,
                scopes=" ".join(sorted(scopes)),
                created_at=_now(),
                revoked=False,
            )
        )
        for account_id in account_ids:
            conn.execute(
                credential_accounts.insert().values(client_id=client_id, account_id=account_id)
            )

    def identity_taken(self, application_id: int) -> bool:
        """Whether another application with the same national ID was approved already."""
        with self.engine.connect() as conn:
            return self._identity_taken(conn, application_id)

    @staticmethod
    def _identity_taken(conn: sa.Connection, application_id: int) -> bool:
        national_id = (
            sa.select(applications.c.national_id)
            .where(applications.c.application_id == application_id)
            .scalar_subquery()
        )
        taken = conn.execute(
            sa.select(applications.c.application_id)
            .where(applications.c.national_id == national_id)
            .where(applications.c.status == KycStatus.APPROVED.value)
            .where(applications.c.application_id != application_id)
            .limit(1)
        ).first()
        return taken is not None

    def create_credential(
        self,
        scopes: frozenset[str],
        account_ids: tuple[int, ...] = (),
        *,
        client_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[str, str]:
        """A credential for a broker (several accounts) or an operator (admin scopes).

        With `client_id` and `secret` given (the configured first admin), it is
        created if that client id does not exist yet, and otherwise takes that
        secret: rotating the configured secret takes effect at the next start,
        and the old one stops working (review H5).
        """
        client_id = client_id or new_client_id()
        given = secret is not None
        secret = secret or new_client_secret()
        secret_hash = self.hasher.hash(secret)
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(credentials.c.client_id).where(credentials.c.client_id == client_id)
            ).first()
            if exists is None:
                self._insert_credential(conn, client_id, secret_hash, scopes, account_ids)
            elif given:
                conn.execute(
                    credentials.update()
                    .where(credentials.c.client_id == client_id)
                    .values(secret_hash=secret_hash)
                )
        return client_id, secret

    def authenticate(self, client_id: str, secret: str) -> Credential | None:
        """The credential if the secret matches and it is not revoked, else None."""
        return self.check(client_id, secret).credential

    def check(self, client_id: str, secret: str) -> Attempt:
        """Check a secret: one indexed read and one HMAC, the same for unknown client ids.

        A client id with too many recent failures is refused before its
        secret is looked at (throttle.py). A hash from an earlier version
        (Argon2) is replaced by the current scheme after it first matches.
        """
        if not client_id or len(client_id) > 64:
            client_id = ""
        wait = self.throttle.wait(client_id)
        if wait:
            return Attempt(None, wait)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(credentials.c.secret_hash, credentials.c.scopes, credentials.c.revoked)
                .where(credentials.c.client_id == client_id)
            ).first()  # fmt: skip
            verdict = self.hasher.verify(None if row is None else row.secret_hash, secret)
            if row is None or row.revoked or not verdict.ok:
                self.throttle.failed(client_id)
                return Attempt(None)
            owned = conn.execute(
                sa.select(credential_accounts.c.account_id)
                .where(credential_accounts.c.client_id == client_id)
                .order_by(credential_accounts.c.account_id)
            ).scalars()
            credential = Credential(client_id, frozenset(row.scopes.split()), tuple(owned))
        self.throttle.succeeded(client_id)
        if verdict.rehash:
            self._rehash(client_id, row.secret_hash, secret)
        return Attempt(credential)

    def _rehash(self, client_id: str, old_hash: str, secret: str) -> None:
        """Replace an Argon2 hash by the current scheme (only if nobody changed it meanwhile)."""
        with self.engine.begin() as conn:
            conn.execute(
                credentials.update()
                .where(credentials.c.client_id == client_id)
                .where(credentials.c.secret_hash == old_hash)
                .values(secret_hash=self.hasher.hash(secret))
            )

    def revoked_ids(self) -> frozenset[str]:
        """Every revoked client id (gateways and the FIX acceptor refresh it each second)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(credentials.c.client_id).where(credentials.c.revoked.is_(True))
            )
            return frozenset(r.client_id for r in rows)

    def credentials_of(self, account_id: int) -> list[tuple[str, bool]]:
        """(client id, revoked) of every credential that covers the account."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(credentials.c.client_id, credentials.c.revoked)
                .join(
                    credential_accounts,
                    credential_accounts.c.client_id == credentials.c.client_id,
                )
                .where(credential_accounts.c.account_id == account_id)
                .order_by(credentials.c.created_at)
            )
            return [(r.client_id, bool(r.revoked)) for r in rows]

    def revoke(self, client_id: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                credentials.update()
                .where(credentials.c.client_id == client_id)
                .values(revoked=True)
            )
            return result.rowcount == 1
