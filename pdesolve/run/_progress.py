"""The progress bar of a training run."""

from tqdm.auto import tqdm


class Progress:
    """The progress bar: steps done, and the loss and validation error of the last log."""

    def __init__(self, total: int, initial: int, enabled: bool, name: str):
        self.bar = tqdm(total=total, initial=initial, disable=not enabled, desc=name, unit="step", leave=False)

    def advance(self) -> None:
        """One step more."""
        self.bar.update(1)

    def rewind(self, done: int) -> None:
        """Back to step ``done`` (a divergence)."""
        self.bar.n = done
        self.bar.refresh()

    def show(self, loss: float, rel_l2: float) -> None:
        """The values of the last log."""
        self.bar.set_postfix(loss=f"{loss:.3e}", rel_l2=f"{rel_l2:.3e}")

    def close(self) -> None:
        self.bar.close()
