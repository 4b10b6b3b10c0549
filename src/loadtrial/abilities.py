"""What providers declare about themselves, as data the checks, the runner and the analysis
read — so no layer special-cases a provider or an observer by its name.

In: nothing (a vocabulary). Out: `ParamFacts`, the facts one arm parameter governs, and
`Governance`, a provider's declaration for all its parameters. A provider's settings model
(`env.settings`) returns its `Governance` from `governance()`; the trial carries it to the
analysis, which judges confounders with it (`analysis.confounders`) and never imports env.
The declaration is data, layer 0, like `findings`: env produces it, analysis consumes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ParamFacts:
    """The snapshot facts one arm parameter sets.

    `governs`: fnmatch patterns of the fact keys the parameter may change (`db.cpus`,
    `db.*.max_connections`): a difference in such a fact between two arms whose values of
    the parameter differ is explained, not a confounder. `reads`: the one fact that reads
    the parameter's value back (`db.max_connections` for `db_max_connections`), "" when
    none does; an arm whose `reads` fact shows another value ran with the parameter not
    in force.
    """

    governs: tuple[str, ...]
    reads: str = ""


# arm parameter -> the facts it governs; a parameter left out governs no fact
Governance = Mapping[str, ParamFacts]
