"""The tables of `SQLStorage`, the loop's hot statements (compiled once) and the migration of older files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from nasforge.trial import TrialState

# 2: trials.owner and trials.heartbeat (which driver runs a trial; is it alive)
# 3: experiments.state_version, lease_owner and lease_until (drivers taking turns at one strategy)
SCHEMA_VERSION = 3
UNFINISHED = [s.value for s in TrialState if not s.finished]

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
    sa.Column("state_version", sa.Integer, nullable=False, default=0),  # + 1 at every write of the state
    sa.Column("lease_owner", sa.String(128)),  # the driver whose turn it is at the strategy, if any
    sa.Column("lease_until", sa.Float),  # when that turn lapses if its driver never ends it
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
    sa.Column("owner", sa.String(128)),  # the driver running the trial (`nasforge.experiment.driver_id`)
    sa.Column("heartbeat", sa.Float),  # when its owner last said it is alive
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


# The loop's hot statements, built once with bind parameters: SQLAlchemy compiles each once and caches it, where
# a statement built per call with `.values(...)` costs a compile-cache lookup over every value (~1 ms a trial).
_B = sa.bindparam
TRIAL_VALUES = ("state", "metrics", "error", "info", "started_at", "finished_at", "budget")
NEW_VALUES = ("experiment_id", "arch_id", "arch", "told", "owner", "heartbeat", *TRIAL_VALUES)
SAVE_STATE = (
    experiments.update()
    .where(experiments.c.id == _B("b_exp"))
    .values(strategy_state=_B("b_state"), state_version=experiments.c.state_version + 1)
)
BEGIN_TURN = (
    experiments.update()
    .where(
        experiments.c.id == _B("b_exp"),
        sa.or_(
            experiments.c.lease_owner.is_(None),
            experiments.c.lease_owner == _B("b_owner"),
            experiments.c.lease_until < _B("b_now"),
            experiments.c.lease_owner == _B("b_dead"),
        ),
    )
    .values(lease_owner=_B("b_owner"), lease_until=_B("b_until"))
)
TURN_STATE = sa.select(
    experiments.c.lease_owner,
    experiments.c.state_version,
    sa.select(sa.func.coalesce(sa.func.max(trials.c.number), -1) + 1)
    .where(trials.c.experiment_id == _B("b_exp"))
    .scalar_subquery(),
).where(experiments.c.id == _B("b_exp"))
END_TURN = (
    experiments.update()
    .where(experiments.c.id == _B("b_exp"), experiments.c.lease_owner == _B("b_owner"))
    .values(lease_owner=None, lease_until=None)
)
UPDATE_TRIAL = (
    trials.update()
    .where(trials.c.experiment_id == _B("b_exp"), trials.c.number == _B("b_number"))
    .values({c: _B(f"b_{c}") for c in TRIAL_VALUES})
)
MARK_TOLD = (
    trials.update()
    .where(trials.c.experiment_id == _B("b_exp"), trials.c.number.in_(_B("b_numbers", expanding=True)))
    .values(told=True)
)
ADD_REPORT = reports.insert().values({c: _B(f"b_{c}") for c in ("experiment_id", "number", "step", "metrics", "at")})
APPEND_TRIAL = (
    trials.insert()
    .from_select(
        ["number", *NEW_VALUES],
        sa.select(
            sa.select(sa.func.coalesce(sa.func.max(trials.c.number), -1) + 1)
            .where(trials.c.experiment_id == _B("b_exp"))
            .scalar_subquery(),
            *(_B(f"b_{c}", type_=trials.c[c].type) for c in NEW_VALUES),
        ),
    )
    .returning(trials.c.number)
)


def bound(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"b_{k}": v for k, v in values.items()}


def migrate(conn: Any, version: int) -> None:
    """Bring a storage written by an older nasforge up to `SCHEMA_VERSION`, in place."""
    if version < 2:
        conn.execute(sa.text("ALTER TABLE trials ADD COLUMN owner VARCHAR(128)"))
        conn.execute(sa.text("ALTER TABLE trials ADD COLUMN heartbeat FLOAT"))
    if version < 3:
        conn.execute(sa.text("ALTER TABLE experiments ADD COLUMN state_version INTEGER NOT NULL DEFAULT 0"))
        conn.execute(sa.text("ALTER TABLE experiments ADD COLUMN lease_owner VARCHAR(128)"))
        conn.execute(sa.text("ALTER TABLE experiments ADD COLUMN lease_until FLOAT"))
    conn.execute(meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
