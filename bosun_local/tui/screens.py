"""Modal screens: deploy a package, replace a deployment's model, confirm a delete."""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from bosun_local.tui.snapshot import Json


def package_options(packages: list[Json]) -> list[Option]:
    """Return packages as list options: name (with a version number when a name repeats), type, model, features."""
    versions: dict[str, int] = {}
    labels: dict[str, str] = {}
    for package in sorted(packages, key=lambda p: (p.get("createdAt") or "", p["id"])):
        name = package.get("name") or package["id"][:8]
        versions[name] = versions.get(name, 0) + 1
        labels[package["id"]] = f"{name} v{versions[name]}"
    options = []
    for package in packages:
        label = labels[package["id"]]
        if versions[label.rsplit(" v", 1)[0]] == 1:
            label = label.rsplit(" v", 1)[0]
        features = len(package.get("features") or [])
        options.append(Option(f"{label:<28} {package.get('targetType', ''):<11} {package.get('modelFile', ''):<12} "
                              f"{features} features", id=package["id"]))
    return options


class DeployScreen(ModalScreen[tuple[str, str] | None]):
    """Pick a registered package and a name; dismiss with (package id, name) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, packages: list[Json], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.packages = packages

    def compose(self) -> ComposeResult:
        with Vertical(id="deploy-dialog", classes="dialog"):
            yield Label("Deploy a model package", classes="dialog-title")
            yield Label("package", classes="field-label")
            yield OptionList(*package_options(self.packages), id="deploy-packages")
            yield Label("deployment name", classes="field-label")
            yield Input(placeholder="e.g. diabetes-prod", id="deploy-name")
            yield Label("", id="deploy-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Deploy", variant="primary", id="deploy-ok")
                yield Button("Cancel", id="deploy-cancel")

    def on_mount(self) -> None:
        options = self.query_one("#deploy-packages", OptionList)
        if self.packages:
            options.highlighted = 0
        else:
            self._error("no registered packages: register one with `bosun-local packages register PATH`")
        options.focus()

    def _error(self, text: str) -> None:
        self.query_one("#deploy-error", Label).update(text)

    @on(OptionList.OptionSelected, "#deploy-packages")
    def _package_chosen(self, event: OptionList.OptionSelected) -> None:
        name_input = self.query_one("#deploy-name", Input)
        if not name_input.value:
            package = next(p for p in self.packages if p["id"] == event.option.id)
            name_input.value = package.get("name") or ""
        name_input.focus()

    @on(Input.Submitted, "#deploy-name")
    @on(Button.Pressed, "#deploy-ok")
    def _submit(self) -> None:
        options = self.query_one("#deploy-packages", OptionList)
        name = self.query_one("#deploy-name", Input).value.strip()
        if options.highlighted is None or not self.packages:
            self._error("pick a package first")
            return
        if not name:
            self._error("give the deployment a name")
            self.query_one("#deploy-name", Input).focus()
            return
        package_id = options.get_option_at_index(options.highlighted).id
        self.dismiss((str(package_id), name))

    @on(Button.Pressed, "#deploy-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ReplaceModelScreen(ModalScreen[str | None]):
    """Pick the package a deployment should serve next; dismiss with its id or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, deployment: Json, packages: list[Json], verb: str = "Replace the model of",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment = deployment
        self.packages = packages
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(id="replace-dialog", classes="dialog"):
            yield Label(f"{self.verb} {self.deployment.get('name')}", classes="dialog-title")
            current_id = self.deployment.get("modelId") or self.deployment.get("packageId") or ""
            current = next((p.get("name") for p in self.packages if p["id"] == current_id), None) or current_id[:8]
            yield Label(f"now serving {current}; pick the new package and press Enter", classes="field-label")
            yield OptionList(*package_options(self.packages), id="replace-packages")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Replace", variant="primary", id="replace-ok")
                yield Button("Cancel", id="replace-cancel")

    def on_mount(self) -> None:
        options = self.query_one("#replace-packages", OptionList)
        if self.packages:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#replace-packages")
    @on(Button.Pressed, "#replace-ok")
    def _submit(self) -> None:
        options = self.query_one("#replace-packages", OptionList)
        if options.highlighted is None or not self.packages:
            return
        self.dismiss(str(options.get_option_at_index(options.highlighted).id))

    @on(Button.Pressed, "#replace-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; `y` confirms, `n` or Escape declines."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, confirm_label: str = "Yes", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
