"""The `fab` entry point: the task collection lives in tasks/."""

from tasks import ns  # noqa: F401
