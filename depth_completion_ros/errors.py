"""The one typed error for bad input (messages, calibration files, arrays)."""


class BadInputError(ValueError):
    """Input that cannot be converted or used as it is.

    Attributes:
        field: the offending field, e.g. ``"Image.step"`` or ``"CameraInfo.k"``.
        problem: what is wrong with it, in words a user can act on.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
