"""The backend and model picker that ``%backend`` and ``%model`` show without arguments.

The widget only collects a choice: switching goes through the callbacks the magics
give it, so choosing here does exactly what typing the magic does. A setting left
blank is not passed, and so takes its configured or declared default, as a setting
left out of ``%backend NAME key=value`` does. The model list offers the catalog's
models (clients/models.py) with a line on the one chosen; any other id may be typed.

A notebook saves a widget's output as its model's id alone, which no widget manager
knows once the kernel restarted ("Error displaying widget: model not found"). So the
picker lives only until it is used (a choice applied without a refusal), the next cell
runs, or the kernel shuts down (the magics call ``freeze``, the kernel before it
replies, while the frontend still listens): it then leaves a line with the backend and
model in its place, which is what the notebook saves, and frees its widgets.
JupyterLab and Notebook 7 forget the old kernel's outputs before they ask it to
restart, and drop its redraws: a picker left unused in the last cell run before such a
restart stays a widget in the saved notebook.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ...backends.registry import backend_names, get_backend
from ...backends.settings import Setting
from ...clients.models import CatalogModel
from .rows import MUTED
from .shared import close_widgets, view_bundle

__all__ = ["PickerWidget"]

SwitchBackend = Callable[[str, dict[str, str]], str]
"""``(name, settings) -> describe line``; raises when the backend cannot be used."""
SetModel = Callable[[str], "str | None"]
"""``(model) -> a warning or nothing``; raises when the model cannot be used."""

_ERROR = "color:var(--jp-error-color1, #d32f2f)"
_LABEL = {"description_width": "9em"}


class PickerWidget:
    """A backend with its settings and a model, applied through the magics' callbacks."""

    def __init__(
        self,
        backend: str,
        model: str,
        *,
        switch_backend: SwitchBackend,
        set_model: SetModel,
        models: Sequence[CatalogModel] = (),
    ) -> None:
        self.backend = backend
        self.model = model
        self._switch_backend = switch_backend
        self._set_model = set_model
        self._applied: dict[str, str] = {}
        """The settings of the last switch: applying them again changes nothing."""
        names = backend_names()
        self._backends = widgets.Dropdown(
            options=names if backend in names else [backend, *names],
            value=backend,
            description="backend",
            style=_LABEL,
        )
        self._settings = widgets.VBox()
        self._fields: dict[str, widgets.ValueWidget] = {}
        self._catalog = {entry.id: entry for entry in models}
        self._models = widgets.Combobox(
            value=model,
            options=list(self._catalog),
            ensure_option=False,
            description="model",
            style=_LABEL,
        )
        self._model_facts = widgets.HTML(self._facts_html(model))
        self._models.observe(
            lambda change: setattr(self._model_facts, "value", self._facts_html(change["new"])),
            names="value",
        )
        apply = widgets.Button(description="Apply", button_style="primary")
        apply.on_click(self.apply)
        self._status = widgets.HTML(self._status_html(f"current: {backend} backend, model {model}"))
        self._error = widgets.HTML()
        self.widget = widgets.VBox(
            [
                self._backends,
                self._settings,
                self._models,
                self._model_facts,
                apply,
                self._status,
                self._error,
            ]
        )
        self.widget.add_class("conjure-picker")
        self._backends.observe(lambda change: self._show_settings(change["new"]), names="value")
        self._show_settings(backend)
        self._display_id: str | None = None
        """The picker's output while it is live."""

    def settings(self) -> dict[str, str]:
        """The settings filled in, as ``key=value`` text; blank ones are left out."""
        return {
            name: str(field.value).strip()
            for name, field in self._fields.items()
            if str(field.value).strip()
        }

    def apply(self, _button: widgets.Button | None = None) -> None:
        """Switch the backend (when another one or other settings are chosen) and the
        model (when changed), then freeze; a refusal shows as a red line, what went
        through stays, and the picker stays live to try again."""
        self._error.value = ""
        done = []
        try:
            name, settings = self._backends.value, self.settings()
            if name != self.backend or settings != self._applied:
                done.append(self._switch_backend(name, settings))
                self.backend, self._applied = name, settings
            model = self._models.value.strip()
            if model != self.model:
                warning = self._set_model(model)
                self.model = model
                done.append(f"model: {model}" + (f" ({warning})" if warning else ""))
        except Exception as error:  # shown in the widget: a button's callback has no cell
            hint = getattr(error, "hint", "")
            message = f"{error}" + (f" — {hint}" if hint else "")
            self._error.value = f'<div style="{_ERROR}">{html.escape(message)}</div>'
        if done or not self._error.value:
            self._status.value = self._status_html("\n".join(done) or "nothing to change")
        if not self._error.value:
            self.freeze(done)

    def show(self) -> None:
        """Display it under a display id, which ``freeze`` redraws."""
        self._display_id = uuid.uuid4().hex
        display(self, display_id=self._display_id)

    def freeze(self, done: Sequence[str] = ()) -> None:
        """Leave the backend and model (and ``done``, what was just switched) as lines in
        the picker's place, and free its widgets; a picker not shown stays as it is."""
        if self._display_id is None:
            return
        display(self._line_bundle(done), raw=True, display_id=self._display_id, update=True)
        self._display_id = None
        close_widgets(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        line = self._line_bundle()
        return {**line, **view_bundle(self.widget, line["text/plain"])}

    def _line_bundle(self, done: Sequence[str] = ()) -> dict[str, str]:
        """The backend and model chosen, the backends there are, and ``done``: the
        picker's saved form."""
        names = ", ".join(backend_names())
        line = f"backend: {self.backend} · model: {self.model} · available: {names}"
        switched = self._status_html("\n".join(done)) if done else ""
        return {
            "text/html": f'<div class="conjure-picker">{html.escape(line)}{switched}</div>',
            "text/plain": "\n".join([line, *done]),
        }

    def _show_settings(self, name: str) -> None:
        """The chosen backend's settings, blank (placeholders show the defaults)."""
        for row in self._settings.children:
            close_widgets(row)
        self._fields = {}
        try:
            declared = get_backend(name).settings_class.declared()
        except Exception as error:  # a broken plug-in: say so here rather than nowhere
            self._settings.children = ()
            self._error.value = f'<div style="{_ERROR}">{html.escape(str(error))}</div>'
            return
        self._error.value = ""
        self._fields = {setting.name: _field(setting) for setting in declared}
        self._settings.children = tuple(
            widgets.HBox(
                [field, widgets.HTML(f'<span style="{MUTED}">{html.escape(setting.help)}</span>')]
            )
            for setting, field in zip(declared, self._fields.values(), strict=True)
        )

    def _facts_html(self, model: str) -> str:
        """What the catalog knows of ``model``: name, context window, price, support."""
        entry = self._catalog.get(model.strip())
        if entry is None:
            text = "not in the list: the API says whether it exists when it is used"
        else:
            price = entry.describe_price() + (" per MTok in / out" if entry.price else "")
            text = (
                f"{entry.display_name} · context {entry.describe_context()} · {price} · "
                f"supports {entry.supports.describe()}"
            )
            if entry.describe_status():
                text += f" · {entry.describe_status()}"
        return f'<span style="{MUTED}">{html.escape(text)}</span>'

    @staticmethod
    def _status_html(text: str) -> str:
        return f'<div style="{MUTED};white-space:pre-wrap">{html.escape(text)}</div>'


def _field(setting: Setting) -> widgets.ValueWidget:
    """A blank field for one setting: a list for choices and booleans, text otherwise
    (parsed by the backend, so its errors read as the magic's do)."""
    default = "" if setting.default in (None, "") else str(setting.default)
    options = setting.choices or (("true", "false") if setting.kind is bool else ())
    if options:
        return widgets.Dropdown(
            options=[(f"default ({default or 'none'})", ""), *((o, o) for o in options)],
            value="",
            description=setting.name,
            style=_LABEL,
        )
    return widgets.Text(placeholder=default or "default", description=setting.name, style=_LABEL)
