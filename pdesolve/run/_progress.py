"""The progress bar of a training run: over steps, or over training seconds with a time budget."""

from tqdm.auto import tqdm


class Progress:
    """The progress bar: steps done (or, with a time ``budget`` in seconds, training seconds spent,
    which is what stops the run), and the loss and validation error of the last log."""

    def __init__(
        self, total: int, initial: int, enabled: bool, name: str, budget: float | None = None, seconds: float = 0.0
    ):
        self.budget, self.step = budget, initial
        if budget is None:
            self.bar = tqdm(total=total, initial=initial, disable=not enabled, desc=name, unit="step", leave=False)
        else:
            self.bar = tqdm(
                total=float(budget),
                initial=min(seconds, budget),
                disable=not enabled,
                desc=name,
                unit="s",
                leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of training "
                "[{elapsed}<{remaining}{postfix}]",
            )

    def advance(self, seconds: float = 0.0) -> None:
        """One step more; ``seconds``: the training time so far (read with a time budget)."""
        self.step += 1
        if self.budget is None:
            self.bar.update(1)
        else:
            self.bar.update(min(seconds, self.budget) - self.bar.n)

    def rewind(self, done: int) -> None:
        """Back to step ``done`` (a divergence; the training time runs on)."""
        self.step = done
        if self.budget is None:
            self.bar.n = done
            self.bar.refresh()

    def show(self, loss: float, rel_l2: float) -> None:
        """The values of the last log (and, with a time budget, the step)."""
        step = {} if self.budget is None else {"step": self.step}
        self.bar.set_postfix(**step, loss=f"{loss:.3e}", rel_l2=f"{rel_l2:.3e}")

    def close(self) -> None:
        self.bar.close()
