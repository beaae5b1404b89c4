"""The coordination network from the case's ``coord_accounts`` and ``coord_edges`` tables."""

from __future__ import annotations

from typing import Any

from cibwatch.errors import CaseError
from cibwatch.export import network_graph
from cibwatch.store.case import Case


def network(case: Case) -> Any:
    """The networkx graph ``cibwatch coord`` writes to network.graphml/.gexf, read back from the case.

    Accounts and edges only: evidence rows, which can be millions, stay in the case files.

    >>> import networkx as nx
    >>> nx.write_gexf(network(open_case("out/case")), "network.gexf")   # doctest: +SKIP
    """
    if not case.has_table("coord_edges"):
        raise CaseError(
            f"case {case.root} has no coordination network yet; run `cibwatch coord --case {case.root}`"
        )
    return network_graph(case.read("coord_accounts"), case.read("coord_edges"))
