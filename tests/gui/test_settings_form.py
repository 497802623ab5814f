"""The settings form is made from the field descriptions: an added field appears in it."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QSlider, QSpinBox

from foleystudio.gui.settings_form import SettingsForm
from tests.unit.test_settings import ExtendedSettings


def test_an_added_setting_gets_an_editor_with_its_range_and_reports_edits(qtbot):
    form = SettingsForm(ExtendedSettings)
    qtbot.addWidget(form)
    shimmer = form.editor("shimmer")
    assert isinstance(shimmer, QDoubleSpinBox) and (shimmer.minimum(), shimmer.maximum()) == (0.0, 1.0)
    assert shimmer.toolTip() == "how much shimmer"
    assert isinstance(form.editor("steps"), QSpinBox) and form.editor("steps").maximum() == 1000
    assert isinstance(form.editor("delta"), QSlider)
    edits = []
    form.edited.connect(edits.append)
    form.show_value(ExtendedSettings(shimmer=0.2, steps=8))  # showing is not editing
    assert edits == [] and shimmer.value() == 0.2 and form.editor("steps").value() == 8
    shimmer.setValue(0.9)
    form.editor("delta").setValue(0)
    assert edits == [{"shimmer": 0.9}, {"delta": 0.0}]
    assert form.names()[-1] == "shimmer"
