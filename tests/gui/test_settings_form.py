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


def test_number_choices_and_an_optional_number_get_their_editors(qtbot):
    from PySide6.QtWidgets import QCheckBox, QComboBox

    from foleystudio.export.options import ExportOptions

    form = SettingsForm(ExportOptions)
    qtbot.addWidget(form)
    rate, loudness = form.editor("sample_rate"), form.editor("loudness_target")
    assert isinstance(rate, QComboBox)
    assert [rate.itemData(i) for i in range(rate.count())] == [44100, 48000, 96000]
    switch, number = loudness.findChild(QCheckBox), loudness.findChild(QDoubleSpinBox)
    assert (number.minimum(), number.maximum(), number.value()) == (-70.0, 0.0, -23.0)  # max 0 is kept
    edits = []
    form.edited.connect(edits.append)
    form.show_value(ExportOptions(sample_rate=96000, bits=32, loudness_target=None))
    assert edits == [] and rate.currentText() == "96 kHz" and not switch.isChecked()
    assert form.editor("bits").currentText() == "32-bit float" and not number.isEnabled()
    rate.setCurrentIndex(1)
    switch.setChecked(True)
    number.setValue(-16.0)
    switch.setChecked(False)
    assert edits == [
        {"sample_rate": 48000},
        {"loudness_target": -23.0},
        {"loudness_target": -16.0},
        {"loudness_target": None},
    ]
    assert ExportOptions().replace(**edits[0], **edits[2]).loudness_target == -16.0
