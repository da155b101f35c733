"""Errors the user can fix. The CLI prints them as `error: ...` and exits with code 2."""


class UserError(Exception):
    """Something in the user's config, data or arguments is wrong; the message says what to do."""


class ConfigError(UserError):
    """One or more problems in a config, all reported at once."""

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}:\n{lines}")
