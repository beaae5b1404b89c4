"""api: the REST API and web UI of one case, a thin client of the stages.

>>> from cibwatch.api import create_app                    # doctest: +SKIP
>>> TestClient(create_app("out/case")).get("/api/summary").json()["tiers"]   # doctest: +SKIP
"""

from cibwatch.api.app import create_app

__all__ = ["create_app"]
