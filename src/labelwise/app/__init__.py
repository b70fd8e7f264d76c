"""The labeling app: a web page where a person labels what labelwise asks for.

``labelwise label init DIR ...`` creates a project, ``labelwise label serve DIR``
serves it (see `labelwise.app.server`); `LabelSession` is the engine
and `LabelDB` its SQLite store.
"""

from labelwise.app.project import ProjectConfig, init_project, load_config
from labelwise.app.session import LabelSession
from labelwise.app.store import LabelDB

__all__ = ["LabelDB", "LabelSession", "ProjectConfig", "init_project", "load_config"]
