"""A view fed as the chat magic feeds it: the turn's recorder folds each event, then the
view is told of the change (``Session.chat_sync``'s ``changed``)."""

from __future__ import annotations

from conjure_kernel.conversation.transcript import TurnRecorder
from conjure_kernel.events import Event
from conjure_kernel.notebook.views import TurnView


class ViewFeed:
    """Call it with events: each is folded into the turn's one record, then shown."""

    def __init__(self, view: TurnView) -> None:
        self.view = view
        self.recorder = TurnRecorder(skills={}, paths={})

    def __call__(self, *events: Event) -> None:
        for event in events:
            change = self.recorder.add(event)
            if change is not None:
                self.view.update(change)
