"""The storage interface: domain-level operations, each atomic; rows are wire-format dicts (camelCase)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


class StorageConflict(Exception):
    """A write broke a uniqueness or state rule (the caller turns it into a 409)."""


@dataclass
class EventFilter:
    """Filters of an event listing; every field is optional and they combine with AND."""

    deployment_id: str | None = None
    environment_id: str | None = None
    types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    search: str | None = None
    limit: int = 1000
    oldest_first: bool = False


class Storage(ABC):
    """What the service needs from a database; a PostgreSQL backend implements the same methods."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Make every storage call inside the block one atomic write (nesting joins the outer block)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def schema_version(self) -> int:
        """Return the applied schema version."""

    # settings
    @abstractmethod
    def get_setting(self, key: str) -> Any:
        """Return a stored setting or None."""

    @abstractmethod
    def put_setting(self, key: str, value: Any) -> None:
        """Store a setting."""

    # packages
    @abstractmethod
    def insert_package(self, package: Row) -> None:
        """Store a registered package."""

    @abstractmethod
    def get_package(self, package_id: str) -> Row | None:
        """Return a package by id."""

    @abstractmethod
    def find_package_by_name(self, name: str) -> Row | None:
        """Return the most recently registered package with a name."""

    @abstractmethod
    def list_packages(self) -> list[Row]:
        """Return packages, newest first."""

    @abstractmethod
    def update_package(self, package_id: str, changes: Row, baseline: Row | None = None) -> Row:
        """Merge changes into a package's record (and replace its baseline when given); return the record."""

    @abstractmethod
    def get_baseline(self, package_id: str) -> Row | None:
        """Return a package's drift baseline, None when it has none."""

    # environments
    @abstractmethod
    def insert_environment(self, env: Row) -> None:
        """Store an environment; StorageConflict when the name is taken."""

    @abstractmethod
    def get_environment(self, env_id: str) -> Row | None:
        """Return an environment by id."""

    @abstractmethod
    def find_environment_by_name(self, name: str) -> Row | None:
        """Return an environment by name."""

    @abstractmethod
    def list_environments(self) -> list[Row]:
        """Return environments, oldest first."""

    @abstractmethod
    def update_environment(self, env_id: str, changes: Row) -> Row:
        """Apply field changes (wire names) to an environment and return it."""

    @abstractmethod
    def delete_environment(self, env_id: str) -> None:
        """Remove an environment."""

    # deployments
    @abstractmethod
    def insert_deployment(self, dep: Row) -> None:
        """Store a deployment; StorageConflict when a live deployment has the name."""

    @abstractmethod
    def get_deployment(self, dep_id: str) -> Row | None:
        """Return a deployment by id (deleted ones too)."""

    @abstractmethod
    def find_deployment_by_name(self, name: str) -> Row | None:
        """Return the live (not deleted) deployment with a name."""

    @abstractmethod
    def list_deployments(self, include_deleted: bool = False, environment_id: str | None = None) -> list[Row]:
        """Return deployments, oldest first."""

    @abstractmethod
    def update_deployment(self, dep_id: str, changes: Row) -> Row:
        """Apply field changes (wire names) to a deployment and return it."""

    # actions
    @abstractmethod
    def enqueue_action(self, action: Row) -> tuple[Row, bool]:
        """Queue an action; return (action, coalesced) where an identical latest pending one is reused."""

    @abstractmethod
    def get_action(self, action_id: str) -> Row | None:
        """Return an action by id."""

    @abstractmethod
    def list_actions(self, deployment_id: str | None = None, statuses: tuple[str, ...] = (),
                     limit: int = 200) -> list[Row]:
        """Return actions, newest first."""

    @abstractmethod
    def claim_action(self, agent_id: str, now: str, lease_until: str, environment_id: str | None = None) -> Row | None:
        """Claim the oldest claimable action (head of its deployment's queue, pending or lease expired)."""

    @abstractmethod
    def update_action(self, action_id: str, changes: Row) -> Row:
        """Apply field changes (wire names) to an action and return it."""

    # events
    @abstractmethod
    def insert_event(self, event: Row) -> None:
        """Store an event."""

    @abstractmethod
    def list_events(self, flt: EventFilter) -> list[Row]:
        """Return events matching a filter, newest first unless oldest_first."""

    @abstractmethod
    def purge_events(self, before: str) -> int:
        """Delete events older than a time; return how many."""

    # agents
    @abstractmethod
    def upsert_agent(self, agent: Row) -> Row | None:
        """Store an agent's heartbeat (keeping its firstSeen); return its previous record."""

    @abstractmethod
    def list_agents(self) -> list[Row]:
        """Return known agents."""

    # notifications
    @abstractmethod
    def insert_rule(self, rule: Row) -> None:
        """Store a notification rule."""

    @abstractmethod
    def get_rule(self, rule_id: str) -> Row | None:
        """Return a notification rule."""

    @abstractmethod
    def list_rules(self) -> list[Row]:
        """Return notification rules, oldest first."""

    @abstractmethod
    def delete_rule(self, rule_id: str) -> None:
        """Remove a notification rule and its pending deliveries."""

    @abstractmethod
    def insert_delivery(self, delivery: Row) -> None:
        """Queue a webhook delivery."""

    @abstractmethod
    def due_deliveries(self, now: str, limit: int) -> list[Row]:
        """Return pending deliveries whose next attempt is due."""

    @abstractmethod
    def update_delivery(self, delivery_id: str, changes: Row) -> None:
        """Apply field changes to a delivery."""

    # monitoring figures
    @abstractmethod
    def ingest(self, records: list[Row]) -> tuple[int, int]:
        """Store figure records in one transaction; return (stored, duplicates by recordId)."""

    @abstractmethod
    def purge_figures(self, before: str) -> int:
        """Delete minutes of figures older than a time; return how many."""

    @abstractmethod
    def minute_figures(self, deployment_id: str, since: str) -> Iterator[Row]:
        """Yield per-model-minute figures of a deployment from a minute on, oldest first."""

    # predictions by association id, joined to actuals
    @abstractmethod
    def store_actuals(self, deployment_id: str, model_id: str | None, actuals: list[Row],
                      received: str | None = None) -> tuple[int, int]:
        """Store actuals (first per association id wins); return (stored, duplicates)."""

    @abstractmethod
    def store_actual_columns(self, deployment_id: str, columns: Row, received: str | None = None) -> tuple[int, int]:
        """Store actuals as columns (associationIds, actualValues, timestamps?, wasActedOn?); return (stored,
        duplicates)."""

    @abstractmethod
    def matched_count(self, deployment_id: str, association_ids: Sequence[str]) -> int:
        """Return how many of these association ids have both a prediction and an actual."""

    @abstractmethod
    def matched_rows(self, deployment_id: str, since: str, model_id: str | None = None) -> list[Row]:
        """Return predictions made since a time that have an actual (model_id, prediction, label, probs, ...)."""

    @abstractmethod
    def regression_sums(self, deployment_id: str, since: str) -> Row:
        """Return sums over matched rows predicted since a time: matched, n (numeric pairs), squares and absolute
        residuals, actualSum, actualSquares (what RMSE, MAE and R² need, without reading every row)."""

    @abstractmethod
    def agreement(self, deployment_id: str, other_key: str, since: str, tolerance: float) -> Row:
        """Return common, agree (predictions under other_key vs the deployment's, by association id), and their
        accuracy on the deployment's actuals: matched, correct, labelled, squares, absolute, n."""

    @abstractmethod
    def waiting_actuals(self, deployment_id: str) -> int:
        """Return how many actuals wait for their prediction."""

    @abstractmethod
    def purge_associations(self, before: str) -> int:
        """Delete stored predictions and actuals received before a time; return how many."""
