"""Ctrl-C during training: the first SIGINT is deferred to the end of the current step, where the
loop writes a checkpoint and stops; a second one interrupts at once."""

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupt:
    """Whether a SIGINT arrived since :meth:`watch` began (``requested``)."""

    def __init__(self):
        self.requested = False

    @contextlib.contextmanager
    def watch(self) -> Iterator["Interrupt"]:
        """Defers the first SIGINT inside the block (main thread only: elsewhere signals cannot be
        caught, and the block changes nothing); a second SIGINT goes to the previous handler."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):  # also where SIGINT was ignored (a background job): the request is explicit
            if self.requested:
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            self.requested = True

        signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C at the end of a step; ``checkpoint_step`` is the step of the
    checkpoint written then (None: no run folder, or the last steps did not verify)."""

    def __init__(self, step: int, checkpoint_step: int | None):
        self.step, self.checkpoint_step = step, checkpoint_step
        saved = "no checkpoint written" if checkpoint_step is None else f"checkpoint at step {checkpoint_step} written"
        super().__init__(f"interrupted after step {step}; {saved}")
