"""What every AWS step needs: clients, settings, a waiter and the journal.

In: built once per provider by `create`. Out: passed to the step functions of the ec2/elb,
aurora, route53 and ssm modules, so none of them holds global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from loadtrial.env.aws.clients import Clients
from loadtrial.env.aws.settings import AppSettings, AwsSettings, DbSettings
from loadtrial.env.aws.waiting import Journal, Waiter
from loadtrial.errors import ProviderError


@dataclass(frozen=True)
class Ctx:
    """The provider's collaborators for one apply/revert/snapshot."""

    clients: Clients
    settings: AwsSettings
    waiter: Waiter
    journal: Journal

    @property
    def db_waiter(self) -> Waiter:
        """The waiter for Aurora: same clock and poll, env.waits.db_timeout."""
        return replace(self.waiter, timeout_s=self.settings.waits.db_timeout_s)

    @property
    def app(self) -> AppSettings:
        """The app settings; ProviderError when the trial has none."""
        if self.settings.app is None:
            raise ProviderError("this arm changes the app pool but env.app is not set")
        return self.settings.app

    @property
    def db(self) -> DbSettings:
        """The db settings; ProviderError when the trial has none."""
        if self.settings.db is None:
            raise ProviderError("this arm changes the database but env.db is not set")
        return self.settings.db


def batches(ids: Sequence[str], size: int) -> list[list[str]]:
    """`ids` in lists of at most `size` (the API's limit per call)."""
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def error_code(exc: BaseException) -> str:
    """Return the AWS error code of a botocore ClientError, else ""."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


# AWS "not found" codes -> the setting that names the missing resource
_NOT_FOUND = {
    "DBClusterNotFoundFault": "env.db.cluster",
    "DBInstanceNotFound": "env.db.instance",
    "DBInstanceNotFoundFault": "env.db.instance",
    "InvalidInstanceID.NotFound": "env.app.instances",
    "InvalidInstanceID.Malformed": "env.app.instances",
    "TargetGroupNotFound": "env.app.target_group_arn",
    "NoSuchHostedZone": "env.app.route53.zone_id",
}


def explain(exc: BaseException) -> str:
    """Return one line for an AWS error: its message, and for a missing resource the
    setting to check (and the region, the usual culprit); else "<type>: <text>"."""
    code = error_code(exc)
    if not code:
        return f"{type(exc).__name__}: {exc}"
    response: Any = getattr(exc, "response", {})
    message = str(response.get("Error", {}).get("Message", "")) or str(exc)
    setting = _NOT_FOUND.get(code)
    if setting is None:
        return f"{code}: {message}"
    return f"{code}: {message} (check {setting} and env.region)"
