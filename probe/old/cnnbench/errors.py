"""The library's one error type for expected mistakes, and where things live in a checkout."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_PATH = REPO_ROOT / "data" / "imagenet"


class UserError(Exception):
    """An expected mistake (missing data, a bad value, no memory): one line, non-zero exit."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
