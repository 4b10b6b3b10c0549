"""What every AWS step needs: clients, settings, a waiter and the journal.

In: built once per provider by `create`. Out: passed to the step functions of the ec2/elb,
aurora, route53 and ssm modules, so none of them holds global state.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def error_code(exc: BaseException) -> str:
    """Return the AWS error code of a botocore ClientError, else ""."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
