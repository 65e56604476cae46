"""User-facing errors: the harness prints their message (no traceback) and exits non-zero."""


class XaiBenchError(Exception):
    """Base class for errors caused by user input (data, names, options)."""


class DataValidationError(XaiBenchError, ValueError):
    """A user data file has problems; ``problems`` lists every one as "line N: ..."."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{path}: {len(self.problems)} problem(s) found:\n{shown}{more}")


class OptionError(XaiBenchError, ValueError):
    """An option or argument is out of range or conflicts with another."""
