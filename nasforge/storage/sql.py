"""`SQLStorage`: experiments in any SQLAlchemy database; a SQLite file by default."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nasforge.errors import StorageError
from nasforge.space import Arch
from nasforge.storage.base import BaseStorage, ExperimentRow, Turn
from nasforge.storage.sql_schema import (
    ADD_REPORT,
    APPEND_TRIAL,
    BEGIN_TURN,
    END_TURN,
    MARK_TOLD,
    SAVE_STATE,
    SCHEMA_VERSION,
    TURN_STATE,
    UNFINISHED,
    UPDATE_TRIAL,
    bound,
    experiments,
    meta_table,
    metadata,
    migrate,
    reports,
    trials,
)
from nasforge.trial import TrialRecord, TrialState


def normalize_url(url: str) -> str:
    """A plain file path means a SQLite file; anything with `://` is an SQLAlchemy URL. PostgreSQL URLs without
    a driver (`postgresql://`, `postgres://`) use psycopg 3.

    >>> normalize_url("postgres://u@localhost/nas")
    'postgresql+psycopg://u@localhost/nas'
    """
    if not isinstance(url, str) or not url:
        raise StorageError(f"A storage must be a database URL or a file path, but got {url!r}.")
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    if "://" in url:
        return url
    return "sqlite:///" + os.path.abspath(os.path.expanduser(url))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


class SQLStorage(BaseStorage):
    """Experiments in a database. SQLite runs in WAL mode so readers (the CLI, a dashboard) never block
    the search, and every commit survives the process being killed. PostgreSQL (`postgresql://user@host/db`,
    with `pip install "nasforge[postgres]"`) serves several drivers and machines at once: trial numbers are
    allocated and running trials claimed atomically.

    >>> storage = SQLStorage("sqlite:///:memory:")
    """

    def __init__(self, url: str = "nasforge.db") -> None:
        self.url = normalize_url(url)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def exists(self) -> bool:
        if self._engine is not None or not self.url.startswith("sqlite") or self.url.endswith(":memory:"):
            return True
        return os.path.exists(self.url.split(":///", 1)[-1])

    def _connect(self) -> Engine:
        is_sqlite = self.url.startswith("sqlite")
        if is_sqlite and not self.url.endswith(":memory:"):
            path = self.url.split(":///", 1)[-1]
            folder = os.path.dirname(path)
            if folder and not os.path.isdir(folder):
                raise StorageError(
                    f"The folder of the SQLite file {path!r} does not exist; create it or choose another path."
                )
        kwargs: dict[str, Any] = {"future": True}
        if is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True  # a server restart or a dropped connection is reconnected, not fatal
        try:
            engine = sa.create_engine(self.url, **kwargs)
        except ImportError as exc:
            hint = ' (pip install "nasforge[postgres]")' if self.url.startswith("postgresql") else ""
            raise StorageError(f"Cannot open storage {self.url!r}: {exc}{hint}") from exc
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise StorageError(f"Cannot open storage {self.url!r}: {exc}") from exc
        if is_sqlite:

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        for attempt in range(10):
            try:
                self._create_schema(engine)
                return engine
            except sa.exc.IntegrityError:
                pass  # another process created the schema at the same moment: look again
            except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
                text = str(exc.orig).lower()
                if not any(m in text for m in ("duplicate column", "already exists", "database is locked")):
                    raise StorageError(f"Cannot open storage {self.url!r}: {exc.orig}") from exc
                # another process is creating or migrating the schema (or switching a new SQLite file to WAL)
                # at this moment: look again once it did
            time.sleep(0.05 * (attempt + 1))
        raise StorageError(f"Cannot open storage {self.url!r}: its schema kept changing under this process.")

    def _create_schema(self, engine: Engine) -> None:
        """Create the tables that are missing, then record or migrate the schema's version."""
        metadata.create_all(engine)
        with engine.begin() as conn:
            row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
            if row is None:
                conn.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(row[0]) < SCHEMA_VERSION:
                migrate(conn, int(row[0]))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"Storage {self.url!r} has schema version {row[0]}, newer than this nasforge understands "
                    f"({SCHEMA_VERSION}); upgrade nasforge."
                )

    # --- experiments -------------------------------------------------------------------------------------------
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> ExperimentRow:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    experiments.insert().values(
                        name=name, created_at=time.time(), status="created", config=_dump(dict(config))
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise StorageError(f"An experiment named {name!r} already exists in {self.url}.") from exc
        row = self.get_experiment(name)
        assert row is not None
        return row

    def _row(self, r: Any) -> ExperimentRow:
        return ExperimentRow(
            id=r.id,
            name=r.name,
            config=json.loads(r.config),
            strategy_state=json.loads(r.strategy_state) if r.strategy_state else None,
            status=r.status,
            created_at=r.created_at,
            state_version=r.state_version,
        )

    def get_experiment(self, name: str) -> ExperimentRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
        return None if r is None else self._row(r)

    def list_experiments(self) -> list[ExperimentRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(experiments).order_by(experiments.c.id)).all()
        return [self._row(r) for r in rows]

    def delete_experiment(self, name: str) -> None:
        row = self.get_experiment(name)
        if row is None:
            raise StorageError(f"No experiment named {name!r} in {self.url}.")
        with self.engine.begin() as conn:
            conn.execute(reports.delete().where(reports.c.experiment_id == row.id))
            conn.execute(trials.delete().where(trials.c.experiment_id == row.id))
            conn.execute(experiments.delete().where(experiments.c.id == row.id))

    def set_status(self, experiment_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(experiments.update().where(experiments.c.id == experiment_id).values(status=status))

    # --- trials ------------------------------------------------------------------------------------------------
    @staticmethod
    def _values(record: TrialRecord) -> dict[str, Any]:
        return {
            "state": record.state.value,
            "metrics": _dump(dict(record.metrics)),
            "error": record.error,
            "info": _dump(dict(record.info)),
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "budget": record.budget,
        }

    def add_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(trials.insert().values(number=record.number, **self._new(experiment_id, record, owner)))
            self._save_state(conn, experiment_id, strategy_state)

    def _new(self, experiment_id: int, record: TrialRecord, owner: str | None) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "arch_id": record.arch.id,
            "arch": record.arch.to_json(),
            "told": False,
            "owner": owner,
            "heartbeat": time.time() if owner is not None else None,
            **self._values(record),
        }

    @staticmethod
    def _save_state(conn: Any, experiment_id: int, strategy_state: Mapping[str, Any]) -> None:
        conn.execute(SAVE_STATE, {"b_exp": experiment_id, "b_state": _dump(dict(strategy_state))})

    def append_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> TrialRecord:
        params = {"b_exp": experiment_id, **bound(self._new(experiment_id, record, owner))}
        for attempt in range(200):
            try:
                with self.engine.begin() as conn:
                    number = int(conn.execute(APPEND_TRIAL, params).scalar_one())
                    self._save_state(conn, experiment_id, strategy_state)
                return record.with_(number=number)
            except sa.exc.IntegrityError:  # another writer took the same number first: take the next one
                time.sleep(0.001 * random.random() * (1 + attempt % 10))
        raise StorageError(f"Could not allocate a trial number in experiment {experiment_id} after 200 tries.")

    def heartbeat(self, experiment_id: int, numbers: Sequence[int], owner: str, at: float) -> None:
        if not numbers:
            return
        with self.engine.begin() as conn:
            conn.execute(
                trials.update()
                .where(
                    trials.c.experiment_id == experiment_id,
                    trials.c.number.in_(list(numbers)),
                    trials.c.owner == owner,
                )
                .values(heartbeat=at)
            )

    def running_owners(self, experiment_id: int) -> dict[str | None, float | None]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(trials.c.owner, sa.func.max(trials.c.heartbeat))
                .where(trials.c.experiment_id == experiment_id, trials.c.state.in_(UNFINISHED))
                .group_by(trials.c.owner)
            ).all()
        return {r[0]: r[1] for r in rows}

    def claim_trials(
        self, experiment_id: int, owner: str, stale_before: float, dead_owners: Sequence[str] = ()
    ) -> list[int]:
        takeable = sa.or_(
            trials.c.owner.is_(None),
            trials.c.owner == owner,
            trials.c.owner.in_(list(dead_owners)),
            trials.c.heartbeat.is_(None),
            trials.c.heartbeat < stale_before,
        )
        with self.engine.begin() as conn:
            rows = conn.execute(
                trials.update()
                .where(trials.c.experiment_id == experiment_id, trials.c.state.in_(UNFINISHED), takeable)
                .values(owner=owner, heartbeat=time.time())
                .returning(trials.c.number)
            ).all()
        return sorted(int(r[0]) for r in rows)

    def begin_turn(self, experiment_id: int, owner: str, until: float, dead: str | None = None) -> Turn:
        params = {"b_exp": experiment_id, "b_owner": owner, "b_until": until, "b_now": time.time(), "b_dead": dead}
        with self.engine.begin() as conn:
            conn.execute(BEGIN_TURN, params)  # takes the row's write lock: what the select reads is settled
            row = conn.execute(TURN_STATE, params).first()
        if row is None:
            raise StorageError(f"No experiment with id {experiment_id} in {self.url}.")
        holder, version, n_trials = row
        return Turn(holder == owner, holder, int(version), int(n_trials))

    def end_turn(self, experiment_id: int, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(END_TURN, {"b_exp": experiment_id, "b_owner": owner})

    def update_trial(self, experiment_id: int, record: TrialRecord) -> None:
        with self.engine.begin() as conn:
            params = {"b_exp": experiment_id, "b_number": record.number, **bound(self._values(record))}
            result = conn.execute(UPDATE_TRIAL, params)
            if result.rowcount != 1:
                raise StorageError(f"Trial {record.number} of experiment {experiment_id} is not in the storage.")

    def mark_told(self, experiment_id: int, numbers: Sequence[int], strategy_state: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            if numbers:
                conn.execute(MARK_TOLD, {"b_exp": experiment_id, "b_numbers": list(numbers)})
            self._save_state(conn, experiment_id, strategy_state)

    def add_report(self, experiment_id: int, number: int, step: int, metrics: Mapping[str, float]) -> None:
        with self.engine.begin() as conn:
            values = {"experiment_id": experiment_id, "number": number, "step": step, "at": time.time()}
            conn.execute(ADD_REPORT, bound({**values, "metrics": _dump(dict(metrics))}))

    def get_reports(self, experiment_id: int, number: int) -> list[tuple[int, dict[str, float]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(reports.c.step, reports.c.metrics)
                .where(reports.c.experiment_id == experiment_id, reports.c.number == number)
                .order_by(reports.c.id)
            ).all()
        return [(r.step, json.loads(r.metrics)) for r in rows]

    def get_trials(self, experiment_id: int, states: Sequence[TrialState] | None = None) -> list[TrialRecord]:
        query = sa.select(trials).where(trials.c.experiment_id == experiment_id).order_by(trials.c.number)
        if states is not None:
            query = query.where(trials.c.state.in_([s.value for s in states]))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            TrialRecord(
                number=r.number,
                arch=Arch.from_json(r.arch),
                budget=r.budget,
                state=TrialState(r.state),
                metrics=json.loads(r.metrics),
                error=r.error,
                info=json.loads(r.info),
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            for r in rows
        ]

    def untold_numbers(self, experiment_id: int) -> list[int]:
        finished = [s.value for s in TrialState if s.finished]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(trials.c.number)
                .where(
                    trials.c.experiment_id == experiment_id,
                    trials.c.told.is_(False),
                    trials.c.state.in_(finished),
                )
                .order_by(trials.c.finished_at, trials.c.number)
            ).all()
        return [r.number for r in rows]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "_engine": None}

    def __repr__(self) -> str:
        return f"SQLStorage({self.url!r})"
