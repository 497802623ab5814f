"""A form built from a settings class's field descriptions (``core/settings.py``).

One row per described field: a spin box for numbers (a slider with its value beside it where
the field asks for one; a check box that turns it on for an optional one), a list for
choices (texts or numbers), a line for text, a check box for a switch. The
label, range, step, unit and tooltip come from the field's :class:`SettingSpec`, so a setting
added to the class appears here with no other change. The form holds no product logic: it
shows a value (:meth:`SettingsForm.show_value`) and reports what the user changed (``edited``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from foleystudio.core.settings import SettingSpec, choice_labels, is_optional, setting_fields, setting_kind

#: The largest value a QSpinBox holds.
_INT_MAX = 2**31 - 1


class _ValueSlider(QSlider):
    """A horizontal slider over ``[minimum, maximum]`` in ``step``s, with its value label."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.spec = spec
        self.step = spec.step or 0.01
        self.low = spec.minimum or 0.0
        self.setRange(0, round(((spec.maximum or 1.0) - self.low) / self.step))
        self.label = QLabel()
        self.label.setFixedWidth(52)
        self.valueChanged.connect(lambda _: self._show())

    def value_seconds(self) -> float:
        return round(self.low + self.value() * self.step, 6)

    def set_number(self, value: float) -> None:
        self.setValue(round((value - self.low) / self.step))
        self._show()

    def _show(self) -> None:
        unit = f" {self.spec.unit}" if self.spec.unit else ""
        self.label.setText(f"{self.value_seconds():.{self.spec.decimals}f}{unit}")


class _OptionalNumber(QWidget):
    """An optional number: a check box that turns it on and its spin box (off = None)."""

    def __init__(self, number: QSpinBox | QDoubleSpinBox, suggested: float) -> None:
        super().__init__()
        self.switch = QCheckBox()
        self.number = number
        number.setValue(suggested)
        number.setEnabled(False)
        self.switch.toggled.connect(number.setEnabled)
        line = QHBoxLayout(self)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.switch)
        line.addWidget(number, 1)

    def value(self) -> float | None:
        return self.number.value() if self.switch.isChecked() else None

    def set_value(self, value: float | None) -> None:
        """Show ``value`` (None: off, the number keeps what it showed)."""
        self.switch.setChecked(value is not None)
        if value is not None:
            self.number.setValue(value)


class SettingsForm(QWidget):
    """Editors for the described fields of ``cls``; ``extras`` puts a widget beside a field's
    editor (e.g. a "new seed" button)."""

    #: ``{name: value}`` of a field the user changed.
    edited = Signal(dict)
    #: A slider drag starts / ends: the edits in between are one undo step.
    drag_started = Signal()
    drag_finished = Signal()

    def __init__(self, cls: type, extras: Mapping[str, QWidget] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._editors: dict[str, QWidget] = {}
        self._showing = False
        for f, spec in setting_fields(cls):
            editor = self._make_editor(f, spec)
            editor.setToolTip(spec.help)
            self._editors[f.name] = editor
            row: QWidget = editor
            beside = [editor.label] if isinstance(editor, _ValueSlider) else []
            if extras and f.name in extras:
                beside.append(extras[f.name])
            if beside:
                row = QWidget()
                line = QHBoxLayout(row)
                line.setContentsMargins(0, 0, 0, 0)
                line.addWidget(editor, 1)
                for widget in beside:
                    line.addWidget(widget)
            self.form.addRow(spec.label, row)

    def editor(self, name: str) -> QWidget:
        """The editor widget of the field ``name``."""
        return self._editors[name]

    def names(self) -> list[str]:
        return list(self._editors)

    def show_value(self, value: Any) -> None:
        """Show ``value``'s fields without reporting them as edits (an editor the user is using,
        a focused text line or a held slider, keeps what it shows)."""
        self._showing = True
        try:
            for name, editor in self._editors.items():
                self._show_field(editor, getattr(value, name))
        finally:
            self._showing = False

    # --- editors ---------------------------------------------------------------------------
    def _make_editor(self, f: dataclasses.Field, spec: SettingSpec) -> QWidget:
        emit = self._emitter(f.name)
        kind = setting_kind(f, spec)
        if kind is bool:
            box = QCheckBox()
            box.toggled.connect(lambda on: emit(bool(on)))
            return box
        if spec.choices:
            combo = QComboBox()
            for choice, label in zip(spec.choices, choice_labels(spec), strict=True):
                combo.addItem(label, choice)
            if spec.free_text:
                combo.setEditable(True)
                combo.textActivated.connect(lambda text: emit(text.strip()) if text.strip() else None)
                combo.lineEdit().editingFinished.connect(
                    lambda: emit(combo.currentText().strip()) if combo.currentText().strip() else None
                )
            else:
                combo.currentIndexChanged.connect(lambda index: emit(combo.itemData(index)))
            return combo
        if kind is str:
            line = QLineEdit()
            line.setPlaceholderText(spec.help)
            line.editingFinished.connect(lambda: emit(line.text()))
            return line
        if kind is float and spec.widget == "slider":
            slider = _ValueSlider(spec)
            slider.valueChanged.connect(lambda _: emit(slider.value_seconds()))
            slider.sliderPressed.connect(self.drag_started)
            slider.sliderReleased.connect(self.drag_finished)
            return slider
        number = self._number_box(kind, spec)
        if is_optional(f):
            assert spec.suggested is not None  # setting() makes sure of it
            optional = _OptionalNumber(number, spec.suggested)
            optional.switch.toggled.connect(lambda _: emit(optional.value()))
            number.valueChanged.connect(
                lambda _: emit(optional.value()) if optional.switch.isChecked() else None
            )
            return optional
        number.valueChanged.connect(lambda v: emit(kind(v)))
        return number

    @staticmethod
    def _number_box(kind: type, spec: SettingSpec) -> QSpinBox | QDoubleSpinBox:
        """A spin box over the setting's range, in its steps, with its unit."""
        if kind is int:
            spin = QSpinBox()
            spin.setRange(int(spec.minimum or 0), int(min(spec.maximum or _INT_MAX, _INT_MAX)))
            spin.setSingleStep(int(spec.step or 1))
            return spin
        number = QDoubleSpinBox()
        number.setDecimals(spec.decimals)
        number.setRange(
            spec.minimum if spec.minimum is not None else -1e9,
            spec.maximum if spec.maximum is not None else 1e9,
        )
        number.setSingleStep(spec.step or 0.1)
        if spec.unit:
            number.setSuffix(f" {spec.unit}")
        return number

    def _emitter(self, name: str):  # noqa: ANN202 - a small closure factory
        def emit(value: Any) -> None:
            if not self._showing:
                self.edited.emit({name: value})

        return emit

    @staticmethod
    def _show_field(editor: QWidget, value: Any) -> None:
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            index = editor.findData(value)
            if index < 0:  # a free text not in the list
                editor.addItem(str(value), value)
                index = editor.count() - 1
            editor.setCurrentIndex(index)
        elif isinstance(editor, QLineEdit):
            if not editor.hasFocus():
                editor.setText(str(value))
        elif isinstance(editor, _OptionalNumber):
            editor.set_value(value)
        elif isinstance(editor, _ValueSlider):
            if not editor.isSliderDown():
                editor.set_number(float(value))
        elif isinstance(editor, QSpinBox | QDoubleSpinBox):
            editor.setValue(value)
