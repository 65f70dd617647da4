"""`SQLStorage`: experiments in any SQLAlchemy database; a SQLite file by default."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nasforge.errors import StorageError
from nasforge.space import Arch
from nasforge.storage.base import BaseStorage, ExperimentRow
from nasforge.trial import TrialRecord, TrialState

SCHEMA_VERSION = 1

metadata = sa.MetaData()
meta_table = sa.Table(
    "nasforge_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("strategy_state", sa.Text),
)
trials = sa.Table(
    "trials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("arch_id", sa.String(32), nullable=False),
    sa.Column("arch", sa.Text, nullable=False),
    sa.Column("budget", sa.Float),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("info", sa.Text, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("told", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("experiment_id", "number", name="uq_trial_number"),
)
reports = sa.Table(
    "trial_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_reports_trial", "experiment_id", "number"),
)


def normalize_url(url: str) -> str:
    """A plain file path means a SQLite file; anything with `://` is an SQLAlchemy URL."""
    if not isinstance(url, str) or not url:
        raise StorageError(f"A storage must be a database URL or a file path, but got {url!r}.")
    if "://" in url:
        return url
    return "sqlite:///" + os.path.abspath(os.path.expanduser(url))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


class SQLStorage(BaseStorage):
    """Experiments in a database. SQLite runs in WAL mode so readers (the CLI, a dashboard) never block
    the search, and every commit survives the process being killed.

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
        try:
            engine = sa.create_engine(self.url, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"Cannot open storage {self.url!r}: {exc}") from exc
        if is_sqlite:

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        try:
            metadata.create_all(engine)
            with engine.begin() as conn:
                row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
                if row is None:
                    conn.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StorageError(
                        f"Storage {self.url!r} has schema version {row[0]}, newer than this nasforge understands "
                        f"({SCHEMA_VERSION}); upgrade nasforge."
                    )
        except sa.exc.IntegrityError:
            pass  # another process created the schema at the same moment
        except sa.exc.OperationalError as exc:
            raise StorageError(f"Cannot open storage {self.url!r}: {exc.orig}") from exc
        return engine

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

    def add_trial(self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                trials.insert().values(
                    experiment_id=experiment_id,
                    number=record.number,
                    arch_id=record.arch.id,
                    arch=record.arch.to_json(),
                    told=False,
                    **self._values(record),
                )
            )
            conn.execute(
                experiments.update()
                .where(experiments.c.id == experiment_id)
                .values(strategy_state=_dump(dict(strategy_state)))
            )

    def update_trial(self, experiment_id: int, record: TrialRecord) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                trials.update()
                .where(trials.c.experiment_id == experiment_id, trials.c.number == record.number)
                .values(**self._values(record))
            )
            if result.rowcount != 1:
                raise StorageError(f"Trial {record.number} of experiment {experiment_id} is not in the storage.")

    def mark_told(self, experiment_id: int, numbers: Sequence[int], strategy_state: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            if numbers:
                conn.execute(
                    trials.update()
                    .where(trials.c.experiment_id == experiment_id, trials.c.number.in_(list(numbers)))
                    .values(told=True)
                )
            conn.execute(
                experiments.update()
                .where(experiments.c.id == experiment_id)
                .values(strategy_state=_dump(dict(strategy_state)))
            )

    def add_report(self, experiment_id: int, number: int, step: int, metrics: Mapping[str, float]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                reports.insert().values(
                    experiment_id=experiment_id,
                    number=number,
                    step=step,
                    metrics=_dump(dict(metrics)),
                    at=time.time(),
                )
            )

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
